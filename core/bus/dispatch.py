"""Embedded mode (no GERBANG_AMQP_URL): the outbox is dispatched inside the API process.

The same outbox rows, attempt logic, statuses and retry rules as with RabbitMQ — only the hand-over differs: a
task on the API's event loop picks unsent outbox rows and runs the attempt, and marks a row sent only once its
attempt is finished. Everything lives in the database, so a restart resumes where the last run stopped: unsent
rows are picked up again (the inbox and the application's state make a repeat harmless), and the leases of
attempts the previous run left behind are released at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from core.bus.attempt import attempt, consume_span
from core.bus.gates import AgencyGates
from core.bus.message import Message, PoisonMessage
from core.bus.models import Outbox
from core.bus.states import Policy
from core.bus.steps import BatchedSteps
from core.bus.sweep import fail_unprocessable, release_leases, sweep
from core.db.engine import Sessions
from core.security.secrets import BusSecrets
from core.settings import Settings
from identity.clock import utcnow

log = logging.getLogger(__name__)


class Dispatcher:
    """Polls the outbox and due retries; runs at most `concurrency` attempts at once. Start and stop it on the
    event loop the connectors belong to (the API's lifespan does)."""

    def __init__(
        self,
        sessions: Sessions,
        connectors: Mapping[str, Any],
        secrets: BusSecrets,
        policy: Policy,
        *,
        poll_s: float = 0.2,
        concurrency: int = 50,
        failure_limit: int = 5,
        gates: AgencyGates,
    ):
        self.sessions, self.connectors, self.secrets, self.policy = sessions, connectors, secrets, policy
        self.gates = gates
        self.steps = BatchedSteps(sessions, secrets, policy)
        self.poll_s, self.concurrency, self.failure_limit = poll_s, concurrency, failure_limit
        self.inflight: dict[int, asyncio.Task[None]] = {}
        self.failures: dict[int, int] = {}
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        """Begin dispatching (call from a coroutine on the loop that owns the connectors)."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="gerbang-dispatcher")

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll (safe from any thread)."""
        if self._loop is not None and self._wakeup is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._wakeup.set)
            except RuntimeError:  # loop closing
                pass

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop polling; let running attempts finish for `grace_s`, then cancel them (their rows stay unsent and
        are resumed by the next start)."""
        self._stopping = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
        running = list(self.inflight.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self) -> None:
        assert self._wakeup is not None
        try:
            released = await asyncio.to_thread(self._call, release_leases)
            if released:
                log.info("resumed %d attempt(s) interrupted by the last stop", released)
        except Exception:
            log.exception("could not release the previous run's leases")
        last_sweep = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                if loop.time() - last_sweep >= self.poll_s:
                    last_sweep = loop.time()
                    await asyncio.to_thread(self._call, lambda s: sweep(s, self.policy))
                free = self.concurrency - len(self.inflight)
                if free > 0:
                    for row in await asyncio.to_thread(self._claim, free):
                        assert row.id is not None  # a stored row
                        self.inflight[row.id] = asyncio.create_task(self._one(row))
            except Exception:
                log.exception("embedded dispatcher: database error; retrying")
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.poll_s)
            except TimeoutError:
                pass

    def _call(self, fn: Any) -> Any:
        with self.sessions() as session:
            return fn(session)

    def _claim(self, limit: int) -> list[Outbox]:
        with self.sessions() as session:
            query = select(Outbox).where(col(Outbox.sent_at).is_(None))
            if self.inflight:
                query = query.where(col(Outbox.id).not_in(list(self.inflight)))
            return list(session.exec(query.order_by(col(Outbox.id)).limit(limit)).all())

    async def _one(self, row: Outbox) -> None:
        assert row.id is not None
        try:
            if await self._attempt(row):
                self.failures.pop(row.id, None)
                await asyncio.to_thread(self._call, lambda s: _mark_sent(s, row.id))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("embedded dispatcher: could not finish outbox row %s", row.id)
        finally:
            self.inflight.pop(row.id, None)
            self.wake()

    async def _attempt(self, row: Outbox) -> bool:
        """Run the attempt; True when the row is done with (processed, or dead-lettered)."""
        assert row.id is not None
        try:
            message = Message.of(row)
            with consume_span(message, "embedded", row.traceparent):
                result = await attempt(self.steps, message, self.connectors, self.policy, self.gates)
            log.debug("application %s: %s", row.application_id, result)
            return True
        except PoisonMessage as exc:
            log.error("outbox row %s dead-lettered: %s", row.id, exc)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database down, undecryptable payload …: try again, up to the limit
            failures = self.failures[row.id] = self.failures.get(row.id, 0) + 1
            log.exception("attempt on application %s failed (%d/%d)", row.application_id, failures, self.failure_limit)
            if failures >= self.failure_limit:
                error = type(exc).__name__
                await asyncio.to_thread(self._call, lambda s: fail_unprocessable(s, row.application_id, error))
                return True
            await asyncio.sleep(min(0.1 * 2**failures, 5.0))  # holds the row back before it is picked again
            return False


def _mark_sent(session: Session, row_id: int | None) -> None:
    row = session.get(Outbox, row_id)
    if row is not None and row.sent_at is None:
        row.sent_at = utcnow()
        session.commit()


def start_embedded(
    sessions: Sessions, connectors: Mapping[str, Any], secrets: BusSecrets, settings: Settings, registry: Any
) -> Dispatcher | None:
    """The API's dispatcher in embedded mode (no AMQP URL), started; None in distributed mode, where the API only
    writes the outbox and `gerbang worker` does the rest."""
    if not settings.embedded:
        return None
    dispatcher = Dispatcher(
        sessions,
        connectors,
        secrets,
        Policy.from_settings(settings),
        poll_s=settings.bus_poll_s,
        concurrency=settings.bus_prefetch,
        failure_limit=settings.bus_delivery_limit,
        gates=AgencyGates.of(registry, settings.bus_prefetch),
    )
    dispatcher.start()
    return dispatcher
