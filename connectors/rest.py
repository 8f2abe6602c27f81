"""REST plumbing shared by the httpx-based connectors: one client per connector, failures mapped to AgencyError.

Redirects are never followed (an agency that redirects is misconfigured, and following would let a reply send us
elsewhere); timeouts are always set; a body that is not JSON is a protocol error, not a crash.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping, TypeVar

import httpx

from connectors.base import AgencyAccessDenied, AgencyProtocolError, AgencyTimeout, AgencyUnavailable
from connectors.config import DEFAULT_TIMEOUT_S, required, timeout_s
from connectors.tracing import add_traceparent

T = TypeVar("T")
MAX_BODY_BYTES = 5 * 1024 * 1024


def make_client(base_url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, headers: Mapping[str, str] | None = None,
                transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """An AsyncClient for one agency: base URL, timeouts, no redirects, bounded pool, W3C traceparent sent."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
        follow_redirects=False,
        headers=dict(headers or {}),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        transport=transport,
        event_hooks={"request": [add_traceparent]},
    )


def client_from_settings(config: Mapping[str, str], agency: str, *, key_headers: Mapping[str, str] | None = None,
                         transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """`make_client` from an agency's settings: `url` (required), `timeout_s` (optional), JSON asked for, and
    `key_headers` {header: setting} carrying required credentials, e.g. {"X-API-Key": "api_key"}."""
    url = required(config, agency, "url").rstrip("/")
    timeout = timeout_s(config, agency)
    headers = {header: required(config, agency, key) for header, key in (key_headers or {}).items()}
    return make_client(url, timeout_s=timeout, headers={**headers, "Accept": "application/json"}, transport=transport)


async def send(client: httpx.AsyncClient, agency: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send a request; connection failures, timeouts and 5xx become AgencyUnavailable/AgencyTimeout."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise AgencyTimeout(agency, f"no answer in time ({type(exc).__name__})") from exc
    except (httpx.TransportError, OSError) as exc:
        raise AgencyUnavailable(agency, f"cannot reach the agency ({type(exc).__name__})") from exc
    if response.status_code >= 500:
        raise AgencyUnavailable(agency, f"agency answered HTTP {response.status_code}",
                                retry_after_s=retry_after(response))
    if len(response.content) > MAX_BODY_BYTES:
        raise AgencyProtocolError(agency, "reply body too large")
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


def read_reply(response: httpx.Response, agency: str, what: str, parse: Callable[[httpx.Response], T], *,
               kind: str) -> T:
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
