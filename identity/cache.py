"""The record cache: facets kept encrypted (AES-256-GCM), found by a keyed hash of the NIK, fresh for a while.

A second counter asking within an agency's freshness time causes no call to that agency. Nothing in the store
reveals a NIK: the row key is HMAC-SHA256(nik_hash_key, nik + facet) and the facet itself is ciphertext whose
associated data binds it to that row key (a row copied under another key does not decrypt). Storage is a small
protocol, so identity stays free of the database: core provides the SQL store.

Warm lookups are the hot path, so each process also keeps the rows it read or wrote in memory for a couple of
seconds (`RowMemo`) — still ciphertext, found by the same keyed hash — and skips the database for them. Freshness
is minutes, so a row another process replaced (a `refresh=true` there) may be served from here for at most those
seconds, and only while it is itself still fresh; a row this process can no longer decrypt (its key was retired)
is dropped and read again from the store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from connectors.base import FacetStatus
from identity.clock import utcnow
from identity.model import Facet
from identity.record_memo import RecordMemo
from identity.secrecy import DataKeys, subject_hash

CACHEABLE = (FacetStatus.ok, FacetStatus.not_found)
T = TypeVar("T")


@dataclass(frozen=True)
class CachedFacet:
    """One stored row: opaque key, which facet and agency, when it stops being fresh, and the ciphertext."""

    key: str
    facet: str
    agency: str
    key_id: str
    payload: bytes
    fetched_at: dt.datetime
    expires_at: dt.datetime


class CacheStore(Protocol):
    """Where cached facets live (core provides one on the database). `blocking_ok` says a call is cheaper run
    inline than handed to a thread (a local SQLite file); otherwise calls go through a worker thread."""

    blocking_ok: bool

    def get_many(self, keys: Iterable[str]) -> list[CachedFacet]: ...

    def put_many(self, rows: Iterable[CachedFacet]) -> None: ...


MEMO_TTL_S = 2.0


class RowMemo:
    """key → (encrypted row, until when this process may use it without asking the store).

    Bounded: past `max_entries` the oldest entry goes (insertion order). Meant for the event loop; each operation
    is a single dict step, so a stray call from another thread cannot corrupt it."""

    def __init__(self, ttl_s: float = MEMO_TTL_S, max_entries: int = 4096):
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._rows: dict[str, tuple[CachedFacet, float]] = {}

    def get(self, key: str, now: float) -> CachedFacet | None:
        entry = self._rows.get(key)
        if entry is None:
            return None
        if entry[1] < now:
            self._rows.pop(key, None)
            return None
        return entry[0]

    def put(self, row: CachedFacet, now: float) -> None:
        rows = self._rows
        rows.pop(row.key, None)
        if len(rows) >= self.max_entries:
            rows.pop(next(iter(rows)), None)
        rows[row.key] = (row, now + self.ttl_s)

    def drop(self, key: str) -> None:
        self._rows.pop(key, None)

    def clear(self) -> None:
        self._rows.clear()


class RecordCache:
    """Encrypted per-facet cache with a freshness time per agency."""

    def __init__(
        self,
        store: CacheStore,
        keys: DataKeys,
        hash_key: bytes,
        freshness_s: Mapping[str, float],
        default_freshness_s: float,
        *,
        memo: RowMemo | None = None,
        records: RecordMemo | None = None,
    ):
        self.store, self.keys, self.hash_key = store, keys, hash_key
        self.freshness_s, self.default_freshness_s = dict(freshness_s), default_freshness_s
        self.memo = memo if memo is not None else RowMemo()
        self.records = records if records is not None else RecordMemo()

    def row_key(self, nik: str, facet: str) -> str:
        return subject_hash(self.hash_key, f"{nik}|{facet}")

    def record_key(self, nik: str) -> str:
        """Where `self.records` keeps `nik`'s assembled records: a keyed hash, never the NIK — the same one the
        audit log names the citizen by (`identity.secrecy.subject_hash` with the bus's NIK hash key), so a read
        computes it once."""
        return subject_hash(self.hash_key, nik)

    def fresh_until(self, facets: Iterable[Facet]) -> dt.datetime:
        """When the first of these cached facets stops being fresh (as `put` computed their rows' expiry)."""
        return min(
            f.provenance.fetched_at
            + dt.timedelta(seconds=self.freshness_s.get(f.provenance.agency, self.default_freshness_s))
            for f in facets
        )

    async def get(self, nik: str, facets: Iterable[str]) -> dict[str, Facet]:
        """Fresh cached facets of `nik` among `facets` (marked `cached`); stale or unreadable rows are ignored.

        Rows come from this process's memo when it has them fresh, else from the store (one read for all)."""
        wanted = {self.row_key(nik, facet): facet for facet in facets}
        now, clock = utcnow(), time.monotonic()
        found: dict[str, Facet] = {}
        missing: list[str] = []
        for key in wanted:
            row = self.memo.get(key, clock)
            facet = self._open(row) if row is not None and row.expires_at > now else None
            if facet is None:
                missing.append(key)
            else:
                found[facet.name] = facet
        if missing:
            for row in await self._run(self.store.get_many, missing):
                if row.key not in wanted or row.expires_at <= now:
                    continue
                facet = self._open(row)
                if facet is not None:
                    self.memo.put(row, clock)
                    found[facet.name] = facet
        return found

    def _open(self, row: CachedFacet) -> Facet | None:
        """The row's facet (marked `cached`), or None when no known key opens it (retired key, tampered row)."""
        try:
            plaintext = self.keys.decrypt(row.key_id, row.payload, row.key.encode())
        except Exception:  # a retired key or a tampered row: treat as a miss
            self.memo.drop(row.key)
            return None
        facet = Facet.model_validate_json(plaintext)
        facet.provenance.cached = True
        return facet

    async def put(self, nik: str, facets: Iterable[Facet]) -> None:
        """Store the facets that carry an answer (ok / not found); failures are never cached."""
        rows = []
        for facet in facets:
            if facet.provenance.status not in CACHEABLE:
                continue
            ttl = self.freshness_s.get(facet.provenance.agency, self.default_freshness_s)
            if ttl <= 0:
                continue
            key = self.row_key(nik, facet.name)
            key_id, payload = self.keys.encrypt(facet.model_dump_json().encode(), key.encode())
            rows.append(
                CachedFacet(
                    key=key,
                    facet=facet.name,
                    agency=facet.provenance.agency,
                    key_id=key_id,
                    payload=payload,
                    fetched_at=facet.provenance.fetched_at,
                    expires_at=facet.provenance.fetched_at + dt.timedelta(seconds=ttl),
                )
            )
        self.records.drop(self.record_key(nik))  # even with nothing cacheable: a record it was part of changed
        if rows:
            await self._run(self.store.put_many, rows)
            clock = time.monotonic()
            for row in rows:
                self.memo.put(row, clock)
            self.records.drop(self.record_key(nik))  # and again: one assembled meanwhile from the old rows

    async def _run(self, call: Callable[[list[Any]], T], argument: list[Any]) -> T:
        if getattr(self.store, "blocking_ok", False):
            return call(argument)
        return await asyncio.to_thread(call, argument)


__all__ = ["CachedFacet", "CacheStore", "RecordCache", "RowMemo"]
