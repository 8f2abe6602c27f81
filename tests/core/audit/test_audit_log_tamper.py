"""Tampering with the stored log is caught by the offline verifier, which names where: an altered entry, a deleted
one, two swapped, or two checkpoints that cannot both be true."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from core.audit import bundle, note, store
from core.audit.checkpoint import Checkpoint, sign_checkpoint
from core.audit.export import export_chunks
from core.audit.log import record
from core.audit.sequencer import Policy, sequence
from core.db import make_engine, session_factory
from tests.conftest import AUDIT_SIGNER_KEY, AUDIT_VERIFIER_KEY

SIGNER = note.parse_signer(AUDIT_SIGNER_KEY)
SIZE = 100


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    with session_factory(eng)() as session:
        for n in range(SIZE):
            record(session, "citizen.read", client=f"c{n % 3}", detail={"n": n, "purpose": "identity_check"})
        session.commit()
    sequence(eng, SIGNER, Policy(every=25), force_checkpoint=True)
    yield eng
    eng.dispose()


def export(engine: Engine, start: int = 0, end: int = SIZE) -> str:
    with engine.connect() as conn:
        latest = store.latest_checkpoint(conn)
        return "".join(export_chunks(conn, start, end, latest))


def fails(engine: Engine, **kwargs: object) -> bundle.BundleError:
    with pytest.raises(bundle.BundleError) as caught:
        bundle.verify(export(engine), AUDIT_VERIFIER_KEY, **kwargs)  # type: ignore[arg-type]
    return caught.value


def run(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def test_untouched_log_verifies(engine: Engine) -> None:
    assert bundle.verify(export(engine), AUDIT_VERIFIER_KEY).count == SIZE


def test_altered_entry_is_named(engine: Engine) -> None:
    run(engine, "UPDATE audit_entry SET data = :d WHERE leaf_index = 42",
        d=b'{"action":"citizen.read","client":"c0","index":42,"time":"2026-01-01T00:00:00.000000Z"}')
    err = fails(engine)
    assert (err.kind, err.index, err.where) == ("entry", 42, "index 42")


def test_altered_entry_with_recomputed_hash_is_narrowed_by_checkpoints(engine: Engine) -> None:
    forged = b'{"action":"citizen.read","index":60}'
    import hashlib

    run(engine, "UPDATE audit_entry SET data = :d, leaf_hash = :h WHERE leaf_index = 60",
        d=forged, h=hashlib.sha256(b"\x00" + forged).digest())
    err = fails(engine)
    assert err.kind == "entry" and err.index == 50 and err.upto == 75  # between the checkpoints at 50 and 75


def test_deleted_entry_is_named(engine: Engine) -> None:
    run(engine, "DELETE FROM audit_entry WHERE leaf_index = 17")
    err = fails(engine)
    assert (err.kind, err.index) == ("entry", 17)


def test_swapped_entries_are_named(engine: Engine) -> None:
    with engine.begin() as conn:
        a, b = (conn.execute(text("SELECT data FROM audit_entry WHERE leaf_index = :i"), {"i": i}).scalar()
                for i in (30, 31))
        conn.execute(text("UPDATE audit_entry SET data = :d WHERE leaf_index = 30"), {"d": b})
        conn.execute(text("UPDATE audit_entry SET data = :d WHERE leaf_index = 31"), {"d": a})
    err = fails(engine)
    assert (err.kind, err.index) == ("entry", 30)


def test_two_inconsistent_checkpoints_fail(engine: Engine) -> None:
    """A log that signed a fork: the auditor's earlier checkpoint (size 40) has another root."""
    forked = sign_checkpoint(Checkpoint(SIGNER.name, 40, b"\x13" * 32), SIGNER)
    err = fails(engine, earlier_checkpoint=forked)
    assert err.kind == "consistency"
    # ...and a forked checkpoint slipped into the log's own table is caught inside the range too.
    run(engine, "UPDATE audit_checkpoint SET note = :n WHERE size = 50",
        n=sign_checkpoint(Checkpoint(SIGNER.name, 50, b"\x14" * 32), SIGNER))
    assert fails(engine).kind == "consistency"


def test_checkpoint_from_another_key_fails(engine: Engine) -> None:
    other = note.parse_signer(note.generate_signer(SIGNER.name)[0])
    run(engine, "UPDATE audit_checkpoint SET note = :n WHERE size = :s", s=SIZE,
        n=sign_checkpoint(Checkpoint(SIGNER.name, SIZE, b"\x15" * 32), other))
    assert fails(engine).kind == "signature"
