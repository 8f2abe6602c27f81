"""Many writers, many sequencers (threads with engines of their own, and separate processes, one of which dies):
the log stays dense, holds every committed entry exactly once, keeps each writer's order, and every checkpoint
extends the one before."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from sqlalchemy import Engine, func, select

from core.audit import decode_entry, merkle, note, store
from core.audit.checkpoint import check_consistent, open_checkpoint
from core.audit.log import record
from core.audit.memory_tree import MemoryTree
from core.audit.models import checkpoint_table, entry_table, pending_table
from core.audit.sequencer import Policy, sequence
from core.db import make_engine, session_factory
from tests.conftest import AUDIT_SIGNER_KEY, AUDIT_VERIFIER_KEY

SIGNER = note.parse_signer(AUDIT_SIGNER_KEY)
ROOT = Path(__file__).resolve().parents[3]


def check_log(engine: Engine, expected: dict[str, int]) -> None:
    """Dense, complete, each writer's entries once and in its own order, checkpoints consistent."""
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(pending_table)).scalar() == 0
        rows = conn.execute(select(entry_table.c.leaf_index, entry_table.c.data, entry_table.c.leaf_hash)
                            .order_by(entry_table.c.leaf_index)).all()
        notes = conn.execute(select(checkpoint_table.c.note).order_by(checkpoint_table.c.size)).scalars().all()
        cps = [open_checkpoint(n, AUDIT_VERIFIER_KEY) for n in notes]
        for old, new in itertools.pairwise(cps):
            check_consistent(old, new, store.consistency_proof(conn, old.size, new.size))
    assert [r.leaf_index for r in rows] == list(range(sum(expected.values())))
    seen: dict[str, list[int]] = {}
    tree = MemoryTree()
    for index, data, leaf in rows:
        entry = decode_entry(data)
        assert entry["index"] == index and leaf == merkle.leaf_hash(data)
        seen.setdefault(entry["client"], []).append(entry["detail"]["n"])
        tree.append(leaf)
    assert {c: sorted(ns) for c, ns in seen.items()} == {c: list(range(n)) for c, n in expected.items()}
    assert all(ns == sorted(ns) for ns in seen.values()), "a writer's entries were reordered"
    assert cps and cps[-1].size == len(rows)
    for cp in cps:
        assert cp.root_hash == tree.root(cp.size)


def test_writer_threads_and_competing_sequencers(engine: Engine, database_url: str) -> None:
    writers, per_writer = 4, 150
    done = threading.Event()
    errors: list[BaseException] = []

    def write(name: str, seed: int) -> None:
        rng = random.Random(seed)
        sessions = session_factory(engine)
        n = 0
        try:
            while n < per_writer:
                with sessions() as session:
                    for _ in range(min(rng.randint(1, 5), per_writer - n)):
                        record(session, "citizen.read", client=name, detail={"n": n})
                        n += 1
                    session.commit()
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            errors.append(exc)

    def run_sequencer() -> None:
        own = make_engine(database_url)  # a process of its own would have its own pool
        try:
            while not done.is_set():
                sequence(own, SIGNER, Policy(every=37, interval_s=0.05))
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=write, args=(f"w{i}", i)) for i in range(writers)]
    sequencers = [threading.Thread(target=run_sequencer) for _ in range(2)]
    for t in threads + sequencers:
        t.start()
    for t in threads:
        t.join(60)
    done.set()
    for t in sequencers:
        t.join(60)
    assert not errors, errors
    sequence(engine, SIGNER, Policy(every=37), force_checkpoint=True)
    check_log(engine, {f"w{i}": per_writer for i in range(writers)})


PROCESS = textwrap.dedent("""
    import os, sys
    from core.audit import note
    from core.audit.log import record
    from core.audit.sequencer import Policy, sequence
    from core.db import make_engine, session_factory
    url, name, count, die = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "die"
    signer = note.parse_signer(os.environ["AUDIT_KEY"])
    engine = make_engine(url)
    sessions = session_factory(engine)
    for n in range(0, count, 3):
        with sessions() as session:
            for k in range(n, min(n + 3, count)):
                record(session, "application.accepted", client=name, detail={"n": k})
            session.commit()
        if die and n >= count // 2:
            os._exit(9)  # killed: committed entries, never sequenced by this process
        if not die and n % 12 == 0:
            sequence(engine, signer, Policy(every=25, interval_s=0.05))
    if die:
        os._exit(9)
    sequence(engine, signer, Policy(every=25, interval_s=0.05))
""")


def test_processes_write_and_sequence_and_one_dies(engine: Engine, database_url: str) -> None:
    env = {"AUDIT_KEY": AUDIT_SIGNER_KEY, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    jobs = {"p0": ("live", 120), "p1": ("live", 120), "p2": ("die", 120)}
    procs = {name: subprocess.Popen([sys.executable, "-c", PROCESS, database_url, name, str(count), mode],
                                    cwd=ROOT, env=env, stderr=subprocess.PIPE)
             for name, (mode, count) in jobs.items()}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == (9 if jobs[name][0] == "die" else 0), err.decode()[-2000:]
    # What the dead process committed after the others' last run waits, pending, for the next run.
    sequence(engine, SIGNER, Policy(every=25), force_checkpoint=True)
    check_log(engine, {"p0": 120, "p1": 120, "p2": 63})
