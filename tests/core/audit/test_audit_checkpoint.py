"""C2SP checkpoints: marshal vectors, sum.golang.org, and the complete Tessera tlog-tiles test log."""

from __future__ import annotations

import base64

import pytest

from core.audit import merkle, note
from core.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    ConsistencyError,
    check_consistent,
    open_checkpoint,
    sign_checkpoint,
)
from core.audit.memory_tree import MemoryTree


def test_marshal_vectors(signed_notes):
    for v in signed_notes["checkpoint_marshal"]:
        cp = Checkpoint(v["origin"], v["size"], v["hash_ascii"].encode())
        assert cp.format() == v["text"]
        with pytest.raises(CheckpointError, match="32"):  # "bananas" is no SHA-256 root
            Checkpoint.parse(v["text"])


def test_round_trip_with_extensions():
    cp = Checkpoint("gerbang.example/audit", 42, bytes(range(32)), ("ext one", "ext two"))
    assert Checkpoint.parse(cp.format()) == cp


@pytest.mark.parametrize(
    "text",
    [
        "",
        "origin\n5\n",
        "origin\n5\nAAAA",  # no final newline
        "\n5\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n05\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n-5\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n١٢\n" + base64.b64encode(bytes(32)).decode() + "\n",  # non-ASCII digits
        "origin\n18446744073709551616\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n5\nnot base64!\n",
        "origin\n5\n" + base64.b64encode(bytes(32)).decode() + "\n\n",  # empty extension line
    ],
)
def test_malformed_checkpoints(text):
    with pytest.raises(CheckpointError):
        Checkpoint.parse(text)


def test_sum_golang_org_checkpoint(signed_notes):
    keys = {k["name"]: k["vkey"] for k in signed_notes["keys"]}
    signed = signed_notes["notes"][3]["note"]
    cp = open_checkpoint(signed, keys["sum.golang.org"], origin="go.sum database tree")
    assert cp.size == 6476701 and len(cp.root_hash) == 32
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(signed, keys["sum.golang.org"], origin="sum.golang.org")
    with pytest.raises(note.UnverifiedNote):
        open_checkpoint(signed, keys["EnochRoot"])


def _tessera_entries(path) -> list[bytes]:
    """An entry bundle: each entry as a big-endian uint16 length then the bytes."""
    raw, out, i = path.read_bytes(), [], 0
    while i < len(raw):
        n = int.from_bytes(raw[i : i + 2], "big")
        out.append(raw[i + 2 : i + 2 + n])
        i += 2 + n
    return out


def test_tessera_checkpoints_verify_and_resign_byte_for_byte(tessera):
    logdir = tessera["dir"]
    assert (logdir / "checkpoint").read_text() == (logdir / "checkpoint.15").read_text()
    signer = note.parse_signer(tessera["skey"])
    for n in range(16):
        signed = (logdir / f"checkpoint.{n}").read_text()
        cp = open_checkpoint(signed, tessera["vkey"], origin=tessera["origin"])
        assert cp.size == n
        assert cp.root_hash.hex() == tessera["roots_hex"][str(n)]
        assert sign_checkpoint(cp, signer) == signed


def test_tessera_roots_recomputed_from_entry_bundles_and_tiles(tessera):
    logdir = tessera["dir"]
    leaves = [s.encode() for s in tessera["leaves_ascii"]]
    for n in range(1, 16):
        entries = _tessera_entries(logdir / "tile" / "entries" / "000.p" / str(n))
        assert entries == leaves[:n]
        tile = (logdir / "tile" / "0" / "000.p" / str(n)).read_bytes()
        hashes = [tile[i : i + 32] for i in range(0, len(tile), 32)]
        assert hashes == [merkle.leaf_hash(e) for e in entries]
        cp = Checkpoint.parse(note.parse((logdir / f"checkpoint.{n}").read_text())[0])
        assert merkle.root(hashes) == cp.root_hash
        assert merkle.root_of_entries(entries) == cp.root_hash


def test_tessera_checkpoints_are_mutually_consistent(tessera):
    logdir = tessera["dir"]
    tree = MemoryTree(merkle.leaf_hash(s.encode()) for s in tessera["leaves_ascii"])
    cps = [open_checkpoint((logdir / f"checkpoint.{n}").read_text(), tessera["vkey"]) for n in range(16)]
    for old in cps:
        for new in cps[old.size :]:
            proof = tree.consistency_proof(old.size, new.size) if old.size else []
            check_consistent(old, new, proof)
    with pytest.raises(ConsistencyError):
        check_consistent(cps[5], cps[9], tree.consistency_proof(4, 9))
    with pytest.raises(ConsistencyError, match="smaller"):
        check_consistent(cps[9], cps[5], [])


def test_check_consistent_refuses_forks_and_strangers():
    signer_skey, _ = note.generate_signer("log.example")
    a = MemoryTree(merkle.leaf_hash(bytes([i])) for i in range(10))
    b = MemoryTree(merkle.leaf_hash(bytes([i])) for i in range(10))
    b.append(merkle.leaf_hash(b"fork"))
    a.append(merkle.leaf_hash(b"main"))
    old = Checkpoint("log.example", 11, a.root())
    new = Checkpoint("log.example", 11, b.root())
    with pytest.raises(ConsistencyError, match="different roots"):
        check_consistent(old, new, [])
    with pytest.raises(ConsistencyError, match="different logs"):
        check_consistent(old, Checkpoint("other.example", 11, a.root()), [])
    with pytest.raises(ConsistencyError, match="empty"):
        check_consistent(Checkpoint("log.example", 0, bytes(32)), new, [])
    check_consistent(Checkpoint("log.example", 0, merkle.EMPTY_ROOT), new, [])
    with pytest.raises(CheckpointError, match="origin"):
        sign_checkpoint(Checkpoint("other.example", 1, bytes(32)), signer_skey)
