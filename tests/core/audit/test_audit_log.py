"""The audit log on a real database (SQLite and PostgreSQL): record() in the caller's transaction, the sequencer
(dense indexes, canonical bytes, stored subtrees, checkpoints every N entries or T seconds, never two
inconsistent ones), proofs from the database store, and the streamed export verifying offline."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
import rfc8785
from sqlalchemy import Engine, func, select, text

from core.audit import bundle, merkle, note, sequencer, store
from core.audit.checkpoint import Checkpoint, check_consistent, open_checkpoint
from core.audit.entry import canonical_detail, entry_bytes, format_time, now_us
from core.audit.export import build_bundle, export_chunks
from core.audit.log import record
from core.audit.memory_tree import MemoryTree
from core.audit.models import checkpoint_table, entry_table, pending_table
from core.audit.sequencer import Policy, SequencerError, sequence
from core.db import session_factory
from identity.secrecy import subject_hash
from tests.conftest import AUDIT_SIGNER_KEY, AUDIT_VERIFIER_KEY

SIGNER = note.parse_signer(AUDIT_SIGNER_KEY)
SUBJECT = "ab" * 32


def add(engine: Engine, count: int, *, action: str = "citizen.read", client: str = "counter-1",
        start: int = 0) -> None:
    with session_factory(engine)() as session:
        for n in range(start, start + count):
            record(session, action, client=client, subject=SUBJECT, detail={"n": n, "purpose": "identity_check"})
        session.commit()


def entries(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(entry_table).order_by(entry_table.c.leaf_index)).all()


def checkpoints(engine: Engine) -> list[Checkpoint]:
    with engine.connect() as conn:
        notes = conn.execute(select(checkpoint_table.c.note).order_by(checkpoint_table.c.size)).scalars().all()
    return [open_checkpoint(n, AUDIT_VERIFIER_KEY, origin=SIGNER.name) for n in notes]


# --- entry bytes ------------------------------------------------------------------------------


def test_composed_entry_bytes_are_rfc8785() -> None:
    rng = random.Random(5)
    for _ in range(300):
        detail = {rng.choice(["purpose", "é", "\u20ac", "a\"b", "z"]): rng.choice([1, -2.5, "x\n", None, [1, "ü"], True])
                  for _ in range(rng.randint(0, 4))}
        fields = {"action": "citizen.read", "client": rng.choice([None, "counter \u00e9", "c\t1"]),
                  "subject": rng.choice([None, SUBJECT]), "agency": rng.choice([None, "dukcapil"])}
        index, us = rng.randrange(2**40), rng.randrange(2**50)
        obj = {k: v for k, v in fields.items() if v is not None}
        obj.update(index=index, time=format_time(us))
        if detail:
            obj["detail"] = detail
        composed = entry_bytes(index, us, fields["action"], fields["client"], fields["subject"], fields["agency"],
                               rfc8785.dumps(detail).decode() if detail else None)
        assert composed == rfc8785.dumps(obj)


def test_canonical_detail_matches_the_reference_encoder() -> None:
    rng = random.Random(9)
    scalars = [0, -1, 2**53 - 1, -(2**53) + 1, 1.5, 1e21, 1e-7, -0.0, 100.0, True, False, None, "", "é\u2028",
               "\x00\x1f\x7f\"\\/", "\U0001f600", "\ue000"]
    keys = ["a", "B", "é", "\ue000", "\U0001f600", "aa", "", "10", "2"]

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth > 2 or roll < 0.5:
            return rng.choice(scalars)
        if roll < 0.75:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 4))}

    for _ in range(2000):
        detail = {rng.choice(keys): value(0) for _ in range(rng.randint(1, 4))}
        assert canonical_detail(detail) == rfc8785.dumps(detail).decode()
    deep: Any = "leaf"
    for _ in range(300):  # deeper than orjson nests: the reference encoder takes it
        deep = {"k": [deep]}
    assert canonical_detail(deep) == rfc8785.dumps(deep).decode()
    for bad in ({"x": 2**53}, {"x": float("inf")}, {"x": "\ud800"}, {1: "x"}, {"x": object()}):
        with pytest.raises(ValueError):
            canonical_detail(bad)


def test_record_many_and_savepoints(engine: Engine) -> None:
    from core.audit.log import record_many

    with session_factory(engine)() as session:
        assert record_many(session, [{"action": "callback.delivered", "agency": "oss", "detail": {"batch": "b1"}},
                                     {"action": "callback.failed", "agency": "oss"}]) == 2
        nested = session.begin_nested()
        record(session, "admin.replay", detail={"undone": True})
        nested.rollback()
        session.commit()
    sequence(engine, SIGNER, force_checkpoint=True)
    assert [bundle_decode(r.data)["action"] for r in entries(engine)] == ["callback.delivered", "callback.failed"]


def test_time_format_is_fixed_width_utc() -> None:
    assert format_time(0) == "1970-01-01T00:00:00.000000Z"
    assert format_time(1_700_000_000_123_456) == "2023-11-14T22:13:20.123456Z"


@pytest.mark.parametrize("kwargs", [
    {"action": "CitizenRead"}, {"action": "citizen"}, {"action": "citizen.read", "subject": "3171011505900001"},
    {"action": "citizen.read", "detail": {"x": float("nan")}}, {"action": "citizen.read", "detail": {"x": 2**60}},
    {"action": "citizen.read", "client": ""},
])
def test_record_refuses_bad_entries_at_once(kwargs: dict[str, Any]) -> None:
    class Nothing:
        def connection(self) -> None:
            raise AssertionError("must not be written")

    with pytest.raises(ValueError):
        record(Nothing(), **kwargs)  # type: ignore[arg-type]


def test_subject_is_a_keyed_hash() -> None:
    key = b"k" * 32
    subject = subject_hash(key, "3171011505900001")
    assert len(subject) == 64 and "3171011505900001" not in subject
    assert subject == subject_hash(key, " 3171011505900001 ") != subject_hash(b"j" * 32, "3171011505900001")


# --- sequencing -------------------------------------------------------------------------------


def test_append_sequence_checkpoint(engine: Engine) -> None:
    add(engine, 2500)
    result = sequence(engine, SIGNER, Policy(every=1000, batch=700))
    assert result.sequenced == 2500 and result.size == 2500
    assert result.signed == [0, 1000, 2000]  # the empty tree first, then every N entries across batches
    forced = sequence(engine, SIGNER, Policy(every=1000), force_checkpoint=True)
    assert forced.sequenced == 0 and forced.signed == [2500]
    assert sequence(engine, SIGNER, Policy(every=1000), force_checkpoint=True).signed == []  # nothing new

    rows = entries(engine)
    assert [r.leaf_index for r in rows] == list(range(2500))
    tree = MemoryTree()
    for row in rows:
        entry = bundle_decode(row.data)
        assert entry["index"] == row.leaf_index and entry["action"] == "citizen.read"
        assert entry["detail"]["n"] == row.leaf_index  # one writer, one transaction: id order is index order
        assert row.leaf_hash == merkle.leaf_hash(row.data)
        tree.append(row.leaf_hash)
    cps = checkpoints(engine)
    assert [c.size for c in cps] == [0, 1000, 2000, 2500]
    for c in cps:
        assert c.root_hash == tree.root(c.size)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(pending_table)).scalar() == 0
        for old, new in itertools.pairwise(cps):
            check_consistent(old, new, store.consistency_proof(conn, old.size, new.size))
        for index in (0, 999, 1000, 1777, 2499):
            proof = store.inclusion_proof(conn, index, 2500)
            merkle.verify_inclusion(rows[index].leaf_hash, index, 2500, proof, cps[-1].root_hash)
            assert proof == tree.inclusion_proof(index, 2500)
        assert store.root(conn, 1234) == tree.root(1234)


def bundle_decode(data: bytes) -> dict[str, Any]:
    from core.audit import decode_entry

    return decode_entry(data)


def test_rolled_back_entries_are_never_logged(engine: Engine) -> None:
    with session_factory(engine)() as session:
        record(session, "application.accepted", client="c", detail={"id": "rolled-back"})
        session.rollback()
    add(engine, 1)
    sequence(engine, SIGNER, force_checkpoint=True)
    assert [bundle_decode(r.data)["action"] for r in entries(engine)] == ["citizen.read"]


def test_time_triggered_checkpoint(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """T is counted on the sequencer's clock, moved here by the test: with the wall clock, a loaded machine could
    let T elapse between two steps that must fall within it."""
    clock = [now_us()]
    monkeypatch.setattr(sequencer, "now_us", lambda: clock[0])
    policy = Policy(every=1000, interval_s=0.3)
    add(engine, 3)
    assert sequence(engine, SIGNER, policy).signed == [0]  # a new log signs its empty tree: T counts from it
    clock[0] += 350_000
    assert sequence(engine, SIGNER, policy).signed == [3]
    add(engine, 2, start=3)
    clock[0] += 250_000
    assert sequence(engine, SIGNER, policy).signed == []  # T not yet elapsed, N not reached
    clock[0] += 100_000
    assert sequence(engine, SIGNER, policy).signed == [5]
    clock[0] += 350_000
    assert sequence(engine, SIGNER, policy).signed == []  # no new entries: no new checkpoint


def test_empty_log_gets_a_signed_empty_checkpoint_on_demand(engine: Engine) -> None:
    assert sequence(engine, SIGNER).signed == []
    assert sequence(engine, SIGNER, force_checkpoint=True).signed == [0]
    (cp,) = checkpoints(engine)
    assert cp.size == 0 and cp.root_hash == merkle.EMPTY_ROOT


def test_a_sequencer_dying_mid_round_loses_nothing(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    add(engine, 50)
    real = store.consistency_proof

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt("process killed while holding the lock")

    sequence(engine, SIGNER, force_checkpoint=True)
    add(engine, 30, start=50)
    monkeypatch.setattr(store, "consistency_proof", crash)
    with pytest.raises(KeyboardInterrupt):  # dies after writing entries and nodes, before committing
        sequence(engine, SIGNER, force_checkpoint=True)
    monkeypatch.setattr(store, "consistency_proof", real)
    assert len(entries(engine)) == 50
    assert sequence(engine, SIGNER, force_checkpoint=True).sequenced == 30
    rows = entries(engine)
    assert [bundle_decode(r.data)["detail"]["n"] for r in rows] == list(range(80))
    assert [c.size for c in checkpoints(engine)] == [0, 50, 80]


def test_never_signs_a_checkpoint_that_does_not_extend_the_last(engine: Engine) -> None:
    add(engine, 40)
    sequence(engine, SIGNER, force_checkpoint=True)
    with engine.begin() as conn:  # someone rewrites history under the sequencer's feet
        conn.execute(text("UPDATE audit_node SET hash = :h WHERE level = 5 AND idx = 0"), {"h": b"\x07" * 32})
    add(engine, 9, start=40)
    with pytest.raises(SequencerError, match="does not extend"):
        sequence(engine, SIGNER, force_checkpoint=True)
    assert [c.size for c in checkpoints(engine)] == [0, 40]
    assert len(entries(engine)) == 40  # the refused round rolled back; its entries wait, unsequenced


def test_a_tampered_frontier_is_refused(engine: Engine) -> None:
    add(engine, 8)
    sequence(engine, SIGNER, force_checkpoint=True)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_state SET frontier = :f WHERE id = 1"), {"f": b"\x01" * 32})
    with pytest.raises(SequencerError):
        add(engine, 1, start=8)
        sequence(engine, SIGNER, force_checkpoint=True)
    assert [c.size for c in checkpoints(engine)] == [0, 8]


# --- export -----------------------------------------------------------------------------------


def export(engine: Engine, start: int = 0, end: int | None = None, earlier: tuple[int, ...] = ()) -> str:
    with engine.connect() as conn:
        latest = store.latest_checkpoint(conn)
        return "".join(export_chunks(conn, start, latest.size if end is None else end, latest, earlier))


def test_streamed_export_equals_build_bundle_and_verifies(engine: Engine) -> None:
    add(engine, 300)
    sequence(engine, SIGNER, Policy(every=64), force_checkpoint=True)
    text_ = export(engine, 100, 250, earlier=(64, 290))
    got = bundle.verify(text_, AUDIT_VERIFIER_KEY)
    assert (got.start, got.end, got.checkpoints_checked) == (100, 250, 2)  # checkpoints at 128 and 192
    early = next(c for c in checkpoints(engine) if c.size == 64)
    assert bundle.verify(text_, AUDIT_VERIFIER_KEY, early).earlier_size == 64
    with engine.connect() as conn:
        latest = store.latest_checkpoint(conn)
        rows = entries(engine)
        built = build_bundle(checkpoint=latest.note, store=store.DbTreeStore(conn), start=100,
                                    entries=[r.data for r in rows[100:250]],
                                    checkpoints=store.checkpoint_notes(conn, 100, 250), consistency_from=[64, 290])
    import json

    assert json.loads(text_) == built
    assert bundle.verify(export(engine), AUDIT_VERIFIER_KEY).count == 300
    assert bundle.verify(export(engine, 300, 300), AUDIT_VERIFIER_KEY).count == 0


def test_a_process_with_another_key_cannot_continue_the_log(engine: Engine) -> None:
    add(engine, 3)
    sequence(engine, SIGNER, force_checkpoint=True)
    stranger = note.parse_signer(note.generate_signer(SIGNER.name)[0])
    add(engine, 2, start=3)
    with pytest.raises(SequencerError, match="not signed by this process's key"):
        sequence(engine, stranger, force_checkpoint=True)
    assert [c.size for c in checkpoints(engine)] == [0, 3]
    assert sequence(engine, SIGNER, force_checkpoint=True).signed == [5]
