"""The batched write paths on a real database (SQLite and PostgreSQL): `append_many()` (checked, sequenced and
checkpointed in one transaction under the log's lock), the driver-level inserts of `record_many()`, and the
process-wide cache of the tree's upper levels that the API's proofs use."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from core.audit import bundle, merkle, note, store
from core.audit.entry import canonical_detail
from core.audit.export import export_chunks
from core.audit.log import record_many
from core.audit.memory_tree import MemoryTree
from core.audit.models import entry_table, pending_table
from core.audit.sequencer import Policy, SequencerError, append_many, sequence
from core.db import make_engine, session_factory
from tests.conftest import AUDIT_SIGNER_KEY, AUDIT_VERIFIER_KEY

SIGNER = note.parse_signer(AUDIT_SIGNER_KEY)
SUBJECT = "cd" * 32


def batch(start: int, count: int) -> list[dict[str, Any]]:
    return [{"action": "citizen.read", "client": f"counter-{n % 3}", "subject": SUBJECT, "agency": "dukcapil",
             "detail": {"n": n, "asked": ["identity"], "ok": True, "note": None}} for n in range(start, start + count)]


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(entry_table)).scalar_one(),
                conn.execute(select(func.count()).select_from(pending_table)).scalar_one())


def export(engine: Engine) -> str:
    with engine.connect() as conn:
        latest = store.latest_checkpoint(conn)
        return "".join(export_chunks(conn, 0, latest.size, latest))


def test_append_many_sequences_and_checkpoints_at_once(engine: Engine) -> None:
    policy = Policy(every=100, interval_s=3600)
    got = append_many(engine, SIGNER, batch(0, 250), policy)
    assert (got.sequenced, got.size, got.signed) == (250, 250, [0, 100, 200])
    assert counts(engine) == (250, 0)  # nothing went through audit_pending
    assert sequence(engine, SIGNER, policy, force_checkpoint=True).signed == [250]
    verified = bundle.verify(export(engine), AUDIT_VERIFIER_KEY)
    assert verified.count == 250 and verified.checkpoints_checked == 4


def test_append_many_takes_pending_entries_first_in_one_order(engine: Engine) -> None:
    with session_factory(engine)() as session:
        assert record_many(session, batch(0, 30)) == 30
        session.commit()
    append_many(engine, SIGNER, batch(30, 20))
    sequence(engine, SIGNER, force_checkpoint=True)
    with engine.connect() as conn:
        rows = conn.execute(select(entry_table.c.data).order_by(entry_table.c.leaf_index)).scalars().all()
    assert [json.loads(r)["detail"]["n"] for r in rows] == list(range(50))
    bundle.verify(export(engine), AUDIT_VERIFIER_KEY)


def test_a_bad_entry_fails_the_whole_batch_before_anything_is_written(engine: Engine) -> None:
    append_many(engine, SIGNER, batch(0, 5))
    bad = [*batch(5, 5), {"action": "citizen.read", "subject": "3171011505900001"}]
    with pytest.raises(ValueError, match="keyed hash"):
        append_many(engine, SIGNER, bad)
    assert counts(engine) == (5, 0)


def test_append_many_refuses_to_extend_a_rewritten_tree(engine: Engine) -> None:
    append_many(engine, SIGNER, batch(0, 40), Policy(every=40))
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_node SET hash = :h WHERE level = 5 AND idx = 0"), {"h": b"\x07" * 32})
    with pytest.raises(SequencerError, match="does not extend"):
        append_many(engine, SIGNER, batch(40, 40), Policy(every=40))
    assert counts(engine) == (40, 0)  # the refused transaction rolled back whole


def test_bulk_writes_keep_every_value_exactly(engine: Engine) -> None:
    """COPY/executemany carry NULLs, non-ASCII text and long values as the ORM did."""
    odd = [{"action": "admin.client_created", "client": "kantor-é" * 10},
           {"action": "citizen.read", "agency": "bpjs_kesehatan", "detail": {"name": "Ñyoman \\ \"q\"", "x": -5}},
           *batch(0, 40)]
    with session_factory(engine)() as session:
        record_many(session, odd)
        session.commit()
    with engine.connect() as conn:
        rows = conn.execute(select(pending_table).order_by(pending_table.c.id)).all()
    assert [(r.action, r.client, r.agency, r.detail) for r in rows[:2]] == [
        ("admin.client_created", "kantor-é" * 10, None, None),
        ("citizen.read", None, "bpjs_kesehatan", canonical_detail(odd[1]["detail"]))]
    sequence(engine, SIGNER, force_checkpoint=True)
    bundle.verify(export(engine), AUDIT_VERIFIER_KEY)


def test_a_cyclic_detail_is_refused_not_looped_on() -> None:
    detail: dict[str, Any] = {"a": []}
    detail["a"].append(detail)
    with pytest.raises((ValueError, RecursionError)):
        canonical_detail(detail)


def test_cached_proofs_equal_the_stored_tree_and_follow_a_recreated_log(database_url: str) -> None:
    size = 3000  # nodes of level >= store.CACHE_LEVEL (1,024 leaves) exist, so the cache is used
    first = make_engine(database_url)
    try:
        append_many(first, SIGNER, batch(0, size), Policy(every=1000))
        sequence(first, SIGNER, force_checkpoint=True)
        tree = MemoryTree()
        with first.connect() as conn:
            for (h,) in conn.execute(select(entry_table.c.leaf_hash).order_by(entry_table.c.leaf_index)):
                tree.append(bytes(h))
            for index in (0, 1, 1023, 1024, 2047, 2999):
                leaf, proof = store.leaf_and_proof(conn, index, size, cached=True)
                assert leaf == tree.leaf_hash(index) and proof == tree.inclusion_proof(index, size)
                assert store.inclusion_proof(conn, index, size) == proof
            for old in (1, 1024, 2048, 2500):
                assert store.consistency_proof(conn, old, size, cached=True) == tree.consistency_proof(old, size)
        with first.connect() as conn:
            cache = store._upper_for(conn)  # noqa: SLF001
        assert any(level >= store.CACHE_LEVEL for level, _ in cache.nodes)
        # The same URL now holds another log (recreated database): the cache must not serve the old hashes.
        with first.begin() as conn:
            for table in ("audit_checkpoint", "audit_node", "audit_entry", "audit_pending"):
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text("UPDATE audit_state SET size = 0, frontier = :f, checkpoint_size = NULL, "
                              "checkpoint_us = NULL WHERE id = 1"), {"f": b""})
        append_many(first, SIGNER, batch(10_000, size), Policy(every=1000))
        sequence(first, SIGNER, force_checkpoint=True)
        with first.connect() as conn:
            latest = store.latest_checkpoint(conn)
            for index in (5, 1500, 2999):
                leaf, proof = store.leaf_and_proof(conn, index, size, cached=True)
                merkle.verify_inclusion(leaf, index, size, proof, latest.root)  # type: ignore[arg-type]
    finally:
        first.dispose()


def test_rounds_of_one_entry_each_advance_the_tree(engine: Engine) -> None:
    """A round writing a single row takes the one-statement path; the tree must still move on by one each time."""
    for n in range(3):
        assert append_many(engine, SIGNER, batch(n, 1)).size == n + 1
    with session_factory(engine)() as session:
        record_many(session, batch(3, 1))
        session.commit()
    assert sequence(engine, SIGNER, force_checkpoint=True).size == 4
    assert counts(engine) == (4, 0)
    assert bundle.verify(export(engine), AUDIT_VERIFIER_KEY).count == 4
