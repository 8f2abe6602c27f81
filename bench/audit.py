"""The audit log on a real database: appends/s through record() + the sequencer, inclusion proofs at 1,000,000
entries from the database store, and the export + offline verification of a 1,000,000-entry log.

Run: .venv/bin/python bench/audit.py [--appends 100000] [--million 1000000] [--skip-million]
SQLite always (a temporary file); PostgreSQL too when GERBANG_DATABASE_URL is a postgresql:// URL (the bench
works in a schema of its own, dropped afterwards). The million-entry log is built through the real path —
record_many() in batches of 1,000, then the sequencer — not a bulk shortcut, so its time is reported as well.
Entries look like the API's citizen.read entries (~330 bytes).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, create_engine, text

from core.audit import bundle, merkle, note, store
from core.audit.log import Policy, record, record_many, sequence
from core.db import make_engine, session_factory, upgrade
from core.db.engine import normalise_url

SIGNER_KEY, VERIFIER_KEY = note.generate_signer("bench.gerbang/audit")
POLICY = Policy(every=1000, interval_s=10.0)
BATCH = 500
SEQUENCER_INTERVAL_S = 0.2  # GERBANG_AUDIT_SEQUENCER_INTERVAL_S's default


def detail(i: int) -> dict:
    return {"purpose": "identity_check", "asked": ["identity", "health_insurance"], "outcome": "ok",
            "facets": {"identity": {"agency": "dukcapil", "status": "ok", "cached": False},
                       "health_insurance": {"agency": "bpjs_kesehatan", "status": "ok", "cached": i % 3 == 0}}}


def subject(i: int) -> str:
    return f"{i * 2654435761 % 2**256:064x}"


@contextmanager
def database(kind: str, base: Path) -> Iterator[str]:
    """A migrated, empty database: a fresh SQLite file, or a throw-away schema on GERBANG_DATABASE_URL."""
    if kind == "sqlite":
        path = base / f"bench-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        try:
            yield url
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    pg = os.environ["GERBANG_DATABASE_URL"]
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _start_together(sessions: Any, ready: Any, go: Any) -> None:
    """Connect, say so, and wait for the common start (process start-up is not what is measured)."""
    if ready is not None:
        with sessions() as session:
            session.connection()
        ready.release()
        go.wait()


def write_with_record(url: str, start: int, count: int, batch: int = BATCH, ready: Any = None,
                      go: Any = None) -> None:
    """A writer: record() calls, `batch` per transaction."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    _start_together(sessions, ready, go)
    for b in range(start, start + count, batch):
        with sessions() as session:
            for i in range(b, min(b + batch, start + count)):
                record(session, "citizen.read", client=f"counter-{i % 40}", subject=subject(i), detail=detail(i))
            session.commit()
    engine.dispose()


def write_with_record_many(url: str, start: int, count: int, batch: int = BATCH, ready: Any = None,
                           go: Any = None) -> None:
    """A writer: one record_many() of `batch` entries per transaction."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    _start_together(sessions, ready, go)
    for b in range(start, start + count, batch):
        with sessions() as session:
            record_many(session, [{"action": "citizen.read", "client": f"counter-{i % 40}", "subject": subject(i),
                                   "detail": detail(i)} for i in range(b, min(b + batch, start + count))])
            session.commit()
    engine.dispose()


def pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_pending")).scalar_one())


def appends(url: str, n: int) -> None:
    signer = note.parse_signer(SIGNER_KEY)
    engine = make_engine(url)
    try:
        t = time.perf_counter()
        write_with_record(url, 0, n)
        rec = n / (time.perf_counter() - t)
        t = time.perf_counter()
        sequence(engine, signer, POLICY)
        seq = n / (time.perf_counter() - t)
        t = time.perf_counter()
        write_with_record_many(url, n, n)
        many = n / (time.perf_counter() - t)
        sequence(engine, signer, POLICY)
        print(f"  record(), {BATCH} per transaction, 1 writer:        {rec:10,.0f} entries/s")
        print(f"  record_many(), {BATCH} per transaction, 1 writer:    {many:10,.0f} entries/s")
        print(f"  sequencer alone (pending -> sequenced, signed):  {seq:10,.0f} entries/s")
        runs = ((1, write_with_record, "record()"), (2, write_with_record, "record()"),
                (1, write_with_record_many, "record_many()"))
        for k, (writers, target, how) in enumerate(runs):
            ctx = multiprocessing.get_context("spawn")
            base = (3 + k) * n
            share = n // writers
            ready, go = ctx.Semaphore(0), ctx.Event()
            procs = [ctx.Process(target=target, args=(url, base + w * share, share, BATCH, ready, go))
                     for w in range(writers)]
            for p in procs:
                p.start()
            for _ in procs:
                ready.acquire()
            t = time.perf_counter()
            go.set()
            while any(p.is_alive() for p in procs):  # as the API's background sequencer does
                sequence(engine, signer, POLICY)
                time.sleep(SEQUENCER_INTERVAL_S)
            sequence(engine, signer, POLICY, force_checkpoint=True)
            wall = time.perf_counter() - t
            assert pending(engine) == 0 and all(p.exitcode == 0 for p in procs)
            print(f"  end to end, {writers} {how} writer process(es) + sequencer: {share * writers / wall:10,.0f} "
                  f"entries/s (recorded, sequenced, checkpointed: {share * writers:,} in {wall:.1f} s)")
    finally:
        engine.dispose()


def million(url: str, n: int, workdir: Path) -> None:
    signer = note.parse_signer(SIGNER_KEY)
    engine = make_engine(url)
    try:
        t = time.perf_counter()
        chunk = 50_000
        for start in range(0, n, chunk):
            write_with_record_many(url, start, min(chunk, n - start), batch=1000)
            sequence(engine, signer, POLICY)
        result = sequence(engine, signer, POLICY, force_checkpoint=True)
        build = time.perf_counter() - t
        print(f"  built {result.size:,} entries through record_many() + sequencer in {build:.1f} s "
              f"({n / build:,.0f} entries/s)")
        extra = 50_000
        t = time.perf_counter()
        write_with_record_many(url, n, extra)
        many = extra / (time.perf_counter() - t)
        t = time.perf_counter()
        sequence(engine, signer, POLICY, force_checkpoint=True)
        seq = extra / (time.perf_counter() - t)
        print(f"  at that size: record_many() {many:,.0f} entries/s, sequencer {seq:,.0f} entries/s (50,000 more)")

        with engine.connect() as conn:
            latest = store.latest_checkpoint(conn)
            size = latest.size
            rng = random.Random(3)
            picks = [rng.randrange(size) for _ in range(2000)]
            times = []
            for index in picks:
                t = time.perf_counter()
                proof = store.inclusion_proof(conn, index, size, check_size=False)  # as the API asks
                times.append(time.perf_counter() - t)
                leaf = conn.execute(text("SELECT leaf_hash FROM audit_entry WHERE leaf_index = :i"),
                                    {"i": index}).scalar_one()
                merkle.verify_inclusion(bytes(leaf), index, size, proof, latest.root)
            times.sort()
            print(f"  inclusion proof at {size:,} from the database: median {statistics.median(times) * 1e3:.3f} ms"
                  f"   p99 {times[int(len(times) * 0.99)] * 1e3:.3f} ms   (2,000 random leaves, each verified)")
            ctimes = []
            for old in rng.sample(range(1, size), 200):
                t = time.perf_counter()
                store.consistency_proof(conn, old, size)
                ctimes.append(time.perf_counter() - t)
            ctimes.sort()
            print(f"  consistency proof to {size:,}: median {statistics.median(ctimes) * 1e3:.3f} ms   "
                  f"p99 {ctimes[int(len(ctimes) * 0.99)] * 1e3:.3f} ms")

            path = workdir / f"export-{uuid.uuid4().hex[:6]}.json"
            t = time.perf_counter()
            with path.open("w", encoding="utf-8") as handle:
                for part in store.export_chunks(conn, 0, size, latest):
                    handle.write(part)
            export_s = time.perf_counter() - t
        mb = path.stat().st_size / 1e6
        print(f"  export of {size:,} entries (streamed from the database): {export_s:.1f} s, {mb:,.0f} MB")
        t = time.perf_counter()
        verified = bundle.verify(path.read_bytes(), VERIFIER_KEY)
        verify_s = time.perf_counter() - t
        print(f"  offline verification of that export: {verify_s:.1f} s  ({verified.count:,} entries, "
              f"{verified.checkpoints_checked:,} intermediate checkpoints checked)")
        path.unlink()
    finally:
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--appends", type=int, default=100_000, help="entries per append measurement")
    ap.add_argument("--million", type=int, default=1_000_000, help="size of the large log")
    ap.add_argument("--skip-million", action="store_true", help="only the append measurements")
    args = ap.parse_args()
    kinds = ["sqlite"]
    if os.environ.get("GERBANG_DATABASE_URL", "").startswith(("postgresql", "postgres:")):
        kinds.append("postgresql")
    with tempfile.TemporaryDirectory(prefix="gerbang-bench-") as tmp:
        work = Path(tmp)
        for kind in kinds:
            print(f"[{kind}] appends")
            with database(kind, work) as url:
                appends(url, args.appends)
            if not args.skip_million:
                print(f"[{kind}] {args.million:,}-entry log")
                with database(kind, work) as url:
                    million(url, args.million, work)


if __name__ == "__main__":
    main()
