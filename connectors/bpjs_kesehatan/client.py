"""BPJS Kesehatan client: signed VClaim-style calls whose replies are accepted only in a valid envelope.

Nothing is accepted without a valid envelope: `metaData` must be an object with a string `code`, and a "200"
reply's `response` must decrypt with the key of *our* request's timestamp, decompress and parse as JSON. Anything
else is an AgencyProtocolError (a reply we cannot trust is not data). The meaning of each code is in `protocol.py`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from connectors.base import (
    AgencyAccessDenied,
    AgencyError,
    AgencyProtocolError,
    AgencyRejected,
    AgencyUnavailable,
    FacetStatus,
    Health,
    LookupResult,
    NotSupported,
    SubmitResult,
    VerifyResult,
    elapsed_ms,
)
from connectors.bpjs_kesehatan import crypto
from connectors.bpjs_kesehatan.protocol import (
    AGENCY,
    CODE_AUTH_FAILED,
    CODE_LISTS,
    CODE_NOT_FOUND,
    CODE_OK,
    IDEMPOTENCY_HEADER,
    PESERTA_BY_NIK,
    REFERENCE_CLINICS,
    REFERENCE_PROVINCES,
    SERVICE_PARTICIPANT_UPDATE,
    SERVICES,
    UPDATE_CLINIC,
    wib_date_of,
)
from connectors.config import require_all, timeout_s
from connectors.rest import DEFAULT_TIMEOUT_S, json_body, make_client, send

REQUIRED_SETTINGS = ("url", "cons_id", "secret", "user_key")
MAX_TIMEOUT_S = 120.0
_LONG_NUMBER = re.compile(r"\d{8,}")


class BpjsKesehatanClient:
    """The Connector for BPJS Kesehatan; one instance holds one HTTP connection pool."""

    name = AGENCY

    def __init__(
        self,
        *,
        url: str,
        cons_id: str,
        secret: str,
        user_key: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._cons_id, self._secret, self._user_key = cons_id, secret, user_key
        self._clock = clock
        self._http = make_client(
            url.rstrip("/") + "/", timeout_s=timeout_s, headers={"Accept": "application/json"}, transport=transport
        )

    async def lookup(self, nik: str) -> LookupResult:
        """The participant behind a NIK (fields = VClaim's `peserta` object), or not_found."""
        if not (isinstance(nik, str) and len(nik) == 16 and nik.isascii() and nik.isdigit()):
            raise AgencyRejected(AGENCY, "NIK must be 16 ASCII digits")
        timestamp = crypto.timestamp_now(self._clock)
        path = PESERTA_BY_NIK.format(nik=nik, service_date=wib_date_of(int(timestamp)).isoformat())
        code, message, data = await self._call("GET", path, timestamp)
        if code == CODE_NOT_FOUND:
            return LookupResult(agency=AGENCY, status=FacetStatus.not_found, agency_code=code, message=message)
        peserta = data.get("peserta") if isinstance(data, dict) else None
        if not isinstance(peserta, dict):
            raise AgencyProtocolError(AGENCY, "decrypted response has no peserta object", code=code)
        if str(peserta.get("nik", "")) != nik:
            raise AgencyProtocolError(AGENCY, "reply is about another participant than the one asked", code=code)
        return LookupResult(agency=AGENCY, status=FacetStatus.ok, fields=peserta, agency_code=code, message=message)

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> VerifyResult:
        """BPJS Kesehatan offers no per-field verification call."""
        raise NotSupported(AGENCY, "no verification service; use lookup")

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        """Send one application; the idempotency key travels in X-Idempotency-Key so a retry is recognised."""
        schema = SERVICES.get(service)
        if schema is None:
            raise NotSupported(AGENCY, f"unknown service {service!r}; known: {', '.join(sorted(SERVICES))}")
        if not isinstance(payload, Mapping):
            raise AgencyRejected(AGENCY, "payload must be a JSON object")
        _validate(schema, payload)
        if not (
            isinstance(idempotency_key, str)
            and 0 < len(idempotency_key) <= 128
            and idempotency_key.isascii()
            and idempotency_key.isprintable()
        ):
            raise AgencyRejected(AGENCY, "idempotency key must be 1-128 printable ASCII characters")
        body = _update_clinic_body(payload) if service == SERVICE_PARTICIPANT_UPDATE else {}
        timestamp = crypto.timestamp_now(self._clock)
        code, message, data = await self._call(
            "POST", UPDATE_CLINIC, timestamp, json=body, headers={IDEMPOTENCY_HEADER: idempotency_key}
        )
        if code == CODE_NOT_FOUND:  # on a submission, "201" is the agency's refusal
            raise AgencyRejected(AGENCY, message or "refused", code=code)
        reference = data.get("noPengajuan") if isinstance(data, dict) else None
        if not isinstance(reference, str) or not reference:
            raise AgencyProtocolError(AGENCY, "accepted submission without noPengajuan", code=code)
        return SubmitResult(agency=AGENCY, reference=reference, detail=data)

    async def health(self) -> Health:
        """A signed reference call (province list): proves the route, the credentials and the encryption."""
        started = time.perf_counter()
        try:
            await self._call("GET", REFERENCE_PROVINCES, crypto.timestamp_now(self._clock))
        except AgencyError as exc:
            return Health(agency=AGENCY, up=False, detail=f"{type(exc).__name__}: {exc.message}")
        return Health(agency=AGENCY, up=True, latency_ms=elapsed_ms(started))

    async def codes(self, name: str, query: str) -> list[dict[str, str]]:
        """Clinics (`referensi/faskes`, first level) whose code or name matches `query`, as [{code, name}]."""
        if name not in CODE_LISTS:
            raise NotSupported(AGENCY, f"no code list {name!r}; known: {', '.join(sorted(CODE_LISTS))}")
        timestamp = crypto.timestamp_now(self._clock)
        path = REFERENCE_CLINICS.format(query=quote(query, safe=""), level=1)
        code, message, data = await self._call("GET", path, timestamp)
        found = data.get("faskes") if isinstance(data, dict) else [] if code == CODE_NOT_FOUND else None
        if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
            raise AgencyProtocolError(AGENCY, "decrypted response has no faskes list", code=code)
        return [{"code": str(item.get("kode", "")), "name": str(item.get("nama", ""))} for item in found]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, timestamp: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> tuple[str, str | None, Any]:
        """Signed request → (code, message, decrypted response). Returns only "200" (with data) and "201"
        (data None); every other code is raised as the matching AgencyError."""
        signed = crypto.signed_headers(self._cons_id, self._secret, self._user_key, timestamp)
        response = await send(self._http, AGENCY, method, path, headers={**signed, **(headers or {})}, **kwargs)
        code, message, token = read_envelope(response)
        if code == CODE_OK:
            if response.status_code != 200:
                raise AgencyProtocolError(AGENCY, f"metaData.code 200 on HTTP {response.status_code}", code=code)
            if not isinstance(token, str):
                raise AgencyProtocolError(AGENCY, "metaData.code 200 without an encrypted response", code=code)
            try:
                data = crypto.unseal(token, self._cons_id, self._secret, timestamp)
            except crypto.EnvelopeCryptoError as exc:
                raise AgencyProtocolError(AGENCY, str(exc), code=code) from exc
            return code, message, data
        if code == CODE_NOT_FOUND:
            return code, message, None
        raise error_for_code(code, message)


def read_envelope(response: httpx.Response) -> tuple[str, str | None, Any]:
    """(metaData.code, metaData.message, response) of a VClaim envelope, or AgencyProtocolError/AccessDenied."""
    if response.status_code in (401, 403) and "json" not in response.headers.get("content-type", ""):
        raise AgencyAccessDenied(
            AGENCY, f"agency answered HTTP {response.status_code}{_reason(response)}", code=str(response.status_code)
        )
    body = json_body(response, AGENCY)
    meta = body.get("metaData") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        raise AgencyProtocolError(AGENCY, f"reply (HTTP {response.status_code}) has no metaData object")
    code, message = meta.get("code"), meta.get("message")
    if not isinstance(code, str) or not code.strip():
        raise AgencyProtocolError(AGENCY, "metaData.code missing or not a string")
    if message is not None and not isinstance(message, str):
        raise AgencyProtocolError(AGENCY, "metaData.message is not a string")
    return code.strip(), _safe(message), body.get("response")


def error_for_code(code: str, message: str | None) -> AgencyError:
    """The AgencyError for a metaData code other than 200/201 (see the table in protocol.py)."""
    text = message or "no message"
    if code in (CODE_AUTH_FAILED, "403"):
        return AgencyAccessDenied(AGENCY, f"access refused ({code}): {text}", code=code)
    if code.startswith("5"):
        return AgencyUnavailable(AGENCY, f"agency error ({code}): {text}", code=code)
    if code.startswith("4"):
        return AgencyRejected(AGENCY, f"request refused ({code}): {text}", code=code)
    return AgencyProtocolError(AGENCY, f"unknown metaData.code {code[:10]!r}", code=code[:10])


def _reason(response: httpx.Response) -> str:
    """ ": <first words of the body>" of a refusal that is not an envelope (bounded, printable, numbers masked)."""
    text = " ".join(response.content[:400].decode("utf-8", "replace").split())
    text = "".join(ch for ch in text if ch.isprintable())
    return f": {_safe(text)}" if text and "<" not in text else ""


def _safe(message: str | None) -> str | None:
    """The agency's message, bounded and with long numbers (NIK, card numbers) masked: it may reach logs."""
    if message is None:
        return None
    return _LONG_NUMBER.sub("…", message.strip())[:200] or None


def _validate(schema: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
    """AgencyRejected naming the first invalid field and rule — never the value, which may be personal data."""
    error = best_match(Draft202012Validator(schema).iter_errors(dict(payload)))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(payload)"
        raise AgencyRejected(AGENCY, f"invalid payload: {where} fails {error.validator!r}")


def _update_clinic_body(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "request": {
            "t_peserta": {
                "noKartu": payload.get("card_number"),
                "nik": payload["nik"],
                "kdProviderBaru": payload["new_clinic_code"],
                "alasan": payload["reason"],
                "user": "gerbang",
            }
        }
    }


def create(config: Mapping[str, str]) -> BpjsKesehatanClient:
    """Build the client from settings (GERBANG_AGENCY_BPJS_KESEHATAN_*); a missing or bad setting is a
    ValueError naming it."""
    require_all(config, AGENCY, REQUIRED_SETTINGS)
    url = str(config["url"]).strip()
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{AGENCY}: setting url must start with http:// or https://")
    return BpjsKesehatanClient(
        url=url,
        cons_id=str(config["cons_id"]).strip(),
        secret=str(config["secret"]),
        user_key=str(config["user_key"]).strip(),
        timeout_s=timeout_s(config, AGENCY, maximum=MAX_TIMEOUT_S),
    )
