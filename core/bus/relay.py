"""Distributed mode: the relay moves outbox rows to RabbitMQ, marking a row sent only after the broker's confirm.

Each round claims up to `batch` unsent rows with `FOR UPDATE SKIP LOCKED` (so several `gerbang worker`
processes can relay at once without publishing the same rows together), publishes them with confirms, and in the
same transaction marks the confirmed ones sent and their applications `queued`. A crash before that commit
leaves the rows unsent: they are published again, and the consumer's inbox makes the repeat harmless. Every
`poll_s` it also sweeps due retries and attempts whose lease ran out into new outbox rows. Given an events
exchange, each round also publishes new callback events to it (core/callbacks/exchange.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from connectors import tracing
from core.bus.message import Message
from core.bus.models import Application, Outbox, Status
from core.bus.publisher import ConfirmPublisher, NotConnected, Outgoing
from core.bus.states import Moves, Policy, Step
from core.bus.sweep import sweep
from core.callbacks.exchange import relay_events_once
from core.db.engine import Sessions
from core.db.tables import table_of
from identity.clock import utcnow

log = logging.getLogger(__name__)


def relay_once(
    session: Session, publisher: ConfirmPublisher, exchange: str, limit: int, timeout_s: float = 10.0
) -> int:
    """Publish one batch of unsent rows; returns how many were confirmed (and marked sent)."""
    table = table_of(Outbox)
    rows = session.execute(
        select(table.c.id, table.c.message_id, table.c.application_id, table.c.agency, table.c.traceparent)
        .where(table.c.sent_at.is_(None))
        .order_by(table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        session.rollback()
        return 0
    with ExitStack() as spans:
        try:
            results = publisher.publish(exchange, outgoing(rows, exchange, spans), timeout_s)
        except (NotConnected, TimeoutError):
            session.rollback()
            raise
    now = utcnow()
    confirmed = [row for row, ok in zip(rows, results, strict=False) if ok]
    if confirmed:  # one UPDATE for the batch, only for the confirmed rows
        session.execute(update(table).where(table.c.id.in_([row.id for row in confirmed])).values(sent_at=now))
    mark_queued(session, [row.application_id for row in confirmed], now)
    session.commit()
    return len(confirmed)


def outgoing(rows: Sequence[Any], exchange: str, spans: ExitStack) -> list[Outgoing]:
    """The rows as messages; with tracing on, each a PRODUCER span in its submission's trace (kept open in `spans`
    until the broker confirmed), whose context travels in the message's `traceparent` header."""
    messages: list[Outgoing] = []
    for r in rows:
        body = Message(r.message_id, r.application_id, r.agency).encode()
        if not (tracing.enabled() and r.traceparent):
            messages.append(Outgoing(r.agency, body, r.message_id))
            continue
        spans.enter_context(
            tracing.span(
                f"{exchange} publish",
                {
                    "messaging.system": "rabbitmq",
                    "messaging.operation.type": "publish",
                    "messaging.destination.name": exchange,
                    "messaging.rabbitmq.destination.routing_key": r.agency,
                    "messaging.message.id": r.message_id,
                    "gerbang.application.id": r.application_id,
                },
                kind=tracing.SpanKind.PRODUCER,
                context=tracing.context_of(r.traceparent),
            )
        )
        messages.append(Outgoing(r.agency, body, r.message_id, {"traceparent": tracing.current_traceparent()}))
    return messages


def mark_queued(session: Session, application_ids: Sequence[str], at: dt.datetime) -> None:
    """accepted → queued for applications whose message the broker now holds (others have moved on already).

    One UPDATE … RETURNING for the batch (no row loaded through the ORM); the version goes up so that a
    consumer which read one as accepted reads it again."""
    if not application_ids:
        return
    table = table_of(Application)
    locked = (
        select(table.c.id)
        .where(table.c.id.in_(list(application_ids)), table.c.status == Status.accepted.value)
        .with_for_update(skip_locked=True)
    )
    moved = session.execute(
        update(table)
        .where(table.c.id.in_(locked.scalar_subquery()))
        .values(status=Status.queued.value, version=table.c.version + 1, updated_at=at)
        .returning(table.c.id, table.c.client_name, table.c.nik_hash, table.c.agency, table.c.service, table.c.attempts)
    ).all()
    moves = Moves()
    for row in moved:
        moves.add(
            Step(row.id, row.client_name, row.nik_hash, row.agency, row.service, row.attempts, Status.accepted.value),
            Status.queued,
            at,
        )
    moves.write(session)


class Relay:
    """The relay loop on a thread of its own (one per `gerbang worker`; several may run)."""

    def __init__(
        self,
        sessions: Sessions,
        publisher: ConfirmPublisher,
        policy: Policy,
        exchange: str,
        *,
        batch: int = 500,
        poll_s: float = 0.2,
        on_unroutable: Callable[[], None] | None = None,
        events_exchange: str | None = None,
    ):
        self.sessions, self.publisher, self.policy, self.exchange = sessions, publisher, policy, exchange
        self.events_exchange = events_exchange
        self.published = self.events_published = 0  # confirmed so far (the tests read them)
        self.batch, self.poll_s, self.on_unroutable = batch, poll_s, on_unroutable
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gerbang-relay", daemon=True)

    def start(self) -> Relay:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        last_sweep = 0.0
        while not self._stop.is_set():
            busy = False
            try:
                if time.monotonic() - last_sweep >= self.poll_s:
                    last_sweep = time.monotonic()
                    with self.sessions() as session:
                        if sweep(session, self.policy):
                            busy = True
                unroutable = self.publisher.unroutable
                with self.sessions() as session:
                    count = relay_once(session, self.publisher, self.exchange, self.batch)
                self.published += count
                busy = busy or count > 0
                if self.events_exchange is not None:
                    with self.sessions() as session:
                        events = relay_events_once(session, self.publisher, self.events_exchange, self.batch)
                    self.events_published += events
                    busy = busy or events > 0
                if self.publisher.unroutable != unroutable and self.on_unroutable is not None:
                    self.on_unroutable()
            except NotConnected:
                self.publisher.wait_connected(self.poll_s * 5)
            except TimeoutError as exc:
                log.warning("relay: %s; the rows will be published again", exc)
            except Exception:
                log.exception("relay: round failed; retrying")
                self._stop.wait(self.poll_s)
            if not busy:
                self._stop.wait(self.poll_s)
