"""Client for Dukcapil's web service (civil registry): full data by NIK and per-field verification.

How its replies are read (codes, texts, exact numbers) is `replies.py`, after the replies public sources show.

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
    elapsed_ms,
)
from connectors.config import JSON_KEY, name_setting, require_all
from connectors.dukcapil.replies import (
    AGENCY,
    DATA_KEYS,
    DECEASED_TEXT,
    DUPLICATE_TEXT,
    FOUND_CODES,
    NOT_FOUND_CODES,
    NOT_FOUND_TEXT,
    exact_fields,
    failure,
    outcome_of,
    says,
)

REQUIRED_SETTINGS = ("url", "institution", "user", "password", "ip")
#: setting → default: the CALL_NIK body's key names, which regional gateways spell differently (nik, ip_address)
BODY_KEYS = {"key_nik": "NIK", "key_user_id": "user_id", "key_password": "password", "key_ip_user": "ip_user"}
#: setting → default: the last path segment of each call (regional gateways: call_nik, BYNIK …)
CALL_NAMES = {"call_nik": "CALL_NIK", "call_verify": "CALL_VERIFY_BY_ELEMEN"}
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,64}")
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
log = logging.getLogger(__name__)


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
        self.threshold = _threshold(config)
        self.institution_path = _institution(self.institution)
        self.calls = {key: name_setting(config, AGENCY, key, default, _SEGMENT) for key, default in CALL_NAMES.items()}
        self.body_keys = {
            key: name_setting(config, AGENCY, key, default, JSON_KEY) for key, default in BODY_KEYS.items()
        }
        if len(set(self.body_keys.values())) != len(self.body_keys):
            raise ValueError("dukcapil: settings key_nik, key_user_id, key_password, key_ip_user must differ")
        self._http = rest.client_from_settings(config, AGENCY, transport=transport)

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
        code, message = outcome_of(item)
        log.debug("dukcapil CALL_NIK answered code %s", code or "(none)")
        has_data = any(key in item for key in DATA_KEYS)
        if code is None and has_data:
            return LookupResult(
                AGENCY, FacetStatus.ok, fields=exact_fields(item, nik), life_status=LifeStatus.alive, message=message
            )
        if code in NOT_FOUND_CODES or (code is None and says(NOT_FOUND_TEXT, message)):
            return LookupResult(AGENCY, FacetStatus.not_found, agency_code=code, message=message)
        fields = exact_fields(item, nik) if has_data else {}
        if code == "14":
            return LookupResult(
                AGENCY,
                FacetStatus.ok,
                life_status=LifeStatus.inactive,
                agency_code=code,
                message=message,
                fields=fields,
            )
        if code == "11" or (code is None and says(DECEASED_TEXT, message)):
            return LookupResult(
                AGENCY,
                FacetStatus.ok,
                fields=fields,
                life_status=LifeStatus.deceased,
                agency_code=code,
                message=message,
            )
        if code in FOUND_CODES or (code is None and says(DUPLICATE_TEXT, message)):
            return LookupResult(
                AGENCY, FacetStatus.ok, fields=fields, life_status=LifeStatus.alive, agency_code=code, message=message
            )
        raise failure(code, message)

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
        code, message = outcome_of(item)
        log.debug("dukcapil CALL_VERIFY_BY_ELEMEN answered code %s", code or "(none)")
        has_verdicts = any(CLAIM_FIELDS[claim] in item for claim in claims)
        if code in NOT_FOUND_CODES or (code is None and not has_verdicts and says(NOT_FOUND_TEXT, message)):
            return VerifyResult(AGENCY, found=False, agency_code=code, message=message)
        if code == "14":
            return VerifyResult(AGENCY, found=True, agency_code=code, life_status=LifeStatus.inactive, message=message)
        if code == "11" or (code is None and not has_verdicts and says(DECEASED_TEXT, message)):
            return VerifyResult(
                AGENCY,
                found=True,
                agency_code=code,
                life_status=LifeStatus.deceased,
                message=message,
                fields=_verdicts(item, claims) if has_verdicts else {},
            )
        if code == "12" or (code is None and not has_verdicts and says(DUPLICATE_TEXT, message)):
            return VerifyResult(
                AGENCY,
                found=True,
                agency_code=code,
                message=message,
                fields=_verdicts(item, claims) if has_verdicts else {},
            )
        if code is not None and code not in FOUND_CODES:
            raise failure(code, message)
        if code is None and not has_verdicts:
            raise failure(code, message)
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
            return Health(AGENCY, up=False, latency_ms=elapsed_ms(started), detail=exc.message)
        return Health(AGENCY, up=True, latency_ms=elapsed_ms(started), detail=f"HTTP {response.status_code}")

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


def _institution(value: str) -> str:
    """The institution part of the path: one segment ("GERBANG") or, for a regional gateway, several
    ("32-76/USER01"); each a plain URL segment, so no setting can reach another path."""
    segments = value.strip("/").split("/")
    if not 1 <= len(segments) <= 4 or not all(_SEGMENT.fullmatch(part) and part.strip(".") for part in segments):
        raise ValueError("dukcapil: setting institution must be 1-4 path segments of letters, digits, . _ ~ -")
    return "/".join(segments)


def _verdicts(item: Mapping[str, Any], claims: Mapping[str, Any]) -> dict[str, tuple[bool, int | None]]:
    return {claim: parse_verdict(item.get(CLAIM_FIELDS[claim])) for claim in claims}


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
