"""Data-at-rest key rotation: re-encrypt every stored ciphertext under the active key, then retire the old keys.

What is encrypted (AES-256-GCM, each blob tagged with its key id): the record cache (`facet_cache.payload`, bound
to its row key) and applications (`application.payload` — NIK and payload — and `application.result`, each bound to
the application id and part). Re-encryption goes in batches, each row updated only if it still carries the key it
was read with, so processes writing at the same time lose nothing. A cache row no key can open is deleted (it is a
cache: the next lookup fetches it again); an application that cannot be opened is reported and blocks retiring.
How the key set itself changes (secrets file or GERBANG_DATA_KEYS) is in docs/security.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, func, select, update

from core.bus.models import Application
from core.db.models import FacetCacheRow
from core.db.tables import table_of
from identity.secrecy import DataKeys, seal, unseal

CACHE = table_of(FacetCacheRow)
APPS = table_of(Application)
BATCH = 500


@dataclass
class Reencrypted:
    """What one pass did."""

    cache_rows: int = 0
    cache_dropped: int = 0
    payloads: int = 0
    results: int = 0
    unreadable: list[str] = field(default_factory=list)  # application ids no known key opens


def keys_in_use(engine: Engine) -> Counter[str]:
    """How many stored ciphertexts each key id protects."""
    counts: Counter[str] = Counter()
    with engine.connect() as conn:
        for column, table in ((CACHE.c.key_id, CACHE), (APPS.c.key_id, APPS), (APPS.c.result_key_id, APPS)):
            for key_id, count in conn.execute(
                select(column, func.count()).select_from(table).where(column.is_not(None)).group_by(column)
            ):
                counts[key_id] += count
    return counts


def reencrypt(engine: Engine, keys: DataKeys) -> Reencrypted:
    """Move every ciphertext not under `keys.active` to it."""
    done = Reencrypted()
    _cache(engine, keys, done)
    _applications(engine, keys, done, "request")
    _applications(engine, keys, done, "result")
    return done


def _cache(engine: Engine, keys: DataKeys, done: Reencrypted) -> None:
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(CACHE.c.key, CACHE.c.key_id, CACHE.c.payload).where(CACHE.c.key_id != keys.active).limit(BATCH)
            ).all()
            for row in rows:
                aad = row.key.encode()
                try:
                    plain = keys.decrypt(row.key_id, bytes(row.payload), aad)
                except Exception:  # unknown (retired) key or damaged: a cache row is disposable
                    conn.execute(delete(CACHE).where(CACHE.c.key == row.key, CACHE.c.key_id == row.key_id))
                    done.cache_dropped += 1
                    continue
                key_id, blob = keys.encrypt(plain, aad)
                done.cache_rows += conn.execute(
                    update(CACHE)
                    .where(CACHE.c.key == row.key, CACHE.c.key_id == row.key_id)
                    .values(key_id=key_id, payload=blob)
                ).rowcount
        if len(rows) < BATCH:
            return


def _applications(engine: Engine, keys: DataKeys, done: Reencrypted, part: str) -> None:
    kid, blob = (APPS.c.key_id, APPS.c.payload) if part == "request" else (APPS.c.result_key_id, APPS.c.result)
    skip: set[str] = set()
    while True:
        with engine.begin() as conn:
            query = select(APPS.c.id, kid, blob).where(kid.is_not(None), kid != keys.active)
            if skip:
                query = query.where(APPS.c.id.not_in(skip))
            rows = conn.execute(query.order_by(APPS.c.id).limit(BATCH)).all()
            for app_id, key_id, data in rows:
                try:
                    value = unseal(keys, app_id, part, key_id, bytes(data))
                except Exception:
                    skip.add(app_id)
                    done.unreadable.append(app_id)
                    continue
                new_kid, new_blob = seal(keys, app_id, part, value)
                changed = conn.execute(
                    update(APPS)
                    .where(APPS.c.id == app_id, kid == key_id)
                    .values({kid.name: new_kid, blob.name: new_blob})
                ).rowcount
                if part == "request":
                    done.payloads += changed
                else:
                    done.results += changed
        if len(rows) < BATCH:
            return
