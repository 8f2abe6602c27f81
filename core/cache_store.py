"""The record cache's storage on the database (the cache logic and crypto live in identity/cache.py).

Warm lookups are the hot path: the read is one driver-level statement on a pooled DBAPI connection (an ORM
session, or even a compiled Core select, costs several times the query itself); writes use Core.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from core.db.models import FacetCacheRow
from core.db.tables import table_of
from identity.cache import CachedFacet
from identity.clock import as_utc

TABLE = table_of(FacetCacheRow)


def timestamp(value: dt.datetime | str) -> dt.datetime:
    """A timezone-aware datetime from a driver value (SQLite returns the stored text; written in UTC)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return as_utc(value)


class SqlCacheStore:
    """CacheStore on the `facet_cache` table; a write replaces the row of the same key."""

    def __init__(self, engine: Engine):
        self.engine = engine
        # A local SQLite read takes less time than handing it to a thread; a network database's does not.
        self.blocking_ok = engine.dialect.name == "sqlite"
        self._marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._select: dict[int, str] = {}

    def _select_sql(self, count: int) -> str:
        sql = self._select.get(count)
        if sql is None:
            sql = (
                "SELECT key, facet, agency, key_id, payload, fetched_at, expires_at FROM facet_cache "
                f"WHERE key IN ({', '.join([self._marker] * count)})"
            )
            self._select[count] = sql
        return sql

    def get_many(self, keys: Iterable[str]) -> list[CachedFacet]:
        keys = list(keys)
        if not keys:
            return []
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(self._select_sql(len(keys)), tuple(keys))
            rows = cursor.fetchall()
            cursor.close()
            connection.commit()  # end the read transaction (PostgreSQL drivers open one)
        finally:
            connection.close()
        return [
            CachedFacet(
                key=r[0],
                facet=r[1],
                agency=r[2],
                key_id=r[3],
                payload=bytes(r[4]),
                fetched_at=timestamp(r[5]),
                expires_at=timestamp(r[6]),
            )
            for r in rows
        ]

    def put_many(self, rows: Iterable[CachedFacet]) -> None:
        rows = list(rows)
        if not rows:
            return
        values = [
            {
                "key": r.key,
                "facet": r.facet,
                "agency": r.agency,
                "key_id": r.key_id,
                "payload": r.payload,
                "fetched_at": r.fetched_at,
                "expires_at": r.expires_at,
            }
            for r in rows
        ]
        try:
            with self.engine.begin() as connection:
                connection.execute(delete(TABLE).where(TABLE.c.key.in_([r.key for r in rows])))
                connection.execute(insert(TABLE), values)
        except IntegrityError:  # a concurrent lookup stored the same facet first: its row is as fresh
            pass
