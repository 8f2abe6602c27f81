"""The deliverer: the loop that fans out new events and lets every active subscription with work send its
batches in order — an asyncio task in each API process in embedded mode; in each `gerbang worker` in
distributed mode, where the events reach the subscriptions through the events exchange instead
(core/callbacks/exchange.py) and the deliverer does not fan out itself.

Per subscription one sender at a time (core/callbacks/batches.py: a lease taken with a compare-and-set UPDATE,
so several processes on one PostgreSQL database share the work without sending a subscription's batches out of
order). A batch is resent (core/callbacks/post.py, core/callbacks/settle.py), with the same id and the same
events, until a 2xx or until it is older than the maximum age (then it is `dead` and can be replayed); a 410
Gone disables the subscription.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
from sqlmodel import Session, col, select

from connectors import tracing
from connectors.rest import tls_context
from core.audit.note import Signer
from core.callbacks import post
from core.callbacks.batches import Ready, claim, next_batch, release
from core.callbacks.config import Config
from core.callbacks.events import fan_out
from core.callbacks.models import Batch, Event, Item, Subscription
from core.callbacks.post import Result
from core.callbacks.secrets import callback_key
from core.callbacks.settle import settle_and_next
from core.security.secrets import load_secrets
from core.settings import Settings

log = logging.getLogger(__name__)


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
            timeout=timeout,
            follow_redirects=False,
            transport=self.transport,
            trust_env=False,
            verify=tls_context(trust_env=False),
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
        """`post.send()`, traced with tracing on: a CLIENT span linked to the traces of the batch's events."""
        if not tracing.enabled():
            return await post.send(client, ready, self.signer, self.config, self.key)
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
            result = await post.send(client, ready, self.signer, self.config, self.key)
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
            ready = await asyncio.to_thread(self._db, next_batch, subscription_id, self.config.lease_s)
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
                ready = await asyncio.to_thread(self._db, next_batch, subscription_id, self.config.lease_s)
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
