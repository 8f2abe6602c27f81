"""Benchmark: many parallel agency calls through connectors/rest.py, with httpcore's own pool and with ours.

`make_client` gives a connector's client the pool fork of connectors/httpcore_pool.py; this bench measures what
that saves. An agency stand-in (bench/bare_app.py: a small JSON body from memory) runs as its own uvicorn process;
here, `--calls` in flight at a time go through `connectors.rest.send` for `--seconds`, alternately on a client with
the fork and on one built the same way without it, `--rounds` times. The figure is this process's CPU time per
call (the client's cost, what the fork changes; the stand-in's CPU is its own), as the median over the rounds.

    .venv/bin/python bench/agency_pool.py [--seconds 4] [--calls 20 50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lookup import free_port, start_server  # noqa: E402
from connectors.rest import POOL_LIMITS, make_client, send  # noqa: E402


def ordinary_client(url: str) -> httpx.AsyncClient:
    """`make_client` as it is, but on httpcore's own pool (a given transport is never forked)."""
    return make_client(url, transport=httpx.AsyncHTTPTransport(limits=POOL_LIMITS))


async def cpu_per_call(client: httpx.AsyncClient, seconds: float, in_flight: int) -> tuple[float, int]:
    """(CPU µs per call, calls made) with `in_flight` callers looping over `send` for `seconds`."""
    calls = 0
    deadline = time.monotonic() + seconds

    async def caller(index: int) -> None:
        nonlocal calls
        while time.monotonic() < deadline:
            response = await send(client, "bench", "GET", f"/v1/citizens/{index}")
            response.raise_for_status()
            calls += 1

    started = time.process_time()
    await asyncio.gather(*(caller(i) for i in range(in_flight)))
    return 1e6 * (time.process_time() - started) / max(calls, 1), calls


async def compare(url: str, seconds: float, in_flight: int, rounds: int) -> None:
    forked, ordinary = make_client(url), ordinary_client(url)
    async with forked, ordinary:
        for client in (forked, ordinary):  # open the connections once before measuring
            await cpu_per_call(client, 0.5, in_flight)
        figures: dict[str, list[float]] = {"fork": [], "httpcore": []}
        for _ in range(rounds):
            figures["fork"].append((await cpu_per_call(forked, seconds, in_flight))[0])
            figures["httpcore"].append((await cpu_per_call(ordinary, seconds, in_flight))[0])
    ratios = [a / b for a, b in zip(figures["fork"], figures["httpcore"], strict=True)]
    print(f"{in_flight:3d} in flight: fork {statistics.median(figures['fork']):6.0f} µs/call, httpcore's pool "
          f"{statistics.median(figures['httpcore']):6.0f} µs/call; fork / httpcore (median of {rounds} rounds) "
          f"{statistics.median(ratios):.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="per client per round")
    parser.add_argument("--calls", type=int, nargs="+", default=[20, 50], help="calls in flight at a time")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gerbang-bench-") as work:
        body = Path(work) / "body.json"
        body.write_text(json.dumps({"status": "ok", "data": {"name": "X" * 200, "items": list(range(20))}}))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server([sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent),
                               "bare_app:app", "--port", str(port), "--log-level", "warning", "--no-access-log",
                               "--timeout-keep-alive", "60"],  # a client idle for a round keeps its connections
                              {**os.environ, "BENCH_BODY": str(body)}, f"{url}/docs")
        try:
            print(f"GET {url}/v1/citizens/<n> through connectors.rest.send, {options.seconds:g} s per client per "
                  f"round, {options.rounds} alternating rounds; client CPU per call")
            for in_flight in options.calls:
                asyncio.run(compare(url, options.seconds, in_flight, options.rounds))
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
