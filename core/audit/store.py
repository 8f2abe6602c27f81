"""The database as a `merkle.TreeStore`, and the proofs and exports read from it.

Level 0 is `audit_entry.leaf_hash`, levels >= 1 are `audit_node` rows (written by the sequencer when a subtree
completes). A proof needs at most ~2·log2(n) of them; `prefetch` loads them in one query, so an inclusion proof
at a million entries is one round trip and a few dozen hashes — and, for the API (`cached=True`), only the ~10
nodes below level 10 come from the database (the upper levels are immutable and kept in memory).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from core.audit import merkle
from core.audit.models import checkpoint_table, state_table

CHUNK = 400  # keys per statement


class StoreError(LookupError):
    """A hash the tree needs is missing from the database (damaged or not yet sequenced)."""


_PG_FETCH = (
    "SELECT 0::int2, leaf_index, leaf_hash FROM audit_entry WHERE leaf_index = ANY(%s::int8[]) UNION ALL "
    "SELECT n.level, n.idx, n.hash FROM unnest(%s::int2[], %s::int8[]) AS k(level, idx) "
    "JOIN audit_node n ON n.level = k.level AND n.idx = k.idx"
)
CACHE_LEVEL = 10  # stored nodes of this level and above cover >= 1,024 entries each: few, and in every proof
CACHE_MAX = 250_000  # nodes per database (~60 MB at most; 2,000 at a million entries)


class _UpperNodes:
    """The upper levels of one database's tree, shared by the proofs a process serves.

    A stored subtree hash never changes once committed (the tree is append-only), so these can be kept for the
    life of the process: a proof at a million entries then asks the database for its ~10 lower nodes only. Only
    reads of committed data fill it (`cached=True`: the API), never the sequencer, whose uncommitted nodes may
    roll back and which must see the stored tree as it is. `first` is the log's leaf 0, fetched with every
    query: a database recreated under the same URL empties the cache instead of serving another log's hashes.
    """

    __slots__ = ("first", "nodes")

    def __init__(self) -> None:
        self.first: bytes | None = None
        self.nodes: dict[tuple[int, int], bytes] = {}


_upper: dict[str, _UpperNodes] = {}
_upper_lock = threading.Lock()


def _upper_for(conn: Connection) -> _UpperNodes:
    key = conn.engine.url.render_as_string(hide_password=True)
    cache = _upper.get(key)
    if cache is None:
        with _upper_lock:
            cache = _upper.setdefault(key, _UpperNodes())
    return cache


class DbTreeStore:
    """`TreeStore` reading one connection (so it sees the caller's transaction), with a small memo and, when
    `cached` (committed data only), the process-wide cache of the tree's upper levels."""

    def __init__(self, conn: Connection, *, cached: bool = False) -> None:
        self.conn = conn
        self.memo: dict[tuple[int, int], bytes] = {}
        self.upper = _upper_for(conn) if cached else None

    def prefetch(self, wanted: Iterable[tuple[int, int]]) -> None:
        """Load every wanted node not yet memoised: one statement per CHUNK keys (one round trip for a proof).

        Hand-written SQL on purpose: on SQLite `(level = ? AND idx IN (…)) OR …` per level uses the primary key
        (it scans the whole table for a row-value `IN (VALUES …)`); on PostgreSQL one fixed text with array
        parameters (`_fetch_pg`); and a proof's ~20 keys would cost more to build and compile as a SQLAlchemy
        expression than to fetch. With `cached`, upper-level nodes come from `_UpperNodes` and the query also
        reads leaf 0 to check the cache still belongs to this log.
        """
        memo, upper = self.memo, self.upper
        need, hits = [], []
        for key in set(wanted):
            if key in memo:
                continue
            if upper is not None and key[0] >= CACHE_LEVEL and key in upper.nodes:
                hits.append(key)
                continue
            need.append(key)
        if upper is not None and (need or hits) and (0, 0) not in memo and (0, 0) not in need:
            need.append((0, 0))  # the log's identity, checked against the cache's (see _UpperNodes)
        need.sort()
        for k in range(0, len(need), CHUNK):
            self._fetch(need[k : k + CHUNK])
        if upper is None:
            return
        first = memo.get((0, 0))
        if first is not None and upper.first != first:
            upper.nodes.clear()  # another log under this URL: forget the old one's hashes, fetch these
            upper.first = first
            for k in range(0, len(hits), CHUNK):
                self._fetch(hits[k : k + CHUNK])
            hits = []
        nodes = upper.nodes
        gone = []
        for key in hits:
            h = nodes.get(key)  # another thread may have just emptied the cache
            if h is None:
                gone.append(key)
            else:
                memo[key] = h
        for k in range(0, len(gone), CHUNK):
            self._fetch(gone[k : k + CHUNK])
        if len(nodes) < CACHE_MAX:
            for key in need:
                if key[0] >= CACHE_LEVEL and key in memo:
                    nodes[key] = memo[key]

    def _fetch(self, keys: list[tuple[int, int]]) -> None:
        if self.conn.dialect.name == "postgresql":
            self._fetch_pg(keys)
            return
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            by_level.setdefault(level, []).append(index)
        parts, params = [], []
        leaves = by_level.pop(0, None)
        if leaves:
            parts.append(
                f"SELECT 0, leaf_index, leaf_hash FROM audit_entry "
                f"WHERE leaf_index IN ({', '.join([mark] * len(leaves))})"
            )
            params += leaves
        if by_level:
            terms = []
            for level, indexes in by_level.items():
                terms.append(f"(level = {mark} AND idx IN ({', '.join([mark] * len(indexes))}))")
                params += [level, *indexes]
            parts.append(f"SELECT level, idx, hash FROM audit_node WHERE {' OR '.join(terms)}")
        for level, index, h in self.conn.exec_driver_sql(" UNION ALL ".join(parts), tuple(params)):
            self.memo[(level, index)] = bytes(h)

    def _fetch_pg(self, keys: list[tuple[int, int]]) -> None:
        """PostgreSQL: the same text for every proof, with the keys as arrays, so the driver prepares it after a
        few uses and the server stops planning it (planning cost as much as running it)."""
        leaves = [index for level, index in keys if level == 0]
        levels = [level for level, _ in keys if level]
        idxs = [index for level, index in keys if level]
        for level, index, h in self.conn.exec_driver_sql(_PG_FETCH, (leaves, levels, idxs)):
            self.memo[(level, index)] = bytes(h)

    def node(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self.memo:
            self.prefetch([key])
            if key not in self.memo:
                raise StoreError(f"the log has no stored hash for subtree ({level}, {index})")
        return self.memo[key]

    def subtree(self, start: int, end: int) -> bytes:
        return merkle.fold([self.node(lv, ix) for lv, ix in merkle.perfect_subtrees(start, end)])


def tree_size(conn: Connection) -> int:
    """How many entries are sequenced."""
    return int(conn.execute(select(state_table.c.size).where(state_table.c.id == 1)).scalar_one())


def _check_range(size: int, tree: int) -> None:
    if size > tree:
        raise StoreError(f"the log holds {tree} sequenced entries, not {size}")


def inclusion_proofs(
    conn: Connection, indexes: Sequence[int], size: int, *, check_size: bool = True, cached: bool = False
) -> list[list[bytes]]:
    """Audit paths of several leaves in the tree of `size`, fetching every node they need at once (one round
    trip; `check_size=False` when the caller already knows `size` is sequenced, e.g. a checkpoint's; `cached`
    for readers of committed data, see `_UpperNodes`)."""
    return _inclusion(conn, indexes, size, check_size, cached)[1]


def _inclusion(
    conn: Connection, indexes: Sequence[int], size: int, check_size: bool, cached: bool
) -> tuple[DbTreeStore, list[list[bytes]]]:
    if check_size:
        _check_range(size, tree_size(conn))
    tree = DbTreeStore(conn, cached=cached)
    ranges = [merkle.inclusion_ranges(i, size) for i in indexes]
    wanted = merkle.nodes_for(r for rs in ranges for r in rs)
    wanted.update((0, i) for i in indexes)  # the leaves themselves ride along (leaf_and_proof)
    tree.prefetch(wanted)
    return tree, [[tree.subtree(a, b) for a, b in rs] for rs in ranges]


def inclusion_proof(
    conn: Connection, index: int, size: int, *, check_size: bool = True, cached: bool = False
) -> list[bytes]:
    return inclusion_proofs(conn, [index], size, check_size=check_size, cached=cached)[0]


def leaf_and_proof(
    conn: Connection, index: int, size: int, *, check_size: bool = True, cached: bool = False
) -> tuple[bytes | None, list[bytes]]:
    """Leaf hash of entry `index` (None if the row is missing) and its audit path in the tree of `size`, in the
    same single query."""
    tree, proofs = _inclusion(conn, [index], size, check_size, cached)
    return tree.memo.get((0, index)), proofs[0]


def consistency_proof(
    conn: Connection, size1: int, size2: int, *, check_size: bool = True, cached: bool = False
) -> list[bytes]:
    """Proof that the tree of `size1` is a prefix of the tree of `size2` (both sequenced; the sequencer, whose
    state row is not yet updated, passes `check_size=False` and never `cached`)."""
    if check_size:
        _check_range(size2, tree_size(conn))
    if size1 == 0 and size2 >= 0:
        return []  # the empty tree is a prefix of every tree (checkpoint.check_consistent)
    tree = DbTreeStore(conn, cached=cached)
    ranges = merkle.consistency_ranges(size1, size2)
    tree.prefetch(merkle.nodes_for(ranges))
    return [tree.subtree(a, b) for a, b in ranges]


def root(conn: Connection, size: int) -> bytes:
    """Root of the tree of `size` from the stored subtrees."""
    _check_range(size, tree_size(conn))
    tree = DbTreeStore(conn)
    nodes = merkle.prefix_nodes(size)
    tree.prefetch(nodes)
    return merkle.fold([tree.node(lv, ix) for lv, ix in nodes])


# --- checkpoints ------------------------------------------------------------------------------


def latest_checkpoint(conn: Connection) -> Any | None:
    """The newest signed checkpoint row (size, root, note, signed_us), or None before the first."""
    c = checkpoint_table.c
    return conn.execute(select(c.size, c.root, c.note, c.signed_us).order_by(c.size.desc()).limit(1)).first()


def checkpoint_at(conn: Connection, size: int) -> Any | None:
    c = checkpoint_table.c
    return conn.execute(select(c.size, c.root, c.note, c.signed_us).where(c.size == size)).first()


def checkpoint_notes(conn: Connection, lo: int, hi: int) -> list[str]:
    """Signed notes of every checkpoint with lo <= size <= hi, ascending."""
    c = checkpoint_table.c
    return list(conn.execute(select(c.note).where(c.size >= lo, c.size <= hi).order_by(c.size)).scalars())
