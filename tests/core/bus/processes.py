"""Gerbang as real processes: `gerbang serve` and `gerbang worker` started with the environment of a Settings
object, for the distributed tests and bench/distributed.py.

Why a module of its own: the killed-worker tests, the two-API/two-worker run and the benchmark all start the same
processes the same way. Each process's stderr goes to a log file (never a pipe nobody reads: a full pipe would
stall it), and `Processes` stops whatever it started, even when a test fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pika

ROOT = Path(__file__).resolve().parents[3]


def environment(settings: Any, log_level: str = "WARNING") -> dict[str, str]:
    """The environment a `gerbang` process needs to behave like `settings` (GERBANG_* variables only)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}
    env.update(settings.agency_env)
    for name, value in settings.model_dump().items():
        if name == "agency_env" or value is None:
            continue
        env[f"GERBANG_{name.upper()}"] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    env["GERBANG_LOG_LEVEL"] = log_level
    env["PYTHONPATH"] = str(ROOT)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """Wait until `url` answers (any status below 500); fail early if the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout_s}s")


def consumers(amqp_url: str, queue: str) -> int:
    """How many consumers a queue has now (0 if it does not exist yet)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.consumer_count)
    except pika.exceptions.ChannelClosedByBroker:
        return 0
    finally:
        if connection.is_open:
            connection.close()


def wait_consumers(amqp_url: str, queues: Iterable[str], count: int, timeout_s: float = 60.0) -> None:
    """Wait until each queue has `count` consumers: the workers are then connected and consuming."""
    names = list(queues)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(consumers(amqp_url, name) >= count for name in names):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{names}: fewer than {count} consumers after {timeout_s}s")


class Processes:
    """Starts `gerbang` processes and stops them all at `close()` (SIGTERM, then SIGKILL after a grace)."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.logs.mkdir(parents=True, exist_ok=True)
        self.started: list[subprocess.Popen[bytes]] = []

    def gerbang(self, args: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}-{len(self.started)}.log", "wb")
        try:
            process = subprocess.Popen([sys.executable, "-m", "core.cli.main", *args], cwd=ROOT, env=env,
                                       stdout=subprocess.DEVNULL, stderr=log)
        finally:
            log.close()  # the child holds its own descriptor
        self.started.append(process)
        return process

    def worker(self, settings: Any, *extra: str) -> subprocess.Popen[bytes]:
        """A `gerbang worker` process (relay and consumers)."""
        return self.gerbang(["worker", *extra], environment(settings), "worker")

    def api(self, settings: Any, wait: bool = True) -> tuple[subprocess.Popen[bytes], str]:
        """A `gerbang serve` process on a free port; returns it and its base URL (once /healthz answers)."""
        port = free_port()
        process = self.gerbang(["serve", "--port", str(port)], environment(settings), "api")
        url = f"http://127.0.0.1:{port}"
        if wait:
            wait_http(f"{url}/healthz", process)
        return process, url

    def logs_tail(self, lines: int = 20) -> str:
        """The last lines of every process log (for a failing test's message)."""
        out = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            if text:
                out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def close(self, grace_s: float = 10.0) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
