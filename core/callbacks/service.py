"""Subscription administration: create, read, delete, rotate the secret, replay, deliveries, pull.

Every change is audited (`callback.subscription_*`) in its own transaction.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from core.audit.log import record
from core.callbacks.models import EVENT_TYPES, Attempt, Batch, Event, Item, Subscription
from core.callbacks.secrets import new_stored, reveal, rotated
from core.db.tables import table_of
from identity.clock import iso, utcnow


class NotFound(LookupError):
    """No such subscription (or it was deleted)."""


def describe(sub: Subscription) -> dict[str, Any]:
    """The public view (never the secret)."""
    return {
        "id": sub.id,
        "agency": sub.agency,
        "url": sub.url,
        "events": sub.events.split(","),
        "batch_max": sub.batch_max,
        "batch_window_s": sub.batch_window_s,
        "status": sub.status,
        "status_reason": sub.status_reason,
        "created_at": iso(sub.created_at),
    }


def create(
    session: Session,
    *,
    agency: str,
    url: str,
    events: list[str],
    batch_max: int,
    batch_window_s: float,
    actor: str | None,
    key: bytes,
) -> tuple[Subscription, str]:
    """A new subscription and its secret (`key`: core.callbacks.secrets.callback_key; only a salt is stored)."""
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise ValueError(f"unknown event types: {', '.join(unknown)}" if unknown else "give at least one event type")
    sub = Subscription(
        id=str(uuid.uuid4()),
        agency=agency,
        url=url,
        events=",".join(dict.fromkeys(events)),
        batch_max=batch_max,
        batch_window_s=batch_window_s,
        secret=new_stored(),
        status="active",
        next_seq=1,
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(sub)
    record(
        session,
        "callback.subscription_created",
        client=actor,
        agency=agency,
        detail={"subscription": sub.id, "events": sub.events, "batch_max": batch_max},
    )
    session.commit()
    return sub, reveal(sub.secret, sub.id, key)


def newest(session: Session, limit: int) -> list[Subscription]:
    """Subscriptions not deleted, the newest first."""
    query = select(Subscription).where(col(Subscription.status) != "deleted")
    return list(session.execute(query.order_by(col(Subscription.created_at).desc()).limit(limit)).scalars())


def get(session: Session, subscription_id: str) -> Subscription:
    sub = session.get(Subscription, subscription_id)
    if sub is None or sub.status == "deleted":
        raise NotFound(subscription_id)
    return sub


def delete(session: Session, subscription_id: str, actor: str | None) -> None:
    """Mark deleted (rows stay for the delivery history); nothing more is fanned out or sent to it."""
    sub = get(session, subscription_id)
    sub.status, sub.status_reason = "deleted", f"deleted by {actor or 'an operator'}"
    session.add(sub)
    record(session, "callback.subscription_deleted", client=actor, agency=sub.agency, detail={"subscription": sub.id})
    session.commit()


def rotate(session: Session, subscription_id: str, actor: str | None, key: bytes, keep_previous_s: int = 0) -> str:
    """A new salt, hence a new secret, from the next attempt on; the old secret still signs (a second `v1`
    signature) for `keep_previous_s` seconds, so the agency can switch without rejecting a batch."""
    sub = get(session, subscription_id)
    sub.secret = rotated(sub.secret, keep_previous_s)
    secret = reveal(sub.secret, sub.id, key)
    session.add(sub)
    record(
        session,
        "callback.subscription_rotated",
        client=actor,
        agency=sub.agency,
        detail={"subscription": sub.id, "keep_previous_s": keep_previous_s},
    )
    session.commit()
    return secret


def replay(session: Session, subscription_id: str, from_event: str, actor: str | None) -> int:
    """Send again, with their own batch ids, every batch holding `from_event` or a later event; re-enables a
    disabled subscription. Returns how many batches were queued again."""
    sub = get(session, subscription_id)
    event_pk = session.execute(select(col(Event.id)).where(col(Event.event_id) == from_event)).scalar()
    if event_pk is None:
        raise LookupError(from_event)
    now = utcnow()
    table = table_of(Batch)
    done = session.connection().execute(
        update(table)
        .where(table.c.subscription_id == sub.id, table.c.last_event >= event_pk)
        .values(status="pending", next_attempt_at=None, created_at=now)
    )
    sub.status, sub.status_reason = "active", None
    session.add(sub)
    record(
        session,
        "callback.subscription_replayed",
        client=actor,
        agency=sub.agency,
        detail={"subscription": sub.id, "from_event": from_event, "batches": done.rowcount},
    )
    session.commit()
    return int(done.rowcount)


def deliveries(session: Session, subscription_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Newest batches first, each with its attempts."""
    get(session, subscription_id)
    batches = (
        session.execute(
            select(Batch)
            .where(col(Batch.subscription_id) == subscription_id)
            .order_by(col(Batch.seq).desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    attempts: dict[str, list[dict[str, Any]]] = {}
    if batches:
        for a in session.execute(
            select(Attempt).where(col(Attempt.batch_id).in_([b.id for b in batches])).order_by(col(Attempt.id))
        ).scalars():
            attempts.setdefault(a.batch_id, []).append(
                {
                    "attempt": a.attempt,
                    "at": iso(a.at),
                    "status_code": a.status_code,
                    "outcome": a.outcome,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
            )
    return [
        {
            "batch_id": b.id,
            "seq": b.seq,
            "status": b.status,
            "events": b.event_count,
            "attempts": attempts.get(b.id, []),
            "created_at": iso(b.created_at),
            "delivered_at": iso(b.delivered_at),
            "next_attempt_at": iso(b.next_attempt_at),
        }
        for b in batches
    ]


def pull(session: Session, subscription_id: str, after: str | None, limit: int = 100) -> dict[str, Any]:
    """Events for this subscription after the event id `after` (oldest first): the pull fallback."""
    get(session, subscription_id)
    query = (
        select(col(Event.event_id), col(Event.type), col(Event.occurred_at), col(Event.data), col(Event.id))
        .join(Item, col(Item.event_id) == col(Event.id))
        .where(col(Item.subscription_id) == subscription_id)
    )
    if after:
        after_pk = session.execute(select(col(Event.id)).where(col(Event.event_id) == after)).scalar()
        if after_pk is None:
            raise LookupError(after)
        query = query.where(col(Event.id) > after_pk)
    rows = session.execute(query.order_by(col(Event.id)).limit(limit)).all()
    events = [
        {"id": r.event_id, "type": r.type, "occurred_at": iso(r.occurred_at), "data": json.loads(r.data)} for r in rows
    ]
    return {"events": events, "next_after": events[-1]["id"] if events else after}
