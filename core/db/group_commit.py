"""Group commit: concurrent callers of the event loop share one transaction, each still gets its own answer.

Why: on the hot paths (a read's audit entry, an application's accept, a worker's `begin` and `finish`) each
caller's work is a handful of small statements and a commit; under load the commit, the connection checkout and
the round trips around them cost more than the work. Gathering what arrives meanwhile into one transaction costs
one checkout and one commit per batch. Each caller still returns only once a committed transaction holds its
item — durable before it answers — and gets its own result or its own exception: `batch_or_each` retries a
batch that cannot commit as a whole item by item, so one bad item never fails the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Collects items on the event loop and runs `run(items) -> results` (on a thread) for up to `max_size` of
    them at once; a result that is an exception is raised to its own caller, an exception of `run` itself to
    every caller of that batch.

    A batch starts once `max_size` items wait, or once the oldest waiting item has waited `linger_s`, and at most
    `max_inflight` batches run at once. With no linger and one batch in flight (the API) the first caller starts
    a commit at once and those arriving meanwhile go together in the next: no added wait when idle, one commit
    for many when busy. Why the oldest item's wait, also after a batch ends (the worker): starting the next batch
    at once whenever one ended kept batches at two or three attempts under load (each paying its checkout, round
    trips, commit and thread hand-off); waiting out the oldest item's linger lets a batch grow with the load
    while no item waits longer than `linger_s` for its turn."""

    def __init__(
        self,
        run: Callable[[list[T]], Sequence[R | BaseException]],
        max_size: int,
        linger_s: float = 0.0,
        max_inflight: int = 1,
    ):
        self.run, self.max_size, self.linger_s, self.max_inflight = run, max_size, linger_s, max_inflight
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._oldest = 0.0  # when the oldest waiting item arrived (loop time)
        self._timer: asyncio.TimerHandle | None = None
        self._inflight = 0
        self.batches = 0

    async def submit(self, item: T) -> R:
        """`item`'s result, once the transaction that holds it has committed (or its exception)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (a test client's portal): nothing of the old one carries over
            self._loop, self._pending, self._timer, self._inflight = loop, [], None, 0
        future: asyncio.Future[R] = loop.create_future()
        if not self._pending:
            self._oldest = loop.time()
        self._pending.append((item, future))
        self._schedule(loop)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start a batch now if one is full, else make sure a timer will when the oldest item's linger is up
        (with no linger: on the loop's next turn, after the callers already running have handed their items)."""
        if not self._pending or self._inflight >= self.max_inflight:
            return  # a running batch's end calls again
        if len(self._pending) >= self.max_size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_at(self._oldest + self.linger_s, self._on_timer)

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


def batch_or_each(
    session: Session,
    items: Sequence[T],
    batch: Callable[[Sequence[T]], Sequence[R | BaseException] | None],
    each: Callable[[T], R],
) -> list[R | BaseException]:
    """`batch(items)`: all of them in one transaction, committed, a result per item — or, if it raises or returns
    None (e.g. a compare-and-set that lost a race), a rollback and `each(item)` one by one, each in its own
    transaction, its exception as its result: so one bad item (a repeated key, a payload that does not decrypt)
    never fails the others of its batch."""
    try:
        done = batch(items)
    except Exception:
        done = None
    if done is not None:
        return list(done)
    session.rollback()
    results: list[R | BaseException] = []
    for item in items:
        try:
            results.append(each(item))
        except Exception as exc:
            session.rollback()
            results.append(exc)
        session.expunge_all()  # the next item's rollback must not expire this one's answer
    return results
