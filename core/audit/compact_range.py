"""The RFC 6962 compact range: a tree prefix `[0, size)` kept as one hash per set bit of `size`, and the one
append that extends it.

Why one append: the tree in memory, the sequencer's stored tree and the offline verifier all grow a prefix the
same way — push the new subtree, and while the new size's low bit says the left neighbour is complete, merge the
two. They differ only in what they do with the interior nodes that creates: the stores keep them (proofs are
then a few lookups), the verifier needs only the root. So the loop is written once (`append`) and takes a visitor
for each node it creates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from itertools import islice

from core.audit import merkle
from core.audit.merkle import HASH_SIZE, MAX_SIZE, check_size, fold

Visit = Callable[[int, int, bytes], None]
"""Called with `(level, index, hash)` for each interior node an append creates: the perfect subtree over leaves
`[index << level, (index + 1) << level)`, as `merkle.TreeStore.node` addresses it."""

_sha256 = hashlib.sha256
_LEAF, _NODE = merkle.LEAF_PREFIX, merkle.NODE_PREFIX
BLOCK = 4096  # entries hashed per block by `CompactRange.append_entries`
MAX_LEVEL = MAX_SIZE.bit_length()


def append(stack: list[bytes], size: int, hash_: bytes, level: int = 0, visit: Visit | None = None) -> None:
    """Append a perfect subtree of `2**level` leaves (level 0: a leaf hash) to the compact range `stack` of a
    tree of `size` leaves; the caller then adds `2**level` to its size. `size` must be a multiple of `2**level`.

    No checks and no object of its own: this runs once per entry on the sequencer's and the verifier's hot
    paths."""
    i = size >> level
    while i & 1:
        hash_ = _sha256(_NODE + stack.pop() + hash_).digest()
        i >>= 1
        level += 1
        if visit is not None:
            visit(level, i, hash_)
    stack.append(hash_)


class CompactRange:
    """Streaming hasher of a tree prefix `[0, size)`: keeps only one hash per set bit of size.

    Lets a verifier recompute a root from (compact range of the entries before an export) +
    (the exported entries) + (perfect subtrees after it) in one pass and O(log n) memory, and read
    off the root of every intermediate size on the way.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        check_size("size", size)
        if len(hashes) != size.bit_count():
            raise ValueError(f"a compact range of size {size} has {size.bit_count()} hashes, got {len(hashes)}")
        for h in hashes:
            if len(h) != HASH_SIZE:
                raise ValueError(f"a subtree hash is {HASH_SIZE} bytes, got {len(h)}")
        self.size = size
        self.hashes = list(hashes)

    def append_leaf(self, leaf_hash_: bytes) -> None:
        """Append one leaf hash (caller guarantees 32 bytes; this sits on the hot path)."""
        append(self.hashes, self.size, leaf_hash_)
        self.size += 1

    def append_entries(self, entries: Iterable[bytes]) -> None:
        """Hash and append raw entries (the fast path for recomputing a root over many): they go in blocks of up
        to BLOCK, each cut into the largest aligned perfect subtrees, hashed level by level (`merkle.root`) and
        appended whole — one `append` per subtree, not one per entry."""
        stack, feed = self.hashes, iter(entries)
        while block := [_sha256(_LEAF + data).digest() for data in islice(feed, BLOCK)]:
            pos, size = 0, self.size
            while pos < len(block):
                aligned = (size & -size).bit_length() - 1 if size else MAX_LEVEL
                level = min(aligned, (len(block) - pos).bit_length() - 1)
                append(stack, size, merkle.root(block[pos : pos + (1 << level)]), level)
                size += 1 << level
                pos += 1 << level
            self.size = size

    def append_subtree(self, level: int, hash_: bytes) -> None:
        """Append a perfect subtree of 2**level leaves; it must start at a multiple of its width."""
        if len(hash_) != HASH_SIZE:
            raise ValueError(f"a subtree hash is {HASH_SIZE} bytes, got {len(hash_)}")
        if self.size & ((1 << level) - 1):
            raise ValueError(f"a level-{level} subtree cannot start at {self.size}")
        append(self.hashes, self.size, hash_, level)
        self.size += 1 << level

    def root(self) -> bytes:
        return fold(self.hashes)

    def copy(self) -> CompactRange:
        c = CompactRange.__new__(CompactRange)
        c.size = self.size
        c.hashes = list(self.hashes)
        return c
