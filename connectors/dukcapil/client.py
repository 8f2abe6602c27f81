"""Client for Dukcapil's web service (civil registry): full data by NIK and per-field verification.

What it guarantees the bus:
- Fields come back as Dukcapil named and spelled them (upper case, trailing spaces kept, dates in whatever format
  the gateway uses), except that JSON numbers become exact strings of digits: NIK and NO_KK are 16-digit numbers
  beyond 2^53 and must never pass through a float (`json.loads` keeps integers exact; a float there is refused).
- The reply is about the NIK asked for, or it is a protocol error.
- Response codes become outcomes: 01/12 found (alive), 11 found deceased, 14 inactive, 13/15 not found; set-up
  codes 03 04 09 10 16 17 → AgencyAccessDenied (an operator must act); 05 quota used up → AgencyUnavailable with
  `retry_after_s` = seconds to midnight WIB (when the quota resets); 06 outside access hours → AgencyUnavailable;
  07 incomplete request → AgencyProtocolError (we and the gateway disagree on the protocol: a bug or drift, not the
  citizen's fault); 08 NIK unprocessable → AgencyRejected (Dukcapil refuses this NIK; retrying will not help).
- `submit` raises NotSupported: Dukcapil is read-only.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx

from connectors import rest
from connectors.base import (
    AgencyAccessDenied,
    AgencyError,
    AgencyProtocolError,
    AgencyRejected,
    AgencyUnavailable,
    FacetStatus,
    Health,
    LifeStatus,
    LookupResult,
    NotSupported,
    SubmitResult,
    VerifyResult,
)
from connectors.config import require_all, timeout_s

AGENCY = "dukcapil"
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
REQUIRED_SETTINGS = ("url", "institution", "user", "password", "ip")
ACCESS_CODES = frozenset({"03", "04", "09", "10", "16", "17"})
FOUND_CODES = frozenset({"01", "12"})
NOT_FOUND_CODES = frozenset({"13", "15"})
EXACT_NUMBER_FIELDS = ("NIK", "NO_KK")
#: canonical claim → Dukcapil field of CALL_VERIFY_BY_ELEMEN
CLAIM_FIELDS = {
    "full_name": "NAMA_LGKP",
    "birth_date": "TGL_LHR",
    "birth_place": "TMPT_LHR",
    "sex": "JENIS_KLMIN",
    "kk_number": "NO_KK",
    "address": "ALAMAT",
    "father_name": "NAMA_LGKP_AYAH",
    "mother_name": "NAMA_LGKP_IBU",
}
_VERDICT = re.compile(r"(sesuai|tidak sesuai)\s*(?:\(\s*(\d{1,3})\s*\))?", re.IGNORECASE)
_HOURS = re.compile(r"(\d{1,2})[:.](\d{2})\s*-\s*\d{1,2}[:.]\d{2}")
log = logging.getLogger(__name__)


def seconds_to_midnight_wib(now: dt.datetime | None = None) -> float:
    """Seconds until the next midnight in Asia/Jakarta (UTC+7, no DST): when Dukcapil's daily quota resets."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(WIB)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=WIB)
    return max((midnight - local).total_seconds(), 1.0)


def _seconds_until_hours(message: str, now: dt.datetime | None = None) -> float | None:
    """From "… (07:00-19:00 WIB)", the seconds until access opens again; None when the message says no hours."""
    match = _HOURS.search(message or "")
    if not match:
        return None
    local = (now or dt.datetime.now(dt.UTC)).astimezone(WIB)
    opens = local.replace(hour=int(match.group(1)) % 24, minute=int(match.group(2)) % 60, second=0, microsecond=0)
    if opens <= local:
        opens += dt.timedelta(days=1)
    return (opens - local).total_seconds()


class DukcapilClient:
    """One institution's access to Dukcapil. Settings: url, institution, user, password, ip (the `ip_user` the
    gateway has registered), optional timeout_s (default 5) and threshold (verify TRESHOLD, default 80)."""

    name = AGENCY

    def __init__(self, config: Mapping[str, str], *, transport: httpx.AsyncBaseTransport | None = None):
        require_all(config, AGENCY, REQUIRED_SETTINGS)
        self.institution = str(config["institution"]).strip()
        self._user = str(config["user"])
        self._password = str(config["password"])
        self._ip = str(config["ip"]).strip()
        self.timeout_s = timeout_s(config, AGENCY)
        self.threshold = _threshold(config)
        self._http = rest.make_client(str(config["url"]).rstrip("/"), timeout_s=self.timeout_s, transport=transport,
                                      headers={"Accept": "application/json"})

    def _path(self, call: str) -> str:
        return f"/dukcapil/get_json/{self.institution}/{call}"

    async def _call(self, call: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST one call; returns the first item of `content`, after the HTTP and envelope checks."""
        response = await rest.send(self._http, AGENCY, "POST", self._path(call), json=dict(body))
        if response.status_code in (401, 403):
            raise AgencyAccessDenied(AGENCY, f"HTTP {response.status_code} from the gateway")
        if response.status_code == 429:
            raise AgencyUnavailable(AGENCY, "HTTP 429 from the gateway", retry_after_s=rest.retry_after(response))
        if response.status_code != 200:
            raise AgencyProtocolError(AGENCY, f"unexpected HTTP {response.status_code}")
        payload = rest.json_body(response, AGENCY)
        content = payload.get("content") if isinstance(payload, dict) else None
        if not isinstance(content, list) or not content or not all(isinstance(i, dict) for i in content):
            raise AgencyProtocolError(AGENCY, "reply has no content items")
        return content[0]

    async def lookup(self, nik: str) -> LookupResult:
        item = await self._call("CALL_NIK", {"NIK": nik, "user_id": self._user, "password": self._password,
                                             "ip_user": self._ip})
        code = _item_code(item, data_key="NAMA_LGKP")
        message = _message(item)
        log.debug("dukcapil CALL_NIK answered code %s", code)
        if code in NOT_FOUND_CODES:
            return LookupResult(AGENCY, FacetStatus.not_found, agency_code=code, message=message)
        if code == "14":
            return LookupResult(AGENCY, FacetStatus.ok, life_status=LifeStatus.inactive, agency_code=code,
                                message=message, fields=_exact(item, nik) if "NAMA_LGKP" in item else {})
        if code in FOUND_CODES or code == "11":
            fields = _exact(item, nik)
            life = LifeStatus.deceased if code == "11" else LifeStatus.alive
            return LookupResult(AGENCY, FacetStatus.ok, fields=fields, life_status=life, agency_code=code,
                                message=message)
        raise _failure(code, message)

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> VerifyResult:
        """Ask Dukcapil whether `claims` (canonical names: full_name, birth_date, birth_place, sex, kk_number,
        address, father_name, mother_name) match its record; verdicts come back per canonical name."""
        try:
            fields = claims_to_fields(claims)
        except ValueError as exc:  # our caller's input, not Dukcapil's failure: no call, and not for its breaker
            raise AgencyRejected(AGENCY, str(exc), code="claims_invalid") from None
        body: dict[str, Any] = {"USER_ID": self._user, "PASSWORD": self._password, "IP_USER": self._ip,
                                "TRESHOLD": str(self.threshold), "NIK": nik, **fields}
        item = await self._call("CALL_VERIFY_BY_ELEMEN", body)
        data_key = next(iter(fields))
        code = _item_code(item, data_key=data_key)
        log.debug("dukcapil CALL_VERIFY_BY_ELEMEN answered code %s", code)
        if code in NOT_FOUND_CODES:
            return VerifyResult(AGENCY, found=False, agency_code=code)
        if code == "14":
            return VerifyResult(AGENCY, found=True, agency_code=code)
        if code not in FOUND_CODES and code != "11":
            raise _failure(code, _message(item))
        verdicts: dict[str, tuple[bool, int | None]] = {}
        for claim, field_name in ((c, CLAIM_FIELDS[c]) for c in claims):
            verdicts[claim] = parse_verdict(item.get(field_name))
        return VerifyResult(AGENCY, found=True, fields=verdicts, agency_code=code)

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        raise NotSupported(AGENCY, "Dukcapil is read-only: it takes no submissions")

    async def health(self) -> Health:
        """GET on the CALL_NIK path: any HTTP answer below 500 (the gateway says 405) proves it is up, and it
        costs no quota, unlike a real CALL_NIK."""
        started = time.perf_counter()
        try:
            response = await rest.send(self._http, AGENCY, "GET", self._path("CALL_NIK"))
        except AgencyError as exc:
            return Health(AGENCY, up=False, latency_ms=_ms(started), detail=exc.message)
        return Health(AGENCY, up=True, latency_ms=_ms(started), detail=f"HTTP {response.status_code}")

    async def aclose(self) -> None:
        await self._http.aclose()


# --- helpers ------------------------------------------------------------------------------------------------------
def _threshold(config: Mapping[str, str]) -> int:
    """The verify TRESHOLD setting: a whole number 0-100, default 80."""
    raw = config.get("threshold")
    if raw is None or str(raw).strip() == "":
        return 80
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError(f"dukcapil: setting threshold must be a number, got {raw!r}") from None
    if not 0 <= value <= 100:
        raise ValueError(f"dukcapil: setting threshold out of range: {raw!r}")
    return value


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _message(item: Mapping[str, Any]) -> str | None:
    respon = item.get("RESPON")
    return str(respon).strip() if respon is not None else None


def _item_code(item: Mapping[str, Any], *, data_key: str) -> str:
    """The item's response code; a bare RESPON is understood for "not found", plain data means 01."""
    code = item.get("RESPONSE_CODE")
    if code is not None and not isinstance(code, bool) and isinstance(code, (str, int)):
        text = str(code).strip()
        if text.isdigit():
            return text.zfill(2)
        raise AgencyProtocolError(AGENCY, f"unreadable response code {text[:10]!r}")
    if code is not None:
        raise AgencyProtocolError(AGENCY, "unreadable response code")
    respon = (_message(item) or "").lower()
    if "tidak ditemukan" in respon:
        return "13"
    if data_key in item:
        return "01"
    raise AgencyProtocolError(AGENCY, f"reply item without data or response code: {respon[:80]!r}")


def _failure(code: str, message: str | None) -> AgencyError:
    text = f"code {code}: {message or 'no message'}"
    if code in ACCESS_CODES:
        return AgencyAccessDenied(AGENCY, text, code=code)
    if code == "05":
        return AgencyUnavailable(AGENCY, text, code=code, retry_after_s=seconds_to_midnight_wib())
    if code == "06":
        return AgencyUnavailable(AGENCY, text, code=code, retry_after_s=_seconds_until_hours(message or ""))
    if code == "07":
        return AgencyProtocolError(AGENCY, text, code=code)
    if code == "08":
        return AgencyRejected(AGENCY, text, code=code)
    return AgencyProtocolError(AGENCY, f"unknown response {text}", code=code)


def _exact(item: Mapping[str, Any], nik: str) -> dict[str, Any]:
    """The item's fields with every JSON integer as its exact digit string; NIK must be the one asked for."""
    fields: dict[str, Any] = {}
    for key, value in item.items():
        if key == "RESPONSE_CODE":
            continue
        if isinstance(value, bool):
            fields[key] = value
        elif isinstance(value, int):
            fields[key] = str(value)
        elif isinstance(value, float) and key in EXACT_NUMBER_FIELDS:
            raise AgencyProtocolError(AGENCY, f"{key} is not an exact integer in the reply")
        else:
            fields[key] = value
    for key in EXACT_NUMBER_FIELDS:
        value = fields.get(key)
        if value is not None and not (isinstance(value, str) and re.fullmatch(r"[0-9]{16}", value.strip())):
            raise AgencyProtocolError(AGENCY, f"{key} in the reply is not 16 digits")
    if "NIK" in fields and fields["NIK"].strip() != str(nik).strip():
        raise AgencyProtocolError(AGENCY, "reply is about another NIK")
    return fields


def claims_to_fields(claims: Mapping[str, Any]) -> dict[str, str]:
    """Canonical claims → Dukcapil verify fields; ValueError names what is wrong (unknown claim, bad value)."""
    if not claims:
        raise ValueError("verify needs at least one claim")
    unknown = sorted(set(claims) - set(CLAIM_FIELDS))
    if unknown:
        raise ValueError(f"unknown claim(s) {', '.join(unknown)}; known: {', '.join(CLAIM_FIELDS)}")
    fields: dict[str, str] = {}
    for claim, value in claims.items():
        if value is None:
            raise ValueError(f"claim {claim} has no value")
        if claim == "birth_date":
            fields["TGL_LHR"] = _claimed_date(value).strftime("%d-%m-%Y")
        elif claim == "sex":
            sex = str(value).strip().upper()
            if sex not in ("L", "P"):
                raise ValueError("claim sex must be L or P")
            fields["JENIS_KLMIN"] = "LAKI-LAKI" if sex == "L" else "PEREMPUAN"
        elif claim == "kk_number":
            kk = str(value).strip()
            if not re.fullmatch(r"[0-9]{16}", kk):
                raise ValueError("claim kk_number must be 16 digits")
            fields["NO_KK"] = kk
        else:
            fields[CLAIM_FIELDS[claim]] = str(value).strip().upper()
    return fields


def _claimed_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError("claim birth_date must be a date or an ISO date (YYYY-MM-DD)") from None


def parse_verdict(value: Any) -> tuple[bool, int | None]:
    """"Sesuai" → (True, None); "Tidak Sesuai (41)" → (False, 41). Anything else is a protocol error."""
    match = _VERDICT.fullmatch(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise AgencyProtocolError(AGENCY, "verify reply lacks a verdict for a requested field")
    score = int(match.group(2)) if match.group(2) is not None else None
    if score is not None and score > 100:
        raise AgencyProtocolError(AGENCY, "verify score above 100")
    return match.group(1).lower() == "sesuai", score
