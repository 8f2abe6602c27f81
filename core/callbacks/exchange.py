"""Distributed mode: callback events through the RabbitMQ events exchange.

    state change (tx: event row) → relay (confirms) → exchange `<prefix>.events` (topic) → quorum queue
    `<prefix>.callbacks` (single active consumer) → fan-out (tx: items) → ack → deliverer

Why this way: the event row is still written in the transaction of the change that caused it (the outbox idea),
so an event exists if and only if the change committed, whatever the broker does. The relay of a `gerbang worker`
publishes unhanded events in id order — persistent, `mandatory`, with publisher confirms — and marks them handed
on (`fanned_at`) only for the confirmed ones, in the same transaction; a crash before that commit means they
are published again, which the fan-out shrugs off. One relay publishes events at a time (an advisory lock), and
one consumer at a time fans them out (single active consumer): the order in which items reach a subscription
is the order of the events.

The fan-out consumer inserts each event's items for the matching subscriptions (one transaction per group of
deliveries) with the items' primary key (subscription, event) as its inbox: a redelivered event inserts nothing,
and an event already cut into a batch keeps that batch. Deliveries are acknowledged only after the commit.

Anyone may bind a queue of their own to the exchange (routing key `<agency>.<event type>`, e.g.
`pajak.application.submitted`; bind `pajak.#` for all of that agency's): an agency's own systems, analytics. See
docs/callbacks.md, "Distributed mode: the events exchange".
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from core.bus.consumer import Consumer, Delivery
from core.bus.publisher import Outgoing
from core.callbacks.events import item_rows
from core.callbacks.models import Event, Item
from core.db.tables import table_of
from identity.clock import iso, utcnow

log = logging.getLogger(__name__)
RELAY_LOCK = 0x6765_7262_6576  # "gerbev": one events relay at a time keeps the exchange in event order
MESSAGE_VERSION = 1
FAN_OUT_MAX = 500  # deliveries fanned out in one transaction


class BadEvent(ValueError):
    """A message on the callbacks queue that is not an event of ours: dead-lettered."""


def routing_key(agency: str, event_type: str) -> str:
    """`<agency>.<event type>`, e.g. `pajak.application.submitted` (topic bindings: `pajak.#`, `*.application.*`)."""
    return f"{agency}.{event_type}"


def encode(row: Any) -> bytes:
    """The message body: the event as a subscriber sees it in a batch, plus its agency, application and `seq`
    (the event's position, increasing)."""
    return json.dumps(
        {
            "v": MESSAGE_VERSION,
            "id": row.event_id,
            "seq": row.id,
            "type": row.type,
            "agency": row.agency,
            "application_id": row.application_id,
            "occurred_at": iso(row.occurred_at),
            "data": json.loads(row.data),
        },
        separators=(",", ":"),
    ).encode()


def decode(body: bytes) -> str:
    """The event id a message carries."""
    try:
        data = json.loads(body)
        event_id = data["id"]
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise BadEvent("not an event message") from None
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 36:
        raise BadEvent("event message with a malformed id")
    return event_id


def relay_events_once(
    session: Session, publisher: Any, exchange: str, limit: int = 500, timeout_s: float = 10.0
) -> int:
    """Publish the next unhanded events in id order; mark the confirmed ones handed on. Returns how many.

    Only the confirmed *prefix* is marked: an event the broker refused (or returned) is published again with
    everything after it, never overtaken by a later one. Raises NotConnected / TimeoutError (nothing marked)."""
    if session.get_bind().dialect.name == "postgresql":
        if not session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": RELAY_LOCK}).scalar():
            session.rollback()  # another relay is publishing events: it keeps them in order
            return 0
    rows = session.execute(
        select(
            col(Event.id),
            col(Event.event_id),
            col(Event.type),
            col(Event.agency),
            col(Event.application_id),
            col(Event.occurred_at),
            col(Event.data),
        )
        .where(col(Event.fanned_at).is_(None))
        .order_by(col(Event.id))
        .limit(limit)
    ).all()
    if not rows:
        session.rollback()
        return 0
    try:
        results = publisher.publish(
            exchange, [Outgoing(routing_key(r.agency, r.type), encode(r), r.event_id) for r in rows], timeout_s
        )
    except Exception:
        session.rollback()
        raise
    confirmed: list[int] = []
    for row, ok in zip(rows, results, strict=False):
        if not ok:
            break
        confirmed.append(row.id)
    if confirmed:
        table = table_of(Event)
        session.execute(update(table).where(table.c.id.in_(confirmed)).values(fanned_at=utcnow()))
    session.commit()
    return len(confirmed)


def _insert_ignoring_duplicates(session: Session) -> Any:
    table = table_of(Item)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def fan_out_events(session: Session, event_ids: Sequence[str]) -> int:
    """Give these (published) events to the matching subscriptions, in event order; commits. Items that exist
    already are left alone (a redelivery). Returns how many items were new."""
    events = session.execute(
        select(col(Event.id), col(Event.type), col(Event.agency))
        .where(col(Event.event_id).in_(list(set(event_ids))))
        .order_by(col(Event.id))
    ).all()
    if len(events) < len(set(event_ids)):
        log.error("callback fan-out: %d event message(s) about no stored event", len(set(event_ids)) - len(events))
    if not events:
        session.rollback()
        return 0
    rows = item_rows(session, events, utcnow())
    added = 0
    if rows:
        added = session.connection().execute(_insert_ignoring_duplicates(session), rows).rowcount or 0
    session.commit()
    return max(added, 0)


class FanOutConsumer:
    """Consumes `<prefix>.callbacks` (in every `gerbang worker`; one at a time is active) and fans the events
    out on a thread of its own, acknowledging each group of deliveries after its commit; then `on_fanned()`
    (wakes the deliverer). A database error holds the deliveries (unacknowledged) and tries again."""

    def __init__(
        self,
        params: Any,
        queue_name: str,
        sessions: Callable[[], Session],
        on_fanned: Callable[[], None] = lambda: None,
        *,
        reconnect_max_s: float = 30.0,
        on_connected: Callable[[Any], None] | None = None,
    ):
        self.sessions, self.on_fanned = sessions, on_fanned
        self._inbox: queue.Queue[Delivery] = queue.Queue()
        self.consumer = Consumer(
            params,
            [queue_name],
            FAN_OUT_MAX,
            self._inbox.put,
            reconnect_max_s=reconnect_max_s,
            on_connected=on_connected,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gerbang-callbacks-fanout", daemon=True)
        self.fanned = self.dead = 0

    def start(self) -> FanOutConsumer:
        self.consumer.start()
        self._thread.start()
        return self

    def wait_connected(self, timeout_s: float) -> bool:
        return self.consumer.wait_connected(timeout_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        """No new deliveries; the group in hand is finished (or left unacknowledged for redelivery)."""
        self.consumer.pause()
        self._stop.set()
        self._thread.join(timeout_s)
        self.consumer.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deliveries = [self._inbox.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(deliveries) < FAN_OUT_MAX:
                try:
                    deliveries.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            self._handle(deliveries)

    def _handle(self, deliveries: list[Delivery]) -> None:
        good: list[tuple[Delivery, str]] = []
        for delivery in deliveries:
            try:
                good.append((delivery, decode(delivery.body)))
            except BadEvent as exc:
                log.error("dead-lettering a message on the callbacks queue: %s", exc)
                self.consumer.settle(delivery, "dead")
                self.dead += 1
        if not good:
            return
        wait = 0.1
        while True:
            try:
                with self.sessions() as session:
                    fan_out_events(session, [event_id for _, event_id in good])
                break
            except Exception:
                if self._stop.is_set():
                    return  # unacknowledged: the broker hands them to the next consumer
                log.exception("callback fan-out failed; trying again in %.1fs", wait)
                time.sleep(wait)
                wait = min(wait * 2, 5.0)
        for delivery, _ in good:
            self.consumer.settle(delivery, "ack")
        self.fanned += len(good)
        try:
            self.on_fanned()
        except Exception:
            log.exception("callback fan-out: could not wake the deliverer")
