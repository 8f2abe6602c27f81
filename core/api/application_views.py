"""The shapes of the API's answers about applications, made from the bus's rows (core/bus/queries.py): the
summary a list shows, the whole view with its history, a page with its cursor. The console shows the same."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session

from core.bus import queries
from core.bus.models import Application, Status
from core.bus.service import open_result
from identity.clock import as_utc, iso
from identity.secrecy import DataKeys


class Links(BaseModel):
    self: str = Field(description="Where to follow the application (also the Location header)")


class Accepted(BaseModel):
    """The answer to a submission: the application's id and where to follow it."""

    id: str
    status: Status
    agency: str
    service: str
    created_at: dt.datetime
    links: Links


class Step(BaseModel):
    status: str
    at: dt.datetime
    attempt: int | None = None
    detail: str | None = None


class ApplicationSummary(BaseModel):
    id: str
    agency: str
    service: str
    status: Status
    agency_reference: str | None = None
    attempts: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ApplicationView(ApplicationSummary):
    idempotency_key: str
    agency_detail: dict[str, Any] | None = Field(
        default=None,
        description="What the agency answered with its reference (e.g. a tax payment code, amount, expiry)",
    )
    reason: str | None = Field(
        default=None, description="The agency's reason for a rejection, or the last transient error"
    )
    reason_code: str | None = None
    next_attempt_at: dt.datetime | None = None
    deadline_at: dt.datetime
    history: list[Step]


class ApplicationPage(BaseModel):
    items: list[ApplicationSummary]
    next_cursor: str | None = None


def summary(app: Application) -> dict[str, Any]:
    """An application row's fields as `ApplicationSummary` takes them."""
    return {
        "id": app.id,
        "agency": app.agency,
        "service": app.service,
        "status": app.status,
        "agency_reference": app.agency_reference,
        "attempts": app.attempts,
        "created_at": as_utc(app.created_at),
        "updated_at": as_utc(app.updated_at),
    }


def application_view(session: Session, app: Application, keys: DataKeys) -> ApplicationView:
    """The whole story of one application, its agency's answer opened with the data-at-rest `keys`."""
    steps = queries.history(session, app.id)
    return ApplicationView(
        **summary(app),
        idempotency_key=app.idempotency_key,
        agency_detail=open_result(keys, app),
        reason=app.reason,
        reason_code=app.reason_code,
        next_attempt_at=as_utc(app.next_attempt_at),
        deadline_at=as_utc(app.deadline_at),
        history=[Step(status=s.status, at=as_utc(s.at), attempt=s.attempt, detail=s.detail) for s in steps],
    )


def cursor_of(app: Application) -> str:
    raw = json.dumps([iso(app.created_at), app.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def summaries(rows: list[Application]) -> list[ApplicationSummary]:
    return [ApplicationSummary(**summary(a)) for a in rows]
