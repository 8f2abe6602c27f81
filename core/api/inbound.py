"""Pushes from agencies, in their own protocols: `POST /v1/inbound/oss/receiveLicenseStatus` (OSS's Token header,
OSS's reply format). No API key: the agency authenticates with its own recipe (connectors/oss/push.py)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from connectors.oss.push import TOKEN_HEADER
from core.callbacks import inbound

router = APIRouter(prefix="/v1/inbound", tags=["inbound"])
METHOD = "receiveLicenseStatus"


def oss_reply(kode: int, keterangan: str, http_status: int = 200) -> JSONResponse:
    """OSS's own reply shape: `{"respon<method>": {"kode": …, "keterangan": …}}` (OSS uses HTTP 200 for its
    own failures; a refused token is also HTTP 401)."""
    return JSONResponse({f"respon{METHOD}": {"kode": kode, "keterangan": keterangan}}, status_code=http_status)


@router.post(f"/oss/{METHOD}", include_in_schema=True)
async def receive_license_status(request: Request) -> JSONResponse:
    """OSS pushes a licence status: `{"RECEIVELICENSESTATUS": {nib, id_izin, kd_status, keterangan}}`."""
    try:
        push = inbound.parse(json.loads(await request.body()))
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: BodyLimits bounds depth already
        push = None
    token = request.headers.get(TOKEN_HEADER, "")
    if push is None:
        return oss_reply(400, "Format request tidak valid", 401 if not token else 200)
    if not inbound.token_ok(token, push, request.app.state.settings.agency("oss")):
        return oss_reply(401, "Token tidak valid", 401)

    def work() -> str:
        with request.app.state.sessions() as session:
            return inbound.apply(session, push)

    outcome = await run_in_threadpool(work)
    if outcome == "unknown":
        return oss_reply(404, "id_izin tidak ditemukan")
    deliverer = getattr(request.app.state, "callbacks", None)
    if deliverer is not None:
        deliverer.wake()
    return oss_reply(200, "Status izin diterima" if outcome == "applied" else "Status izin sudah diterima")
