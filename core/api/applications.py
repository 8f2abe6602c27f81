"""Journey 2: submit an application. `POST /v1/applications` with an `Idempotency-Key`, then follow it.

The API only checks and stores (application + outbox row + history + audit, one transaction) and answers 202;
the dispatcher (in-process in embedded mode, `gerbang worker` with RabbitMQ) does the rest. A counter sees its
own applications; a client holding `admin` sees all, and may list the failed ones and replay them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from core.api.application_views import (
    Accepted,
    ApplicationPage,
    ApplicationView,
    application_view,
    cursor_of,
    summaries,
)
from core.api.auth import current_principal, require
from core.api.body_limits import OFF_LOOP_BYTES
from core.api.citizens import checked_nik
from core.api.context import CONTEXT_PARAMETERS, counter_context
from core.api.openapi import problems
from core.api.problems import Problem, item, pointer_to, scope_missing
from core.api.state import AppState, app_state
from core.bus import queries
from core.bus.citizen import one_person
from core.bus.inbound import join_decision
from core.bus.models import Application, Status
from core.bus.service import IdempotencyConflict, NotReplayable, Submission, replay, schema_errors
from core.security.clients import Principal
from core.security.scopes import allowed
from identity.clock import iso, utcnow
from identity.secrecy import subject_hash

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/applications", tags=["applications"])
admin_router = APIRouter(prefix="/v1/admin/applications", tags=["operations"])

KEY_MAX = 200
SUBMIT_RESPONSES = problems(
    "idempotency_key_missing",
    "idempotency_key_invalid",
    "context_missing",
    "context_invalid",
    "nik_invalid",
    "scope_missing",
    "agency_unknown",
    "service_unknown",
    "nik_mismatch",
    "payload_invalid",
    "idempotency_conflict",
)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "A unique key per application (e.g. a UUID); the same key and body answer the same "
    "application again",
    "schema": {"type": "string", "minLength": 1, "maxLength": KEY_MAX, "pattern": "^[ -~]+$"},
}


class ApplicationIn(BaseModel):
    """A submission: whose (NIK), to which agency service, and the service's payload (its JSON Schema is listed
    under GET /v1/agencies)."""

    model_config = ConfigDict(extra="forbid")
    nik: str = Field(max_length=40)
    agency: str = Field(max_length=64)
    service: str = Field(max_length=64)
    payload: dict[str, Any]


def _key(value: str | None) -> str:
    if value is None or not value.strip():
        raise Problem(
            400,
            "idempotency_key_missing",
            "An Idempotency-Key header is required",
            "Send a unique key per application (e.g. a UUID); repeating it repeats the answer.",
        )
    value = value.strip()
    if len(value) > KEY_MAX or not (value.isascii() and value.isprintable()):
        raise Problem(
            400,
            "idempotency_key_invalid",
            "The Idempotency-Key is not valid",
            f"At most {KEY_MAX} printable ASCII characters.",
        )
    return value


def _answer(app: Application, status_code: int, *, replayed: bool = False) -> JSONResponse:
    location = f"/v1/applications/{app.id}"
    body = {
        "id": app.id,
        "status": app.status,
        "agency": app.agency,
        "service": app.service,
        "created_at": iso(app.created_at),
        "links": {"self": location},
    }
    headers = {"Location": location}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=status_code, headers=headers)


ACCEPTED_HEADERS = {
    "Location": {"description": "The application's URL", "required": True, "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when the key answered an application made before",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


@router.post(
    "",
    status_code=202,
    response_model=Accepted,
    responses={**SUBMIT_RESPONSES, 202: {"description": "Accepted for submission", "headers": ACCEPTED_HEADERS}},
    openapi_extra={"parameters": [IDEMPOTENCY_KEY, *CONTEXT_PARAMETERS]},
)
async def submit_application(
    body: ApplicationIn,
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", include_in_schema=False)] = None,
) -> JSONResponse:
    """Accept an application for asynchronous submission; 202 with its id and Location. Repeating the same
    request with the same key answers the same application again."""
    context = counter_context(request)
    key = _key(idempotency_key)
    state = app_state(request.app)
    registry = state.agencies
    if body.agency not in registry.active:
        raise Problem(
            422,
            "agency_unknown",
            "No such agency on this bus",
            agencies=sorted(n for n in registry.active if registry.plugins[n].services),
            errors=[item(f"{body.agency!r} is not an agency of this bus.", "agency_unknown", pointer="#/agency")],
        )
    required = f"application:submit:{body.agency}"
    if not allowed(principal.scopes, required):
        raise scope_missing(required)
    services = registry.plugins[body.agency].services
    schema = services.get(body.service)
    if schema is None:
        raise Problem(
            422,
            "service_unknown",
            f"{body.agency} offers no such service",
            services=sorted(services),
            errors=[item(f"{body.agency} offers no service {body.service!r}.", "service_unknown", pointer="#/service")],
        )
    nik = checked_nik(body.nik, pointer="#/nik")
    payload, others = one_person(schema, body.payload, nik)
    if others:
        raise Problem(
            422,
            "nik_mismatch",
            "The payload names another citizen than the application",
            "An application is one person's: leave the payload's NIK out (Gerbang fills it in) or send "
            "the same NIK as the application's `nik`.",
            errors=[
                item("Differs from the application's nik.", "nik_mismatch", pointer=pointer_to(["payload", name]))
                for name in others
            ],
        )
    if int(request.headers.get("content-length") or 0) >= OFF_LOOP_BYTES:  # a long check: off the event loop
        errors = await run_in_threadpool(schema_errors, schema, payload)
    else:
        errors = schema_errors(schema, payload)
    if errors:
        raise Problem(
            422,
            "payload_invalid",
            "The payload does not match the service's schema",
            errors=[item(e["message"], e["rule"], pointer="#/payload" + pointer_to(e["parts"])[1:]) for e in errors],
        )

    audit = {"counter": context.as_detail()}

    submission = Submission(
        client_id=principal.client_id,
        client_name=principal.name,
        idempotency_key=key,
        nik=nik,
        agency=body.agency,
        service=body.service,
        payload=payload,
        audit=audit,
    )
    try:  # group commit with the concurrent submissions (core/bus/intake.py)
        result = await state.intake.submit(submission)
    except IdempotencyConflict:
        raise Problem(
            409,
            "idempotency_conflict",
            "This Idempotency-Key was used for another request",
            "Use a new key for a different application.",
        ) from None
    if result.created and state.dispatcher is not None:
        state.dispatcher.wake()
    decides = registry.plugins[body.agency].decides
    if result.created and decides is not None and (decided := decides(body.service, payload)) is not None:
        await run_in_threadpool(_join, state, body.agency, decided, result.application)
    return _answer(result.application, 202, replayed=not result.created)


def _join(state: AppState, agency: str, decided: tuple[str, str], decision: Any) -> None:
    """A step on the pushed record this accepted decision is about (core/bus/inbound.py `join_decision`). Its own
    transaction after the acceptance: should it fail, the decision stands and the cause is logged."""
    try:
        with state.sessions() as session:
            join_decision(session, state.secrets, agency, decided[0], decided[1], decision, utcnow())
    except Exception:
        log.exception("the decision %s could not be joined to its pushed record", decision.id)


APPLICATION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def application_id_or_404(application_id: str) -> str:
    """The id as given if it can be an application's (a lowercase UUID, as Gerbang makes them), else 404 without
    a database lookup: an id with anything after the 36 characters names no application."""
    if not APPLICATION_ID.match(application_id):
        raise Problem(404, "application_not_found", "No such application")
    return application_id


def _visible(app: Application | None, principal: Principal) -> Application:
    if app is None or (app.client_id != principal.client_id and not allowed(principal.scopes, "admin")):
        raise Problem(404, "application_not_found", "No such application")
    return app


@router.get("/{application_id}", response_model=ApplicationView, responses=problems("application_not_found"))
async def get_application(
    application_id: str, request: Request, principal: Annotated[Principal, Depends(require("application:read"))]
) -> ApplicationView:
    """Status, agency reference, attempts and the history of transitions with their times."""
    application_id = application_id_or_404(application_id)

    def load() -> ApplicationView:
        with app_state(request.app).sessions() as session:
            app = _visible(session.get(Application, application_id), principal)
            return application_view(session, app, app_state(request.app).secrets.data_keys)

    return await run_in_threadpool(load)


def _after(cursor: str) -> tuple[dt.datetime, str]:
    try:
        created, app_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(app_id, str) or not APPLICATION_ID.match(app_id):
            raise ValueError("not an application id")
        return dt.datetime.fromisoformat(created), app_id
    except (ValueError, TypeError):
        raise Problem(400, "cursor_invalid", "The cursor is not valid") from None


@router.get("", response_model=ApplicationPage, responses=problems("nik_invalid", "cursor_invalid"))
async def list_applications(
    request: Request,
    principal: Annotated[Principal, Depends(require("application:read"))],
    status: Annotated[Status | None, Query(description="Only applications in this status")] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    nik: Annotated[str | None, Query(description="Only this citizen's applications (matched by keyed hash)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ApplicationPage:
    """A counter's list, newest first: its own applications (all of them with `admin`)."""
    nik_hash = subject_hash(app_state(request.app).secrets.nik_hash_key, checked_nik(nik)) if nik else None
    after = _after(cursor) if cursor else None

    def load() -> ApplicationPage:
        with app_state(request.app).sessions() as session:
            page, more = queries.application_page(
                session,
                limit=limit,
                client_id=None if allowed(principal.scopes, "admin") else principal.client_id,
                status=status,
                agency=agency,
                nik_hash=nik_hash,
                after=after,
            )
        return ApplicationPage(
            items=summaries(page),
            next_cursor=cursor_of(page[-1]) if more else None,
        )

    return await run_in_threadpool(load)


@admin_router.get("/dead", response_model=ApplicationPage)
async def dead_applications(
    request: Request,
    _: Annotated[Principal, Depends(require("admin"))],
    agency: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ApplicationPage:
    """Failed (dead-lettered) applications, newest first."""

    def load() -> ApplicationPage:
        with app_state(request.app).sessions() as session:
            rows = queries.failed_applications(session, limit=limit, agency=agency)
        return ApplicationPage(items=summaries(rows))

    return await run_in_threadpool(load)


@admin_router.post(
    "/{application_id}/replay",
    status_code=202,
    response_model=ApplicationView,
    responses=problems("application_not_found", "not_replayable"),
)
async def replay_application(
    application_id: str, request: Request, principal: Annotated[Principal, Depends(require("admin"))]
) -> ApplicationView:
    """Send a failed application again (same idempotency key at the agency, new deadline)."""
    state = app_state(request.app)

    def run() -> ApplicationView:
        with state.sessions() as session:
            try:
                app = replay(session, application_id_or_404(application_id), state.policy, operator=principal.name)
            except LookupError:
                raise Problem(404, "application_not_found", "No such application") from None
            except NotReplayable as exc:
                raise Problem(409, "not_replayable", "Only failed applications can be replayed", str(exc)) from None
            return application_view(session, app, app_state(request.app).secrets.data_keys)

    view = await run_in_threadpool(run)
    if state.dispatcher is not None:
        state.dispatcher.wake()
    return view
