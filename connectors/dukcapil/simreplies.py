"""The Dukcapil simulator's replies in the gateway's own shapes: Spring Data's page envelope, CALL_NIK's bare
`RESPON` texts, verify's `RESPONSE_CODE` items, Spring Boot's error body; and the NIK check that answers "not
found" to a number that cannot be a NIK (the simulator checks on its own: connectors do not depend on identity/)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from fastapi import Response

MEDIA_TYPE = "application/json;charset=UTF-8"

#: CALL_NIK's bare RESPON texts
NOT_FOUND_TEXT = "Data Tidak Ditemukan"
LOGIN_TEXT = "Login Gagal"
IP_TEXT = "IP Address Tidak Sesuai"
QUOTA_TEXT = "Kuota Akses Hari ini telah Habis"
#: verify's (RESPONSE_CODE, RESPONSE) pairs, and CALL_NIK's for the person's status
VERIFY_ERRORS = {
    "03": "Login Gagal",
    "04": "IP Tidak Sesuai",
    "05": "Kuota Akses Hari Ini Telah Habis",
    "07": "Permintaan tidak lengkap",
    "11": "meninggal dunia",
    "12": "Data Ditemukan, Data Ganda",
    "13": "Data Tidak Ditemukan, NIK tidak terdapat di database Kependudukan",
    "14": "NIK Tidak Aktif",
}
DECEASED_TEXT = "Data Ditemukan, Meninggal Dunia"


class Reply(Exception):
    """Stops a request with the agency's answer: a bare RESPON text on CALL_NIK, a code on verify."""

    def __init__(self, code: str, text: str | None = None):
        super().__init__(code)
        self.code = code
        self.text = text


def envelope(items: list[dict[str, Any]], quota_left: int | None = None) -> dict[str, Any]:
    """Spring Data's page wrapper: CALL_NIK's with `sort`; verify's (`quota_left` given) with `quotaLimiter` and
    `totalElements`/`size` 10, as the public samples show them."""
    if quota_left is None:
        return {
            "content": items,
            "lastPage": True,
            "numberOfElements": len(items),
            "sort": None,
            "totalElements": len(items),
            "firstPage": True,
            "number": 0,
            "size": max(len(items), 1),
        }
    return {
        "content": items,
        "lastPage": True,
        "numberOfElements": len(items),
        "totalElements": 10,
        "firstPage": True,
        "number": 0,
        "size": 10,
        "quotaLimiter": quota_left,
    }


def json_reply(payload: Mapping[str, Any], status_code: int = 200) -> Response:
    # Python writes ints exactly, so NIK and NO_KK go out as 16-digit JSON numbers, never through a float.
    return Response(
        json.dumps(payload, ensure_ascii=False).encode("utf-8"), media_type=MEDIA_TYPE, status_code=status_code
    )


def spring_error(status: int, error: str, path: str) -> Response:
    """Spring Boot's default error body, as a Java gateway answers what never reaches its handler."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
    return json_reply({"timestamp": stamp, "status": status, "error": error, "path": path}, status)


def respon(text: str) -> dict[str, Any]:
    """CALL_NIK's error item: a bare RESPON, no code."""
    return {"RESPON": text}


def code_item(code: str, text: str | None = None) -> dict[str, Any]:
    """Verify's error item: RESPONSE_CODE, RESPONSE_DESC and RESPONSE, no verdicts."""
    message = text or VERIFY_ERRORS[code]
    return {"RESPONSE_CODE": code, "RESPONSE_DESC": message, "RESPONSE": message}


def nik_code(value: Any) -> str:
    """The NIK as 16 digits, or Reply 13 (not found): missing, not 16 digits, or structurally impossible."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Reply("13")
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{16}", text):
        raise Reply("13")
    day, month, yy, serial = int(text[6:8]), int(text[8:10]), int(text[10:12]), text[12:]
    if day > 40:
        day -= 40
    if text[0:2] == "00" or text[2:4] == "00" or text[4:6] == "00" or serial == "0000" or not 1 <= month <= 12:
        raise Reply("13")
    if not any(_exists(century + yy, month, day) for century in (1900, 2000)):
        raise Reply("13")
    return text


def _exists(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True
