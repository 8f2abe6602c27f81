"""A fork of httpcore's connection pool for the agency clients: `quicken(client)` gives an httpx client's pool a
cheaper "has the server closed it?" check (`_Stream`) and one-pass bookkeeping (`_Pool`, which overrides httpcore's
private `_assign_requests_to_connections`). Checked against httpcore 1.0 and httpx 0.28 (pinned in
pyproject.toml); tests/connectors/test_rest.py holds `_Pool` equal to httpcore's own method on thousands of random
pools, and any other layout of httpx/httpcore leaves the client as it is.

Why: httpcore re-counts all its connections for each idle one and polls every idle connection's socket at every
request and every response's end, so its cost per call grows with the concurrency. Measured with
bench/agency_pool.py (many parallel agency calls, alternating on a client with the fork and one without, in one
run; medians of 7 rounds), client CPU per call: 1,294 µs with the fork against 1,993 µs without at 20 calls in
flight (-35 %), 1,579 against 2,824 µs at 50 (-44 %).
"""

from __future__ import annotations

import select
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


def _readable(sock: Any) -> bool:
    """Whether an idle connection's socket has something to read, i.e. the server closed it (as httpcore checks)."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    """A connection of the pool whose "is the server gone?" check is one poll() on the socket found at connect.

    Why: httpcore asks it of every idle connection at every request and every response's end (dozens of times
    per call with a full pool); through anyio each check also built a dict of socket attributes with a
    getpeername() system call, which cost a good part of an agency call's CPU."""

    def __init__(self, inner: httpcore.AsyncNetworkStream):
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, with connections wrapped in `_Stream`."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore 1.0's pool with its bookkeeping in one pass over the connections, and the "has the server closed
    it?" check made of the connection about to be used rather than of every connection every time.

    Why: at every request and every response's end, httpcore re-counts *all* its connections for *each* idle one
    (`len([... for connection in self._connections])` inside the loop over them), and asks each idle connection
    whether it has expired, a poll() system call each: with 20 calls in flight to an agency both were most of
    the pool's CPU, and the cost per call grew with the concurrency. Here a full sweep (httpcore's own
    decisions, in the same order) runs at most every SWEEP_S; in between, an idle connection is checked when it is
    picked for a request, and closed instead if expired, so no request ever goes out on an expired connection;
    an idle connection nobody picks is closed at the next sweep, at most SWEEP_S later than httpcore would."""

    SWEEP_S = 1.0

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        connections = self._connections
        now = time.monotonic()
        sweep = now >= getattr(self, "_sweep_at", 0.0)
        if sweep:
            self._sweep_at = now + _Pool.SWEEP_S
        for connection in list(connections):  # len() of the list as it shrinks: httpcore's re-count, in O(1)
            if connection.is_closed():
                connections.remove(connection)
            elif sweep and connection.has_expired():
                connections.remove(connection)
                closing.append(connection)
            elif len(connections) > self._max_keepalive_connections and connection.is_idle():
                connections.remove(connection)
                closing.append(connection)
        for pool_request in [request for request in self._requests if request.is_queued()]:
            origin = pool_request.request.url.origin
            available = _Pool._pick(connections, origin, closing, checked=sweep)
            if available is not None:
                pool_request.assign_to_connection(available)
            elif len(connections) < self._max_connections:
                connection = self.create_connection(origin)
                connections.append(connection)
                pool_request.assign_to_connection(connection)
            else:
                idle = next((connection for connection in connections if connection.is_idle()), None)
                if idle is not None:
                    connections.remove(idle)
                    closing.append(idle)
                    connection = self.create_connection(origin)
                    connections.append(connection)
                    pool_request.assign_to_connection(connection)
        return closing

    @staticmethod
    def _pick(connections: list[Any], origin: Any, closing: list[Any], *, checked: bool) -> Any:
        """The first connection that can take a request to `origin`; unless this pass swept (`checked`), one that
        has expired is closed and the next one tried."""
        while True:
            found = next(
                (
                    connection
                    for connection in connections
                    if connection.can_handle_request(origin) and connection.is_available()
                ),
                None,
            )
            if found is None or checked or not found.has_expired():
                return found
            connections.remove(found)
            closing.append(found)


def quicken(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Give the client's own connection pool the cheaper idle check (`_Stream`) and the one-pass bookkeeping
    (`_Pool`). The client is built as usual (TLS checks, proxies from the environment), only its pool's network
    backend and class are swapped; if httpx/httpcore are laid out otherwise than expected (the pool is
    httpcore 1.0's, whose bookkeeping `_Pool` repeats), the client is left as it is."""
    transport = getattr(client, "_transport", None)
    pool = getattr(transport, "_pool", None)
    if (
        isinstance(transport, httpx.AsyncHTTPTransport)
        and type(pool) is httpcore.AsyncConnectionPool
        and hasattr(pool, "_network_backend")
    ):
        pool._network_backend = _Backend()
        if httpcore.__version__.startswith("1.0.") and all(
            hasattr(pool, name)
            for name in ("_connections", "_requests", "_max_keepalive_connections", "_max_connections")
        ):
            pool.__class__ = _Pool
    return client
