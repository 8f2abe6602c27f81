"""Pushes from agencies, in their own protocols: `POST /v1/inbound/<agency>/<method>`, served for any connector
that brings an inbound hook (`ConnectorPlugin.inbound`). No API key: the agency authenticates with its own recipe,
which its connector checks; the reply is the agency's own format, which its connector builds.

What a push may change is bound to what its credential covers (core/bus/inbound.py); every refused push is an
audit entry.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from connectors.base import Inbound, InboundPush, InboundRefused
from core.api.answers import AgencyReply
from core.api.openapi import problems
from core.api.problems import Problem
from core.api.state import app_state
from core.bus.inbound import OwnerMismatch, Stored, audit_refusal, store
from identity.clock import utcnow

router = APIRouter(prefix="/v1/inbound", tags=["inbound"])
log = logging.getLogger(__name__)


def _hook(request: Request, agency: str, method: str) -> Inbound:
    plugin = app_state(request.app).agencies.plugins.get(agency)
    hook = getattr(plugin, "inbound", None)
    if hook is None or method not in hook.methods:
        raise Problem(
            404, "inbound_not_found", "No such inbound route", f"Agency {agency!r} takes no push named {method!r}"
        )
    return hook


OWN_REPLY = {
    "model": AgencyReply,
    "description": "The agency's own reply, in its own format and with the HTTP status its protocol uses",
}
PUSH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "title": "AgencyPush",
                "description": "The push in the agency's own format, authenticated by the agency's own recipe",
            }
        }
    },
}


@router.post(
    "/{agency}/{method}",
    include_in_schema=True,
    response_model=None,
    responses={**problems("inbound_not_found"), 200: OWN_REPLY, "default": OWN_REPLY},
    openapi_extra={"requestBody": PUSH_BODY},
)
async def receive_push(agency: str, method: str, request: Request) -> JSONResponse:
    """An agency's push (a method its connector's inbound hook takes), answered in the agency's own reply format."""
    hook = _hook(request, agency, method)
    config = app_state(request.app).settings.agency(agency)
    headers = {name.lower(): value for name, value in request.headers.items()}
    body = await request.body()

    def refuse(outcome: str, reason: str, message: str, **where: str | None) -> JSONResponse:
        with app_state(request.app).sessions() as session:
            audit_refusal(session, agency, method, reason, **where)
        status, reply = hook.answer(method, outcome, message)
        return JSONResponse(reply, status_code=status)

    try:
        push: InboundPush = hook.read(method, headers, body, config, utcnow())
    except InboundRefused as refused:
        return await run_in_threadpool(refuse, refused.outcome, refused.reason, refused.message)

    def work() -> Stored | JSONResponse:
        with app_state(request.app).sessions() as session:
            try:
                return store(session, app_state(request.app).secrets, agency, push, config, utcnow())
            except OwnerMismatch as mismatch:
                session.rollback()
                return refuse(
                    "forbidden",
                    "owner_mismatch",
                    "",  # the agency's own words for it: its connector's
                    owner=push.owner,
                    reference=mismatch.reference,
                    application_id=mismatch.application_id,
                )

    try:
        outcome = await run_in_threadpool(work)
    except Exception:  # the agency hears "not stored" in its own words and will push again; we log the cause
        log.exception("inbound %s/%s could not be stored", agency, method)
        status, reply = hook.answer(method, "failed", "")
        return JSONResponse(reply, status_code=status)
    if isinstance(outcome, JSONResponse):
        return outcome
    deliverer = app_state(request.app).callbacks
    if deliverer is not None and (outcome.opened or outcome.updated):
        deliverer.wake()
    status, reply = hook.answer(method, "stored", "")
    return JSONResponse(reply, status_code=status)
