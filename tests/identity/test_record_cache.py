"""The record cache's in-process memo of encrypted rows (identity/cache.py RowMemo): what it saves and when it must
not answer. The store here is a plain in-memory CacheStore, counting reads; the SQL store is exercised through the
API tests (tests/core/api/test_record.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import os
from collections.abc import Iterable

from connectors.base import FacetStatus
from identity.cache import CachedFacet, RecordCache, RowMemo
from identity.clock import utcnow
from identity.model import Facet, Provenance
from identity.secrecy import DataKeys, subject_hash

NIK = "3276014505850001"
HASH_KEY = b"h" * 32


class MemoryStore:
    blocking_ok = True

    def __init__(self) -> None:
        self.rows: dict[str, CachedFacet] = {}
        self.reads = 0

    def get_many(self, keys: Iterable[str]) -> list[CachedFacet]:
        self.reads += 1
        return [self.rows[k] for k in keys if k in self.rows]

    def put_many(self, rows: Iterable[CachedFacet]) -> None:
        for row in rows:
            self.rows[row.key] = row


def keys(*ids: str) -> DataKeys:
    return DataKeys({i: hashlib.sha256(i.encode()).digest() for i in ids}, ids[0])


def facet(name: str = "identity", agency: str = "dukcapil", full_name: str = "SITI") -> Facet:
    return Facet(name=name, provenance=Provenance(agency=agency, fetched_at=utcnow(), status=FacetStatus.ok),
                 data={"full_name": full_name})


def cache(store: MemoryStore, data_keys: DataKeys, *, ttl_s: float = 60.0, freshness_s: float = 300.0,
          memo: RowMemo | None = None) -> RecordCache:
    return RecordCache(store, data_keys, HASH_KEY, {}, freshness_s, memo=memo or RowMemo(ttl_s=ttl_s))


def test_subject_hash_is_hmac_sha256() -> None:
    assert subject_hash(HASH_KEY, NIK) == hmac.new(HASH_KEY, NIK.encode(), hashlib.sha256).hexdigest()
    assert subject_hash(bytearray(HASH_KEY), NIK) == subject_hash(HASH_KEY, NIK)
    assert subject_hash(b"other", NIK) != subject_hash(HASH_KEY, NIK)


def test_rows_written_or_read_are_served_from_memory_encrypted() -> None:
    store = MemoryStore()
    ours = cache(store, keys("k1"))
    asyncio.run(ours.put(NIK, [facet(), facet("vehicles", "samsat")]))
    found = asyncio.run(ours.get(NIK, ["identity", "vehicles"]))
    assert store.reads == 0, "rows this process just wrote need no store read"
    assert set(found) == {"identity", "vehicles"} and all(f.provenance.cached for f in found.values())
    assert found["identity"].data == {"full_name": "SITI"}
    for row, _ in ours.memo._rows.values():  # what memory holds is the stored ciphertext, keyed without the NIK
        assert NIK not in row.key and NIK.encode() not in row.payload and b"SITI" not in row.payload

    other = cache(store, keys("k1"))  # another process: one store read, then memory
    assert set(asyncio.run(other.get(NIK, ["identity", "vehicles"]))) == {"identity", "vehicles"}
    assert set(asyncio.run(other.get(NIK, ["identity", "vehicles"]))) == {"identity", "vehicles"}
    assert store.reads == 1
    found["identity"].data["full_name"] = "changed"  # a served facet is a copy: memory is untouched
    assert asyncio.run(other.get(NIK, ["identity"]))["identity"].data == {"full_name": "SITI"}


def test_a_write_replaces_the_remembered_row() -> None:
    store = MemoryStore()
    ours = cache(store, keys("k1"))
    asyncio.run(ours.put(NIK, [facet(full_name="OLD")]))
    asyncio.run(ours.put(NIK, [facet(full_name="NEW")]))  # refresh=true in this process
    assert asyncio.run(ours.get(NIK, ["identity"]))["identity"].data == {"full_name": "NEW"}


def test_memory_lasts_only_its_ttl() -> None:
    store = MemoryStore()
    writer, reader = cache(store, keys("k1")), cache(store, keys("k1"), ttl_s=0.05)
    asyncio.run(writer.put(NIK, [facet(full_name="OLD")]))
    asyncio.run(reader.get(NIK, ["identity"]))
    asyncio.run(writer.put(NIK, [facet(full_name="NEW")]))  # another process refreshes
    assert asyncio.run(reader.get(NIK, ["identity"]))["identity"].data == {"full_name": "OLD"}  # within the TTL
    asyncio.run(asyncio.sleep(0.06))
    assert asyncio.run(reader.get(NIK, ["identity"]))["identity"].data == {"full_name": "NEW"}
    assert store.reads == 2


def test_a_stale_row_is_never_served_from_memory() -> None:
    store = MemoryStore()
    ours = cache(store, keys("k1"))
    asyncio.run(ours.put(NIK, [facet()]))
    key = ours.row_key(NIK, "identity")
    row, until = ours.memo._rows[key]
    stale = CachedFacet(**{**row.__dict__, "expires_at": utcnow() - dt.timedelta(seconds=1)})
    ours.memo._rows[key] = (stale, until)
    store.rows[key] = stale
    assert asyncio.run(ours.get(NIK, ["identity"])) == {}
    assert store.reads == 1, "a stale remembered row sends the lookup to the store"


def test_a_row_under_a_retired_key_is_read_again_from_the_store() -> None:
    store = MemoryStore()
    old = cache(store, keys("k1"))
    asyncio.run(old.put(NIK, [facet()]))
    # rotation elsewhere: the store's row is re-encrypted under k2 and k1 retired; this process still remembers k1's
    rotated = cache(MemoryStore(), keys("k2"))
    asyncio.run(rotated.put(NIK, [facet()]))
    store.rows.update(rotated.store.rows)  # type: ignore[attr-defined]
    old.keys = keys("k2")
    found = asyncio.run(old.get(NIK, ["identity"]))
    assert found["identity"].data == {"full_name": "SITI"} and store.reads == 1
    assert old.memo._rows[old.row_key(NIK, "identity")][0].key_id == "k2"


def test_memory_is_bounded() -> None:
    memo = RowMemo(ttl_s=60, max_entries=2)
    rows = [CachedFacet(key=f"k{i}", facet="identity", agency="dukcapil", key_id="k1", payload=os.urandom(8),
                        fetched_at=utcnow(), expires_at=utcnow()) for i in range(3)]
    for row in rows:
        memo.put(row, 0.0)
    assert memo.get("k0", 0.0) is None and memo.get("k1", 0.0) is rows[1] and memo.get("k2", 0.0) is rows[2]
    assert memo.get("k2", 61.0) is None
