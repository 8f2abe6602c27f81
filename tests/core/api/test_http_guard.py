"""The server's own limits (core/api/http_guard.py), on a real uvicorn over loopback: a request head larger than
the limit is 431 before it is buffered, a head that stalls is 408, a request line that is not HTTP is a problem
document — and an ordinary request passes."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from connectors.simkit.serving import bind
from core.api.http_guard import guarded_protocol

MAX_HEAD = 8192


async def _ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    sock = bind()
    config = uvicorn.Config(_ok, log_level="warning", lifespan="off", http=guarded_protocol(MAX_HEAD, 0.5))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(5)
    sock.close()


def _exchange(port: int, *parts: bytes, pause: float = 0.0) -> tuple[int, dict[str, Any] | None, float]:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        try:
            for part in parts:
                conn.sendall(part)
                time.sleep(pause)
        except OSError:
            pass  # the server closed on us mid-send: its answer is still to be read
        reply = b""
        try:
            while chunk := conn.recv(65536):
                reply += chunk
        except OSError:
            pass
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    problem = json.loads(body) if b"application/problem+json" in head else None
    return status, problem, time.perf_counter() - started


def test_an_ordinary_request_passes(port: int) -> None:
    status, _, _ = _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Some: " + b"a" * 4000 + b"\r\nConnection: close\r\n\r\n")
    assert status == 200


def test_a_huge_header_is_431_before_it_is_read(port: int) -> None:
    parts = [b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "] + [b"a" * 65536] * 128  # 8 MB, never finished
    status, problem, elapsed = _exchange(port, *parts)
    assert status == 431 and problem is not None and problem["code"] == "header_too_large"
    assert elapsed < 3


def test_a_stalled_head_is_408(port: int) -> None:
    status, problem, elapsed = _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert status == 408 and problem is not None and problem["code"] == "header_timeout"
    assert 0.4 < elapsed < 3


def test_a_request_line_that_is_not_http_is_a_problem(port: int) -> None:
    status, problem, _ = _exchange(port, b"GARBAGE\r\n\r\n")
    assert status == 400 and problem is not None and problem["code"] == "http_invalid"
