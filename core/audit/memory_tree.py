"""An append-only Merkle tree in memory, keeping every perfect subtree hash: the `TreeStore` of tests, the
benchmark and small offline tools (the log's own store is the database, core/audit/store.py)."""

from __future__ import annotations

from collections.abc import Iterable

from core.audit import compact_range
from core.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    consistency_proof,
    fold,
    inclusion_proof,
    leaf_hash,
    perfect_subtrees,
)

MAX_LEVELS = compact_range.MAX_LEVEL + 1  # levels 0..64 of a tree of at most 2**64 - 1 leaves


class MemoryTree:
    """Append-only tree in memory keeping every perfect subtree hash, level by level.

    Each level is one bytearray of 32-byte hashes, so a million leaves cost ~64 MB rather than
    the ~140 MB of two million `bytes` objects; appends are amortised two hashes.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels = levels = [bytearray() for _ in range(MAX_LEVELS)]
        self._frontier: list[bytes] = []  # the compact range of the whole tree
        self._size = 0

        def keep(level: int, index: int, hash_: bytes) -> None:
            """The visitor of `compact_range.append`: a new node goes at the end of its level (a closure, not a
            method: no bound method to make per append)."""
            levels[level] += hash_

        self._keep = keep
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return self._size

    def append(self, leaf_hash_: bytes) -> int:
        """Add one leaf hash; returns its index."""
        if len(leaf_hash_) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf_hash_)}")
        index = self._size
        self._levels[0] += leaf_hash_
        compact_range.append(self._frontier, index, leaf_hash_, 0, self._keep)
        self._size = index + 1
        return index

    def append_entry(self, data: bytes) -> int:
        """Hash entry bytes as a leaf and append it."""
        return self.append(leaf_hash(data))

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for h in leaf_hashes:
            self.append(h)

    def node(self, level: int, index: int) -> bytes:
        if level < 0 or level >= max(1, self._size.bit_length()):
            raise IndexError(f"no level {level} in a tree of size {self._size}")
        row = self._levels[level]
        off = index * HASH_SIZE
        if index < 0 or off + HASH_SIZE > len(row):
            raise IndexError(f"no complete subtree ({level}, {index}) in a tree of size {self._size}")
        return bytes(row[off : off + HASH_SIZE])

    def leaf_hash(self, index: int) -> bytes:
        return self.node(0, index)

    def subtree(self, start: int, end: int) -> bytes:
        if not 0 <= start < end <= self._size:
            raise IndexError(f"range [{start}, {end}) is outside a tree of size {self._size}")
        return fold([self.node(level, index) for level, index in perfect_subtrees(start, end)])

    def _size_or_current(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise ValueError(f"size {size} is beyond the tree's {self._size} leaves")
        return size

    def root(self, size: int | None = None) -> bytes:
        size = self._size_or_current(size)
        return self.subtree(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._size_or_current(size), self.subtree)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        return consistency_proof(size1, self._size_or_current(size2), self.subtree)
