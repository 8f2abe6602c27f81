"""Writing events (in the caller's transaction) and fanning them out to subscriptions (in the deliverer's).

`emit()` is called by `core.bus.states.move()`, so every status change that matters to an agency leaves an event
row in the same transaction as the change. `fan_out()` (embedded mode) hands each unfanned event to the active
subscriptions of its agency that want its type; it runs under one lock (PostgreSQL advisory lock; SQLite
serialises writers), and the item table's primary key would refuse a second hand-out anyway. In distributed mode
the events go through the RabbitMQ events exchange instead (core/callbacks/exchange.py).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlmodel import Session, col

from connectors import tracing
from core.callbacks.models import Event, Item, Subscription
from core.db.bulk import bulk_insert
from core.db.tables import table_of
from identity.clock import utcnow

EMITTED = {
    "accepted": "application.accepted",
    "submitted": "application.submitted",
    "rejected": "application.rejected",
    "failed": "application.failed",
}
FANOUT_LOCK = 0x6765_7262_6362  # "gerbcb": the advisory lock id of the fan-out
_INSERT = insert(table_of(Event))
_COLUMNS = ("event_id", "type", "agency", "application_id", "occurred_at", "data", "fanned_at", "traceparent")
_PG_TYPES = ("text", "text", "text", "text", "timestamptz", "text", "timestamptz", "text")


def event_row(
    event_type: str,
    *,
    agency: str,
    application_id: str,
    at: dt.datetime,
    data: Mapping[str, Any],
    traceparent: str | None = None,
) -> dict[str, Any]:
    """The row of one event (for `emit_many`); `traceparent`: the span it belongs to, which its callback batch
    links to (tracing on)."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "agency": agency,
        "application_id": application_id,
        "occurred_at": at,
        "data": json.dumps(dict(data), separators=(",", ":"), sort_keys=True, default=str),
        "fanned_at": None,
        "traceparent": traceparent,
    }


def emit(
    session: Session, event_type: str, *, agency: str, application_id: str, at: dt.datetime, data: Mapping[str, Any]
) -> None:
    """Add one event row through the session's connection (no unit of work): it commits with the caller. Written
    where it happens (an agency's inbound push): it belongs to the current span."""
    row = event_row(
        event_type,
        agency=agency,
        application_id=application_id,
        at=at,
        data=data,
        traceparent=tracing.current_traceparent(),
    )
    emit_many(session, [row])


def emit_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add event rows from `event_row()` in one statement (executemany), in the caller's transaction; in list
    order, so ids (the events' order) follow it."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        conn.execute(_INSERT, rows)  # SQLAlchemy formats the timestamps as it reads them back
        return
    bulk_insert(
        conn, "callback_event", _COLUMNS, [tuple(row[column] for column in _COLUMNS) for row in rows], _PG_TYPES
    )


def status_event(
    app: Any, status: str, at: dt.datetime, extra: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The event row of a status change, or None if agencies do not hear about that status (queued /
    submitting are internal). It belongs to the trace of the step that made it: `app.traceparent`, set by the
    request or the attempt (a batch of steps runs outside each step's span)."""
    event_type = EMITTED.get(status)
    if event_type is None:
        return None
    data: dict[str, Any] = {"application_id": app.id, "agency": app.agency, "service": app.service, "status": status}
    for key in ("reference", "reason", "code", "reason_code"):
        if extra and extra.get(key) is not None:
            data[key] = extra[key]
    return event_row(
        event_type, agency=app.agency, application_id=app.id, at=at, data=data, traceparent=app.traceparent
    )


def emit_for_status(
    session: Session, app: Any, status: str, at: dt.datetime, extra: Mapping[str, Any] | None = None
) -> None:
    """The event of a status change, if agencies hear about that status (queued / submitting are internal)."""
    row = status_event(app, status, at, extra)
    if row is not None:
        emit_many(session, [row])


def item_rows(session: Session, events: Sequence[Any], now: dt.datetime) -> list[dict[str, Any]]:
    """One item row per (subscription, event) where a live subscription of the event's agency wants its type;
    `events` are (id, type, agency) rows in event order."""
    subs = session.execute(
        select(col(Subscription.id), col(Subscription.agency), col(Subscription.events)).where(
            col(Subscription.status) != "deleted"
        )
    ).all()
    wants: dict[str, list[tuple[str, set[str]]]] = {}
    for sub_id, agency, types in subs:
        wants.setdefault(agency, []).append((sub_id, set(types.split(","))))
    return [
        {"subscription_id": sub_id, "event_id": event_id, "batch_id": None, "created_at": now}
        for event_id, event_type, agency in events
        for sub_id, types in wants.get(agency, ())
        if event_type in types
    ]


def fan_out(session: Session, limit: int = 2000) -> int:
    """Hand unfanned events to the matching subscriptions; commits; returns how many events were handled."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FANOUT_LOCK})
    events = session.execute(
        select(col(Event.id), col(Event.type), col(Event.agency))
        .where(col(Event.fanned_at).is_(None))
        .order_by(col(Event.id))
        .limit(limit)
    ).all()
    if not events:
        session.rollback()
        return 0
    now = utcnow()
    rows = item_rows(session, events, now)
    if rows:
        session.execute(insert(table_of(Item)), rows)
    ids = [e[0] for e in events]
    session.execute(update(table_of(Event)).where(table_of(Event).c.id.in_(ids)).values(fanned_at=now))
    session.commit()
    return len(events)
