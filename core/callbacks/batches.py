"""A subscription's batches: its lease (one sender per subscription keeps the order), and the batch to send
next — the oldest pending one, or a new one cut from the subscription's unassigned items.

Why cut under a lease: an item gets its `batch_id` once, so no event is ever in two batches, and a retried batch
is the same row with the same id and the same events (the receiver's idempotency key). A partial batch goes only
once its oldest event has waited the subscription's window.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, text, update
from sqlmodel import Session, col, select

from core.callbacks.models import Batch, Event, Item, Subscription
from core.db.tables import table_of
from identity.clock import as_utc, iso, utcnow

CUT_AHEAD = 10  # batches cut in one transaction when events are waiting (one durable commit)


@dataclass
class Ready:
    """A batch to send: its row values, the subscription's URL and stored secret (a salt), and the body."""

    batch_id: str
    subscription_id: str
    agency: str
    url: str
    secret: str
    attempt: int
    created_at: dt.datetime
    body: bytes
    count: int


def body_of(batch_id: str, subscription_id: str, rows: list[Any]) -> bytes:
    events = [
        {
            "id": r.event_id,
            "type": r.type,
            "occurred_at": iso(r.occurred_at),
            "data": json.loads(r.data),
        }
        for r in rows
    ]
    return json.dumps(
        {"batch_id": batch_id, "subscription_id": subscription_id, "events": events}, separators=(",", ":")
    ).encode()


def _events_of(session: Session, subscription_id: str, batch_id: str) -> list[Any]:
    return list(
        session.execute(
            select(col(Event.event_id), col(Event.type), col(Event.occurred_at), col(Event.data))
            .join(Item, col(Item.event_id) == col(Event.id))
            .where(col(Item.subscription_id) == subscription_id, col(Item.batch_id) == batch_id)
            .order_by(col(Event.id))
        ).all()
    )


def claim(session: Session, subscription_id: str, lease_s: float) -> bool:
    """Take the subscription's lease (compare-and-set); False if another sender holds it or it is not active."""
    now = utcnow()
    table = table_of(Subscription)
    taken = _changed(
        session,
        update(table)
        .where(
            table.c.id == subscription_id,
            table.c.status == "active",
            (table.c.lease_until.is_(None)) | (table.c.lease_until < now),
        )
        .values(lease_until=now + dt.timedelta(seconds=lease_s)),
    )
    session.commit()
    return taken == 1


def release(session: Session, subscription_id: str) -> None:
    table = table_of(Subscription)
    session.execute(update(table).where(table.c.id == subscription_id).values(lease_until=None))
    session.commit()


def next_batch(session: Session, subscription_id: str, lease_s: float) -> Ready | None:
    """The batch to send now (the oldest pending one, or a new one cut from unassigned items), or None; a cut
    renews the lease for `lease_s`.

    Call only while holding the subscription's lease: cutting is then single-writer per subscription. Every
    path commits, so `settle_and_next` can run it in the transaction of the previous batch's outcome."""
    now = utcnow()
    sub = session.get(Subscription, subscription_id)
    if sub is None or sub.status != "active":
        session.commit()  # ends the transaction (and a caller's settle)
        return None
    pending = (
        session.execute(
            select(Batch)
            .where(col(Batch.subscription_id) == subscription_id, col(Batch.status) == "pending")
            .order_by(col(Batch.seq))
            .limit(1)
        )
        .scalars()
        .first()
    )
    if pending is not None:
        due = as_utc(pending.next_attempt_at)
        if due is not None and due > now:
            session.commit()  # ends the transaction (and a caller's settle)
            return None
        return _ready(session, sub, pending.id, pending.attempts + 1, as_utc(pending.created_at) or now)
    ids = list(
        session.execute(
            select(col(Item.event_id))
            .where(col(Item.subscription_id) == subscription_id, col(Item.batch_id).is_(None))
            .order_by(col(Item.event_id))
            .limit(sub.batch_max * CUT_AHEAD)
        ).scalars()
    )
    if not ids:
        session.commit()  # ends the transaction (and a caller's settle)
        return None
    chunks = [ids[i : i + sub.batch_max] for i in range(0, len(ids), sub.batch_max)]
    if len(chunks) > 1 and len(chunks[-1]) < sub.batch_max:
        chunks.pop()  # a partial batch is cut only as the first (below, once its window has passed)
    if len(chunks[0]) < sub.batch_max:  # a partial batch goes only once its oldest event has waited the window
        oldest = as_utc(
            session.execute(select(func.min(col(Event.occurred_at))).where(col(Event.id).in_(chunks[0]))).scalar_one()
        )
        if oldest is not None and oldest > now - dt.timedelta(seconds=sub.batch_window_s):
            session.commit()  # ends the transaction (and a caller's settle)
            return None
    items = table_of(Item)
    first: str | None = None
    for chunk in chunks:
        batch_id = str(uuid.uuid4())
        # the chunk is a run of this subscription's open items in event order, so a range names it: an IN list
        # let PostgreSQL's generic plan (no statistics yet on a table that just filled) scan every open item
        # of the subscription per chunk; a range is one index range scan whatever the statistics say
        cut = _changed(
            session,
            update(items)
            .where(
                items.c.subscription_id == subscription_id,
                items.c.batch_id.is_(None),
                items.c.event_id.between(chunk[0], chunk[-1]),
            )
            .values(batch_id=batch_id),
        )
        if cut != len(chunk):  # someone else cut meanwhile (lease lost): undo ours, leave it to them
            session.execute(
                update(items)
                .where(items.c.subscription_id == subscription_id, items.c.batch_id == batch_id)
                .values(batch_id=None)
            )
            break
        session.add(
            Batch(
                id=batch_id,
                subscription_id=subscription_id,
                seq=sub.next_seq,
                status="pending",
                event_count=len(chunk),
                first_event=chunk[0],
                last_event=chunk[-1],
                attempts=0,
                next_attempt_at=None,
                created_at=now,
            )
        )
        sub.next_seq += 1
        first = first or batch_id
    sub.lease_until = now + dt.timedelta(seconds=lease_s)  # renewed with each cut
    synchronous_commit(session, True)  # a cut batch may be sent at once: its cut must survive a crash
    session.commit()
    if first is None:
        return None
    return _ready(session, sub, first, 1, now)


def _ready(session: Session, sub: Subscription, batch_id: str, attempt: int, created_at: dt.datetime) -> Ready:
    """The batch as it goes out: its events read, its body made; ends the transaction."""
    rows = _events_of(session, sub.id, batch_id)
    session.commit()
    return Ready(
        batch_id,
        sub.id,
        sub.agency,
        sub.url,
        sub.secret,
        attempt,
        created_at,
        body_of(batch_id, sub.id, rows),
        len(rows),
    )


def synchronous_commit(session: Session, on: bool) -> None:
    """Whether this PostgreSQL transaction's commit waits for the disk. A cut must (a cut batch may be sent at
    once, so it must survive a crash: no second batch id); an outcome need not (lost in a crash, the batch is
    sent again under the same id and receivers de-duplicate), which keeps one flush per group of cut batches,
    not one per batch."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL synchronous_commit TO {'on' if on else 'off'}"))


def _changed(session: Session, statement: Any) -> int:
    """How many rows an UPDATE changed."""
    return session.connection().execute(statement).rowcount
