"""RFC 6962/9162 Merkle tree: published vectors, every transparency-dev probe, and generated proofs."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from core.audit import merkle
from core.audit.compact_range import CompactRange
from core.audit.memory_tree import MemoryTree
from core.audit.merkle import ConsistencyError, InclusionError, ProofError

PROBES = json.loads((Path(__file__).parent / "vectors" / "rfc6962_probes.json").read_text())["probes"]

# The one probe we deliberately answer differently (see docs/audit-format.md): upstream accepts
# two equal 12-byte "roots" at size 1 because it never checks hash lengths; we refuse any
# root, leaf hash or proof element that is not 32 bytes.
STRICTER_THAN_UPSTREAM = {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


def h(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr)


def _data(item: dict, side: str = "data") -> bytes:
    if f"{side}_hex" in item:
        return bytes.fromhex(item[f"{side}_hex"])
    return item[f"{side}_ascii"].encode()


def ref_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH straight from the definition (recursive), to cross-check the fast paths."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(ref_root(leaves[:k]), ref_root(leaves[k:]))


# --- hasher and roots -------------------------------------------------------------------------


def test_hasher_vectors(rfc6962):
    hv = rfc6962["hasher"]
    assert merkle.EMPTY_ROOT.hex() == hv["empty_tree_root"]
    for item in hv["leaf_hash"]:
        want = item["hash"] if "hash" in item else base64.b64decode(item["hash_b64"]).hex()
        assert merkle.leaf_hash(_data(item)).hex() == want
    for item in hv["node_hash"]:
        assert merkle.node_hash(_data(item, "left"), _data(item, "right")).hex() == item["hash"]


def test_roots_by_size_and_every_stored_node(rfc6962):
    leaves = [bytes.fromhex(x) for x in rfc6962["leaves_hex"]]
    tree = MemoryTree()
    assert tree.root() == merkle.EMPTY_ROOT
    for size_s, want in rfc6962["roots_by_size"].items():
        size = int(size_s)
        assert merkle.root([merkle.leaf_hash(x) for x in leaves[:size]]).hex() == want
        assert merkle.root_of_entries(leaves[:size]).hex() == want
    tree.extend(merkle.leaf_hash(x) for x in leaves)
    for size_s, want in rfc6962["roots_by_size"].items():
        assert tree.root(int(size_s)).hex() == want
    for level, row in enumerate(rfc6962["node_hashes_by_level"]):
        assert [tree.node(level, i).hex() for i in range(len(row))] == row


def test_fast_root_matches_definition_for_every_size_up_to_300():
    leaves = [i.to_bytes(2, "big") for i in range(300)]
    tree = MemoryTree()
    cr = CompactRange()
    for n in range(301):
        want = ref_root(leaves[:n])
        assert merkle.root([merkle.leaf_hash(x) for x in leaves[:n]]) == want
        assert tree.root() == want
        assert cr.root() == want
        if n < 300:
            tree.append_entry(leaves[n])
            cr.append_leaf(merkle.leaf_hash(leaves[n]))


# --- proof generation -------------------------------------------------------------------------


def test_inclusion_generation_vectors(rfc6962):
    tree = MemoryTree(merkle.leaf_hash(bytes.fromhex(x)) for x in rfc6962["leaves_hex"])
    for v in rfc6962["inclusion_generation"]:
        got = tree.inclusion_proof(v["leafIdx"], v["treeSize"])
        assert [p.hex() for p in got] == v["proof"], v


def test_consistency_generation_vectors(rfc6962):
    tree = MemoryTree(merkle.leaf_hash(bytes.fromhex(x)) for x in rfc6962["leaves_hex"])
    for v in rfc6962["consistency_generation"]:
        got = tree.consistency_proof(v["size1"], v["size2"])
        assert [p.hex() for p in got] == v["proof"], v


def test_real_certificate_transparency_inclusion_proof(rfc6962):
    v = rfc6962["ct_real_inclusion"]
    leaf = merkle.leaf_hash(bytes.fromhex(v["leaf_input_hex"]))
    assert leaf.hex() == v["leaf_hash"]
    proof = [h(x) for x in v["proof"]]
    merkle.verify_inclusion(leaf, v["leafIdx"], v["treeSize"], proof, h(v["root"]))
    with pytest.raises(InclusionError):
        merkle.verify_inclusion(leaf, v["leafIdx"] + 1, v["treeSize"], proof, h(v["root"]))
    with pytest.raises(InclusionError):
        merkle.verify_inclusion(leaf, v["leafIdx"], v["treeSize"], proof[:-1], h(v["root"]))


def _ref_subtree_consistency(tree: MemoryTree, start: int, end: int, size: int, off: int, have: bool) -> list[bytes]:
    """refSubtreeConsistencyProof from transparency-dev/merkle testonly (draft-ietf-plants-merkle-tree-certs)."""
    if start == 0 and end == size:
        return [] if have else [tree.subtree(off, off + size)]
    k = 1 << ((size - 1).bit_length() - 1)
    if end <= k:
        return _ref_subtree_consistency(tree, start, end, k, off, have) + [tree.subtree(off + k, off + size)]
    if k <= start:
        rest = _ref_subtree_consistency(tree, start - k, end - k, size - k, off + k, have)
        return rest + [tree.subtree(off, off + k)]
    return _ref_subtree_consistency(tree, 0, end - k, size - k, off + k, False) + [tree.subtree(off, off + k)]


def _rolling_digests(with_empty_ranges: bool) -> tuple[str, str, str]:
    """The three rolling SHA-256 digests of draft-ietf-plants-merkle-tree-certs' subtree vectors (D[i] = i, n <= 130).

    Upstream (transparency-dev/merkle testonly/vectors_test.go) enumerates non-empty subtrees only;
    the digests recorded in rfc6962_vectors.json also enumerate the empty ranges [s, s), whose hash
    is the empty root and whose proofs are empty. Both enumerations are checked.
    """
    tree = MemoryTree(merkle.leaf_hash(bytes([i])) for i in range(130))

    def valid(s: int, e: int) -> bool:
        return merkle.is_valid_subtree(s, e) or (with_empty_ranges and s == e)

    def sub(s: int, e: int) -> bytes:
        return merkle.EMPTY_ROOT if s == e else tree.subtree(s, e)

    first_end = 0 if with_empty_ranges else 1
    hashes, incl, cons = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    for end in range(first_end, 131):
        for start in range(end + 1):
            if not valid(start, end):
                continue
            hashes.update(f"[{start}, {end}) {sub(start, end).hex()}\n".encode())
            for idx in range(start, end):
                proof = merkle.inclusion_proof(
                    idx - start, end - start, lambda a, b, s=start: tree.subtree(s + a, s + b)
                )
                incl.update((f"{idx} [{start}, {end})" + "".join(" " + p.hex() for p in proof) + "\n").encode())
    for n in range(131):
        for end in range(first_end, n + 1):
            for start in range(end + 1):
                if not valid(start, end):
                    continue
                if start == end:
                    proof = []
                elif start == 0:
                    proof = merkle.consistency_proof(end, n, tree.subtree)  # production code: RFC 9162 PROOF
                else:
                    proof = _ref_subtree_consistency(tree, start, end, n, 0, True)
                cons.update((f"[{start}, {end}) {n}" + "".join(" " + p.hex() for p in proof) + "\n").encode())
    return hashes.hexdigest(), incl.hexdigest(), cons.hexdigest()


def test_rolling_digests_as_recorded_in_the_vectors_file(rfc6962):
    v = rfc6962["rolling_digests_d_i_eq_byte_i_n_le_130"]
    hashes, incl, cons = _rolling_digests(with_empty_ranges=True)
    assert hashes == v["subtree_hashes"]["sha256"]
    assert incl == v["inclusion"]["sha256"]
    assert cons == v["consistency"]["sha256"]


def test_rolling_digests_as_upstream_vectors_test_go():
    assert _rolling_digests(with_empty_ranges=False) == (
        "94a95384a8c69acea9b50d035a58285b3a777cb7a724005faa5e1f1e1190007f",
        "ac2a8f989e44d99e399db448050ff5f19757df53cfb716aa81015d3955d8163f",
        "c586ebbb73a5621baf2140095d87dde934e3b6503a562a1a5215b8209edd083d",
    )


def test_every_generated_proof_verifies_and_tampering_fails():
    tree = MemoryTree(merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(70))
    for n in range(1, 71):
        r = tree.root(n)
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            merkle.verify_inclusion(tree.leaf_hash(i), i, n, proof, r)
            if proof:
                bad = list(proof)
                bad[len(bad) // 2] = bytes(32)
                with pytest.raises(InclusionError):
                    merkle.verify_inclusion(tree.leaf_hash(i), i, n, bad, r)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            merkle.verify_consistency(m, n, tree.root(m), r, proof)
            if m < n:
                with pytest.raises(ConsistencyError):
                    merkle.verify_consistency(m, n, tree.root(m), tree.root(n - 1) if n > m + 1 else bytes(32), proof)


def test_store_backed_proofs_need_only_stored_nodes():
    tree = MemoryTree(merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(1000))
    subtree = merkle.store_subtree(tree)
    assert merkle.inclusion_proof(617, 999, subtree) == tree.inclusion_proof(617, 999)
    assert merkle.consistency_proof(300, 999, subtree) == tree.consistency_proof(300, 999)
    ranges = merkle.inclusion_ranges(617, 999)
    nodes = merkle.nodes_for(ranges)
    fetched = {n: tree.node(*n) for n in nodes}  # what a database would fetch in one query
    proof = [merkle.fold([fetched[n] for n in merkle.perfect_subtrees(a, b)]) for a, b in ranges]
    assert proof == tree.inclusion_proof(617, 999)
    assert len(nodes) < 30


def test_prefix_and_suffix_rebuild_the_root():
    tree = MemoryTree(merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(777))
    for start, end in [(0, 0), (0, 777), (5, 5), (13, 600), (512, 777), (776, 777)]:
        cr = CompactRange(start, [tree.node(*n) for n in merkle.prefix_nodes(start)])
        for i in range(start, end):
            cr.append_leaf(tree.leaf_hash(i))
        assert cr.root() == tree.root(end)
        for level, index in merkle.suffix_nodes(end, 777):
            cr.append_subtree(level, tree.node(level, index))
        assert cr.root() == tree.root()


def test_bad_arguments_give_clear_errors():
    tree = MemoryTree([merkle.leaf_hash(b"x")])
    with pytest.raises(ValueError, match="32 bytes"):
        tree.append(b"short")
    with pytest.raises(ValueError, match="not in a tree"):
        tree.inclusion_proof(1)
    with pytest.raises(ValueError, match="beyond"):
        tree.root(2)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(0, 5)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(6, 5)
    with pytest.raises(InclusionError, match="32-byte"):
        merkle.verify_inclusion(b"x" * 31, 0, 1, [], bytes(32))
    with pytest.raises(ValueError):
        CompactRange(3, [bytes(32)])
    with pytest.raises(ValueError, match="cannot start"):
        CompactRange(1, [bytes(32)]).append_subtree(1, bytes(32))
    assert issubclass(InclusionError, ProofError) and issubclass(ConsistencyError, ProofError)


# --- the transparency-dev/merkle verifier probes -----------------------------------------------


def _b(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


@pytest.mark.parametrize("probe", PROBES, ids=[p["file"] for p in PROBES])
def test_transparency_dev_probe(probe):
    proof = [_b(x) for x in probe["proof"] or []]
    want_err = probe["wantErr"] or probe["file"] in STRICTER_THAN_UPSTREAM
    try:
        if probe["kind"] == "inclusion":
            merkle.verify_inclusion(
                _b(probe["leafHash"]), probe["leafIdx"], probe["treeSize"], proof, _b(probe["root"])
            )
        else:
            merkle.verify_consistency(probe["size1"], probe["size2"], _b(probe["root1"]), _b(probe["root2"]), proof)
    except ProofError:
        assert want_err, f"good probe rejected: {probe['desc']}"
    else:
        assert not want_err, f"corrupted probe accepted: {probe['desc']}"


def test_probe_set_is_complete():
    assert len(PROBES) == 196
    assert sum(not p["wantErr"] for p in PROBES) == 12  # 11 happy paths + the stricter one
