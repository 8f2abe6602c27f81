"""The audit log on a real database: appends/s, inclusion proofs at 1,000,000 entries from the database store,
and the export + offline verification of a 1,000,000-entry log.

Run: .venv/bin/python bench/audit.py [--appends 100000] [--million 1000000] [--skip-million]
SQLite always (a temporary file); PostgreSQL too when GERBANG_DATABASE_URL is a postgresql:// URL (the bench
works in a schema of its own, dropped afterwards). Entries look like the API's citizen.read entries (~330 bytes).

An "append" counted here is the whole write path of one entry: checking it and encoding its detail (RFC 8785),
composing its canonical bytes, its leaf hash, the durable insert (committed), its place in the Merkle tree (leaf
index, new subtree hashes, the stored frontier) and its share of the checkpoints signed every 1,000 entries
(each checked against the previous one). Two ways in: `append_many()` does it all in one transaction under the
log's lock; `record_many()` writes pending rows in the caller's transaction and the sequencer (here run every
0.2 s as in the API) does the rest — "end to end" lines time both until a final checkpoint covers everything.
The million-entry log is built through `append_many()` in batches of 1,000 — the real path, not a bulk shortcut.
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

from sqlalchemy import Connection, Engine, text
from sqlalchemy.pool import StaticPool

from core.audit import bundle, export, merkle, note, store
from core.audit.log import record, record_many
from core.audit.sequencer import Policy, append_many, sequence
from core.db import make_engine, session_factory, upgrade
from tests.database import scratch_schema

# One key for the run, shared with the spawned writer processes (they re-import this module) through the environment.
if "GERBANG_BENCH_AUDIT_KEYS" not in os.environ:
    os.environ["GERBANG_BENCH_AUDIT_KEYS"] = "\n".join(note.generate_signer("bench.gerbang/audit"))
SIGNER_KEY, VERIFIER_KEY = os.environ["GERBANG_BENCH_AUDIT_KEYS"].split("\n")
POLICY = Policy(every=1000, interval_s=10.0)
BATCH = 500
APPEND_BATCH = 1000
SEQUENCER_INTERVAL_S = 0.2  # GERBANG_AUDIT_SEQUENCER_INTERVAL_S's default


def detail(i: int) -> dict:
    return {"purpose": "identity_check", "asked": ["identity", "health_insurance"], "outcome": "ok",
            "facets": {"identity": {"agency": "dukcapil", "status": "ok", "cached": False},
                       "health_insurance": {"agency": "bpjs_kesehatan", "status": "ok", "cached": i % 3 == 0}}}


def subject(i: int) -> str:
    return f"{i * 2654435761 % 2**256:064x}"


def entries(lo: int, hi: int) -> list[dict]:
    return [{"action": "citizen.read", "client": f"counter-{i % 40}", "subject": subject(i), "detail": detail(i)}
            for i in range(lo, hi)]


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
    with scratch_schema(os.environ["GERBANG_DATABASE_URL"], prefix="bench_") as url:
        yield url


def _start_together(sessions: Any, ready: Any, go: Any) -> None:
    """Connect, say so, and wait for the common start (process start-up is not what is measured)."""
    if ready is not None:
        with sessions() as session:
            session.connection()
        ready.release()
        go.wait()


def _writer(url: str, start: int, count: int, batch: int, ready: Any, go: Any, write: Any) -> None:
    """A writer process: `write(session, lo, hi)` for each `batch` of its entries, one transaction each."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    _start_together(sessions, ready, go)
    for b in range(start, start + count, batch):
        with sessions() as session:
            write(session, b, min(b + batch, start + count))
            session.commit()
    engine.dispose()


def _record_each(session: Any, lo: int, hi: int) -> None:
    for i in range(lo, hi):
        record(session, "citizen.read", client=f"counter-{i % 40}", subject=subject(i), detail=detail(i))


def _record_batch(session: Any, lo: int, hi: int) -> None:
    record_many(session, entries(lo, hi))


def write_with_record(url: str, start: int, count: int, batch: int = BATCH, ready: Any = None,
                      go: Any = None) -> None:
    """A writer: record() calls, `batch` per transaction."""
    _writer(url, start, count, batch, ready, go, _record_each)


def write_with_record_many(url: str, start: int, count: int, batch: int = BATCH, ready: Any = None,
                           go: Any = None) -> None:
    """A writer: one record_many() of `batch` entries per transaction."""
    _writer(url, start, count, batch, ready, go, _record_batch)


def write_with_append_many(url: str, start: int, count: int, batch: int = APPEND_BATCH, ready: Any = None,
                           go: Any = None, done: Any = None) -> None:
    """A writer appending (and so sequencing) `batch` entries per transaction with append_many(); says when its
    last batch was committed (`done`: the system-wide monotonic clock), so its interpreter's exit is not timed."""
    engine = make_engine(url)
    signer = note.parse_signer(SIGNER_KEY)
    _start_together(session_factory(engine), ready, go)
    for b in range(start, start + count, batch):
        append_many(engine, signer, entries(b, min(b + batch, start + count)), POLICY)
    if done is not None:
        done.put(time.monotonic())
    engine.dispose()


def _processes(url: str, target: Any, writers: int, base: int, share: int, batch: int,
               done: Any = None) -> tuple[list[Any], Any]:
    """Writer processes, started and connected; they begin when the returned event is set (process start-up is
    not what is measured)."""
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Semaphore(0), ctx.Event()
    extra = () if done is None else (done,)
    procs = [ctx.Process(target=target, args=(url, base + w * share, share, batch, ready, go, *extra))
             for w in range(writers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    return procs, go


def _backend_cpu_s(conn: Connection) -> float | None:
    """CPU seconds the PostgreSQL backend serving `conn` has used, when the server runs on this machine (Linux
    /proc); None otherwise (and for SQLite, which runs in this process)."""
    if conn.dialect.name != "postgresql":
        return None
    try:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _backend_note(before: float | None, after: float | None, count: int, unit: float, label: str) -> str:
    if before is None or after is None:
        return ""
    return f" + PostgreSQL backend {(after - before) / count * unit:.{1 if label == 'us' else 3}f} {label}"


def cpu_per_append(url: str, n: int) -> None:
    """append_many() in this process on one connection: wall rate, and the CPU one append costs (client, and the
    PostgreSQL backend when local) — the figure the machine's load does not move much."""
    engine = make_engine(url, poolclass=StaticPool)
    signer = note.parse_signer(SIGNER_KEY)
    try:
        with engine.connect() as conn:  # the static pool's one connection, which append_many() uses too
            server0 = _backend_cpu_s(conn)
        cpu0, t = time.process_time(), time.perf_counter()
        for b in range(10 * n, 11 * n, APPEND_BATCH):
            append_many(engine, signer, entries(b, min(b + APPEND_BATCH, 11 * n)), POLICY)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu0
        with engine.connect() as conn:
            server = _backend_note(server0, _backend_cpu_s(conn), n, 1e6, "us")
        print(f"  APPENDS, append_many() in-process, {APPEND_BATCH} per transaction: {n / wall:10,.0f} entries/s; "
              f"CPU per append: client {cpu / n * 1e6:.1f} us{server}")
    finally:
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
        cpu_per_append(url, n)
        for writers in (1, 2):
            share = n // writers
            base = (3 + writers) * n
            done = multiprocessing.get_context("spawn").Queue()
            procs, go = _processes(url, write_with_append_many, writers, base, share, APPEND_BATCH, done)
            t = time.monotonic()
            go.set()
            last = max(done.get() for _ in procs)  # each writer's last commit, not its interpreter's exit
            for p in procs:
                p.join()
            t_seq = time.monotonic()
            sequence(engine, signer, POLICY, force_checkpoint=True)  # the final checkpoint counts too
            wall = last - t + (time.monotonic() - t_seq)
            assert pending(engine) == 0 and all(p.exitcode == 0 for p in procs)
            print(f"  APPENDS, {writers} append_many() process(es), {APPEND_BATCH} per transaction: "
                  f"{share * writers / wall:10,.0f} entries/s (durable, sequenced, checkpointed: "
                  f"{share * writers:,} in {wall:.1f} s)")
        runs = ((1, write_with_record, "record()"), (2, write_with_record, "record()"),
                (1, write_with_record_many, "record_many()"), (2, write_with_record_many, "record_many()"))
        for k, (writers, target, how) in enumerate(runs):
            base = (6 + k) * n
            share = n // writers
            procs, go = _processes(url, target, writers, base, share, BATCH)
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
        write_with_append_many(url, 0, n)
        result = sequence(engine, signer, POLICY, force_checkpoint=True)
        build = time.perf_counter() - t
        print(f"  built {result.size:,} entries through append_many() ({APPEND_BATCH} per transaction) in "
              f"{build:.1f} s ({n / build:,.0f} entries/s)")
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
            for index in rng.sample(range(size), 500):  # a running API has its upper-level cache warm
                store.leaf_and_proof(conn, index, size, check_size=False, cached=True)
            times = []
            server0, cpu0 = _backend_cpu_s(conn), time.process_time()
            for index in picks:
                t = time.perf_counter()
                # as GET /v1/audit/proof/inclusion asks: leaf hash and path in one query, upper levels cached
                leaf, proof = store.leaf_and_proof(conn, index, size, check_size=False, cached=True)
                times.append(time.perf_counter() - t)
                merkle.verify_inclusion(leaf, index, size, proof, latest.root)
            cpu, server1 = time.process_time() - cpu0, _backend_cpu_s(conn)
            times.sort()
            print(f"  inclusion proof at {size:,} from the database: median {statistics.median(times) * 1e3:.3f} ms"
                  f"   p99 {times[int(len(times) * 0.99)] * 1e3:.3f} ms   (2,000 random leaves, each verified; "
                  f"load average {os.getloadavg()[0]:.1f})")
            server = _backend_note(server0, server1, len(picks), 1e3, "ms")
            print(f"    CPU per proof (mean, incl. verifying it): client {cpu / len(picks) * 1e3:.3f} ms{server}")
            ctimes = []
            for old in rng.sample(range(1, size), 200):
                t = time.perf_counter()
                store.consistency_proof(conn, old, size, cached=True)
                ctimes.append(time.perf_counter() - t)
            ctimes.sort()
            print(f"  consistency proof to {size:,}: median {statistics.median(ctimes) * 1e3:.3f} ms   "
                  f"p99 {ctimes[int(len(ctimes) * 0.99)] * 1e3:.3f} ms")

            path = workdir / f"export-{uuid.uuid4().hex[:6]}.json"
            t = time.perf_counter()
            with path.open("w", encoding="utf-8") as handle:
                for part in export.export_chunks(conn, 0, size, latest):
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
            print(f"[{kind}] appends (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
            with database(kind, work) as url:
                appends(url, args.appends)
            if not args.skip_million:
                print(f"[{kind}] {args.million:,}-entry log (load average {os.getloadavg()[0]:.1f})")
                with database(kind, work) as url:
                    million(url, args.million, work)


if __name__ == "__main__":
    main()
