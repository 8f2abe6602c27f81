"""Client of OSS RBA (Online Single Submission, Risk-Based Approach): NIBs owned by a NIK, licence applications.

Protocol (what the public OSS RBA integration guide says, and what we designed where it says nothing, is listed in
the package docstring, `connectors/oss/__init__.py`):

- every method is `POST {url}/v1/kl/rba/{method}` with the header `user_key`; the body wraps the parameters in an
  object named after the method in upper case: `{"INQUERYNIBBYNIK": {"nik": "…"}}`;
- the reply wraps the answer in `respon<method>`: `{"responinqueryNIBByNIK": {"kode": 200, "keterangan": "",
  "dataNIB": [...]}}`. The guide itself spells these names inconsistently (`responinqueryNIB`, `responInqueryNIB`,
  `responinquiryNIB` …), so `find_reply` accepts any top-level key that starts with "respon" in any case;
- the outcome is `kode` in the body (an int, sometimes a digit string), not the HTTP status: OSS answers HTTP 200
  for its own errors. A non-200 HTTP status with no OSS body is the gateway's doing: 401/403 mean our `user_key`
  was refused, anything else is a reply we cannot read.

Codes → exceptions: 200 ok · 400 bad parameters → AgencyRejected · 401 invalid user access, 403 illegal access,
405 access refused → AgencyAccessDenied · 404 service not found → AgencyProtocolError (wrong URL or method name:
we and OSS do not speak the same version) · 500 payload failed → AgencyUnavailable · 504 timeout → AgencyTimeout.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import httpx

from connectors.base import (AgencyAccessDenied, AgencyProtocolError, AgencyRejected, AgencyTimeout, AgencyUnavailable,
                             FacetStatus, Health, LookupResult, NotSupported, SubmitResult, VerifyResult, probe_health)
from connectors.rest import client_from_settings, json_body, read_reply, send

AGENCY = "oss"
BASE_PATH = "/v1/kl/rba"
USER_KEY_HEADER = "user_key"
IDEMPOTENCY_HEADER = "Idempotency-Key"
"""Designed: OSS's guide has no idempotency mechanism; we send the bus's key in this header on every submission."""

METHOD_NIB = "inqueryNIB"                     # public guide
METHOD_NIB_BY_NIK = "inqueryNIBByNIK"         # designed, in the guide's style
METHOD_LICENCE = "sendPermohonanIzin"         # designed: a licence application (permohonan izin)

SERVICE_LICENCE = "license_application"
HEALTH_NIB = "0000000000000"                  # a well-formed NIB no one holds, for health checks

KODE_OK = 200
_ACCESS = {401: "invalid user access (user_key refused)", 403: "illegal access", 405: "access refused"}
_MAX_TEXT = 200


def wrapper(method: str) -> str:
    """The request wrapper object's name: the method in upper case (`inqueryNIB` → `INQUERYNIB`)."""
    return method.upper()


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
    """The reply's `kode` as an int; the guide shows ints, some gateways send digit strings."""
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


def raise_for_kode(kode: int, reply: Mapping[str, Any], method: str) -> None:
    """Turn OSS's body code into the bus's exception; 200 returns quietly."""
    if kode == KODE_OK:
        return
    detail = _text(reply)
    label = f"{method}: kode {kode}" + (f" ({detail})" if detail else "")
    code = str(kode)
    if kode == 400:
        raise AgencyRejected(AGENCY, f"{label}: bad parameters", code=code)
    if kode in _ACCESS:
        raise AgencyAccessDenied(AGENCY, f"{label}: {_ACCESS[kode]}", code=code)
    if kode == 404:
        raise AgencyProtocolError(AGENCY, f"{label}: service not found (wrong URL or method)", code=code)
    if kode == 504:
        raise AgencyTimeout(AGENCY, f"{label}: OSS timed out", code=code)
    if kode >= 500:
        raise AgencyUnavailable(AGENCY, f"{label}: OSS failed to process the request", code=code)
    raise AgencyProtocolError(AGENCY, f"{label}: unknown code", code=code)


def data_nibs(reply: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`dataNIB` as a list: the guide's inqueryNIB gives one object, our by-NIK method a list; null = none."""
    data = reply.get("dataNIB")
    if data is None or data == "":
        return []
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise AgencyProtocolError(AGENCY, "dataNIB is neither an object nor a list of objects")
    return data


class OssClient:
    """The OSS RBA connector. Config keys: `url` (base, without /v1/kl/rba), `user_key`, `timeout_s` (optional)."""

    name = AGENCY

    def __init__(self, config: Mapping[str, str], *, transport: httpx.AsyncBaseTransport | None = None):
        self._http = client_from_settings(config, AGENCY, key_headers={USER_KEY_HEADER: "user_key"},
                                          transport=transport)

    async def call(self, method: str, params: Mapping[str, Any], *,
                   headers: Mapping[str, str] | None = None) -> Mapping[str, Any]:
        """POST one OSS method and return its `respon…` object once its kode says 200."""
        response = await send(self._http, AGENCY, "POST", f"{BASE_PATH}/{method}",
                              json={wrapper(method): dict(params)}, headers=dict(headers or {}))
        reply = read_reply(response, AGENCY, method, lambda r: find_reply(json_body(r, AGENCY), method),
                           kind="an OSS reply")
        raise_for_kode(kode_of(reply), reply, method)
        return reply

    async def lookup(self, nik: str) -> LookupResult:
        """The NIBs owned by `nik`: fields are OSS's own (`nama_user`, `dataNIB` [...]); none owned → not_found."""
        reply = await self.call(METHOD_NIB_BY_NIK, {"nik": nik})
        nibs = data_nibs(reply)
        fields = {k: v for k, v in reply.items() if k not in ("kode", "keterangan")}
        fields["dataNIB"] = nibs
        status = FacetStatus.ok if nibs else FacetStatus.not_found
        return LookupResult(agency=AGENCY, status=status, fields=fields if nibs else {},
                            agency_code=str(kode_of(reply)), message=_text(reply) or None)

    async def nib(self, nib: str) -> Mapping[str, Any] | None:
        """One NIB's dataNIB (the guide's inqueryNIB), or None when OSS does not know it."""
        nibs = data_nibs(await self.call(METHOD_NIB, {"nib": nib}))
        return nibs[0] if nibs else None

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> VerifyResult:
        raise NotSupported(AGENCY, "OSS offers no per-field verification")

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        """Send a licence application; the reference is OSS's `id_izin`. The idempotency key travels in the
        `Idempotency-Key` header, so a redelivery answers the same id_izin instead of a second application."""
        if service != SERVICE_LICENCE:
            raise NotSupported(AGENCY, f"unknown service {service!r}; OSS offers {SERVICE_LICENCE!r}")
        if not idempotency_key:
            raise ValueError("an idempotency key is required")
        reply = await self.call(METHOD_LICENCE, payload, headers={IDEMPOTENCY_HEADER: idempotency_key})
        data = reply.get("dataIzin")
        if not isinstance(data, dict) or not isinstance(data.get("id_izin"), str) or not data["id_izin"]:
            raise AgencyProtocolError(AGENCY, f"{METHOD_LICENCE}: reply has no dataIzin.id_izin")
        return SubmitResult(agency=AGENCY, reference=data["id_izin"], detail=dict(data))

    async def health(self) -> Health:
        """Ask inqueryNIB about a NIB no one holds: any OSS reply with kode 200 means up."""
        return await probe_health(AGENCY, lambda: self.call(METHOD_NIB, {"nib": HEALTH_NIB}))

    async def aclose(self) -> None:
        await self._http.aclose()


def create(config: Mapping[str, str]) -> OssClient:
    """Entry point of the plug-in: a client from `GERBANG_AGENCY_OSS_*` settings."""
    return OssClient(config)
