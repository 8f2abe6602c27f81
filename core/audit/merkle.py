"""RFC 6962 / RFC 9162 Merkle tree: hashing, proofs, and a store of complete subtrees.

Why the shape: a log that must answer proofs at a million entries in well under a millisecond
cannot recompute subtrees. It keeps the hash of every *perfect* (complete, aligned) subtree,
addressed as `(level, index)` — the subtree covering leaves `[index * 2**level, (index+1) * 2**level)`,
like golang.org/x/mod/sumdb/tlog's stored hashes or C2SP tlog tiles. Every proof element is
either such a node or the fold of a few of them along the tree's right edge, so proof
generation is a handful of lookups whatever the size. `inclusion_ranges` / `consistency_ranges`
say *which* subtrees a proof needs, `nodes_for` which stored nodes, so a database can fetch
them all in one query. Growing a tree: core/audit/compact_range.py; stores: core/audit/memory_tree.py
(in memory) and core/audit/store.py (the database).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_SIZE = 2**64 - 1  # tree sizes and indexes are uint64 in every format we speak

_sha256 = hashlib.sha256
LEAF_PREFIX = b"\x00"  # RFC 6962 domain separation: a leaf hash is SHA-256(0x00 || entry) ...
NODE_PREFIX = b"\x01"  # ... and a node hash SHA-256(0x01 || left || right); every module takes them from here
_LEAF, _NODE = LEAF_PREFIX, NODE_PREFIX

Subtree = Callable[[int, int], bytes]
"""Returns the Merkle tree hash of leaves `[start, end)` (a valid subtree, see `is_valid_subtree`)."""


class ProofError(ValueError):
    """A Merkle proof (or the data it covers) does not verify."""


class InclusionError(ProofError):
    """An inclusion proof does not show the leaf at that index under that root."""


class ConsistencyError(ProofError):
    """A consistency proof does not show that the older tree is a prefix of the newer."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one entry's bytes."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node."""
    return _sha256(_NODE + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 MTH over already-hashed leaves, level by level (no recursion, no copies of the input).

    Pairing neighbours on each level and carrying an odd last node up unchanged builds exactly the
    RFC's left-balanced tree (the split at the largest power of two below n).
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    level: Sequence[bytes] = leaf_hashes
    while len(level) > 1:
        nxt = [_sha256(_NODE + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root_of_entries(entries: Iterable[bytes]) -> bytes:
    """MTH over raw entry bytes."""
    return root([leaf_hash(e) for e in entries])


# --- tree shape -------------------------------------------------------------------------------


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def is_valid_subtree(start: int, end: int) -> bool:
    """True if `[start, end)` is a node of some RFC 6962 tree: start is a multiple of bit_ceil(end-start)."""
    if not 0 <= start < end:
        return False
    width = end - start
    ceil = 1 << (width - 1).bit_length()
    return start % ceil == 0


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The stored nodes `(level, index)` whose right fold is the hash of `[start, end)`, left to right.

    Greedy: at each position take the largest aligned perfect subtree that still fits. For a valid
    subtree (and for any prefix `[0, n)`) these are decreasing in size and their right fold is the
    RFC 6962 hash of the range.
    """
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        level = (pos & -pos).bit_length() - 1 if pos else (end - pos).bit_length() - 1
        while pos + (1 << level) > end:
            level -= 1
        out.append((level, pos >> level))
        pos += 1 << level
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """Right fold of decreasing perfect subtrees into one hash: H(a, H(b, H(c, d)))."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = _sha256(_NODE + h + acc).digest()
    return acc


def prefix_nodes(size: int) -> list[tuple[int, int]]:
    """The compact range of `[0, size)`: one perfect subtree per set bit of size, largest first."""
    return perfect_subtrees(0, size)


def suffix_nodes(start: int, size: int) -> list[tuple[int, int]]:
    """Perfect subtrees covering `[start, size)`, left to right (aligned greedy)."""
    return perfect_subtrees(start, size)


def check_size(name: str, value: int) -> None:
    """A tree size or index: an integer in [0, 2**64-1], else ValueError."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SIZE:
        raise ValueError(f"{name} must be an integer in [0, 2**64-1], got {value!r}")


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees `[start, end)` whose hashes form PATH(index, D[0:size]) (RFC 9162 2.1.3.1), in proof order."""
    check_size("index", index)
    check_size("size", size)
    if index >= size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    top_down: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            top_down.append((start + k, end))
            end = start + k
        else:
            top_down.append((start, start + k))
            start += k
    top_down.reverse()
    return top_down


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The subtrees whose hashes form PROOF(size1, D[0:size2]) (RFC 9162 2.1.4.1), in proof order."""
    check_size("size1", size1)
    check_size("size2", size2)
    if size1 == 0 or size1 > size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        return []
    top_down: list[tuple[int, int]] = []
    start, end, m, complete = 0, size2, size1, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                top_down.append((start, end))
            break
        k = _split(n)
        if m <= k:
            top_down.append((start + k, end))
            end = start + k
        else:
            top_down.append((start, start + k))
            start += k
            m -= k
            complete = False
    top_down.reverse()
    return top_down


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """Audit path for leaf `index` in the tree of `size` leaves."""
    return [subtree(a, b) for a, b in inclusion_ranges(index, size)]


def consistency_proof(size1: int, size2: int, subtree: Subtree) -> list[bytes]:
    """Proof that the tree of `size1` leaves is a prefix of the tree of `size2` leaves."""
    return [subtree(a, b) for a, b in consistency_ranges(size1, size2)]


def nodes_for(ranges: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """Every stored node the given subtrees need: prefetch these in one query, then fold."""
    need: set[tuple[int, int]] = set()
    for a, b in ranges:
        need.update(perfect_subtrees(a, b))
    return need


# --- stores -----------------------------------------------------------------------------------


class TreeStore(Protocol):
    """Where a log keeps its perfect-subtree hashes. Level 0 holds the leaf hashes."""

    def node(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree over leaves `[index << level, (index + 1) << level)`."""
        ...


def store_subtree(store: TreeStore) -> Subtree:
    """A `Subtree` callable backed by a store: a few node lookups and at most log2(n) hashes per call."""

    def subtree(start: int, end: int) -> bytes:
        return fold([store.node(level, index) for level, index in perfect_subtrees(start, end)])

    return subtree


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) ---------------------------------------------


def _check_hash(kind: type[ProofError], what: str, value: object) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        got = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise kind(f"{what} must be a {HASH_SIZE}-byte hash, got {got}")


def root_from_inclusion(leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof implies; raises InclusionError if the proof has the wrong shape."""
    _check_hash(InclusionError, "leaf hash", leaf_hash_)
    if not isinstance(index, int) or not isinstance(size, int) or index < 0 or size > MAX_SIZE:
        raise InclusionError(f"bad index/size {index!r}/{size!r}")
    if index >= size:
        raise InclusionError(f"index {index} is not in a tree of size {size}")
    for i, p in enumerate(proof):
        _check_hash(InclusionError, f"proof[{i}]", p)
    fn, sn, r = index, size - 1, bytes(leaf_hash_)
    for p in proof:
        if sn == 0:
            raise InclusionError(f"proof has {len(proof)} hashes, too many for index {index} of {size}")
        if fn & 1 or fn == sn:
            r = _sha256(_NODE + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionError(f"proof has {len(proof)} hashes, too few for index {index} of {size}")
    return r


def verify_inclusion(leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes], root_: bytes) -> None:
    """Raise InclusionError unless `proof` shows leaf `index` of a `size`-leaf tree under `root_`."""
    _check_hash(InclusionError, "root", root_)
    got = root_from_inclusion(leaf_hash_, index, size, proof)
    if got != root_:
        raise InclusionError(f"inclusion proof for index {index} of {size} leads to another root")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Raise ConsistencyError unless `proof` shows tree (size1, root1) is a prefix of (size2, root2).

    Policy (as transparency-dev/merkle, plus strict hash lengths): size1 == 0 is refused here — an
    empty tree is a prefix of everything, which `checkpoint.check_consistent` handles; equal sizes
    need an empty proof and equal roots.
    """
    _check_hash(ConsistencyError, "root1", root1)
    _check_hash(ConsistencyError, "root2", root2)
    for i, p in enumerate(proof):
        _check_hash(ConsistencyError, f"proof[{i}]", p)
    for name, v in (("size1", size1), ("size2", size2)):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_SIZE:
            raise ConsistencyError(f"{name} must be an integer in [0, 2**64-1], got {v!r}")
    if size1 == 0:
        raise ConsistencyError("consistency from an empty tree needs no proof; size1 must be > 0")
    if size2 < size1:
        raise ConsistencyError(f"size2 {size2} is smaller than size1 {size1}")
    if size1 == size2:
        if proof:
            raise ConsistencyError("equal sizes need an empty proof")
        if root1 != root2:
            raise ConsistencyError(f"two different roots for the same size {size1}")
        return
    if not proof:
        raise ConsistencyError(f"empty proof from size {size1} to {size2}")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is a node of the new tree
        path.insert(0, bytes(root1))
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyError(f"proof has too many hashes for {size1} -> {size2}")
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE + c + fr).digest()
            sr = _sha256(_NODE + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(_NODE + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyError(f"proof has too few hashes for {size1} -> {size2}")
    if fr != root1:
        raise ConsistencyError(f"proof does not lead to the root of size {size1}")
    if sr != root2:
        raise ConsistencyError(f"proof does not lead to the root of size {size2}")
