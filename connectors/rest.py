"""REST plumbing shared by the httpx-based connectors: one client per connector, failures mapped to AgencyError.

Redirects are never followed (an agency that redirects is misconfigured, and following would let a reply send us
elsewhere); timeouts are always set, and bound the whole call, not only each read; a reply is streamed and dropped
past MAX_BODY_BYTES, counted after decompression (`fetch_bounded`, shared with the SOAP connectors); a body that is
not JSON, or nested past the parser's depth, is a protocol error, not a crash.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import weakref
import zlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from connectors.base import AgencyAccessDenied, AgencyProtocolError, AgencyTimeout, AgencyUnavailable
from connectors.config import DEFAULT_TIMEOUT_S, required, timeout_s
from connectors.httpcore_pool import quicken
from connectors.tracing import add_traceparent

T = TypeVar("T")
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_CONNECTIONS = 50
# every pooled connection may stay open between calls: httpcore 1.0 closes an idle connection whenever the pool
# holds more connections *in total* than max_keepalive_connections, so with fewer keep-alive than in-flight calls
# most calls opened (and closed) a TCP connection of their own
POOL_LIMITS = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)


@functools.cache
def tls_context(trust_env: bool = True) -> ssl.SSLContext:
    """httpx's default certificate verification (certifi's CAs, or with `trust_env` SSL_CERT_FILE / SSL_CERT_DIR),
    built once per process and shared by every client. Why: left to itself httpx builds one per client, loading the
    CA bundle each time (~30 ms here), and an app start built eight. Sharing is safe: every client speaks HTTP/1.1
    only, so httpcore sets the same ALPN on it at each connect."""
    return httpx.create_ssl_context(trust_env=trust_env)


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
        verify=tls_context(),
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
    request building); an absolute `httpx.URL` passes through as it is. The merge is httpx's own rule, written
    with its public `URL` API: the path is appended to the base URL's path (which httpx always ends with "/"), its
    leading "/" dropped, so a base `/v1` keeps its `/v1` (`base_url.join` would drop it for "/x")."""
    if not isinstance(url, str) or "://" in url:
        return url
    known = _resolved.get(client)
    if known is None:
        known = _resolved[client] = {}
    found = known.get(url)
    if found is None:
        found = _merged(client.base_url, url)
        if len(known) < _RESOLVED_MAX:
            known[url] = found
    return found


def _merged(base: httpx.URL, url: str) -> httpx.URL:
    """`url` on `base` as httpx 0.28's client merges them (`BaseClient._merge_url`, a private method)."""
    relative = httpx.URL(url)
    if not relative.is_relative_url:
        return relative
    return base.copy_with(raw_path=base.raw_path + relative.raw_path.lstrip(b"/"))


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
