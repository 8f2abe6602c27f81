"""The record cache's storage on the database (the cache logic and crypto live in identity/cache.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from core.db.models import FacetCacheRow
from identity.cache import CachedFacet


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


class SqlCacheStore:
    """CacheStore on the `facet_cache` table; a write replaces the row of the same key."""

    def __init__(self, sessions: Callable[[], Session]):
        self.sessions = sessions

    def get_many(self, keys: Iterable[str]) -> list[CachedFacet]:
        keys = list(keys)
        if not keys:
            return []
        with self.sessions() as session:
            rows = session.exec(select(FacetCacheRow).where(col(FacetCacheRow.key).in_(keys))).all()
        return [CachedFacet(key=r.key, facet=r.facet, agency=r.agency, key_id=r.key_id, payload=r.payload,
                            fetched_at=aware(r.fetched_at), expires_at=aware(r.expires_at)) for r in rows]

    def put_many(self, rows: Iterable[CachedFacet]) -> None:
        rows = list(rows)
        with self.sessions() as session:
            session.exec(delete(FacetCacheRow).where(col(FacetCacheRow.key).in_([r.key for r in rows])))
            session.add_all(FacetCacheRow(key=r.key, facet=r.facet, agency=r.agency, key_id=r.key_id,
                                          payload=r.payload, fetched_at=r.fetched_at, expires_at=r.expires_at)
                            for r in rows)
            try:
                session.commit()
            except IntegrityError:  # a concurrent lookup stored the same facet first: its row is as fresh
                session.rollback()
