"""Benchmark: warm (cached) and cold citizen lookups through the real API.

Warm: requests/s and p50/p99 of cached lookups against a bare FastAPI endpoint returning the same JSON body, in
the same run (targets: ≥ 1,000 req/s and ≥ 50 % of the bare endpoint); the two alternate in `--rounds` rounds so
that load from elsewhere on the machine falls on both, and each server's CPU time per request is printed too (the
figure least disturbed by such load). Cold: sequential lookups with
`refresh=true` while the simulators answer with known delays; the figure is p50 minus the critical path
(Dukcapil's delay + the slowest other agency's delay), i.e. what Gerbang adds (target ≤ 15 ms: parallel, never
serial). Both servers run as single uvicorn processes; the load generator runs here.

`--against DIR` (repeatable) adds a Gerbang server run from another source tree (e.g. `git archive` of the commit
before a change, unpacked in DIR) with its own database, in the same alternating rounds: its figures are printed
with the median over the rounds of this tree's rate and CPU per request relative to it.

    .venv/bin/python bench/lookup.py [--seconds 10] [--connections 32] [--rounds 2] [--against DIR ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen import LoadResult, run  # noqa: E402
from connectors.registry import discover  # noqa: E402
from connectors.simkit import serving  # noqa: E402
from connectors.simkit.population import Population  # noqa: E402
from core.db import make_engine, session_factory, upgrade  # noqa: E402
from core.demo import agency_environment  # noqa: E402
from core.security.clients import create_client  # noqa: E402

PURPOSES = ["identity_check", "business_licensing", "vehicle_tax", "health_insurance"]
COLD_DELAYS_MS = {"dukcapil": 50, "oss": 200, "bpjs_ketenagakerjaan": 120, "bpjs_kesehatan": 80}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process `pid` so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(process: subprocess.Popen[bytes], urls: list[str], headers: dict[str, str], seconds: float,
            connections: int) -> tuple[LoadResult, float | None]:
    """One load run, and the server's CPU seconds spent during it."""
    before = cpu_seconds(process.pid)
    result = asyncio.run(run(urls, headers, seconds=seconds, connections=connections))
    after = cpu_seconds(process.pid)
    return result, (after - before if before is not None and after is not None else None)


def cpu_note(results: list[tuple[LoadResult, float | None]]) -> str:
    cpu = [c for _, c in results]
    requests = sum(r.requests for r, _ in results)
    if None in cpu or not requests:
        return ""
    return f"  server CPU {1e6 * sum(c for c in cpu if c is not None) / requests:5.0f} µs/req"


def start_server(args: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90  # a loaded machine can take a while to import and start the app
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server {args} did not start: {process.stderr.read().decode() if process.stderr else ''}")


@dataclass
class Other:
    """A Gerbang server run from another source tree (`--against`), and its runs."""

    tree: Path
    process: subprocess.Popen[bytes]
    urls: list[str]
    headers: dict[str, str]
    runs: list[tuple[LoadResult, float | None]] = field(default_factory=list)


def prepare(work: Path) -> tuple[str, str]:
    """A migrated SQLite database in `work` with one bench client: (database URL, API key)."""
    url = f"sqlite:///{work / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        # a limit far above the load: the rate limiter's real path (tokens leased in batches) is measured
        _, key = create_client(session, "bench", ["citizen:read:*"], PURPOSES, rate_per_s=100_000.0,
                               rate_burst=100_000)
    engine.dispose()
    return url, key


def per_round(runs: list[tuple[LoadResult, float | None]]) -> list[tuple[float, float | None]]:
    """(req/s, server CPU µs per request) of each round."""
    return [(r.rate, 1e6 * c / r.requests if c is not None and r.requests else None) for r, c in runs]


def relative(ours: list[tuple[float, float | None]], theirs: list[tuple[float, float | None]]) -> str:
    """Median over the rounds of our rate / theirs and of our CPU per request / theirs (same round each)."""
    rates = [a[0] / b[0] for a, b in zip(ours, theirs, strict=True) if b[0]]
    cpus = [a[1] / b[1] for a, b in zip(ours, theirs, strict=True) if a[1] is not None and b[1]]
    note = f"this tree's rate {statistics.median(rates):.1%} of it" if rates else "no rate"
    return note + (f", CPU per request {statistics.median(cpus):.1%} of it" if cpus else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--cold-count", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2, help="bare and Gerbang alternate this many times, "
                                                              "each run lasting seconds / rounds")
    parser.add_argument("--against", action="append", default=[], type=Path, metavar="DIR",
                        help="another source tree to serve and measure in the same rounds (repeatable)")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gerbang-bench-"))
    url, key = prepare(work)
    population = Population(seed=2024, size=500)
    plugins = discover()
    sims = {n: serving.start(p.simulator(population)) for n, p in plugins.items() if p.simulator}
    env = {**os.environ, **agency_environment(plugins, sims), "GERBANG_DATABASE_URL": url,
           "GERBANG_DATA_DIR": str(work), "GERBANG_LOG_LEVEL": "WARNING"}
    api_port, bare_port = free_port(), free_port()
    gerbang_bin = str(Path(sys.executable).with_name("gerbang"))
    api = start_server([gerbang_bin, "serve", "--port", str(api_port)], env, f"http://127.0.0.1:{api_port}/healthz")
    bare = None
    others: list[Other] = []
    try:
        headers = {"Authorization": f"Bearer {key}", "Officer-Id": "bench", "Counter-Id": "bench-1",
                   "Mpp-Site": "mpp-bench"}
        people = [p for p in population.people if p.life_status == "alive" and p.in_dukcapil][:60]
        urls = [f"http://127.0.0.1:{api_port}/v1/citizens/{p.nik}?purpose=business_licensing" for p in people]
        for index, tree in enumerate(options.against):
            other_work = work / f"against-{index}"
            other_work.mkdir()
            other_url, other_key = prepare(other_work)
            port = free_port()
            other_env = {**env, "PYTHONPATH": str(tree.resolve()), "GERBANG_DATABASE_URL": other_url,
                         "GERBANG_DATA_DIR": str(other_work)}
            others.append(Other(tree, start_server([gerbang_bin, "serve", "--port", str(port)], other_env,
                                                   f"http://127.0.0.1:{port}/healthz"),
                                [u.replace(f":{api_port}/", f":{port}/") for u in urls],
                                {**headers, "Authorization": f"Bearer {other_key}"}))
        for target_urls, target_headers in [(urls, headers)] + [(o.urls, o.headers) for o in others]:
            with httpx.Client(headers=target_headers, timeout=30) as client:
                for u in target_urls:  # warm the cache
                    client.get(u).raise_for_status()
        body = httpx.get(urls[0], headers=headers, timeout=30).json()
        body_file = work / "body.json"
        body_file.write_text(json.dumps(body))
        bare = start_server([sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent),
                             "bare_app:app", "--port", str(bare_port), "--log-level", "warning", "--no-access-log"],
                            {**env, "BENCH_BODY": str(body_file)}, f"http://127.0.0.1:{bare_port}/docs")
        bare_urls = [u.replace(f":{api_port}/", f":{bare_port}/") for u in urls]
        print(f"warm lookups, {options.connections} connections, {options.seconds:g} s each in {options.rounds} "
              f"alternating rounds, "
              f"body {len(json.dumps(body))} bytes, 4 facets (business_licensing)")
        asyncio.run(run(bare_urls, headers, seconds=1, connections=4))  # warm-up
        asyncio.run(run(urls, headers, seconds=1, connections=4))
        for other in others:
            asyncio.run(run(other.urls, other.headers, seconds=1, connections=4))
        rounds = max(1, options.rounds)
        bare_runs, warm_runs = [], []
        for _ in range(rounds):
            bare_runs.append(measure(bare, bare_urls, headers, options.seconds / rounds, options.connections))
            warm_runs.append(measure(api, urls, headers, options.seconds / rounds, options.connections))
            for other in others:
                other.runs.append(measure(other.process, other.urls, other.headers, options.seconds / rounds,
                                          options.connections))
        bare_result = LoadResult.merge([r for r, _ in bare_runs])
        warm = LoadResult.merge([r for r, _ in warm_runs])
        print(f"  bare FastAPI : {bare_result.summary()}{cpu_note(bare_runs)}")
        print(f"  gerbang warm : {warm.summary()}{cpu_note(warm_runs)}")
        print(f"  ratio        : {warm.rate / bare_result.rate:.0%} of bare (target ≥ 50 %), "
              f"{warm.rate:.0f} req/s (target ≥ 1,000)")
        for other in others:
            print(f"  against {other.tree}: {LoadResult.merge([r for r, _ in other.runs]).summary()}"
                  f"{cpu_note(other.runs)}")
            print(f"    {relative(per_round(warm_runs), per_round(other.runs))} (median of {rounds} rounds)")

        for agency, delay in COLD_DELAYS_MS.items():
            httpx.post(f"{sims[agency].url}/_sim/faults", json={"mode": "slow", "delay_ms": delay})
        critical = COLD_DELAYS_MS["dukcapil"] + max(v for k, v in COLD_DELAYS_MS.items() if k != "dukcapil")
        latencies = []
        with httpx.Client(headers=headers, timeout=30) as client:
            for person in people[: options.cold_count]:
                started = time.perf_counter()
                client.get(f"http://127.0.0.1:{api_port}/v1/citizens/{person.nik}",
                           params={"purpose": "business_licensing", "refresh": "true"}).raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)
        p50 = statistics.median(latencies)
        serial = sum(COLD_DELAYS_MS.values())
        print(f"cold lookups ({options.cold_count}, sequential, refresh=true), delays {COLD_DELAYS_MS} ms")
        print(f"  p50 {p50:.1f} ms; critical path (Dukcapil then the slowest other) {critical} ms; "
              f"serial would be {serial} ms")
        print(f"  overhead p50 − critical path = {p50 - critical:.1f} ms (target ≤ 15 ms)")
    finally:
        api.terminate()
        if bare is not None:
            bare.terminate()
        for other in others:
            other.process.terminate()
        for server in sims.values():
            server.stop()
        for process in (api, bare, *(o.process for o in others)):
            if process is not None:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
