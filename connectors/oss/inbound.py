"""OSS's push to a region, `receiveNIB` (guide v4.3.22, `@api receiveNIB`), read for the bus's inbound route.

OSS sends `{"dataNIB": {…, "data_checklist": [licences to process]}}` with the header
`Token: SHA1(USERNAME+PASSWORD+NIB+Ymd)` (connectors/oss/push.py) and expects
`{"responreceiveNIB": {"status": "1"|"2", "keterangan": …}}` (1 stored, 2 not).

Each checklist item with an `id_izin` becomes one record the region must process (`InboundItem`, service
`license_request`): its reference is the id_izin, its owner the push's NIB — the only thing the Token covers, so
the bus lets a push change only records of that NIB (a push for NIB A naming NIB B's id_izin is refused). The
holder is the citizen when OSS registered them with a KTP (Lampiran 4: 01); otherwise the record's subject is the
identity document's type and number (`02:<passport>`), still stored only as a keyed hash.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from connectors.base import Inbound, InboundItem, InboundPush, InboundRefused
from connectors.oss.codes import IDENTITY_KTP, RECEIVE_NIB_FAILED, RECEIVE_NIB_OK, RESPONSE_CODES
from connectors.oss.push import TOKEN_HEADER, token_valid

METHOD = "receiveNIB"
SERVICE = "license_request"
MAX_ITEMS = 200
STORED_TEXT = "Berhasil menyimpan data"  # the guide's success example
FAILED_TEXT = "Gagal menyimpan data"  # the guide's error example
HTTP_STATUS = {"stored": 200, "failed": 200, "malformed": 400, "unauthorized": 401, "forbidden": 403}
_ID = re.compile(r"[0-9A-Za-z_.\-]{1,25}")
_NIB = re.compile(r"[0-9]{13}")
_KEEP = (
    "nib",
    "oss_id",
    "tgl_terbit_nib",
    "tgl_perubahan_nib",
    "jenis_pelaku_usaha",
    "skala_usaha",
    "status_nib",
    "tipe_dokumen",
    "nama_perseroan",
    "jenis_id_user_proses",
    "no_id_user_proses",
    "nama_user_proses",
    "daerah_id_user_proses",
)


def _text(value: Any, limit: int = 200) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def parse(body: bytes) -> dict[str, Any]:
    """The `dataNIB` object with a 13-digit nib, or InboundRefused("malformed")."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InboundRefused("malformed", "body_invalid", "Data Parameter Salah") from None
    nib_data = data.get("dataNIB") if isinstance(data, dict) else None
    if (
        not isinstance(nib_data, dict)
        or not isinstance(nib_data.get("nib"), str)
        or not _NIB.fullmatch(nib_data["nib"])
    ):
        raise InboundRefused("malformed", "body_invalid", "Data Parameter Salah")
    return nib_data


def holder_of(data: Mapping[str, Any]) -> str:
    """The push's holder: their NIK when registered with a KTP, else `<type>:<number>`; refused when there is none.
    The bus stores it as each record's subject, keyed (`identity.secrecy.subject_hash`)."""
    kind, number = _text(data.get("jenis_id_user_proses")), _text(data.get("no_id_user_proses"), 40)
    if kind == IDENTITY_KTP and re.fullmatch(r"[0-9]{16}", number):
        return number
    if kind and number and kind != IDENTITY_KTP and re.fullmatch(r"[0-9A-Za-z]{1,40}", number):
        return f"{kind}:{number}"
    raise InboundRefused("malformed", "holder_invalid", "Data Parameter Salah")


def items_of(data: Mapping[str, Any], holder: str) -> tuple[InboundItem, ...]:
    """One item per checklist entry with an id_izin (the top-level id_izin when the checklist is empty), each about
    `holder`."""
    checklist = data.get("data_checklist")
    entries = [e for e in checklist if isinstance(e, dict)] if isinstance(checklist, list) else []
    if not entries and _text(data.get("id_izin")):
        entries = [{key: data.get(key) for key in ("id_izin", "kd_izin", "kd_daerah", "kewenangan")}]
    if len(entries) > MAX_ITEMS:
        raise InboundRefused("malformed", "too_many_items", "Data Parameter Salah")
    basics = {key: data.get(key) for key in _KEEP if key in data}
    items = []
    for entry in entries:
        id_izin = entry.get("id_izin")
        if id_izin in (None, ""):
            continue  # a checklist line that is not a licence to process (no id)
        if not isinstance(id_izin, str) or not _ID.fullmatch(id_izin):
            raise InboundRefused("malformed", "id_izin_invalid", "Data Parameter Salah")
        items.append(
            InboundItem(
                reference=id_izin,
                owner=data["nib"],
                subject=holder,
                service=SERVICE,
                payload={"izin": dict(entry), "nib": basics},
            )
        )
    if len({item.reference for item in items}) != len(items):
        raise InboundRefused("malformed", "id_izin_repeated", "Data Parameter Salah")
    return tuple(items)


def read(
    method: str, headers: Mapping[str, str], body: bytes, config: Mapping[str, str], now: dt.datetime
) -> InboundPush:
    """Check OSS's Token against the push's own NIB, then parse it into the records to open or update."""
    token = headers.get(TOKEN_HEADER.lower(), "")
    user, password = config.get("push_user", ""), config.get("push_password", "")
    if not token or not user or not password:
        raise InboundRefused(
            "unauthorized", "token_missing" if user and password else "push_not_configured", "User Akses Tidak Valid"
        )
    data = parse(body)
    if not token_valid(token, user, password, data["nib"], now):
        raise InboundRefused("unauthorized", "token_invalid", "User Akses Tidak Valid")
    return InboundPush(method=method, owner=data["nib"], items=items_of(data, holder_of(data)))


def answer(method: str, outcome: str, message: str) -> tuple[int, dict[str, Any]]:
    """OSS's reply shape: `{"responreceiveNIB": {"status": "1"|"2", "keterangan"}}`, with an HTTP status that says
    the same to anything in between (200 stored or not stored, 400/401/403 refused)."""
    status = RECEIVE_NIB_OK if outcome == "stored" else RECEIVE_NIB_FAILED
    http_status = HTTP_STATUS.get(outcome, 400)
    text = {"stored": STORED_TEXT, "failed": FAILED_TEXT}.get(outcome, message) or RESPONSE_CODES[http_status]
    return http_status, {f"respon{method}": {"status": status, "keterangan": text}}


INBOUND = Inbound(methods=frozenset({METHOD}), read=read, answer=answer)
