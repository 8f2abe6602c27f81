"""Start `gerbang demo` from an installed Gerbang, make one lookup and one submission, stop it; exit 1 on any failure.

Standard library only (it judges an install, so it must not lean on what that install brings). Usage:
    python3 .ci/smoke_demo.py PATH/TO/gerbang WORKDIR
The demo runs in WORKDIR with no GERBANG_ settings (its data folder lands there) on free ports (--port 0).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

START_S, SUBMIT_S, STOP_S = 90, 60, 30
CONTEXT = {"Officer-Id": "smoke-01", "Counter-Id": "loket-smoke", "Mpp-Site": "mpp-ci"}


def call(method: str, url: str, key: str, body: dict | None = None, **headers: str) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json", **CONTEXT, **headers})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def read_banner(process: subprocess.Popen[str], lines: list[str]) -> None:
    """Collect the demo's output on a thread (a stalled demo must not stall this script)."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)


def smoke(gerbang: str, workdir: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}
    process = subprocess.Popen([gerbang, "demo", "--port", "0"], cwd=workdir, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    reader = threading.Thread(target=read_banner, args=(process, lines), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_S
        while not any("Ctrl-C stops everything" in line for line in lines):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the demo did not start (exit {process.poll()}):\n{''.join(lines)}")
            time.sleep(0.2)
        banner = list(lines)
        key = next(line.split()[3] for line in banner if line.startswith("Demo API key:"))
        lookup = next(shlex.split(line)[-1] for line in banner if "purpose=identity_check" in line)
        post = shlex.split(next(line for line in banner  # the submission, not the OSS simulator's push line
                                if "-X POST" in line and line.rstrip().endswith("/v1/applications")))
        body = json.loads(post[post.index("-d") + 1])
        api = post[-1].rsplit("/v1/", 1)[0]

        status, record = call("GET", lookup, key)
        if status != 200 or record["facets"]["identity"]["provenance"]["status"] != "ok":
            raise SystemExit(f"lookup {lookup} answered {status}: {record}")
        status, accepted = call("POST", f"{api}/v1/applications", key, body, **{"Idempotency-Key": "smoke-1"})
        if status != 202:
            raise SystemExit(f"submission answered {status}: {accepted}")
        deadline, view = time.monotonic() + SUBMIT_S, accepted
        while view.get("status") != "submitted":
            if view.get("status") in ("rejected", "failed") or time.monotonic() > deadline:
                raise SystemExit(f"application {accepted['id']} did not end submitted: {view}")
            time.sleep(0.3)
            _, view = call("GET", f"{api}/v1/applications/{accepted['id']}", key)
        outcome = f"lookup 200 (identity ok), application {accepted['id']} submitted ({view.get('agency_reference')})"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_S)
            except subprocess.TimeoutExpired:
                process.kill()
                raise SystemExit(f"the demo did not stop within {STOP_S}s:\n{''.join(lines)}") from None
    reader.join(5)  # the rest of its output
    if process.returncode != 0 or any("Traceback" in line for line in lines):
        raise SystemExit(f"the demo exited {process.returncode} or printed a traceback:\n" + "".join(lines))
    return outcome


if __name__ == "__main__":
    print("smoke:", smoke(sys.argv[1], sys.argv[2]))
