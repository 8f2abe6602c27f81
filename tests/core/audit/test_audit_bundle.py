"""Offline bundle verification: good exports pass; every kind of tampering is caught and located."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from core.audit import decode_entry, encode_entry, merkle, note
from core.audit.bundle import BundleError, verify
from core.audit.checkpoint import Checkpoint, sign_checkpoint
from core.audit.export import build_bundle, dumps
from core.audit.memory_tree import MemoryTree

ORIGIN = "gerbang.test/audit"
SKEY, VKEY = note.generate_signer(ORIGIN)


class Log:
    """A tiny in-memory log: entries, their tree, and a signed checkpoint every `every` entries."""

    def __init__(self, n: int, every: int = 0, tag: str = "main", fork_at: int | None = None) -> None:
        self.entries: list[bytes] = []
        self.tree = MemoryTree()
        self.signed: dict[int, str] = {}
        for i in range(n):
            branch = tag if fork_at is not None and i >= fork_at else "main"
            self.entries.append(encode_entry({"seq": i, "action": "record.read", "client": f"c{i % 7}", "b": branch}))
            self.tree.append_entry(self.entries[-1])
            if every and (i + 1) % every == 0:
                self.sign()
        self.sign()

    def sign(self) -> str:
        cp = Checkpoint(ORIGIN, self.tree.size, self.tree.root())
        self.signed[cp.size] = sign_checkpoint(cp, SKEY)
        return self.signed[cp.size]

    def bundle(self, start: int = 0, end: int | None = None, **kw) -> dict:
        end = self.tree.size if end is None else end
        return build_bundle(
            checkpoint=self.signed[self.tree.size],
            store=self.tree,
            start=start,
            entries=self.entries[start:end],
            checkpoints=kw.pop("checkpoints", self.signed.values()),
            **kw,
        )


def fails(bundle, where: str, kind: str | None = None, **kw) -> BundleError:
    with pytest.raises(BundleError) as err:
        verify(bundle, VKEY, **kw)
    assert err.value.where == where, str(err.value)
    if kind:
        assert err.value.kind == kind
    assert str(err.value).startswith(where)
    return err.value


def _swap(a: dict, b: dict, *keys: str) -> None:
    for k in keys:
        a[k], b[k] = b[k], a[k]


# --- good bundles -----------------------------------------------------------------------------


@pytest.mark.parametrize("start,end", [(0, 200), (37, 150), (64, 128), (0, 0), (200, 200), (199, 200), (5, 6)])
def test_good_bundles_verify(start, end):
    log = Log(200, every=25)
    b = log.bundle(start, end)
    result = verify(b, VKEY)
    assert (result.start, result.end, result.count, result.origin) == (start, end, end - start, ORIGIN)
    assert result.checkpoint.size == 200
    assert result.checkpoints_checked == len([s for s in log.signed if start <= s <= end])
    assert verify(dumps(b), VKEY).count == end - start  # JSON text in, same answer
    assert verify(dumps(b).encode(), note.parse_verifier(VKEY)).count == end - start


def test_bundle_without_recorded_hashes_or_checkpoints_verifies():
    log = Log(50)
    b = log.bundle(10, 40, include_hashes=False, checkpoints=[])
    assert "checkpoints" not in b and "hash" not in b["entries"][0]
    assert verify(b, VKEY).count == 30


def test_earlier_checkpoint_is_linked_in_range_and_by_proof():
    log = Log(120, every=10)
    b = log.bundle(40, 90, consistency_from=[7, 30, 100])
    assert verify(b, VKEY, earlier_checkpoint=log.signed[60]).earlier_size == 60  # recomputed in the pass
    assert verify(b, VKEY, earlier_checkpoint=log.signed[30]).earlier_size == 30  # consistency proof
    assert verify(b, VKEY, earlier_checkpoint=log.signed[120]).earlier_size == 120
    empty = Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT)
    assert verify(b, VKEY, earlier_checkpoint=empty).earlier_size == 0
    e = fails(b, "consistency", earlier_checkpoint=log.signed[20])
    assert "no consistency proof from size 20" in str(e)


# --- tampering --------------------------------------------------------------------------------


def test_altered_entry_is_named():
    log = Log(100)
    b = log.bundle(10, 90)
    row = b["entries"][33]  # index 43
    obj = decode_entry(base64.b64decode(row["data"]))
    obj["client"] = "someone-else"
    row["data"] = base64.b64encode(encode_entry(obj)).decode()
    e = fails(b, "index 43", "entry")
    assert e.index == 43 and e.upto is None


def test_altered_entry_with_recomputed_hash_is_narrowed_by_the_signed_checkpoints():
    log = Log(100, every=10)
    b = log.bundle(10, 90)
    for row in (b["entries"][33],):  # index 43
        data = base64.b64decode(row["data"]).replace(b"record.read", b"record.edit")
        row["data"] = base64.b64encode(data).decode()
        row["hash"] = base64.b64encode(merkle.leaf_hash(data)).decode()
    e = fails(b, "index 40..49", "entry")
    assert (e.index, e.upto) == (40, 50)
    # With a checkpoint after every entry the same forgery is pinned to one index.
    fine = Log(100, every=1)
    b = fine.bundle(10, 90)
    data = base64.b64decode(b["entries"][33]["data"]) + b" "
    b["entries"][33].update(
        data=base64.b64encode(data).decode(), hash=base64.b64encode(merkle.leaf_hash(data)).decode()
    )
    fails(b, "index 43", "entry")
    # And with nothing to narrow it down, the whole range is named.
    b = log.bundle(10, 90, checkpoints=[])
    b["entries"][33].update(
        data=base64.b64encode(data).decode(), hash=base64.b64encode(merkle.leaf_hash(data)).decode()
    )
    fails(b, "index 10..89", "entry")


def test_altered_recorded_hash_alone_is_named():
    log = Log(30)
    b = log.bundle()
    b["entries"][7]["hash"] = base64.b64encode(bytes(32)).decode()
    fails(b, "index 7", "entry")


def test_deleted_entry_is_named():
    log = Log(100)
    b = log.bundle(10, 90)
    del b["entries"][20]  # index 30
    e = fails(b, "index 30", "entry")
    assert "deleted or out of order" in str(e)
    b = log.bundle(10, 90)
    b["entries"].pop()  # the last one
    fails(b, "index 89", "entry")


def test_deleted_entry_with_renumbering_is_located():
    log = Log(100, every=1)
    b = log.bundle(10, 90)
    del b["entries"][20]  # index 30; later ones renumbered, range shortened to match
    for pos, row in enumerate(b["entries"]):
        row["index"] = 10 + pos
    b["end"] = 89
    b["checkpoints"] = b["checkpoints"][:-1]  # the one at 90 no longer fits the claimed range
    # the suffix now sits one leaf off, so the bundle no longer even has the right shape
    with pytest.raises(BundleError) as err:
        verify(b, VKEY)
    assert err.value.kind in {"proof", "entry"}
    b["suffix"] = [base64.b64encode(log.tree.node(*n)).decode() for n in merkle.suffix_nodes(89, 100)]
    fails(b, "index 30", "entry")


def test_reordered_entries_are_named():
    log = Log(100)
    b = log.bundle(10, 90)
    rows = b["entries"]
    rows[25], rows[60] = rows[60], rows[25]  # whole rows moved: index 35 and 70
    fails(b, "index 35", "entry")
    b = log.bundle(10, 90)
    _swap(b["entries"][25], b["entries"][60], "data")  # data moved, index fields kept
    fails(b, "index 35", "entry")
    b = Log(100, every=5).bundle(10, 90)
    _swap(b["entries"][25], b["entries"][60], "data", "hash")  # data and its hash moved
    fails(b, "index 35..39", "entry")


def test_inconsistent_checkpoints_are_caught():
    main = Log(120, every=10)
    fork = Log(120, every=10, tag="fork", fork_at=55)  # same key, same prefix, another history
    b = fork.bundle(40, 90, consistency_from=[50, 30, 20])
    assert verify(b, VKEY).count == 50  # on its own, the fork is a well-formed log
    e = fails(b, "consistency", earlier_checkpoint=main.signed[60])  # the auditor saw main at 60
    assert "forked" in str(e) or "prefix" in str(e)
    fails(fork.bundle(40, 90, consistency_from=[100]), "consistency", earlier_checkpoint=main.signed[100])
    verify(b, VKEY, earlier_checkpoint=main.signed[50])  # before the fork both agree
    # The log slipping a checkpoint of the other branch into the bundle.
    b = fork.bundle(40, 90)
    b["checkpoints"][2] = main.signed[60]
    fails(b, "consistency")
    # Two checkpoints of the same size that disagree.
    b = fork.bundle(40, 90)
    b["checkpoints"].insert(2, main.signed[60])
    fails(b, "consistency")


def test_signature_problems():
    log = Log(40)
    b = log.bundle()
    text, sigs = note.parse(b["checkpoint"])
    cp = Checkpoint.parse(text)
    forged = Checkpoint(cp.origin, cp.size, bytes(32)).format() + "\n" + sigs[0].line
    fails({**b, "checkpoint": forged}, "signature")
    other_skey, other_vkey = note.generate_signer(ORIGIN)  # same name, another key
    fails({**b, "checkpoint": sign_checkpoint(cp, other_skey)}, "signature")
    with pytest.raises(BundleError) as err:
        verify(b, other_vkey)
    assert err.value.kind == "signature"
    _, stranger = note.generate_signer("stranger.example")
    with pytest.raises(BundleError, match="origin") as err:
        verify(b, stranger)
    assert err.value.kind == "signature"
    b2 = Log(40, every=10).bundle()
    b2["checkpoints"][1] = sign_checkpoint(Checkpoint.parse(note.parse(b2["checkpoints"][1])[0]), other_skey)
    fails(b2, "signature")


def test_altered_proof_hashes():
    log = Log(100, every=10)
    b = log.bundle(37, 90)
    b["prefix"][0] = base64.b64encode(bytes(32)).decode()
    e = fails(b, "index 37..39", "entry")  # cannot tell prefix from entries before the first checkpoint
    assert "altered" in str(e)
    b = log.bundle(40, 90)  # a checkpoint sits at the range start: the prefix is provably wrong
    b["prefix"][0] = base64.b64encode(bytes(32)).decode()
    fails(b, "proof", "proof")
    b = log.bundle(40, 90)  # ... and at the end: the suffix is
    b["suffix"][-1] = base64.b64encode(bytes(32)).decode()
    fails(b, "proof", "proof")
    b = log.bundle(40, 90)
    b["suffix"].append(b["suffix"][0])
    fails(b, "proof", "proof")


@pytest.mark.parametrize(
    "mutate,where",
    [
        (lambda b: "not json", "format"),
        (lambda b: [], "format"),
        (lambda b: {**b, "format": "something/v9"}, "format"),
        (lambda b: {**b, "start": -1}, "format"),
        (lambda b: {**b, "end": 10_000}, "format"),
        (lambda b: {**b, "entries": "nope"}, "format"),
        (lambda b: {**b, "checkpoint": 5}, "format"),
        (lambda b: {**b, "prefix": ["AAAA"]}, "proof"),
    ],
)
def test_malformed_bundles(mutate, where):
    b = Log(30).bundle(5, 20)
    fails(mutate(copy.deepcopy(b)), where)


def test_malformed_entry_rows():
    log = Log(30)
    for bad in ({"index": 7}, {"index": 7, "data": "!!"}, "row", {"index": 7, "data": "AA==", "hash": "xx"}):
        b = log.bundle()
        b["entries"][7] = bad
        fails(b, "index 7", "entry")
    b = log.bundle(0, 20)
    b["entries"].append(b["entries"][-1])
    fails(b, "index 20", "entry")


def test_bundle_json_shape():
    b = Log(20, every=5).bundle(3, 12, consistency_from=[2, 15])
    assert set(b) == {
        "format",
        "origin",
        "checkpoint",
        "start",
        "end",
        "prefix",
        "suffix",
        "entries",
        "checkpoints",
        "consistency",
    }
    assert json.loads(dumps(b)) == b
    assert [c["size"] for c in b["consistency"]] == [2, 15]
    assert b["entries"][0]["index"] == 3 and len(b["entries"]) == 9


def test_entry_encoding_is_rfc8785():
    assert encode_entry({"b": 1, "a": [1.0, "é", None, True]}) == '{"a":[1,"é",null,true],"b":1}'.encode()
    assert decode_entry(b'{"a":1}') == {"a": 1}
    for bad in (b'{"a": 1}', b'{"b":1,"a":2}', b"not json"):
        with pytest.raises(ValueError):
            decode_entry(bad)
    for bad in ({1: 2}, float("nan"), 2**60, object()):
        with pytest.raises(ValueError):
            encode_entry(bad)
