"""Status changes of an application: the row, its history and its audit entry, always together.

Every change goes through `move()` so none can skip the history or the audit log; the caller's transaction
commits all three or none. `Policy` holds the retry rules read from settings, so the API, the embedded
dispatcher and `gerbang worker` apply the same ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from sqlalchemy import Connection, insert
from sqlmodel import Session

from core.audit.log import record, record_many
from core.bus.models import Application, Status, Transition
from core.callbacks.events import emit_for_status, emit_many, status_event
from core.db.bulk import bulk_insert
from core.db.tables import table_of
from core.settings import Settings

DETAIL_MAX = 1000


@dataclass(frozen=True)
class Policy:
    """Retry rules: quick calls within an attempt, then rescheduled attempts with growing waits, until the
    deadline; `lease_s` bounds how long an attempt may hold an application before it counts as interrupted."""

    retry_attempts: int = 3
    retry_wait_s: float = 0.5
    schedule_s: tuple[float, ...] = (30, 60, 120, 300, 600, 1800, 3600)
    deadline_s: float = 86400.0
    call_timeout_s: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            retry_attempts=settings.submit_retry_attempts,
            retry_wait_s=settings.submit_retry_wait_s,
            schedule_s=tuple(settings.submit_schedule_s),
            deadline_s=settings.submit_deadline_s,
            call_timeout_s=settings.agency_timeout_s,
        )

    @property
    def call_budget_s(self) -> float:
        """Longest one call may take before it is abandoned (connectors time out at `call_timeout_s` already)."""
        return self.call_timeout_s + 2

    @property
    def lease_s(self) -> float:
        """Longest an attempt can legitimately take: every call running out its budget plus every wait, with a
        margin for the database. A lease older than this belongs to a worker that died."""
        waits = sum(min(self.retry_wait_s * 2**i, self.retry_wait_s * 8) for i in range(self.retry_attempts - 1))
        return self.retry_attempts * self.call_budget_s + waits + 3

    def wait_after(self, failed_attempts: int, retry_after_s: float | None = None) -> float:
        """Wait before the next attempt after `failed_attempts` (≥ 1) attempts failed transiently."""
        wait = self.schedule_s[min(max(failed_attempts, 1), len(self.schedule_s)) - 1]
        if retry_after_s and retry_after_s > wait:
            wait = min(retry_after_s, max(self.schedule_s))
        return wait


class Note(TypedDict, total=False):
    """What a status change may carry: `detail` for its history row, `audit` for its audit entry and event."""

    detail: str | None
    audit: Mapping[str, Any] | None


def move(session: Session, app: Application, status: Status, at: dt.datetime, **note: Unpack[Note]) -> None:
    """Set `app.status`, add the transition and the audit entry (all in the caller's transaction)."""
    session.add(Transition(**_transition(app, status, at, note.get("detail"))))
    audit = note.get("audit")
    audit_step(session, f"application.{status.value}", app, audit)
    emit_for_status(session, app, status.value, at, audit)  # the callback event, in the same transaction


def _transition(app: Application | Step, status: Status, at: dt.datetime, detail: str | None) -> dict[str, Any]:
    """Move `app` to `status`; its history row."""
    app.status = status.value
    app.updated_at = at
    detail = detail[:DETAIL_MAX] if detail else None
    return {
        "application_id": app.id,
        "status": status.value,
        "at": at,
        "attempt": app.attempts or None,
        "detail": detail,
    }


def audit_step(session: Session, action: str, app: Application, extra: Mapping[str, Any] | None = None) -> None:
    """The audit entry of one step: who submitted, whose application (keyed hash), which agency; no payload."""
    record(session, **_audit_entry(action, app, extra))


def _audit_entry(action: str, app: Application | Step, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"application": app.id, "service": app.service, "status": app.status}
    if app.attempts:
        detail["attempt"] = app.attempts
    if extra:
        detail.update({k: v for k, v in extra.items() if v is not None})
    return {
        "action": action,
        "client": app.client_name,
        "subject": app.nik_hash,
        "agency": app.agency,
        "detail": detail,
    }


@dataclass
class Step:
    """What a step needs to know of an application (for `Moves.add`), when the row is not loaded: building an
    ORM object per application costs more than the step itself."""

    id: str
    client_name: str
    nik_hash: str
    agency: str
    service: str
    attempts: int
    status: str
    updated_at: dt.datetime | None = None
    traceparent: str | None = None  # the trace of the step (its events belong to it)


_TRANSITIONS = insert(table_of(Transition))
_TRANSITION_COLUMNS = ("application_id", "status", "at", "attempt", "detail")
_TRANSITION_TYPES = ("text", "text", "timestamptz", "int4", "text")


def insert_transitions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """History rows in one go: COPY / a prepared INSERT on PostgreSQL (core/db/bulk.py), SQLAlchemy's
    executemany on SQLite (which formats the timestamps as it reads them back)."""
    if conn.dialect.name != "postgresql":
        conn.execute(_TRANSITIONS, rows)
        return
    bulk_insert(
        conn,
        "application_transition",
        _TRANSITION_COLUMNS,
        [tuple(row[column] for column in _TRANSITION_COLUMNS) for row in rows],
        _TRANSITION_TYPES,
    )


class Moves:
    """`move()` for many applications at once (the relay's, a worker's micro-batch, the API's group commit):
    each `add()` changes the object and takes its history, audit and event rows as they are at that moment;
    `write()` inserts each kind with one statement in the caller's transaction. Why: per step, three
    single-row inserts (and their round trips) cost more than the step itself.

    Only for applications whose row is already in the database (or inserted by the caller, through the
    connection, before `write()`): the history rows go in through the connection, not the unit of work."""

    def __init__(self) -> None:
        self.transitions: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def add(self, app: Application | Step, status: Status, at: dt.datetime, **note: Unpack[Note]) -> None:
        self.transitions.append(_transition(app, status, at, note.get("detail")))
        audit = note.get("audit")
        self.audits.append(_audit_entry(f"application.{status.value}", app, audit))
        event = status_event(app, status.value, at, audit)
        if event is not None:
            self.events.append(event)

    def write(self, session: Session) -> None:
        if self.transitions:
            insert_transitions(session.connection(), self.transitions)
        record_many(session, self.audits)
        emit_many(session, self.events)
        self.transitions, self.audits, self.events = [], [], []
