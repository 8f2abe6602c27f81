"""The BPJS Kesehatan wire protocol as Gerbang speaks it: paths, headers, metaData codes, service schema.

Lookup follows the public VClaim guide (GET `Peserta/nik/{nik}/tglSEP/{yyyy-MM-dd}`, signed headers, encrypted
`response`). What VClaim leaves open, or what has no public counterpart, is our design in VClaim's style:

* **Timestamps** may be up to 300 s away from the agency's clock (simulator option `max_clock_skew_s`).
* **Bad credentials are HTTP 403** without an envelope ([I] a public client test expects it; the body and content
  type are unknown): missing header, unknown cons id or user_key, bad signature, stale timestamp.
* **Every other reply is HTTP 200 with an envelope** `{"metaData": {"code": "<string>", "message": "..."},
  "response": <encrypted string or null>}`; the outcome lives in `metaData.code`:

  | code | meaning | client raises / returns |
  |---|---|---|
  | "200" | OK; `response` is encrypted | data |
  | "201" | not found (lookup: "No.Kartu Tidak Sesuai") / refusal (submission); `response` null | not_found / Rejected |
  | "400" | malformed request (bad NIK, bad date, missing field or idempotency key) | AgencyRejected |
  | "401" | auth failed (not seen in public replies; read if a gateway sends it) | AccessDenied |
  | "409" | idempotency key reused with a different request | AgencyRejected |
  | "500" | agency-side failure (any other "5xx" too) | AgencyUnavailable |

  The client also maps "403" to AgencyAccessDenied and any other "4xx" to AgencyRejected; any other code is an
  AgencyProtocolError. A plain HTTP 401/403 from a gateway (no envelope) is AgencyAccessDenied.

* **Health** uses the cheap reference call GET `referensi/propinsi` (`response.list` of `{kode, nama}`).
* **Participant update** (change of first-level clinic, "faskes tingkat 1") is POST `Peserta/updateFaskes` with
  body `{"request": {"t_peserta": {"noKartu", "nik", "kdProviderBaru", "alasan", "user"}}}`, signed like every
  call, with the bus's idempotency key in the `X-Idempotency-Key` header (the signature covers only
  `cons_id&timestamp`, as in VClaim). Success answers `response.noPengajuan`, the agency's reference.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.base import payload_schema
from identity.clock import today_wib

AGENCY = "bpjs_kesehatan"
"""Dates in BPJS requests (tglSEP) are Jakarta calendar dates."""

PESERTA_BY_NIK = "Peserta/nik/{nik}/tglSEP/{service_date}"
REFERENCE_PROVINCES = "referensi/propinsi"
REFERENCE_CLINICS = "referensi/faskes/{query}/{level}"
"""VClaim's clinic reference: clinics whose code or name matches `query`; level 1 = first-level (FKTP)."""
CODE_LISTS = {
    "clinics": "First-level clinics (faskes tingkat 1) by code or name: the new_clinic_code of "
    "participant_update. Search with q= (at least 3 characters)."
}
UPDATE_CLINIC = "Peserta/updateFaskes"
IDEMPOTENCY_HEADER = "X-Idempotency-Key"

CODE_OK = "200"
CODE_NOT_FOUND = "201"  # also: business refusal of a submission
CODE_BAD_REQUEST = "400"
CODE_AUTH_FAILED = "401"
CODE_KEY_REUSED = "409"
CODE_SERVER_ERROR = "500"

SERVICE_PARTICIPANT_UPDATE = "participant_update"

PARTICIPANT_UPDATE_SCHEMA = payload_schema(
    "BPJS Kesehatan participant update: change of first-level clinic (faskes tingkat 1)",
    ["nik", "new_clinic_code", "reason"],
    {
        "nik": {"type": "string", "pattern": "^[0-9]{16}$", "maxLength": 16, "description": "The participant's NIK"},
        "card_number": {
            "type": "string",
            "pattern": "^[0-9]{13}$",
            "maxLength": 13,
            "description": "JKN card number (noKartu); if given, the agency checks it is the NIK's",
        },
        "new_clinic_code": {
            "type": "string",
            "pattern": "^[0-9A-Z]{8}$",
            "maxLength": 8,
            "description": "kdProvider of the new first-level clinic: find it with "
            "GET /v1/agencies/bpjs_kesehatan/codes/clinics?q=<name or code>; the "
            "current one is clinic.code in the health_insurance facet",
        },
        "reason": {"type": "string", "minLength": 3, "maxLength": 200, "description": "Why the participant moves"},
    },
    [
        {
            "nik": "3603282512770002",
            "card_number": "0001526000000",
            "new_clinic_code": "3603P028",
            "reason": "Pindah domisili",
        }
    ],
)

SERVICES: dict[str, dict[str, Any]] = {SERVICE_PARTICIPANT_UPDATE: PARTICIPANT_UPDATE_SCHEMA}


def wib_date_of(epoch_s: float) -> dt.date:
    """The Jakarta calendar date at an epoch instant (BPJS's signed requests carry epoch seconds)."""
    return today_wib(dt.datetime.fromtimestamp(epoch_s, dt.UTC))
