"""Benchmark: what OpenTelemetry tracing costs, on bench/lookup.py and bench/submit.py (issue #17).

Three variants, alternated round by round in one run so that load from elsewhere on the machine falls on all:
- `before`: the code before tracing (3861b49^, exported with `git archive` into a temporary directory, or a tree
  given with --baseline), run from there (PYTHONPATH and working directory: the venv's editable install is not
  used). Its FastAPI gets the switch this tree gives it (`telemetry=` off: core/api/app.py), so that it behaves as
  it did before `opentelemetry` was installed, when FastAPI's telemetry found nothing to look for;
- `off`: this tree with no OTEL_* variable set (the default: no provider, no exporter);
- `on`: this tree sampled at 100 % (`OTEL_TRACES_SAMPLER=always_on`), the batch span processor exporting over
  OTLP/HTTP to a sink here that reads each request and throws it away ("to nowhere": every span is made,
  batched, encoded and sent). Not an endpoint where nothing listens: the exporter would then retry while the
  queue overflows, and the SDK writes a log record for every span it drops — that measures the failure, not
  tracing.
Figures: warm lookups req/s as a share of the bare FastAPI endpoint measured in the same bench run (the ratio
bench/lookup.py prints, least disturbed by other load) and the API's CPU µs per request; submissions end to end
applications/s. Targets: off ≥ 97 % of before, on ≥ 85 % of before.

    .venv/bin/python bench/tracing.py [--baseline /tmp/before] [--rounds 5] [--lookup-seconds 6] [--count 2000]

Each figure is the median of the rounds, with the spread (lowest–highest) beside it: on a shared machine one
round can land on a burst of someone else's load.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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
    parser.add_argument("--baseline", type=Path, help=f"the tree before tracing (default: {BEFORE_TRACING}, exported)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lookup-seconds", type=float, default=6.0)
    parser.add_argument("--count", type=int, default=2000, help="applications per submit run")
    parser.add_argument("--skip-submit", action="store_true")
    parser.add_argument("--skip-lookup", action="store_true")
    options = parser.parse_args()
    if options.baseline is None:
        options.baseline = exported_baseline()
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
        share = {v: [f[0] for f in lookups[v]] for v in variants}
        cpu = {v: [f[2] for f in lookups[v]] for v in variants}
        print("lookup (warm), share of bare FastAPI: " + ", ".join(f"{v} {spread(share[v])} %" for v in variants))
        print("lookup (warm), API CPU µs per request: " + ", ".join(f"{v} {spread(cpu[v])}" for v in variants))
        for v in ("off", "on"):
            print(f"  {v:3} vs before: throughput {ratio(share[v], share['before'])}, "
                  f"CPU per request {ratio(cpu[v], cpu['before'])}")
    if not options.skip_submit:
        print("submit (end to end), applications/s: " + ", ".join(f"{v} {spread(submits[v])}" for v in variants))
        for v in ("off", "on"):
            print(f"  {v:3} vs before: {ratio(submits[v], submits['before'])}")


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
