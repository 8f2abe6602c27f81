"""Benchmark: what OpenTelemetry tracing costs, on bench/lookup.py and bench/submit.py (issue #17).

Three variants, alternated round by round in one run so that load from elsewhere on the machine falls on all:
- `before`: the code before tracing, an exported tree given with --baseline (e.g. `git archive <commit> | tar -x
  -C /tmp/before`), run from there (PYTHONPATH and working directory: the venv's editable install is not used);
- `off`: this tree with no OTEL_* variable set (the default: no provider, no exporter);
- `on`: this tree sampled at 100 % (`OTEL_TRACES_SAMPLER=always_on`), the batch span processor exporting over
  OTLP/HTTP to a sink here that reads each request and throws it away ("to nowhere": every span is made,
  batched, encoded and sent). Not an endpoint where nothing listens: the exporter would then retry while the
  queue overflows, and the SDK writes a log record for every span it drops — that measures the failure, not
  tracing.
Figures: warm lookups req/s as a share of the bare FastAPI endpoint measured in the same bench run (the ratio
bench/lookup.py prints, least disturbed by other load) and the API's CPU µs per request; submissions end to end
applications/s. Targets: off ≥ 97 % of before, on ≥ 85 % of before.

    .venv/bin/python bench/tracing.py --baseline /tmp/before [--rounds 2] [--lookup-seconds 6] [--count 2000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


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


def environment(variant: str, baseline: Path) -> tuple[dict[str, str], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if variant == "before":
        return {**env, "PYTHONPATH": str(baseline)}, baseline
    env.pop("PYTHONPATH", None)
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


def lookup_figures(out: str) -> tuple[float, float, float]:
    """(share of bare, req/s, CPU µs/req) from bench/lookup.py's output."""
    share = re.search(r"ratio\s*:\s*(\d+)% of bare", out)
    warm = re.search(r"gerbang warm :\s*(\d+) req/s.*?(?:server CPU\s+(\d+) µs/req)?$", out, re.MULTILINE)
    if share is None or warm is None:
        raise RuntimeError(f"unexpected bench/lookup.py output:\n{out}")
    return float(share.group(1)), float(warm.group(1)), float(warm.group(2) or "nan")


def submit_rate(out: str) -> float:
    found = re.search(r"end to end: \d+ applications submitted in [\d.]+s =\s*(\d+) applications/s", out)
    if found is None:
        raise RuntimeError(f"unexpected bench/submit.py output:\n{out}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="the exported tree before tracing")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--lookup-seconds", type=float, default=6.0)
    parser.add_argument("--count", type=int, default=2000, help="applications per submit run")
    parser.add_argument("--skip-submit", action="store_true")
    parser.add_argument("--skip-lookup", action="store_true")
    options = parser.parse_args()
    variants = ("before", "off", "on")
    lookups: dict[str, list[tuple[float, float, float]]] = {v: [] for v in variants}
    submits: dict[str, list[float]] = {v: [] for v in variants}
    for turn in range(options.rounds):
        order = variants if turn % 2 == 0 else variants[::-1]
        for variant in order:
            if not options.skip_lookup:
                out = run(variant, options.baseline, "lookup.py",
                          ["--seconds", str(options.lookup_seconds), "--rounds", "2", "--cold-count", "5"])
                lookups[variant].append(lookup_figures(out))
                print(f"round {turn + 1} {variant:6} lookup: {lookups[variant][-1][0]:.0f} % of bare, "
                      f"{lookups[variant][-1][1]:.0f} req/s, {lookups[variant][-1][2]:.0f} µs CPU/req", flush=True)
            if not options.skip_submit:
                out = run(variant, options.baseline, "submit.py", ["--count", str(options.count), "--skip-floor"])
                submits[variant].append(submit_rate(out))
                print(f"round {turn + 1} {variant:6} submit: {submits[variant][-1]:.0f} applications/s", flush=True)
    if not options.skip_lookup:
        share = {v: statistics.mean(f[0] for f in lookups[v]) for v in variants}
        cpu = {v: statistics.mean(f[2] for f in lookups[v]) for v in variants}
        print("lookup (warm), share of bare FastAPI: " + ", ".join(f"{v} {share[v]:.0f} %" for v in variants))
        for v in ("off", "on"):
            print(f"  {v:3} vs before: throughput {100 * share[v] / share['before']:.1f} %, "
                  f"CPU per request {100 * cpu[v] / cpu['before']:.1f} %")
    if not options.skip_submit:
        rate = {v: statistics.mean(submits[v]) for v in variants}
        print("submit (end to end): " + ", ".join(f"{v} {rate[v]:.0f}/s" for v in variants))
        for v in ("off", "on"):
            print(f"  {v:3} vs before: {100 * rate[v] / rate['before']:.1f} %")


if __name__ == "__main__":
    main()
