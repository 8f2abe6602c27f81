"""The database steps of an attempt (`begin`, `finish`) as seen from the event loop: one at a time, or gathered
into micro-batches.

Why batches: under load a worker has dozens of attempts starting and ending at once; each `begin` and `finish`
is a transaction of its own (connection checkout, a handful of statements, a commit). Gathering those that arrive
within a few milliseconds into one transaction costs one checkout and one commit per batch, and lets SQLAlchemy
send same-shaped statements together. Each attempt still gets its own result — and its own exception: a batch
that fails is retried message by message, so a bad message never takes others down with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from core.bus.states import Policy
from core.bus.worker import (
    Message,
    Outcome,
    Sessions,
    Skip,
    Work,
    begin,
    begin_many,
    finish,
    finish_many,
)
from core.security.secrets import BusSecrets

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Collects items on the event loop and runs `run(items) -> results` (on a thread) for up to `max_size` of
    them at once; a result that is an exception is raised to its own caller.

    A batch starts once `max_size` items wait, or once the oldest waiting item has waited `linger_s`, and at most
    `max_inflight` batches run at once. Why the oldest item's wait, also after a batch ends: starting the next
    batch at once whenever one ended kept batches at two or three attempts under load (each paying its checkout,
    round trips, commit and thread hand-off); waiting out the oldest item's linger lets a batch grow with the
    load while no attempt waits longer than `linger_s` for its turn."""

    def __init__(
        self,
        run: Callable[[list[T]], Sequence[R | BaseException]],
        max_size: int = 64,
        linger_s: float = 0.015,
        max_inflight: int = 2,
    ):
        self.run, self.max_size, self.linger_s, self.max_inflight = run, max_size, linger_s, max_inflight
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._oldest = 0.0  # when the oldest waiting item arrived (loop time)
        self._timer: asyncio.TimerHandle | None = None
        self._inflight = 0
        self.batches = 0

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        if not self._pending:
            self._oldest = loop.time()
        self._pending.append((item, future))
        self._schedule(loop)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start a batch now if one is due, else make sure a timer will when the oldest item's linger is up."""
        if not self._pending or self._inflight >= self.max_inflight:
            return  # a running batch's end calls again
        due = self._oldest + self.linger_s
        if len(self._pending) >= self.max_size or loop.time() >= due:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._flush()

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending and self._inflight < self.max_inflight:
            batch, self._pending = self._pending[: self.max_size], self._pending[self.max_size :]
            self._inflight += 1
            asyncio.ensure_future(self._run(batch))
            if self._pending:  # more than one batch's worth waited: the rest are as old as the batch just started
                self._schedule(asyncio.get_running_loop())

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            await self._run_batch(batch)
        finally:
            self._inflight -= 1
            self._schedule(asyncio.get_running_loop())

    async def _run_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.batches += 1
        try:
            results = await asyncio.to_thread(self.run, [item for item, _ in batch])
        except BaseException as exc:  # the whole call failed (database down): every caller hears it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=False):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


class Steps:
    """`begin` and `finish` one message at a time, each in its own transaction on a thread."""

    def __init__(self, sessions: Sessions, secrets: BusSecrets, policy: Policy):
        self.sessions, self.secrets, self.policy = sessions, secrets, policy

    async def begin(self, message: Message) -> Work | Skip:
        def run() -> Work | Skip:
            with self.sessions() as session:
                return begin(session, message, self.secrets, self.policy)

        return await asyncio.to_thread(run)

    async def finish(self, message: Message | None, work: Work, outcome: Outcome) -> str:
        def run() -> str:
            with self.sessions() as session:
                return finish(session, message, work, outcome, self.secrets, self.policy)

        return await asyncio.to_thread(run)


class BatchedSteps(Steps):
    """The same steps, gathered into micro-batches (`gerbang worker`)."""

    def __init__(
        self, sessions: Sessions, secrets: BusSecrets, policy: Policy, *, max_size: int = 64, linger_s: float = 0.015
    ):
        super().__init__(sessions, secrets, policy)
        self._begins: Batcher[Message, Any] = Batcher(self._begin_many, max_size, linger_s)
        self._finishes: Batcher[tuple[Message | None, Work, Outcome], str] = Batcher(
            self._finish_many, max_size, linger_s
        )

    async def begin(self, message: Message) -> Work | Skip:
        return await self._begins.submit(message)  # type: ignore[no-any-return]

    async def finish(self, message: Message | None, work: Work, outcome: Outcome) -> str:
        return await self._finishes.submit((message, work, outcome))

    def _begin_many(self, messages: list[Message]) -> list[Any]:
        with self.sessions() as session:
            return begin_many(session, messages, self.secrets, self.policy)

    def _finish_many(self, items: list[tuple[Message | None, Work, Outcome]]) -> list[Any]:
        with self.sessions() as session:
            return finish_many(session, items, self.secrets, self.policy)
