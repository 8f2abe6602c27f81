"""Per-client token buckets shared by every API process through the database, at no database cost per request.

Why leases: a bucket in process memory lets N processes grant N times the limit; a database write per request
would cost more than a cached lookup itself. So the bucket lives in `rate_bucket` (tokens, last refill), and a
process *leases* a small batch of tokens from it in one short transaction — `rate × GERBANG_RATE_LEASE_S`, at
least 1, at most the burst — then spends them from memory. A busy client costs about 1 / lease_s database trips
per second per process; an idle one none. Leased tokens not spent within 4 lease periods are dropped (a process
must not hoard a burst it no longer needs). The bucket is exact across processes up to the tokens other
processes hold leased at the moment (at most one batch each), which is why batches are kept small.

The shared row is locked (the first statement writes, taking SQLite's writer lock; then SELECT … FOR UPDATE on
PostgreSQL), refilled by elapsed wall-clock time (processes on several hosts need synchronised clocks, as for
everything else), debited and written back.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update

from core.security.models import rate_bucket_table as bucket


@dataclass(frozen=True)
class Limit:
    """A bucket's shape: refill `rate` tokens per second, hold at most `burst`."""

    rate: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.rate > 0


@dataclass(frozen=True)
class Grant:
    """What one lease got: `tokens` (0 when the bucket is empty) and, if empty, seconds until a token is due."""

    tokens: int
    retry_after_s: float = 0.0


def lease(engine: Engine, name: str, limit: Limit, want: int, now: float | None = None) -> Grant:
    """Take up to `want` whole tokens from the shared bucket `name` (created full on first use)."""
    now = time.time() if now is None else now
    with engine.begin() as conn:
        # First statement writes (insert-if-absent): takes SQLite's writer lock; then the row lock on PostgreSQL.
        conn.execute(insert_ignore(engine).values(name=name, tokens=float(limit.burst), updated_s=now))
        row = conn.execute(
            select(bucket.c.tokens, bucket.c.updated_s).where(bucket.c.name == name).with_for_update()
        ).one()
        tokens = min(float(limit.burst), row.tokens + max(0.0, now - row.updated_s) * limit.rate)
        granted = min(want, int(math.floor(tokens + 1e-9)))
        tokens -= granted
        conn.execute(update(bucket).where(bucket.c.name == name).values(tokens=tokens, updated_s=now))
    if granted:
        return Grant(granted)
    return Grant(0, (1.0 - tokens) / limit.rate)


def insert_ignore(engine: Engine) -> Any:
    """INSERT … ON CONFLICT DO NOTHING into the bucket table, in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(bucket).on_conflict_do_nothing(index_elements=["name"])
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(bucket).on_conflict_do_nothing(index_elements=["name"])


class _Local:
    __slots__ = ("tokens", "expires", "empty_until")

    def __init__(self) -> None:
        self.tokens, self.expires, self.empty_until = 0, 0.0, 0.0


class RateLimiter:
    """The process's side of the shared buckets: spend leased tokens from memory, lease more when out.

    One lease at a time per bucket in a process (requests arriving meanwhile wait for it and spend from it), and
    after an empty answer the process refuses locally until the bucket's next token is due — so a flood costs
    the database one trip per lease, not one per request."""

    def __init__(self, engine: Engine, default: Limit, lease_s: float = 0.25):
        self.engine, self.default, self.lease_s = engine, default, lease_s
        self._local: dict[str, _Local] = {}
        self._leasing: dict[str, asyncio.Lock] = {}
        self._lock = threading.Lock()

    def batch(self, limit: Limit) -> int:
        return max(1, min(limit.burst, int(limit.rate * self.lease_s)))

    def _spend(self, local: _Local, now: float) -> bool:
        """One token from memory, if this process holds an unexpired one."""
        with self._lock:
            if local.tokens <= 0:
                return False
            if local.expires < now:
                local.tokens = 0
                return False
            local.tokens -= 1
            return True

    async def take(self, name: str, limit: Limit | None = None) -> float | None:
        """Spend one token of bucket `name`; None if allowed, else the seconds to wait (for Retry-After)."""
        limit = limit or self.default
        if not limit.enabled:
            return None
        local = self._local.get(name)
        if local is None:
            local = self._local.setdefault(name, _Local())
        now = time.monotonic()
        if self._spend(local, now):
            return None
        if local.empty_until > now:
            return local.empty_until - now
        leasing = self._leasing.get(name)
        if leasing is None:
            leasing = self._leasing.setdefault(name, asyncio.Lock())
        async with leasing:
            now = time.monotonic()
            if self._spend(local, now):  # a lease that landed while this request waited
                return None
            if local.empty_until > now:
                return local.empty_until - now
            grant = await asyncio.to_thread(lease, self.engine, name, limit, self.batch(limit))
            now = time.monotonic()
            if not grant.tokens:
                wait = max(grant.retry_after_s, 0.001)
                local.empty_until = now + wait
                return wait
            with self._lock:
                local.tokens = grant.tokens - 1  # one is this request's; leftovers had expired (or were none)
                local.expires = now + 4 * self.lease_s
        return None
