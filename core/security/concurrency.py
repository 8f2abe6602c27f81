"""A limit on calls in flight to each agency, across every process sharing the database.

Why: a legacy agency backend answers a few calls at a time; a burst of lookups (or a worker's backlog) must queue
at the bus instead of flooding it. Why this way: counting in-flight calls in the database would put two writes
on every agency call; instead every process keeps a heartbeat row in `bus_process` (the census, every
GERBANG_CENSUS_INTERVAL_S) and takes an equal share of each agency's limit: with limit L and N live processes, a
process gets L // N slots, the first L % N processes (by start time) one more — so the shares add up to L exactly.
A process never gets fewer than one slot, so when N > L the total can exceed L by the difference (keep
GERBANG_AGENCY_CONCURRENCY at least the number of processes). Shares follow processes starting or dying within
about three heartbeats; in between, the total can briefly exceed L.

Within a process the slots are a plain counter under a thread lock (the API's event loop and a worker's loop or
threads may share a connector); a call waiting for a slot polls briefly and gives up only through its caller's
timeout, so a queue that is too long shows as that facet's `timeout`, never as a hang.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import OPTIONAL_CALLS, Health, LookupResult, SubmitResult, VerifyResult
from core.security.models import process_table as processes

log = logging.getLogger(__name__)
STALE_BEATS = 3
FORGET_BEATS = 20


def share(limit: int, count: int, rank: int) -> int:
    """This process's slots of `limit` when `count` processes are alive and it is the `rank`-th (from 0)."""
    count = max(1, count)
    return max(1, limit // count + (1 if rank < limit % count else 0))


class Slots:
    """In-flight calls to one agency from this process: at most `capacity` at once."""

    def __init__(self, agency: str, limit: int):
        self.agency, self.limit = agency, limit
        self.capacity = limit
        self.in_use = 0
        self.peak = 0
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            if self.in_use >= self.capacity:
                return False
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)
            return True

    async def acquire(self) -> None:
        wait = 0.002
        while not self.try_acquire():
            await asyncio.sleep(wait)
            wait = min(wait * 2, 0.05)

    def release(self) -> None:
        with self._lock:
            self.in_use -= 1


class Census:
    """This process's heartbeat in `bus_process`, and what it learns: how many processes live, and its rank."""

    def __init__(self, engine: Engine, interval_s: float = 2.0):
        self.engine, self.interval_s = engine, interval_s
        self.id, self.started_s = str(uuid.uuid4()), time.time()
        self.count, self.rank = 1, 0
        self.listeners: list[Any] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._start_lock = threading.Lock()

    def beat(self) -> tuple[int, int]:
        """Write this process's heartbeat, forget long-dead ones, count the live ones and find this one's rank."""
        now = time.time()
        with self.engine.begin() as conn:
            if not conn.execute(update(processes).where(processes.c.id == self.id).values(seen_s=now)).rowcount:
                conn.execute(
                    processes.insert().values(
                        id=self.id,
                        started_s=self.started_s,
                        seen_s=now,
                        pid=os.getpid(),
                        host=socket.gethostname()[:100],
                    )
                )
            conn.execute(delete(processes).where(processes.c.seen_s < now - FORGET_BEATS * self.interval_s))
            live = [
                row.id
                for row in conn.execute(
                    select(processes.c.id)
                    .where(processes.c.seen_s >= now - STALE_BEATS * self.interval_s)
                    .order_by(processes.c.started_s, processes.c.id)
                )
            ]
        self.count, self.rank = len(live), live.index(self.id)
        for listener in self.listeners:
            listener(self.count, self.rank)
        return self.count, self.rank

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.beat()
            except SQLAlchemyError as exc:  # keep the last shares; the next beat retries
                log.warning("census heartbeat failed (%s)", type(exc).__name__)

    def ensure_started(self) -> None:
        """First beat now (in the caller's thread), then a daemon thread; once per process."""
        with self._start_lock:
            if self._thread is not None:
                return
            try:
                self.beat()
            except SQLAlchemyError as exc:
                log.warning("census unavailable (%s); agency limits apply per process", type(exc).__name__)
            self._thread = threading.Thread(target=self._loop, name="gerbang-census", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            try:
                with self.engine.begin() as conn:
                    conn.execute(delete(processes).where(processes.c.id == self.id))
            except SQLAlchemyError:
                pass


class AgencyLimits:
    """The slots of every agency of this process, sized from the census."""

    def __init__(self, engine_factory: Any, limits: Mapping[str, int], interval_s: float = 2.0):
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self.interval_s = interval_s
        self.slots = {name: Slots(name, limit) for name, limit in limits.items()}
        self.census: Census | None = None
        self._lock = threading.Lock()

    def _resize(self, count: int, rank: int) -> None:
        for slots in self.slots.values():
            slots.capacity = share(slots.limit, count, rank)

    def started(self) -> bool:
        return self.census is not None and self.census._thread is not None

    def start(self) -> None:
        with self._lock:
            if self.census is None:
                self._engine = self._engine_factory()
                self.census = Census(self._engine, self.interval_s)
                self.census.listeners.append(self._resize)
        self.census.ensure_started()

    async def slot(self, agency: str) -> Slots:
        if not self.started():
            await asyncio.to_thread(self.start)
        return self.slots[agency]

    def stop(self) -> None:
        if self.census is not None:
            self.census.stop()
        if self._engine is not None:
            self._engine.dispose()


class LimitedConnector:
    """A connector whose lookups, verifications and submissions wait for a slot of their agency."""

    def __init__(self, inner: Any, limits: AgencyLimits, agency: str):
        self.inner, self.limits, self.agency = inner, limits, agency
        self.name = inner.name

    async def _call(self, call: Any) -> Any:
        slots = await self.limits.slot(self.agency)
        await slots.acquire()
        try:
            return await call()
        finally:
            slots.release()

    async def lookup(self, nik: str) -> LookupResult:
        return await self._call(lambda: self.inner.lookup(nik))

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> VerifyResult:
        return await self._call(lambda: self.inner.verify(nik, claims))

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        return await self._call(lambda: self.inner.submit(service, payload, idempotency_key))

    async def health(self) -> Health:
        return await self.inner.health()  # a probe must not wait behind (or count against) real calls

    async def codes(self, name: str, query: str) -> list[dict[str, str]]:
        return await self._call(lambda: self.inner.codes(name, query))

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:  # e.g. a connector's own extras (its push secrets)
        value = getattr(self.inner, name)
        if name in OPTIONAL_CALLS:  # an optional call waits for a slot like the four
            return lambda *args: self._call(lambda: value(*args))
        return value
