"""Client for Dukcapil's web service (civil registry): full data by NIK and per-field verification.

It reads the replies public sources show (shared/agency-evidence/README.md, "Dukcapil"), not only our simulator's:
- **Found** (CALL_NIK): an item of data with **no response code**. The field set varies by gateway (20 keys, the
  full 34, or with FOTO); NIK and NO_KK are 16-digit JSON numbers beyond 2^53 and must never pass through a float
  (`json.loads` keeps integers exact; a float there is refused); RT/RW and region codes are JSON numbers too. Every
  JSON integer is handed on as its exact digit string; the mapping pads them. Dates stay as sent (ISO or dotted).
- **CALL_NIK errors** are a bare `{"RESPON": text}` with no code, classified by their text, case-insensitively:
  "Data Tidak Ditemukan" → not found; "Kuota Akses Hari ini telah Habis" → AgencyUnavailable with
  `retry_after_s` = seconds to midnight WIB (when the quota resets); "Login Gagal", "IP Address Tidak Sesuai" →
  AgencyAccessDenied (an operator must fix the credentials or the registered IP). A text we do not know is an
  AgencyProtocolError carrying it: never a guessed outcome.
- **Verify** (CALL_VERIFY_BY_ELEMEN) matches come with no code: one "Sesuai"/"Tidak Sesuai" verdict per sent
  element, fuzzy ones with a score. Its errors are `RESPONSE_CODE` + `RESPONSE` (+ `RESPONSE_DESC`) with **no
  verdicts**: 11 deceased and 12 duplicate record mean the person is known (found, no verdicts: never a protocol
  error), 13 not found, 04 IP not registered → AgencyAccessDenied; the agency's `RESPONSE` text is kept as the
  message. Where a code is given (on either call), it decides: 01/12 found, 11 deceased, 14 inactive, 13/15 not
  found; 03 04 09 10 16 17 → AgencyAccessDenied; 05 quota → AgencyUnavailable until midnight WIB; 06 outside
  hours → AgencyUnavailable; 07 incomplete request → AgencyProtocolError; 08 → AgencyRejected. Codes other than
  04 11 12 13 were not seen in public replies; their meanings are the older notes' (shared/agencies.md).
- **Deployments differ** (regional gateways): the last path segment of each call (`call_nik`, default CALL_NIK;
  `call_verify`, default CALL_VERIFY_BY_ELEMEN), the institution part of the path (`institution`, which may hold
  several segments, e.g. "32-76/USER01"), and the CALL_NIK body's key names (`key_nik`, `key_user_id`,
  `key_password`, `key_ip_user`, defaults NIK, user_id, password, ip_user) are settings, not code.
- The reply is about the NIK asked for, or it is a protocol error. `submit` raises NotSupported: read-only.
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
from connectors.config import name_setting, require_all, timeout_s
from identity.clock import WIB

AGENCY = "dukcapil"
REQUIRED_SETTINGS = ("url", "institution", "user", "password", "ip")
#: setting → default: the CALL_NIK body's key names, which regional gateways spell differently (nik, ip_address)
BODY_KEYS = {"key_nik": "NIK", "key_user_id": "user_id", "key_password": "password", "key_ip_user": "ip_user"}
#: setting → default: the last path segment of each call (regional gateways: call_nik, BYNIK …)
CALL_NAMES = {"call_nik": "CALL_NIK", "call_verify": "CALL_VERIFY_BY_ELEMEN"}
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,64}")
_BODY_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
#: bare RESPON texts (no code) → what they mean; matched case-insensitively, first match wins
NOT_FOUND_TEXT = re.compile(r"tidak\s+ditemukan", re.IGNORECASE)
QUOTA_TEXT = re.compile(r"kuota", re.IGNORECASE)
ACCESS_TEXT = re.compile(r"login\s+gagal|\bip(\s+address)?\s+(tidak\s+sesuai|belum\s+terdaftar)", re.IGNORECASE)
DECEASED_TEXT = re.compile(r"meninggal", re.IGNORECASE)
DUPLICATE_TEXT = re.compile(r"data\s+ganda", re.IGNORECASE)
DATA_KEYS = ("NIK", "NAMA_LGKP")
MAX_MESSAGE = 160
ACCESS_CODES = frozenset({"03", "04", "09", "10", "16", "17"})
FOUND_CODES = frozenset({"01", "12"})
NOT_FOUND_CODES = frozenset({"13", "15"})
EXACT_NUMBER_FIELDS = ("NIK", "NO_KK")
#: fields never handed on: FOTO is the KTP photo (biometric data) some gateways add; no purpose of the bus needs it
DROPPED_FIELDS = frozenset({"FOTO", "RESPONSE_CODE", "RESPONSE", "RESPONSE_DESC", "RESPON"})
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
        self.institution_path = _institution(self.institution)
        self.calls = {key: name_setting(config, AGENCY, key, default, _SEGMENT) for key, default in CALL_NAMES.items()}
        self.body_keys = {
            key: name_setting(config, AGENCY, key, default, _BODY_KEY) for key, default in BODY_KEYS.items()
        }
        if len(set(self.body_keys.values())) != len(self.body_keys):
            raise ValueError("dukcapil: settings key_nik, key_user_id, key_password, key_ip_user must differ")
        self._http = rest.make_client(
            str(config["url"]).rstrip("/"),
            timeout_s=self.timeout_s,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def _path(self, call: str) -> str:
        """`call` is "call_nik" or "call_verify"; its last segment comes from the settings."""
        return f"/dukcapil/get_json/{self.institution_path}/{self.calls[call]}"

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
        keys = self.body_keys
        item = await self._call(
            "call_nik",
            {
                keys["key_nik"]: nik,
                keys["key_user_id"]: self._user,
                keys["key_password"]: self._password,
                keys["key_ip_user"]: self._ip,
            },
        )
        code, message = _outcome(item)
        log.debug("dukcapil CALL_NIK answered code %s", code or "(none)")
        has_data = any(key in item for key in DATA_KEYS)
        if code is None and has_data:
            return LookupResult(
                AGENCY, FacetStatus.ok, fields=_exact(item, nik), life_status=LifeStatus.alive, message=message
            )
        if code in NOT_FOUND_CODES or (code is None and _says(NOT_FOUND_TEXT, message)):
            return LookupResult(AGENCY, FacetStatus.not_found, agency_code=code, message=message)
        fields = _exact(item, nik) if has_data else {}
        if code == "14":
            return LookupResult(
                AGENCY,
                FacetStatus.ok,
                life_status=LifeStatus.inactive,
                agency_code=code,
                message=message,
                fields=fields,
            )
        if code == "11" or (code is None and _says(DECEASED_TEXT, message)):
            return LookupResult(
                AGENCY,
                FacetStatus.ok,
                fields=fields,
                life_status=LifeStatus.deceased,
                agency_code=code,
                message=message,
            )
        if code in FOUND_CODES or (code is None and _says(DUPLICATE_TEXT, message)):
            return LookupResult(
                AGENCY, FacetStatus.ok, fields=fields, life_status=LifeStatus.alive, agency_code=code, message=message
            )
        raise _failure(code, message)

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> VerifyResult:
        """Ask Dukcapil whether `claims` (canonical names: full_name, birth_date, birth_place, sex, kk_number,
        address, father_name, mother_name) match its record; verdicts come back per canonical name. A person known
        but deceased (11) or held twice (12) is found with no verdicts, `life_status` and `message` saying why."""
        try:
            fields = claims_to_fields(claims)
        except ValueError as exc:  # our caller's input, not Dukcapil's failure: no call, and not for its breaker
            raise AgencyRejected(AGENCY, str(exc), code="claims_invalid") from None
        body: dict[str, Any] = {
            "USER_ID": self._user,
            "PASSWORD": self._password,
            "IP_USER": self._ip,
            "TRESHOLD": str(self.threshold),
            "NIK": nik,
            **fields,
        }
        item = await self._call("call_verify", body)
        code, message = _outcome(item)
        log.debug("dukcapil CALL_VERIFY_BY_ELEMEN answered code %s", code or "(none)")
        has_verdicts = any(CLAIM_FIELDS[claim] in item for claim in claims)
        if code in NOT_FOUND_CODES or (code is None and not has_verdicts and _says(NOT_FOUND_TEXT, message)):
            return VerifyResult(AGENCY, found=False, agency_code=code, message=message)
        if code == "14":
            return VerifyResult(AGENCY, found=True, agency_code=code, life_status=LifeStatus.inactive, message=message)
        if code == "11" or (code is None and not has_verdicts and _says(DECEASED_TEXT, message)):
            return VerifyResult(
                AGENCY,
                found=True,
                agency_code=code,
                life_status=LifeStatus.deceased,
                message=message,
                fields=_verdicts(item, claims) if has_verdicts else {},
            )
        if code == "12" or (code is None and not has_verdicts and _says(DUPLICATE_TEXT, message)):
            return VerifyResult(
                AGENCY,
                found=True,
                agency_code=code,
                message=message,
                fields=_verdicts(item, claims) if has_verdicts else {},
            )
        if code is not None and code not in FOUND_CODES:
            raise _failure(code, message)
        if code is None and not has_verdicts:
            raise _failure(code, message)
        return VerifyResult(
            AGENCY,
            found=True,
            fields=_verdicts(item, claims),
            agency_code=code,
            life_status=LifeStatus.alive,
            message=message,
        )

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        raise NotSupported(AGENCY, "Dukcapil is read-only: it takes no submissions")

    async def health(self) -> Health:
        """GET on the CALL_NIK path: any HTTP answer below 500 (the gateway says 405) proves it is up, and it
        costs no quota, unlike a real CALL_NIK."""
        started = time.perf_counter()
        try:
            response = await rest.send(self._http, AGENCY, "GET", self._path("call_nik"))
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


def _institution(value: str) -> str:
    """The institution part of the path: one segment ("GERBANG") or, for a regional gateway, several
    ("32-76/USER01"); each a plain URL segment, so no setting can reach another path."""
    segments = value.strip("/").split("/")
    if not 1 <= len(segments) <= 4 or not all(_SEGMENT.fullmatch(part) and part.strip(".") for part in segments):
        raise ValueError("dukcapil: setting institution must be 1-4 path segments of letters, digits, . _ ~ -")
    return "/".join(segments)


def _message(item: Mapping[str, Any]) -> str | None:
    """The agency's own text: RESPONSE (verify), else RESPON (CALL_NIK), else RESPONSE_DESC; bounded, and long
    numbers masked (the text may reach logs and problem details)."""
    for key in ("RESPONSE", "RESPON", "RESPONSE_DESC"):
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            text = re.sub(r"[0-9]{8,}", "…", " ".join(value.split()))
            return "".join(ch for ch in text if ch.isprintable())[:MAX_MESSAGE]
    return None


def _says(pattern: re.Pattern[str], message: str | None) -> bool:
    return bool(message) and pattern.search(message or "") is not None


def _outcome(item: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(RESPONSE_CODE as two digits or None when absent, the agency's message)."""
    code = item.get("RESPONSE_CODE")
    message = _message(item)
    if code is None:
        return None, message
    if not isinstance(code, bool) and isinstance(code, (str, int)):
        text = str(code).strip()
        if text.isascii() and text.isdigit() and len(text) <= 3:
            return text.zfill(2), message
        raise AgencyProtocolError(AGENCY, f"unreadable response code {text[:10]!r}")
    raise AgencyProtocolError(AGENCY, "unreadable response code")


def _failure(code: str | None, message: str | None) -> AgencyError:
    """The error for a reply that is neither data nor a person's status: by code if given, else by text."""
    text = f"code {code}: {message or 'no message'}" if code else (message or "reply without data or message")
    if code in ACCESS_CODES or (code is None and _says(ACCESS_TEXT, message)):
        return AgencyAccessDenied(AGENCY, text, code=code)
    if code == "05" or _says(QUOTA_TEXT, message):
        return AgencyUnavailable(AGENCY, text, code=code, retry_after_s=seconds_to_midnight_wib())
    if code == "06":
        return AgencyUnavailable(AGENCY, text, code=code, retry_after_s=_seconds_until_hours(message or ""))
    if code == "07":
        return AgencyProtocolError(AGENCY, text, code=code)
    if code == "08":
        return AgencyRejected(AGENCY, text, code=code)
    if code is None:
        return AgencyProtocolError(AGENCY, f"unrecognised reply: {text}")
    return AgencyProtocolError(AGENCY, f"unknown response {text}", code=code)


def _verdicts(item: Mapping[str, Any], claims: Mapping[str, Any]) -> dict[str, tuple[bool, int | None]]:
    return {claim: parse_verdict(item.get(CLAIM_FIELDS[claim])) for claim in claims}


def _exact(item: Mapping[str, Any], nik: str) -> dict[str, Any]:
    """The item's fields with every JSON integer as its exact digit string; NIK must be the one asked for."""
    fields: dict[str, Any] = {}
    for key, value in item.items():
        if key in DROPPED_FIELDS:
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
    """ "Sesuai" → (True, None); "Tidak Sesuai (41)" → (False, 41). Anything else is a protocol error."""
    match = _VERDICT.fullmatch(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise AgencyProtocolError(AGENCY, "verify reply lacks a verdict for a requested field")
    score = int(match.group(2)) if match.group(2) is not None else None
    if score is not None and score > 100:
        raise AgencyProtocolError(AGENCY, "verify score above 100")
    return match.group(1).lower() == "sesuai", score
