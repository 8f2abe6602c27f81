"""Group commit for audit entries written on the request path.

A citizen read must be in the log before its answer leaves the API, but one transaction per read makes the
commit, not the read, the cost of a lookup. Concurrent requests therefore hand their (already checked) entries to
one writer: while a batch is being committed the next one gathers, and every caller waits for the commit that
holds its entry — durable before the response, with one multi-row insert and one commit per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from core.audit.log import insert_prepared

MAX_BATCH = 1000


class GroupCommitter:
    """Shares transactions between concurrent `submit(row)` calls; rows come from `core.audit.log.prepare`."""

    def __init__(self, sessions: Callable[[], Session], max_batch: int = MAX_BATCH):
        self.sessions, self.max_batch = sessions, max_batch
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._flushing = False
        self.commits = 0

    async def submit(self, row: dict[str, Any]) -> None:
        """Returns once a committed transaction holds `row` (or raises that transaction's error)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((row, future))
        if not self._flushing:
            self._flushing = True
            loop.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                try:
                    await asyncio.to_thread(self._commit, [row for row, _ in batch])
                except Exception as exc:  # every caller of the failed batch learns it; nothing is half-written
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._flushing = False

    def _commit(self, rows: list[dict[str, Any]]) -> None:
        with self.sessions() as session:
            insert_prepared(session, rows)
            session.commit()
        self.commits += 1
