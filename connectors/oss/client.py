"""Client of OSS RBA (Online Single Submission, Risk-Based Approach): a NIB's data, and the region's licence
decisions sent back to OSS.

Protocol (guide v4.3.22; what is confirmed, inferred or designed is in docs/agencies.md (OSS)):

- every method we call is `POST {url}/v1/kl/rba/{method}` with the header `user_key`; the body wraps the
  parameters in an upper-case object: `{"INQUERYNIB": {"nib": "…"}}`, `{"IZINSTATUS": {…}}` (receiveLicenseStatus),
  `{"IZINFINAL": {…}}` (receiveLicense);
- the reply wraps the answer in `respon<method>`: `{"responinqueryNIB": {"kode": 200, "keterangan": "", "dataNIB":
  {…}}}`. Gateways and the guide vary the spelling, so `find_reply` accepts any top-level key starting "respon";
- the outcome is `kode` in the body (Lampiran 9; an int, sometimes a digit string), not the HTTP status. A non-200
  HTTP status with no OSS body is a gateway's doing: 401/403 mean our `user_key` was refused.

Codes → exceptions: 200 ok · 400 "Data NIB tidak ditemukan" with an empty `dataNIB` → not found (inqueryNIB) · other
400 → AgencyRejected (for a decision: OSS does not know the id_izin, or a parameter is wrong) · 401/403/405 →
AgencyAccessDenied · 404 → AgencyProtocolError (wrong URL or method) · 500 → AgencyUnavailable · 504 →
AgencyTimeout. A 200 lacking what the method must return is AgencyProtocolError, never "not found".

OSS has no method that lists the NIBs of a NIK. `lookup(nik)` therefore calls a by-NIK method only when the
setting `nik_method` names one (the simulator offers `xInqueryNIBByNIK`, a Gerbang extension that is not in the
guide); without it the lookup raises NotSupported and the facet says so (docs/agencies.md (OSS), "Lookup by NIK").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import (
    AgencyAccessDenied,
    AgencyProtocolError,
    AgencyRejected,
    AgencyTimeout,
    AgencyUnavailable,
    FacetStatus,
    Health,
    LookupResult,
    NotSupported,
    SubmitResult,
    VerifyResult,
    probe_health,
)
from connectors.config import name_setting
from connectors.oss.codes import IDENTITY_KTP
from connectors.rest import client_from_settings, json_body, read_reply, send

AGENCY = "oss"
BASE_PATH = "/v1/kl/rba"
USER_KEY_HEADER = "user_key"
IDEMPOTENCY_HEADER = "Idempotency-Key"
"""Designed: the guide has no idempotency header. A licence status is idempotent by nature (the same status of
the same id_izin twice is one state), so OSS needs none; we still send the bus's key so a gateway or the simulator
can tell a redelivery apart. OSS ignores headers it does not know [I]."""

METHOD_NIB = "inqueryNIB"  # guide: us → OSS
METHOD_STATUS = "receiveLicenseStatus"  # guide: us → OSS, wrapper IZINSTATUS
METHOD_FINAL = "receiveLicense"  # guide: us → OSS, wrapper IZINFINAL
METHOD_NIB_BY_NIK_EXT = "xInqueryNIBByNIK"  # NOT in the guide: the simulator's extension, used only if configured
METHOD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
"""A method a deployment names (`nik_method`): it becomes a segment of the URL path and, upper-cased, the body's
wrapper key, so nothing that could climb or extend the path, or be no JSON key."""

WRAPPERS = {METHOD_STATUS: "IZINSTATUS", METHOD_FINAL: "IZINFINAL"}

SERVICE_STATUS = "license_status"  # the region's decision on a licence OSS pushed (receiveLicenseStatus)
SERVICE_FINAL = "license_final"  # the issued licence (receiveLicense)
SERVICE_METHODS = {SERVICE_STATUS: METHOD_STATUS, SERVICE_FINAL: METHOD_FINAL}
HEALTH_NIB = "0000000000000"  # a well-formed NIB no one holds, for health checks

IZINSTATUS_KEYS = (
    "nib",
    "id_produk",
    "id_proyek",
    "oss_id",
    "id_izin",
    "kd_izin",
    "kd_instansi",
    "kd_status",
    "tgl_status",
    "nip_status",
    "nama_status",
    "keterangan",
    "file_lampiran",
)
PNBP_KEYS = ("kd_akun", "kd_penerimaan", "kd_billing", "tgl_billing", "tgl_expire", "nominal", "url_dokumen")

KODE_OK = 200
NOT_FOUND_TEXT = "tidak ditemukan"
_ACCESS = {401: "invalid user access (user_key refused)", 403: "illegal access", 405: "access refused"}
_MAX_TEXT = 200


def wrapper(method: str) -> str:
    """The request wrapper object's name: IZINSTATUS / IZINFINAL where the guide says so, else the method in
    upper case (`inqueryNIB` → `INQUERYNIB`)."""
    return WRAPPERS.get(method, method.upper())


def reply_name(method: str) -> str:
    """The reply object's name as the guide usually writes it: `respon` + the method (`responinqueryNIB`)."""
    return f"respon{method}"


def _normal(name: str) -> str:
    """A reply name reduced to compare variants: lower case, `inquiry` spelled as the guide's `inquery`."""
    return name.lower().replace("inquiry", "inquery")


def find_reply(body: Any, method: str) -> Mapping[str, Any]:
    """The `respon<method>` object of a reply, tolerating the spellings the guide itself uses.

    Exact name first; then a key equal to it ignoring case and inquiry/inquery; then the only key starting with
    "respon" (any case). Anything else is a reply we cannot read.
    """
    if not isinstance(body, dict):
        raise AgencyProtocolError(AGENCY, "reply is not a JSON object")
    expected = reply_name(method)
    if isinstance(body.get(expected), dict):
        return body[expected]
    candidates = [k for k in body if isinstance(k, str) and k.lower().startswith("respon")]
    same = [k for k in candidates if _normal(k) == _normal(expected)]
    chosen = same if same else candidates
    if len(chosen) != 1:
        found = "no" if not chosen else "several"
        raise AgencyProtocolError(AGENCY, f"{found} respon… object in the reply to {method}")
    reply = body[chosen[0]]
    if not isinstance(reply, dict):
        raise AgencyProtocolError(AGENCY, f"reply object of {method} is not a JSON object")
    return reply


def kode_of(reply: Mapping[str, Any]) -> int:
    """The reply's `kode` as an int; the guide documents string(3) and shows ints."""
    kode = reply.get("kode")
    if isinstance(kode, bool):
        raise AgencyProtocolError(AGENCY, "reply kode is not a number")
    if isinstance(kode, int):
        return kode
    if isinstance(kode, str) and re.fullmatch(r"\s*[0-9]{3}\s*", kode):
        return int(kode)
    raise AgencyProtocolError(AGENCY, "reply has no readable kode")


def _text(reply: Mapping[str, Any]) -> str:
    """`keterangan`, bounded, for exception messages (OSS puts no personal data there, but keep it short)."""
    value = reply.get("keterangan")
    return str(value)[:_MAX_TEXT] if value not in (None, "") else ""


def is_not_found(kode: int, reply: Mapping[str, Any]) -> bool:
    """inqueryNIB's "unknown NIB": kode 400, "Data NIB tidak ditemukan", `dataNIB` empty (guide's error example)."""
    return kode == 400 and NOT_FOUND_TEXT in _text(reply).lower() and reply.get("dataNIB") in ([], {}, None, "")


def raise_for_kode(kode: int, reply: Mapping[str, Any], method: str, about: str = "") -> None:
    """Turn OSS's body code into the bus's exception; 200 returns quietly. `about` names what was asked
    (e.g. the id_izin), so a refusal says which licence OSS did not take."""
    if kode == KODE_OK:
        return
    detail = _text(reply)
    label = f"{method}{f' {about}' if about else ''}: kode {kode}" + (f" ({detail})" if detail else "")
    code = str(kode)
    if kode == 400:
        raise AgencyRejected(AGENCY, f"{label}: refused", code=code)
    if kode in _ACCESS:
        raise AgencyAccessDenied(AGENCY, f"{label}: {_ACCESS[kode]}", code=code)
    if kode == 404:
        raise AgencyProtocolError(AGENCY, f"{label}: service not found (wrong URL or method)", code=code)
    if kode == 504:
        raise AgencyTimeout(AGENCY, f"{label}: OSS timed out", code=code)
    if kode >= 500:
        raise AgencyUnavailable(AGENCY, f"{label}: OSS failed to process the request", code=code)
    raise AgencyProtocolError(AGENCY, f"{label}: unknown code", code=code)


def data_nib(reply: Mapping[str, Any], method: str) -> dict[str, Any]:
    """The one `dataNIB` object a kode-200 reply must carry, with a 13-digit `nib`; anything less is a protocol
    error (a success that lacks the data is not "not found")."""
    data = reply.get("dataNIB")
    if not isinstance(data, dict) or not data:
        raise AgencyProtocolError(AGENCY, f"{method}: kode 200 without a dataNIB object")
    nib = data.get("nib")
    if not isinstance(nib, str) or not re.fullmatch(r"[0-9]{13}", nib.strip()):
        raise AgencyProtocolError(AGENCY, f"{method}: dataNIB has no 13-digit nib")
    return data


def data_nibs(reply: Mapping[str, Any], method: str) -> list[dict[str, Any]]:
    """`dataNIB` of the by-NIK extension: a list of dataNIB objects (one object is taken as a list of one)."""
    data = reply.get("dataNIB")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise AgencyProtocolError(AGENCY, f"{method}: dataNIB is neither an object nor a list of objects")
    return [data_nib({"dataNIB": item}, method) for item in data]


def owner_fields(nik: str, nibs: list[dict[str, Any]]) -> dict[str, Any]:
    """The holder as OSS has them, from the `*_user_proses` fields of the first dataNIB registered with this NIK
    on a KTP (Lampiran 4: 01), so the record can report a different spelling."""
    for item in nibs:
        if (
            str(item.get("no_id_user_proses", "")).strip() == nik
            and str(item.get("jenis_id_user_proses", IDENTITY_KTP)).strip() == IDENTITY_KTP
        ):
            return {
                key: item.get(key)
                for key in ("nama_user_proses", "tgl_lahir_user_proses", "jns_kelamin_user_proses")
                if item.get(key) not in (None, "")
            }
    return {}


def izinstatus(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The IZINSTATUS object exactly as the guide lists it: every key, in its order, "" where the region gave
    nothing (`persetujuan_form` false, `data_pnbp` with its seven keys)."""
    body: dict[str, Any] = {key: payload.get(key, "") for key in IZINSTATUS_KEYS}
    body["persetujuan_form"] = bool(payload.get("persetujuan_form", False))
    pnbp = payload.get("data_pnbp") or {}
    body["data_pnbp"] = {key: pnbp.get(key, "") for key in PNBP_KEYS}
    return body


def izinfinal(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The IZINFINAL object: the payload without Gerbang's own `nik` (OSS's wrapper has no NIK)."""
    return {key: value for key, value in payload.items() if key != "nik"}


class OssClient:
    """The OSS RBA connector. Config keys: `url` (base, without /v1/kl/rba), `user_key`, `timeout_s` (optional),
    `nik_method` (optional: a by-NIK method where one exists; OSS's guide has none)."""

    name = AGENCY

    def __init__(self, config: Mapping[str, str], *, transport: httpx.AsyncBaseTransport | None = None):
        self._nik_method = name_setting(config, AGENCY, "nik_method", "", METHOD_NAME)  # before a client opens
        self._http = client_from_settings(
            config, AGENCY, key_headers={USER_KEY_HEADER: "user_key"}, transport=transport
        )

    async def call(
        self, method: str, params: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Mapping[str, Any]]:
        """POST one OSS method; its `kode` and `respon…` object (errors are the caller's to raise)."""
        response = await send(
            self._http,
            AGENCY,
            "POST",
            f"{BASE_PATH}/{method}",
            json={wrapper(method): dict(params)},
            headers=dict(headers or {}),
        )
        reply = read_reply(
            response, AGENCY, method, lambda r: find_reply(json_body(r, AGENCY), method), kind="an OSS reply"
        )
        return kode_of(reply), reply

    async def nib(self, nib: str) -> dict[str, Any] | None:
        """One NIB's dataNIB (inqueryNIB), or None when OSS does not know it."""
        kode, reply = await self.call(METHOD_NIB, {"nib": nib})
        if is_not_found(kode, reply):
            return None
        raise_for_kode(kode, reply, METHOD_NIB, nib)
        return data_nib(reply, METHOD_NIB)

    async def lookup(self, nik: str) -> LookupResult:
        """The NIBs of `nik` through the configured by-NIK method: `dataNIB` [...] plus the holder's fields."""
        if not self._nik_method:
            raise NotSupported(AGENCY, "OSS offers no lookup by NIK (no nik_method configured)")
        kode, reply = await self.call(self._nik_method, {"nik": nik})
        if is_not_found(kode, reply):
            return LookupResult(
                agency=AGENCY, status=FacetStatus.not_found, agency_code=str(kode), message=_text(reply) or None
            )
        raise_for_kode(kode, reply, self._nik_method)
        nibs = data_nibs(reply, self._nik_method)
        if not nibs:
            raise AgencyProtocolError(AGENCY, f"{self._nik_method}: kode 200 with an empty dataNIB")
        fields = {"dataNIB": nibs, **owner_fields(nik, nibs)}
        return LookupResult(agency=AGENCY, status=FacetStatus.ok, fields=fields, agency_code=str(kode))

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> VerifyResult:
        raise NotSupported(AGENCY, "OSS offers no per-field verification")

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        """Send the region's decision (receiveLicenseStatus) or the issued licence (receiveLicense) for one
        id_izin. kode 200 = recorded (the reference is the id_izin); 400 = OSS refused it (AgencyRejected naming
        the id_izin)."""
        method = SERVICE_METHODS.get(service)
        if method is None:
            raise NotSupported(AGENCY, f"unknown service {service!r}; OSS takes {', '.join(SERVICE_METHODS)}")
        if not idempotency_key:
            raise ValueError("an idempotency key is required")
        id_izin = str(payload.get("id_izin", ""))
        params = izinstatus(payload) if method == METHOD_STATUS else izinfinal(payload)
        kode, reply = await self.call(method, params, headers={IDEMPOTENCY_HEADER: idempotency_key})
        raise_for_kode(kode, reply, method, f"id_izin {id_izin}")
        detail = {"kode": kode, "keterangan": _text(reply)}
        if method == METHOD_FINAL:
            detail.update(
                {
                    k: reply.get(k)
                    for k in ("nomor_izin", "jenis_perizinan", "file_lampiran")
                    if reply.get(k) not in (None, "")
                }
            )
        return SubmitResult(agency=AGENCY, reference=id_izin, detail=detail)

    async def health(self) -> Health:
        """Ask inqueryNIB about a NIB no one holds: "Data NIB tidak ditemukan" is a healthy OSS answering."""
        return await probe_health(AGENCY, lambda: self.nib(HEALTH_NIB))

    async def aclose(self) -> None:
        await self._http.aclose()


def create(config: Mapping[str, str]) -> OssClient:
    """Entry point of the plug-in: a client from `GERBANG_AGENCY_OSS_*` settings."""
    return OssClient(config)
