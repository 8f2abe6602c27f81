"""REST plumbing shared by the httpx-based connectors: one client per connector, failures mapped to AgencyError.

Redirects are never followed (an agency that redirects is misconfigured, and following would let a reply send us
elsewhere); timeouts are always set, and bound the whole call, not only each read; a reply is streamed and dropped
past MAX_BODY_BYTES, counted after decompression (`fetch_bounded`, shared with the SOAP connectors); a body that is
not JSON, or nested past the parser's depth, is a protocol error, not a crash.
"""

from __future__ import annotations

import asyncio
import json
import select
import ssl
import time
import weakref
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import httpcore
import httpx

from connectors.base import AgencyAccessDenied, AgencyProtocolError, AgencyTimeout, AgencyUnavailable
from connectors.config import DEFAULT_TIMEOUT_S, required, timeout_s
from connectors.tracing import add_traceparent

T = TypeVar("T")
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_CONNECTIONS = 50
# every pooled connection may stay open between calls: httpcore 1.0 closes an idle connection whenever the pool
# holds more connections *in total* than max_keepalive_connections, so with fewer keep-alive than in-flight calls
# most calls opened (and closed) a TCP connection of their own
POOL_LIMITS = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)


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


def make_client(
    base_url: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient for one agency: base URL, timeouts, no redirects, bounded pool, W3C traceparent sent."""
    client = httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
        follow_redirects=False,
        headers={"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})},
        limits=POOL_LIMITS,
        transport=transport,
        event_hooks={"request": [add_traceparent]},
    )
    return client if transport is not None else quicken(client)


def client_from_settings(
    config: Mapping[str, str],
    agency: str,
    *,
    key_headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """`make_client` from an agency's settings: `url` (required), `timeout_s` (optional), JSON asked for, and
    `key_headers` {header: setting} carrying required credentials, e.g. {"X-API-Key": "api_key"}."""
    url = required(config, agency, "url").rstrip("/")
    timeout = timeout_s(config, agency)
    headers = {header: required(config, agency, key) for header, key in (key_headers or {}).items()}
    return make_client(url, timeout_s=timeout, headers={**headers, "Accept": "application/json"}, transport=transport)


_RESOLVED_MAX = 64  # paths per client; beyond (paths with ids in them) they are resolved per request as usual
_resolved: weakref.WeakKeyDictionary[httpx.AsyncClient, dict[str, httpx.URL]] = weakref.WeakKeyDictionary()


def resolve(client: httpx.AsyncClient, url: str | httpx.URL) -> str | httpx.URL:
    """A connector's relative path as the absolute URL httpx would build from the client's base URL, built once.

    Why: httpx parses the path and re-parses the merged URL at every request (about a fifth of a submission's
    request building); an absolute `httpx.URL` passes through as it is. Same result: `base_url.join` is not
    used, only httpx's own merge, whose answer is kept."""
    merge = getattr(client, "_merge_url", None)
    if merge is None or not isinstance(url, str) or "://" in url:
        return url  # an httpx laid out otherwise: it merges per request, as it always did
    known = _resolved.get(client)
    if known is None:
        known = _resolved[client] = {}
    found = known.get(url)
    if found is None:
        found = merge(url)  # httpx's own merge (base path kept, leading "/" of `url` dropped)
        if len(known) < _RESOLVED_MAX:
            known[url] = found
    return found


class ReplyRefused(Exception):
    """A reply refused while it was read: larger than allowed (declared, read or once decompressed), or in a
    content encoding we do not read."""


_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
ACCEPT_ENCODING = "gzip, deflate"  # what read_bounded decodes (httpx would also offer br/zstd when installed)


async def read_bounded(response: httpx.Response, max_bytes: int) -> bytes:
    """The (decoded) body of a streamed response, or ReplyRefused as soon as it exceeds `max_bytes`, declared or
    read. Decompression is bounded too: a small gzip bomb never expands past the limit in memory."""
    too_large = f"reply body too large (more than {max_bytes} bytes)"
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if declared.isdigit() and int(declared) > max_bytes:
        raise ReplyRefused(too_large)  # compressed or not, the wire bytes alone exceed it
    decoder = _decoder(encoding)
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            if decoder is not None:  # all input is consumed unless the output limit is hit, which is refused
                chunk = decoder.decompress(chunk, max_bytes - len(body) + 1)
            body += chunk
            if len(body) > max_bytes:
                raise ReplyRefused(too_large)
        if decoder is not None:
            body += decoder.flush()
            if not decoder.eof:
                raise ReplyRefused(f"reply's {encoding} stream is truncated")
    except zlib.error as exc:
        raise ReplyRefused(f"reply is not valid {encoding} ({exc})") from exc
    if len(body) > max_bytes:
        raise ReplyRefused(too_large)
    return bytes(body)


def _decoder(encoding: str) -> Any:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise ReplyRefused(f"reply uses an unsupported content encoding {encoding!r}")


def time_budget(client: httpx.AsyncClient) -> float | None:
    """How long one call may take in all, reply read whole: the connect plus the read timeout. httpx's own
    timeouts bound each step (a read that waits), not the sum, so an agency trickling a byte at a time held a
    call for ever."""
    timeout = client.timeout
    if timeout.read is None:
        return None
    return (timeout.connect or 0.0) + timeout.read


async def fetch_bounded(
    client: httpx.AsyncClient, request: httpx.Request, max_bytes: int = MAX_BODY_BYTES
) -> httpx.Response:
    """Send `request` and read the reply whole — at most `max_bytes` after decompression, within `time_budget` —
    as a plain in-memory response (its content already decoded). The one reader of agency replies, REST and SOAP:
    nothing an agency sends (an endless stream, a gzip bomb, a trickle) can hold more memory or time than that.
    Raises ReplyRefused, httpx.TimeoutException (the budget spent) or httpx's transport errors."""
    try:
        async with asyncio.timeout(time_budget(client)):
            response = await client.send(request, stream=True)
            try:
                body = await read_bounded(response, max_bytes)
            finally:
                await response.aclose()
    except TimeoutError as exc:  # asyncio's: the whole budget is spent
        raise httpx.ReadTimeout("the reply did not arrive whole in time", request=request) from exc
    kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED_HEADERS]
    return httpx.Response(
        response.status_code,
        headers=kept,
        content=body,
        request=request,
        extensions={
            key: value for key, value in response.extensions.items() if key in ("http_version", "reason_phrase")
        },
    )


async def send(client: httpx.AsyncClient, agency: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send a request; connection failures, timeouts and 5xx become AgencyUnavailable/AgencyTimeout, a reply too
    large (or in an encoding we do not read) AgencyProtocolError."""
    try:
        request = client.build_request(method, resolve(client, url), **kwargs)
        response = await fetch_bounded(client, request)
    except httpx.TimeoutException as exc:
        raise AgencyTimeout(agency, f"no answer in time ({type(exc).__name__})") from exc
    except ReplyRefused as exc:
        raise AgencyProtocolError(agency, f"reply refused: {exc}") from exc
    except (httpx.TransportError, OSError) as exc:
        raise AgencyUnavailable(agency, f"cannot reach the agency ({type(exc).__name__})") from exc
    if response.status_code >= 500:
        raise AgencyUnavailable(
            agency, f"agency answered HTTP {response.status_code}", retry_after_s=retry_after(response)
        )
    return response


def json_body(response: httpx.Response, agency: str, *, parse_float: Callable[[str], Any] | None = None) -> Any:
    """The reply's JSON, or AgencyProtocolError if it is not JSON (wrong content type or malformed).

    `parse_float=Decimal` reads fractional numbers exactly, for agencies that send amounts of money."""
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:
        raise AgencyProtocolError(agency, f"expected JSON, got content type {content_type or 'none'!r}")
    try:
        return json.loads(response.content, parse_float=parse_float)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AgencyProtocolError(agency, "malformed JSON reply") from exc
    except RecursionError as exc:  # `[` × 200 000: the parser's recursion, not our crash
        raise AgencyProtocolError(agency, "JSON reply nested too deeply") from exc


def read_reply(
    response: httpx.Response, agency: str, what: str, parse: Callable[[httpx.Response], T], *, kind: str
) -> T:
    """`parse(response)`; when it cannot read the body, the HTTP status says whose fault that is.

    For agencies that answer their own errors in a body: a body they did not write is a gateway's. HTTP 401/403
    then means a gateway refused our key before the agency saw it (AgencyAccessDenied), any other status but 200 a
    reply that is not `kind` (AgencyProtocolError, code = the status); on HTTP 200 the parser's error stands."""
    try:
        return parse(response)
    except AgencyProtocolError:
        status = response.status_code
        if status in (401, 403):
            raise AgencyAccessDenied(agency, f"{what}: HTTP {status} from the gateway", code=str(status)) from None
        if status != 200:
            raise AgencyProtocolError(agency, f"{what}: HTTP {status} without {kind}", code=str(status)) from None
        raise


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a numeric Retry-After header, if any."""
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
