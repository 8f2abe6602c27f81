"""Run an ASGI app (a simulator or the API) on loopback in a background thread, on a port of the OS's choosing.

Tests and the demo use this to run real servers: the socket is bound before the thread starts, so the URL is
known and connectable as soon as `start` returns.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class RunningServer:
    """A uvicorn server on its own thread; `url` is its base URL, `stop()` ends it."""

    server: uvicorn.Server
    sock: socket.socket
    thread: threading.Thread = field(repr=False)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout_s: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)
        self.sock.close()


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket (SO_REUSEADDR) on host:port; port 0 lets the OS choose. Connections made before the
    server starts wait in the backlog instead of being refused."""
    # With the protocol named (not 0) asyncio recognises a TCP socket and turns Nagle's algorithm off on accepted
    # connections; without it every keep-alive reply waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def start(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning", timeout_s: float = 10.0
) -> RunningServer:
    """Start `app` on host:port in a daemon thread and wait until it accepts connections."""
    sock = bind(host, port)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"uvicorn:{sock.getsockname()[1]}"
    )
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"server on port {sock.getsockname()[1]} did not start")
        time.sleep(0.01)
    return RunningServer(server=server, sock=sock, thread=thread)


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningServer]:
    """`with serving(app) as srv:` — the app answers at `srv.url` inside the block."""
    running = start(app, host, port)
    try:
        yield running
    finally:
        running.stop()
