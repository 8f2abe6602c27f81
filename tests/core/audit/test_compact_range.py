"""The one compact-range append against the plain root computation: every size from 0 to 300, leaf by leaf and
in perfect subtrees, and the nodes it hands its visitor are exactly the tree's complete subtrees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.audit import compact_range, merkle
from core.audit.compact_range import CompactRange
from core.audit.memory_tree import MemoryTree

LEAVES = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(300)]


def perfect_nodes(size: int) -> dict[tuple[int, int], bytes]:
    """Every complete subtree of level >= 1 in a tree of `size` leaves, by the plain root computation."""
    return {
        (level, index): merkle.root(LEAVES[index << level : (index + 1) << level])
        for level in range(1, size.bit_length())
        for index in range(size >> level)
    }


@settings(deadline=None)  # the tree sizes, not the clock, bound these: a loaded machine must not fail them
@given(st.integers(min_value=0, max_value=300))
def test_appending_leaves_gives_the_plain_root_and_visits_every_complete_subtree(size: int) -> None:
    stack: list[bytes] = []
    visited: dict[tuple[int, int], bytes] = {}
    for i, leaf in enumerate(LEAVES[:size]):
        compact_range.append(stack, i, leaf, 0, lambda level, index, h: visited.__setitem__((level, index), h))
    assert merkle.fold(stack) == merkle.root(LEAVES[:size])
    assert len(stack) == size.bit_count()
    assert visited == perfect_nodes(size)


def test_every_size_up_to_300_leaf_by_leaf() -> None:
    cr, tree = CompactRange(), MemoryTree()
    for size in range(301):
        assert cr.root() == merkle.root(LEAVES[:size]) == tree.root()
        if size < 300:
            cr.append_leaf(LEAVES[size])
            tree.append(LEAVES[size])


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=300), st.data())
def test_appending_perfect_subtrees_gives_the_plain_root(size: int, data: st.DataObject) -> None:
    """A prefix grown by whole aligned subtrees (the verifier's suffix), in any order the alignment allows."""
    cr = CompactRange()
    while cr.size < size:
        fits = [lv for lv in range(9) if cr.size % (1 << lv) == 0 and cr.size + (1 << lv) <= size]
        level = data.draw(st.sampled_from(fits))
        cr.append_subtree(level, merkle.root(LEAVES[cr.size : cr.size + (1 << level)]))
    assert cr.size == size and cr.root() == merkle.root(LEAVES[:size])


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=300), st.integers(min_value=0, max_value=300), st.integers(1, 9))
def test_appending_entries_in_blocks_gives_the_plain_root(size: int, cut: int, block: int) -> None:
    """`append_entries` (whole aligned subtrees per block) from any starting size, with any block length."""
    entries = [i.to_bytes(2, "big") for i in range(size)]
    cut = min(cut, size)
    cr = CompactRange()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compact_range, "BLOCK", block)
        cr.append_entries(entries[:cut])
        cr.append_entries(entries[cut:])
    assert cr.size == size and cr.root() == merkle.root(LEAVES[:size])
