"""Reading Dukcapil's replies, after those public sources show (shared/agency-evidence/README.md, "Dukcapil"), not
only our simulator's: which are data, which a person's status, which a failure, and of which kind.

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
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from connectors.base import AgencyAccessDenied, AgencyError, AgencyProtocolError, AgencyRejected, AgencyUnavailable
from identity.clock import WIB

AGENCY = "dukcapil"
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
_HOURS = re.compile(r"(\d{1,2})[:.](\d{2})\s*-\s*\d{1,2}[:.]\d{2}")


def seconds_to_midnight_wib(now: dt.datetime | None = None) -> float:
    """Seconds until the next midnight in Asia/Jakarta (UTC+7, no DST): when Dukcapil's daily quota resets."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(WIB)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=WIB)
    return max((midnight - local).total_seconds(), 1.0)


def seconds_until_hours(message: str, now: dt.datetime | None = None) -> float | None:
    """From "… (07:00-19:00 WIB)", the seconds until access opens again; None when the message says no hours."""
    match = _HOURS.search(message or "")
    if not match:
        return None
    local = (now or dt.datetime.now(dt.UTC)).astimezone(WIB)
    opens = local.replace(hour=int(match.group(1)) % 24, minute=int(match.group(2)) % 60, second=0, microsecond=0)
    if opens <= local:
        opens += dt.timedelta(days=1)
    return (opens - local).total_seconds()


def message_of(item: Mapping[str, Any]) -> str | None:
    """The agency's own text: RESPONSE (verify), else RESPON (CALL_NIK), else RESPONSE_DESC; bounded, and long
    numbers masked (the text may reach logs and problem details)."""
    for key in ("RESPONSE", "RESPON", "RESPONSE_DESC"):
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            text = re.sub(r"[0-9]{8,}", "…", " ".join(value.split()))
            return "".join(ch for ch in text if ch.isprintable())[:MAX_MESSAGE]
    return None


def says(pattern: re.Pattern[str], message: str | None) -> bool:
    return bool(message) and pattern.search(message or "") is not None


def outcome_of(item: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(RESPONSE_CODE as two digits or None when absent, the agency's message)."""
    code = item.get("RESPONSE_CODE")
    message = message_of(item)
    if code is None:
        return None, message
    if not isinstance(code, bool) and isinstance(code, (str, int)):
        text = str(code).strip()
        if text.isascii() and text.isdigit() and len(text) <= 3:
            return text.zfill(2), message
        raise AgencyProtocolError(AGENCY, f"unreadable response code {text[:10]!r}")
    raise AgencyProtocolError(AGENCY, "unreadable response code")


def failure(code: str | None, message: str | None) -> AgencyError:
    """The error for a reply that is neither data nor a person's status: by code if given, else by text."""
    text = f"code {code}: {message or 'no message'}" if code else (message or "reply without data or message")
    if code in ACCESS_CODES or (code is None and says(ACCESS_TEXT, message)):
        return AgencyAccessDenied(AGENCY, text, code=code)
    if code == "05" or says(QUOTA_TEXT, message):
        return AgencyUnavailable(AGENCY, text, code=code, retry_after_s=seconds_to_midnight_wib())
    if code == "06":
        return AgencyUnavailable(AGENCY, text, code=code, retry_after_s=seconds_until_hours(message or ""))
    if code == "07":
        return AgencyProtocolError(AGENCY, text, code=code)
    if code == "08":
        return AgencyRejected(AGENCY, text, code=code)
    if code is None:
        return AgencyProtocolError(AGENCY, f"unrecognised reply: {text}")
    return AgencyProtocolError(AGENCY, f"unknown response {text}", code=code)


def exact_fields(item: Mapping[str, Any], nik: str) -> dict[str, Any]:
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
