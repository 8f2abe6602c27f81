"""Group commit for `POST /v1/applications`: concurrent accepts share one transaction.

Why: an accept is a handful of small inserts and a commit; under load the commit (and the round trips around it)
cost more than the work. Like the audit writer (core/audit/group.py): the first request starts a commit at once,
the requests arriving meanwhile gather and go together in the next — no added wait when the API is idle, one
commit for many when it is busy. Each caller still gets its own answer only after the commit that holds its
application (and outbox row, history, audit entry, event) — the 202 stays a promise — and its own error: a batch
that cannot commit as a whole is accepted request by request (core/bus/service.py: `accept_many`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from core.bus.service import Accepted, Submission, accept_many
from core.bus.states import Policy
from core.security.secrets import BusSecrets

MAX_BATCH = 200


class Intake:
    """Shares transactions between concurrent `accept(submission)` calls of one event loop."""

    def __init__(
        self, sessions: Callable[[], Session], secrets: BusSecrets, policy: Policy, max_batch: int = MAX_BATCH
    ):
        self.sessions, self.secrets, self.policy, self.max_batch = sessions, secrets, policy, max_batch
        self._pending: list[tuple[Submission, asyncio.Future[Accepted]]] = []
        self._flushing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.commits = 0

    async def accept(self, submission: Submission) -> Accepted:
        """The stored application (or the one this key made before); raises IdempotencyConflict etc."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (a test client's portal): nothing of the old one carries over
            self._loop, self._pending, self._flushing = loop, [], False
        future: asyncio.Future[Accepted] = loop.create_future()
        self._pending.append((submission, future))
        if not self._flushing:
            self._flushing = True
            loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                try:
                    results: list[Any] = await asyncio.to_thread(self._store, [item for item, _ in batch])
                except Exception as exc:  # e.g. no database: every caller of the batch hears it
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=False):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._flushing = False

    def _store(self, items: list[Submission]) -> list[Accepted | BaseException]:
        with self.sessions() as session:
            results = accept_many(session, self.secrets, self.policy, items)
        self.commits += 1
        return results
