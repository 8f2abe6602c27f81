"""Cutting events into batches and POSTing them: the deliverer (an asyncio task in each API process in embedded
mode; in each `gerbang worker` in distributed mode, where the events reach the subscriptions through the events
exchange instead — core/callbacks/exchange.py — and the deliverer does not fan out itself).

Per subscription one sender at a time (a lease on the subscription row, taken with a compare-and-set UPDATE, so
several processes on one PostgreSQL database share the work without sending a subscription's batches out of
order). A batch is resent, with the same id and the same events, until a 2xx or until it is older than the
maximum age (then it is `dead` and can be replayed); a 410 Gone disables the subscription.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select, text, update
from sqlmodel import Session, col

from connectors import tracing
from core.audit.log import record
from core.audit.note import Signer
from core.callbacks import signing
from core.callbacks.events import fan_out
from core.callbacks.models import Attempt, Batch, Event, Item, Subscription
from core.callbacks.secrets import callback_key, signing_secrets
from core.db.tables import table_of
from core.security.secrets import load_secrets
from core.settings import Settings
from identity.clock import as_utc, utcnow

log = logging.getLogger(__name__)
ERROR_MAX = 500
CUT_AHEAD = 10  # batches cut in one transaction when events are waiting (one durable commit)


@dataclass(frozen=True)
class Config:
    """Delivery rules from settings (see docs/settings.md, GERBANG_CALLBACK_…)."""

    allowed_hosts: tuple[str, ...] = ()
    poll_s: float = 0.2
    retry_base_s: float = 1.0
    retry_max_s: float = 300.0
    max_age_s: float = 86400.0
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    max_response_bytes: int = 65536
    lease_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Config:
        return cls(
            allowed_hosts=tuple(h.lower() for h in settings.callback_allowed_hosts),
            poll_s=settings.callback_poll_s,
            retry_base_s=settings.callback_retry_base_s,
            retry_max_s=settings.callback_retry_max_s,
            max_age_s=settings.callback_max_age_s,
            connect_timeout_s=settings.callback_connect_timeout_s,
            read_timeout_s=settings.callback_read_timeout_s,
            max_response_bytes=settings.callback_max_response_bytes,
            lease_s=settings.callback_lease_s,
        )

    def backoff(self, attempts: int) -> float:
        """Exponential, capped, with full jitter in its upper half (so receivers coming back are not stampeded)."""
        wait = min(self.retry_base_s * 2 ** max(attempts - 1, 0), self.retry_max_s)
        return wait * random.uniform(0.5, 1.0)


class NotAllowed(ValueError):
    """A callback URL that is not http(s) on an allow-listed host."""


def check_url(url: str, allowed: tuple[str, ...]) -> None:
    """Only http(s) URLs whose host (or host:port) is on the operator's allow-list; `*.example.go.id` entries
    allow subdomains. No allow-list means no callbacks at all: nothing is reachable by default."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError as exc:
        raise NotAllowed(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise NotAllowed("only http and https URLs with a host are allowed")
    if parts.username or parts.password:
        raise NotAllowed("credentials in the URL are not allowed")
    for entry in allowed:
        name, _, entry_port = entry.partition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and str(port or (443 if parts.scheme == "https" else 80)) != entry_port:
            continue
        if host == name or (name.startswith("*.") and host.endswith(name[1:])):
            return
    raise NotAllowed(f"host {host!r} is not on the callback allow-list (GERBANG_CALLBACK_ALLOWED_HOSTS)")


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
            "occurred_at": as_utc(r.occurred_at).isoformat(),
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


def claim(session: Session, subscription_id: str, lease_s: float, now: dt.datetime | None = None) -> bool:
    """Take the subscription's lease (compare-and-set); False if another sender holds it or it is not active."""
    now = now or utcnow()
    table = table_of(Subscription)
    done = session.connection().execute(
        update(table)
        .where(
            table.c.id == subscription_id,
            table.c.status == "active",
            (table.c.lease_until.is_(None)) | (table.c.lease_until < now),
        )
        .values(lease_until=now + dt.timedelta(seconds=lease_s))
    )
    session.commit()
    return done.rowcount == 1


def release(session: Session, subscription_id: str) -> None:
    table = table_of(Subscription)
    session.execute(update(table).where(table.c.id == subscription_id).values(lease_until=None))
    session.commit()


def next_batch(
    session: Session, subscription_id: str, now: dt.datetime | None = None, lease_s: float = 0
) -> Ready | None:
    """The batch to send now (the oldest pending one, or a new one cut from unassigned items), or None.

    Call only while holding the subscription's lease: cutting is then single-writer per subscription. Every
    path commits, so `settle_and_next` can run it in the transaction of the previous batch's outcome."""
    now = now or utcnow()
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
        rows = _events_of(session, subscription_id, pending.id)
        ready = Ready(
            pending.id,
            subscription_id,
            sub.agency,
            sub.url,
            sub.secret,
            pending.attempts + 1,
            as_utc(pending.created_at) or now,
            body_of(pending.id, subscription_id, rows),
            len(rows),
        )
        session.commit()  # ends the transaction (and a caller's settle)
        return ready
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
        cut = session.connection().execute(
            update(items)
            .where(
                items.c.subscription_id == subscription_id,
                items.c.batch_id.is_(None),
                items.c.event_id.between(chunk[0], chunk[-1]),
            )
            .values(batch_id=batch_id)
        )
        if cut.rowcount != len(chunk):  # someone else cut meanwhile (lease lost): undo ours, leave it to them
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
    if lease_s:
        sub.lease_until = now + dt.timedelta(seconds=lease_s)  # renewed with each cut
    _durable(session)  # a cut batch may be sent at once: its cut must survive a crash (no second batch id)
    session.commit()
    if first is None:
        return None
    rows = _events_of(session, subscription_id, first)
    session.commit()
    return Ready(
        first,
        subscription_id,
        sub.agency,
        sub.url,
        sub.secret,
        1,
        now,
        body_of(first, subscription_id, rows),
        len(rows),
    )


def _durable(session: Session) -> None:
    """Make this PostgreSQL transaction's commit wait for the disk again (see `settle`)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO on"))


def _relaxed(session: Session) -> None:
    """An outcome may be lost in a crash without harm: the batch is then sent again under the same id (receivers
    de-duplicate). Not waiting for the disk here keeps one flush per group of cut batches, not one per batch."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO off"))


@dataclass(frozen=True)
class Result:
    """What one POST came to: `outcome` delivered / retry / gone / refused, and what we saw."""

    outcome: str
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0


async def send(client: httpx.AsyncClient, ready: Ready, signer: Signer | None, config: Config, key: bytes) -> Result:
    """POST one batch: signed, no redirects followed, at most `max_response_bytes` of the answer read."""
    try:
        check_url(ready.url, config.allowed_hosts)
    except NotAllowed as exc:
        return Result("refused", error=str(exc))
    headers = {
        "Content-Type": "application/json",
        **_traceparent(),
        **signing.headers(
            ready.batch_id, signing_secrets(ready.secret, ready.subscription_id, key), signer, ready.body
        ),
    }
    started = time.perf_counter()
    try:
        async with client.stream("POST", ready.url, content=ready.body, headers=headers) as response:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= config.max_response_bytes:
                    break
            code = response.status_code
    except httpx.HTTPError as exc:
        return Result(
            "retry",
            error=f"{type(exc).__name__}: {exc}"[:ERROR_MAX],
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
    elapsed = int((time.perf_counter() - started) * 1000)
    if 200 <= code < 300:
        return Result("delivered", code, duration_ms=elapsed)
    if code == 410:
        return Result("gone", code, "410 Gone: the subscription is disabled", elapsed)
    return Result("retry", code, f"HTTP {code}", elapsed)


def _traceparent() -> dict[str, str]:
    """The delivery span's W3C traceparent for the receiver, with tracing on (not covered by the signature)."""
    value = tracing.current_traceparent()
    return {"traceparent": value} if value else {}


def settle(
    session: Session, ready: Ready, result: Result, config: Config, now: dt.datetime | None = None, commit: bool = True
) -> str:
    """Write the attempt, the batch's new state, the subscription's (410 / refused) and the audit entry."""
    now = now or utcnow()
    batch = session.get(Batch, ready.batch_id)
    assert batch is not None
    batch.attempts = ready.attempt
    outcome = result.outcome
    sub_table = table_of(Subscription)
    if outcome == "delivered":
        batch.status, batch.delivered_at, batch.next_attempt_at = "delivered", now, None
    elif outcome in ("gone", "refused"):
        batch.next_attempt_at = None  # stays pending: replay after re-enabling sends it
        session.execute(
            update(sub_table)
            .where(sub_table.c.id == ready.subscription_id)
            .values(status="disabled", status_reason=(result.error or outcome)[:500])
        )
    elif (now - ready.created_at).total_seconds() >= config.max_age_s:
        batch.status, batch.next_attempt_at, outcome = "dead", None, "dead"
    else:
        batch.next_attempt_at = now + dt.timedelta(seconds=config.backoff(ready.attempt))
    session.add(
        Attempt(
            batch_id=ready.batch_id,
            attempt=ready.attempt,
            at=now,
            status_code=result.status_code,
            outcome=outcome,
            error=(result.error or None) and result.error[:ERROR_MAX],
            duration_ms=result.duration_ms,
        )
    )
    detail = {
        "subscription": ready.subscription_id,
        "batch": ready.batch_id,
        "events": ready.count,
        "attempt": ready.attempt,
        "outcome": outcome,
        "status_code": result.status_code,
    }
    record(
        session,
        "callback.delivered" if outcome == "delivered" else "callback.failed",
        agency=ready.agency,
        detail=detail,
    )
    if commit:
        session.commit()
    return outcome


def settle_and_next(session: Session, ready: Ready, result: Result, config: Config) -> tuple[str, Ready | None]:
    """`settle()` and, after a delivery, cut the next batch in the same transaction (one commit per batch)."""
    _relaxed(session)
    outcome = settle(session, ready, result, config, commit=False)
    if outcome != "delivered":
        session.commit()
        return outcome, None
    session.flush()
    return outcome, next_batch(session, ready.subscription_id, None, config.lease_s)


class Deliverer:
    """The loop: fan out new events, then let every active subscription with work send its batches in order."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        settings: Settings,
        signer: Signer | None,
        config: Config | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        fan_out: bool = True,
        secret_key: bytes | None = None,
    ):
        self.sessions, self.signer, self.fan_out = sessions, signer, fan_out
        # subscription secrets are derived, not stored (core/callbacks/secrets.py)
        self.key = secret_key or callback_key(load_secrets(settings).nik_hash_key)
        self.config = config or Config.from_settings(settings)
        self.transport = transport
        self.delivered = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def start(self) -> Deliverer:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="gerbang-callbacks")
        return self

    def wake(self) -> None:
        """Look for work now (from the deliverer's own loop; other threads: `wake_threadsafe`)."""
        self._wake.set()

    def wake_threadsafe(self) -> None:
        loop = self._task.get_loop() if self._task is not None else None
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop is closing
                pass

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=10)

    async def run(self) -> None:
        timeout = httpx.Timeout(self.config.read_timeout_s, connect=self.config.connect_timeout_s)
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, transport=self.transport, trust_env=False
        ) as client:
            while not self._stop.is_set():
                try:
                    await self.round(client)
                except Exception:  # a database hiccup must not end the loop
                    log.exception("callback delivery round failed")
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_s)
                except TimeoutError:
                    pass

    async def round(self, client: httpx.AsyncClient) -> None:
        while self.fan_out and await asyncio.to_thread(self._db, fan_out) >= 2000:
            pass
        subs = await asyncio.to_thread(self._db, _active_with_work)
        if subs:
            await asyncio.gather(*(self.drain(client, sub_id) for sub_id in subs))

    def _db(self, call: Callable[..., Any], *args: Any) -> Any:
        with self.sessions() as session:
            return call(session, *args)

    async def send(self, client: httpx.AsyncClient, ready: Ready) -> Result:
        """`send()`, traced with tracing on: a CLIENT span linked to the traces of the batch's events."""
        if not tracing.enabled():
            return await send(client, ready, self.signer, self.config, self.key)
        links = [
            link
            for link in map(tracing.link_to, await asyncio.to_thread(self._db, event_traces, ready.batch_id))
            if link is not None
        ]
        with tracing.span(
            "callback deliver",
            {
                "gerbang.agency": ready.agency,
                "gerbang.subscription.id": ready.subscription_id,
                "gerbang.batch.id": ready.batch_id,
                "gerbang.batch.events": ready.count,
                "gerbang.attempt": ready.attempt,
            },
            kind=tracing.SpanKind.CLIENT,
            links=links,
        ) as span:
            result = await send(client, ready, self.signer, self.config, self.key)
            span.set_attribute("gerbang.outcome", result.outcome)
            if result.status_code is not None:
                span.set_attribute("http.response.status_code", result.status_code)
            if result.outcome != "delivered":
                span.set_status(tracing.Status(tracing.StatusCode.ERROR, result.outcome))
            return result

    async def drain(self, client: httpx.AsyncClient, subscription_id: str) -> None:
        """Send this subscription's ready batches one after the other, while they succeed."""
        if not await asyncio.to_thread(self._db, claim, subscription_id, self.config.lease_s):
            return
        try:
            ready = await asyncio.to_thread(self._db, next_batch, subscription_id, None, self.config.lease_s)
            while ready is not None and not self._stop.is_set():
                result = await self.send(client, ready)
                outcome, following = await asyncio.to_thread(self._db, settle_and_next, ready, result, self.config)
                if outcome == "delivered":
                    self.delivered += ready.count
                    ready = following
                    continue
                if outcome == "retry":
                    log.info("callback batch %s to %s: %s", ready.batch_id, ready.agency, result.error)
                if outcome != "dead":
                    return
                ready = await asyncio.to_thread(self._db, next_batch, subscription_id, None, self.config.lease_s)
        finally:
            await asyncio.to_thread(self._db, release, subscription_id)


def event_traces(session: Session, batch_id: str, limit: int = 128) -> list[str]:
    """The spans a batch's events were written in (each event's traceparent: the request, the attempt or the
    inbound push that made it), each once."""
    rows = (
        session.execute(
            select(col(Event.traceparent))
            .distinct()
            .join(Item, col(Item.event_id) == col(Event.id))
            .where(col(Item.batch_id) == batch_id, col(Event.traceparent).is_not(None))
            .limit(limit)
        )
        .scalars()
        .all()
    )
    session.rollback()
    return list(rows)


def _active_with_work(session: Session) -> list[str]:
    """Active subscriptions with an unassigned item or a pending batch (cheap: both are indexed)."""
    with_items = select(col(Item.subscription_id)).where(col(Item.batch_id).is_(None)).distinct()
    with_batches = select(col(Batch.subscription_id)).where(col(Batch.status) == "pending").distinct()
    ids = (
        session.execute(
            select(col(Subscription.id)).where(
                col(Subscription.status) == "active", col(Subscription.id).in_(with_items.union(with_batches))
            )
        )
        .scalars()
        .all()
    )
    session.rollback()
    return list(ids)


def count_pending(session: Session, subscription_id: str) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(Item).where(col(Item.subscription_id) == subscription_id)
        ).scalar_one()
    )
