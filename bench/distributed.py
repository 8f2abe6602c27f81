"""Benchmark: the scaled-out deployment with a worker killed mid-run.

Two `gerbang serve` and two `gerbang worker` processes on one PostgreSQL and one RabbitMQ, the agency simulators
in a process of their own. N applications (OSS licence applications and Samsat payment codes, alternating) are
POSTed alternately to both APIs, each under its own Idempotency-Key; once a quarter of them are submitted one
worker is SIGKILLed. Prints:
- applications/s from the first POST to the last application submitted;
- lost (not submitted, or never received by the agency) and duplicated (agency applications made twice: a key
  that produced two references) — both must be 0; plus the keys the agencies *received* twice (the agency
  deduplicates them by key): attempts the killed worker had in flight, or calls that timed out and were retried
  — never more receipts than attempts;
- the time to drain after the kill (from the SIGKILL to every application submitted).

    .venv/bin/python bench/distributed.py [--count 2000] [--connections 32]

Needs PostgreSQL and RabbitMQ: GERBANG_BENCH_DATABASE_URL / GERBANG_BENCH_AMQP_URL as for bench/submit.py (a
schema and a queue prefix of the run's own, removed afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.submit import (  # noqa: E402
    AGENCIES,
    AMQP_URL,
    DB_URL,
    LOGS,
    bring_up,
    requests_for,
    start,
    status_counts,
    tear_down,
)
from core.bus.amqp import Topology  # noqa: E402
from tests.core.bus.processes import free_port, wait_consumers, wait_http  # noqa: E402
from tests.database import scratch_schema  # noqa: E402

APIS, WORKERS = 2, 2


async def post_all(ports: list[int], key: str, bodies: list[dict[str, Any]], keys: list[str], connections: int
                   ) -> tuple[dict[int, str], int, int]:
    """POST body i under keys[i] to API i % len(ports) over keep-alive connections (each lane keeps to one API);
    a connection lost mid-request is opened again and the request repeated under the same key. Returns
    {i: application id}, the number of answers other than 202 and the number of repeats."""
    ids: dict[int, str] = {}
    errors = repeats = 0
    todo = [list(range(n, len(bodies), len(ports))) for n in range(len(ports))]

    async def one(port: int, i: int, conn: list[Any]) -> None:
        nonlocal errors, repeats
        body = json.dumps(bodies[i]).encode()
        request = (f"POST /v1/applications HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Authorization: Bearer {key}\r\nIdempotency-Key: {keys[i]}\r\n"
                   "Officer-Id: bench-officer\r\nCounter-Id: loket-01\r\nMpp-Site: mpp-bench\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        for tries in range(5):
            try:
                if not conn:
                    conn.extend(await asyncio.open_connection("127.0.0.1", port))
                reader, writer = conn
                writer.write(request)
                raw = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line[15:]) for line in raw.split(b"\r\n")
                              if line[:15].lower() == b"content-length:")
                answer = await reader.readexactly(length)
                break
            except (OSError, asyncio.IncompleteReadError):
                if conn:
                    conn[1].close()
                conn.clear()
                repeats += 1
        else:
            errors += 1
            return
        if raw[9:12] == b"202":
            ids[i] = json.loads(answer)["id"]
        else:
            errors += 1
            if errors <= 3:
                print(f"refused: {raw[:12].decode()} {answer[:300].decode(errors='replace')}")

    async def lane(n: int) -> None:
        port, queue, conn = ports[n % len(ports)], todo[n % len(ports)], []
        try:
            while queue:
                await one(port, queue.pop(0), conn)
        finally:
            if conn:
                conn[1].close()

    await asyncio.gather(*(lane(n) for n in range(connections)))
    return ids, errors, repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32, help="concurrent POST connections")
    parser.add_argument("--prefetch", type=int, default=50)
    parser.add_argument("--kill-at", type=float, default=0.25, help="fraction submitted when a worker is killed")
    args = parser.parse_args()

    schema = ExitStack()
    url = schema.enter_context(scratch_schema(DB_URL, prefix="bench_", migrate=False))  # bring_up migrates it
    topology = Topology(f"bench{uuid.uuid4().hex[:6]}")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        engine, key, env, _, sim_ports = bring_up(url, processes)
        env.update({"GERBANG_DATABASE_URL": url, "GERBANG_AMQP_URL": AMQP_URL, "GERBANG_BUS_PREFIX": topology.prefix,
                    "GERBANG_DATA_DIR": tempfile.mkdtemp(prefix="gerbang-bench-"),
                    "GERBANG_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                    "GERBANG_BUS_PREFETCH": str(args.prefetch), "GERBANG_BREAKER_THRESHOLD": "1000",
                    "GERBANG_RATE_LIMIT_PER_S": "0", "GERBANG_AGENCY_TIMEOUT_S": "2",
                    "GERBANG_SUBMIT_RETRY_ATTEMPTS": "1"})   # a short lease: the killed worker's attempts
        api_ports = [free_port() for _ in range(APIS)]
        apis = [start([sys.executable, "-m", "core.cli.main", "serve", "--port", str(port)], env, "api")
                for port in api_ports]
        workers = [start([sys.executable, "-m", "core.cli.main", "worker"], env, "worker") for _ in range(WORKERS)]
        processes += apis + workers
        for port, api in zip(api_ports, apis):
            wait_http(f"http://127.0.0.1:{port}/healthz", api)
        wait_consumers(AMQP_URL, [topology.queue(a) for a in AGENCIES], WORKERS)
        print(f"{APIS} API and {WORKERS} worker processes up; posting {args.count} applications")

        bodies = requests_for(args.count)
        run = uuid.uuid4().hex[:8]
        keys = [f"bench-{run}-{i}" for i in range(args.count)]
        killed: dict[str, float] = {}

        def killer() -> None:   # SIGKILL one worker once a third of the applications are submitted
            while not killed:
                if status_counts(engine).get("submitted", 0) >= args.count * args.kill_at:
                    workers[0].send_signal(signal.SIGKILL)
                    killed["at"] = time.perf_counter()
                    with engine.connect() as connection:
                        killed["in_flight"] = connection.execute(text(
                            "SELECT count(*) FROM application WHERE status = 'submitting'")).scalar_one()
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=killer, daemon=True)
        started = time.perf_counter()
        watcher.start()
        ids, errors, repeats = asyncio.run(post_all(api_ports, key, bodies, keys, args.connections))
        post_s = time.perf_counter() - started
        print(f"APIs accepted {len(ids)} applications in {post_s:.1f}s ({len(ids) / post_s:.0f}/s), "
              f"{errors} refused, {repeats} repeated under their key after a lost connection")
        final = {"submitted", "rejected", "failed"}
        deadline = time.monotonic() + max(180.0, args.count / 10)
        while time.monotonic() < deadline:
            counts = status_counts(engine)
            if sum(counts.get(s, 0) for s in final) >= len(ids) and killed:
                break
            time.sleep(0.05)
        done = time.perf_counter()
        watcher.join(1)
        counts = status_counts(engine)
        receipts: dict[str, int] = {}
        for port in sim_ports:
            receipts.update(httpx.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=10).json()["submissions"])
        with engine.connect() as connection:
            references = dict(connection.execute(text("SELECT id, agency_reference FROM application")).all())
            interrupted = {r[0] for r in connection.execute(text(
                "SELECT DISTINCT application_id FROM application_transition WHERE detail LIKE '%interrupted%'"))}
            attempts = dict(connection.execute(text("SELECT id, attempts FROM application")).all())
            events = connection.execute(text("SELECT count(*), count(fanned_at) FROM callback_event")).one()
        app_ids = list(ids.values())
        lost = (args.count - len(ids)) + sum(1 for i in app_ids if receipts.get(i, 0) == 0
                                             or references.get(i) is None)
        lost += len(ids) - counts.get("submitted", 0)
        made = [references[i] for i in app_ids if references.get(i)]
        duplicated = len(made) - len(set(made)) + sum(1 for k in receipts if k not in ids.values())
        twice = {i for i in app_ids if receipts.get(i, 0) > 1}
        print(f"end to end: {len(ids)} applications in {done - started:.1f}s = "
              f"{len(ids) / (done - started):.0f} applications/s ({APIS} APIs, {WORKERS} workers, one killed)")
        if killed:
            print(f"worker killed at {killed['at'] - started:.1f}s with {killed['in_flight']} attempts in flight; "
                  f"drained {done - killed['at']:.1f}s after the kill")
        print(f"statuses: {counts}; callback events handed to the events exchange: {events[1]} of {events[0]}")
        print(f"lost: {lost}   duplicated: {duplicated}   (process logs: {LOGS})")
        print(f"keys the agencies received twice: {len(twice)} — attempts the killed worker had in flight: "
              f"{len(twice & interrupted)}, calls that timed out and were retried: {len(twice - interrupted)}; "
              f"received more often than attempted: {sum(1 for i in app_ids if receipts.get(i, 0) > attempts[i])}")
        engine.dispose()
    finally:
        tear_down(processes, schema, topology)


if __name__ == "__main__":
    main()
