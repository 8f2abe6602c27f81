"""Benchmark: what OpenTelemetry tracing costs, on bench/lookup.py and bench/submit.py (issue #17).

Three variants:
- `before`: the code before tracing (3861b49^, exported with `git archive` into a temporary directory, or a tree
  given with --baseline), run from there (PYTHONPATH and working directory: the venv's editable install is not
  used). Its FastAPI gets the switch this tree gives it (`telemetry=` off: core/api/app.py), so that it behaves as
  it did before `opentelemetry` was installed, when FastAPI's telemetry found nothing to look for;
- `off`: this tree (the one this script is in) with no OTEL_* variable set (the default: no provider, no exporter);
- `on`: this tree sampled at 100 % (`OTEL_TRACES_SAMPLER=always_on`), the batch span processor exporting over
  OTLP/HTTP to a sink here that reads each request and throws it away ("to nowhere": every span is made,
  batched, encoded and sent). Not an endpoint where nothing listens: the exporter would then retry while the
  queue overflows, and the SDK writes a log record for every span it drops — that measures the failure, not
  tracing.

Warm lookups (what bench/lookup.py measures): the three `gerbang serve` run side by side on the same simulators,
each with its facet cache warm, and take turns: in each of `--lookup-rounds` rounds each gets `--lookup-seconds`
of load from 32 connections (after half a second unmeasured, which fills its 2-second record memo again), the
order rotating. Why side by side and short turns: on a shared 2-core machine the load from elsewhere changes
within seconds, and a variant measured minutes after another measured another machine. Figures: requests/s and the server's CPU µs per request, and for each round the ratio to `before` in
the same round. Submissions: bench/submit.py end to end (PostgreSQL, RabbitMQ, a worker), whole runs alternated
`--submit-rounds` times. Targets: off ≥ 97 % of before, on ≥ 85 % of before. Each figure is the median of the
rounds, with the lowest and highest beside it.

    .venv/bin/python bench/tracing.py [--baseline /tmp/before] [--lookup-rounds 20] [--lookup-seconds 2]
                                      [--submit-rounds 3] [--count 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.simkit.population import Population  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BEFORE_TRACING = "3861b49^"
FASTAPI_CALL = "        lifespan=lifespan,\n"


def exported_baseline() -> Path:
    """The tree before tracing, exported from git, with FastAPI's own telemetry off as in this tree."""
    target = Path(tempfile.mkdtemp(prefix="gerbang-before-tracing-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE_TRACING], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    app = target / "core" / "api" / "app.py"
    source = app.read_text()
    assert FASTAPI_CALL in source, "the baseline's create_app changed: adjust FASTAPI_CALL"
    app.write_text(source.replace(FASTAPI_CALL, FASTAPI_CALL + '        telemetry={"tracing": False, "metrics": False, '
                                  '"logs": False},\n', 1))
    return target


class _Sink(BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP exports and discards them."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def nowhere() -> str:
    """A sink on loopback for the `on` variant's spans (a thread of this process, for the whole run)."""
    if not _SINK:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _SINK.append(f"http://127.0.0.1:{server.server_port}")
    return _SINK[0]


_SINK: list[str] = []
VARIANTS = ("before", "off", "on")
POPULATION = Population(seed=2024, size=500)


def environment(variant: str, baseline: Path) -> tuple[dict[str, str], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if variant == "before":
        return {**env, "PYTHONPATH": str(baseline)}, baseline
    env["PYTHONPATH"] = str(ROOT)  # this tree, also when it is an exported copy (not the venv's editable install)
    if variant == "on":
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=nowhere(), OTEL_TRACES_SAMPLER="always_on")
    return env, ROOT


def run(variant: str, baseline: Path, script: str, args: list[str]) -> str:
    env, cwd = environment(variant, baseline)
    done = subprocess.run([PYTHON, str(cwd / "bench" / script), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} {script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


SETUP = """
import sys
from core.db import make_engine, session_factory, upgrade
from core.security.clients import create_client
upgrade(sys.argv[1])
engine = make_engine(sys.argv[1])
with session_factory(engine)() as session:
    _, key = create_client(session, "bench", ["citizen:read:*"], ["business_licensing"], rate_per_s=100_000.0,
                           rate_burst=100_000)
print(key)
"""


def lookup_servers(baseline: Path, work: Path, stack: ExitStack) -> dict[str, tuple[str, str, int]]:
    """`gerbang serve` of each variant (its own SQLite database and client key), all on the same simulators:
    variant → (base URL, API key, pid)."""
    from bench.lookup import free_port, start_server
    from connectors.registry import discover
    from connectors.simkit import serving
    from core.demo import agency_environment

    plugins = discover()
    sims = {n: stack.enter_context(serving.serving(p.simulator(POPULATION))) for n, p in plugins.items()
            if p.simulator}
    servers = {}
    for variant in VARIANTS:
        env, cwd = environment(variant, baseline)
        data = work / variant
        data.mkdir()
        url = f"sqlite:///{data / 'bench.db'}"
        key = subprocess.run([PYTHON, "-c", SETUP, url], env=env, cwd=cwd, check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        env.update(agency_environment(plugins, sims), GERBANG_DATABASE_URL=url, GERBANG_DATA_DIR=str(data),
                   GERBANG_LOG_LEVEL="WARNING")
        port = free_port()
        process = start_server([str(Path(PYTHON).with_name("gerbang")), "serve", "--port", str(port)], env,
                               f"http://127.0.0.1:{port}/healthz")
        stack.callback(process.wait, 15)
        stack.callback(process.terminate)
        servers[variant] = (f"http://127.0.0.1:{port}", key, process.pid)
    return servers


def lookups(baseline: Path, rounds: int, seconds: float) -> dict[str, list[tuple[float, float]]]:
    """Warm lookups on the three servers, running side by side: in each round each gets `seconds` of load in
    turn (the order rotating), so that whatever else the machine does falls on all three alike. Per round and
    variant: (requests/s, the server's CPU µs per request)."""
    from bench.loadgen import run as load
    from bench.lookup import cpu_seconds

    figures: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gerbang-bench-tracing-")))
        servers = lookup_servers(baseline, work, stack)
        people = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil][:60]
        for variant, (base, key, _) in servers.items():
            urls = [f"{base}/v1/citizens/{p.nik}?purpose=business_licensing" for p in people]
            with httpx.Client(headers=headers(key), timeout=30) as client:
                for url in urls:  # the facet cache, warm
                    client.get(url).raise_for_status()
            asyncio.run(load(urls, headers(key), seconds=1, connections=4))
        for turn in range(rounds):
            for variant in VARIANTS[turn % 3:] + VARIANTS[: turn % 3]:
                base, key, pid = servers[variant]
                urls = [f"{base}/v1/citizens/{p.nik}?purpose=business_licensing" for p in people]
                asyncio.run(load(urls, headers(key), seconds=0.5, connections=32))  # its memo warm again, unmeasured
                cpu = cpu_seconds(pid) or 0.0
                result = asyncio.run(load(urls, headers(key), seconds=seconds, connections=32))
                used = (cpu_seconds(pid) or 0.0) - cpu
                figures[variant].append((result.rate, 1e6 * used / max(result.requests, 1)))
            print(f"lookup round {turn + 1}: " + ", ".join(
                f"{v} {figures[v][-1][0]:.0f}/s {figures[v][-1][1]:.0f} µs" for v in VARIANTS), flush=True)
    return figures


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Officer-Id": "bench", "Counter-Id": "bench-1", "Mpp-Site": "mpp-bench"}


def submit_rate(out: str) -> float:
    found = re.search(r"end to end: \d+ applications submitted in [\d.]+s =\s*(\d+) applications/s", out)
    if found is None:
        raise RuntimeError(f"unexpected bench/submit.py output:\n{out}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help=f"the tree before tracing (default: {BEFORE_TRACING}, exported)")
    parser.add_argument("--lookup-rounds", type=int, default=20)
    parser.add_argument("--lookup-seconds", type=float, default=2.0, help="per server and round")
    parser.add_argument("--submit-rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=2000, help="applications per submit run")
    options = parser.parse_args()
    if options.baseline is None:
        options.baseline = exported_baseline()
    if options.lookup_rounds:
        figures = lookups(options.baseline, options.lookup_rounds, options.lookup_seconds)
        rate = {v: [f[0] for f in figures[v]] for v in VARIANTS}
        cpu = {v: [f[1] for f in figures[v]] for v in VARIANTS}
        print(f"warm lookups, {options.lookup_rounds} rounds: req/s " + ", ".join(
            f"{v} {spread(rate[v])}" for v in VARIANTS))
        print("  server CPU µs per request " + ", ".join(f"{v} {spread(cpu[v])}" for v in VARIANTS))
        for v, against in (("off", "before"), ("on", "before"), ("on", "off")):
            print(f"  {v:3} vs {against}: throughput {ratio(rate[v], rate[against])}, "
                  f"CPU per request {ratio(cpu[v], cpu[against])}")
    submits: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for turn in range(options.submit_rounds):
        for variant in VARIANTS if turn % 2 == 0 else VARIANTS[::-1]:
            out = run(variant, options.baseline, "submit.py",
                      ["--count", str(options.count), "--skip-floor", "--skip-raw"])
            submits[variant].append(submit_rate(out))
            print(f"submit round {turn + 1} {variant:6}: {submits[variant][-1]:.0f} applications/s", flush=True)
    if options.submit_rounds:
        print("submit (end to end), applications/s: " + ", ".join(f"{v} {spread(submits[v])}" for v in VARIANTS))
        for v, against in (("off", "before"), ("on", "before"), ("on", "off")):
            print(f"  {v:3} vs {against}: {ratio(submits[v], submits[against])}")


def spread(values: list[float]) -> str:
    """The median, and the lowest and highest round."""
    return f"{statistics.median(values):.0f} ({min(values):.0f}–{max(values):.0f})"


def ratio(values: list[float], before: list[float]) -> str:
    """Median against median, and the same ratio of each round to its own round's `before` (their spread)."""
    rounds = [100 * v / b for v, b in zip(values, before, strict=True)]
    return (f"{100 * statistics.median(values) / statistics.median(before):.1f} % "
            f"(per round {min(rounds):.0f}–{max(rounds):.0f} %)")


if __name__ == "__main__":
    main()
