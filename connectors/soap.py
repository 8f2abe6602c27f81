"""SOAP 1.1 on the wire for the zeep-based connectors: session, hardened WSDL loading, reply limits, fault mapping.

The connectors themselves are declarations on the base in connectors/soap_connector.py. Why the wire looks the way
it does:
- The WSDL ships inside the connector package and is parsed from disk with zeep's strict, hardened settings (no
  DTDs, no entities, no external references); the WSDL loader's HTTP client is wired to a transport that refuses
  every request, so nothing is ever fetched from the network at run time. A deployment may point a connector at
  the agency's own WSDL instead (setting `wsdl`: a file, or an http(s) URL read once at start-up from that origin
  only; `wsdl_location`).
- The endpoint comes from configuration (`url`), overriding the WSDL's `soap:address`: the address in a shipped
  WSDL is documentation, not configuration.
- Calls go through an httpx AsyncClient with timeouts and no redirects; envelopes are never logged (they carry NIKs).
- Replies are hostile until proven otherwise: the body is read by REST's bounded reader (`fetch_bounded`: streamed,
  dropped past MAX_BODY_BYTES after decompression, the whole call within the time budget; compressed bodies are not
  asked for), and a reply carrying a DTD (which SOAP 1.1 forbids: the door to entity expansion and external
  entities) is refused before any parser sees it.
- Every failure is mapped to the `AgencyError` hierarchy: auth faults (WS-Security) → AgencyAccessDenied, other
  Client faults → AgencyRejected, Server faults and 5xx → AgencyUnavailable, unparseable replies →
  AgencyProtocolError, timeouts → AgencyTimeout.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import zeep
import zeep.exceptions
import zeep.helpers
from lxml import etree
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport
from zeep.wsse.username import UsernameToken

from connectors.base import (
    AgencyAccessDenied,
    AgencyError,
    AgencyProtocolError,
    AgencyRejected,
    AgencyTimeout,
    AgencyUnavailable,
)
from connectors.config import DEFAULT_TIMEOUT_S
from connectors.httpcore_pool import quicken
from connectors.rest import MAX_BODY_BYTES, POOL_LIMITS, ReplyRefused, fetch_bounded, tls_context
from connectors.tracing import add_traceparent

# WS-Security 1.1 fault codes (SOAP 1.1 carries them as the faultcode QName); all mean "your credentials".
AUTH_FAULTS = frozenset(
    {
        "FailedAuthentication",
        "InvalidSecurity",
        "InvalidSecurityToken",
        "FailedCheck",
        "SecurityTokenUnavailable",
        "MessageExpired",
        "UnsupportedSecurityToken",
        "UnsupportedAlgorithm",
    }
)


def strict_settings() -> zeep.Settings:
    """zeep settings for agency WSDLs and replies: strict parsing, no huge trees, no DTD, entities or fetches."""
    return zeep.Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True)


class NoNetwork(httpx.BaseTransport):
    """The WSDL loader's transport: loading a WSDL or XSD over the network is never allowed."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"network access while loading a WSDL is disabled ({request.url.host})")


class _OneOrigin(httpx.BaseTransport):
    """The WSDL loader's transport for a WSDL named by URL: requests to that URL's origin only (its imports and
    schemas), with timeouts and no redirects; everything else is refused like `NoNetwork`."""

    def __init__(self, url: str, timeout_s: float):
        self.origin = httpx.URL(url).copy_with(path="/", query=None, fragment=None)
        self.inner = httpx.HTTPTransport(verify=tls_context())
        self.timeout = httpx.Timeout(timeout_s)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if (url.scheme, url.host, url.port) != (self.origin.scheme, self.origin.host, self.origin.port):
            raise httpx.ConnectError(f"WSDL loading may only reach {self.origin.host}, not {url.host}")
        request.extensions["timeout"] = self.timeout.as_dict()
        response = self.inner.handle_request(request)
        response.read()
        if len(response.content) > MAX_BODY_BYTES:
            raise httpx.ConnectError("WSDL document too large")
        return response

    def close(self) -> None:
        self.inner.close()


def wsdl_location(config: Mapping[str, Any], agency: str, packaged: Path) -> Path | str:
    """The `wsdl` setting (a file path, or an http(s) URL), else the WSDL packaged with the connector.

    A file that does not exist, or anything else, is a ValueError naming the setting at start-up."""
    raw = config.get("wsdl")
    if raw is None or str(raw).strip() == "":
        return packaged
    text = str(raw).strip()
    if text.startswith(("http://", "https://")):
        return text
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValueError(f"{agency}: setting wsdl names no readable file or http(s) URL: {text[:120]!r}")
    return path


class HostileReply(zeep.exceptions.Error):
    """A reply refused before parsing: too large, in an encoding we do not read, or carrying a DTD."""


DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")


class _QuietTransport(AsyncTransport):
    """zeep's AsyncTransport without body logging (envelopes carry NIKs), reading the reply through the bounded
    reader REST uses (`fetch_bounded`: at most `max_bytes` once decompressed, within the time budget) and refusing
    any reply with a DTD."""

    max_bytes = MAX_BODY_BYTES

    async def post(self, address: str, message: bytes, headers: Mapping[str, str]) -> httpx.Response:
        request = self.client.build_request(
            "POST", address, content=message, headers={**headers, "Accept-Encoding": "identity"}
        )
        try:
            response = await fetch_bounded(self.client, request, self.max_bytes)
        except ReplyRefused as exc:
            raise HostileReply(str(exc)) from exc
        if any(marker in response.content for marker in DTD_MARKERS):
            raise HostileReply("reply carries a DTD (entity declarations are refused)")
        return response


def password_token(user: str, password: str, password_type: str = "digest") -> UsernameToken:
    """A WS-Security UsernameToken; `digest` sends SHA-1(nonce + created + password) with a fresh nonce each call."""
    kind = (password_type or "digest").strip().lower()
    if kind not in {"digest", "text"}:
        raise ValueError(f"password_type must be 'digest' or 'text', not {password_type!r}")
    return UsernameToken(user, password, use_digest=kind == "digest", zulu_timestamp=True)


class SoapSession:
    """One agency's SOAP endpoint: a zeep AsyncClient over the packaged WSDL, bound to the configured address."""

    def __init__(
        self,
        agency: str,
        wsdl: Path | str,
        address: str,
        *,
        binding: str | None = None,
        wsse: UsernameToken | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        if not address.startswith(("http://", "https://")):
            raise ValueError(f"{agency}: url must be an http(s) address, not {address!r}")
        self.agency = agency
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
            follow_redirects=False,
            transport=transport,
            event_hooks={"request": [add_traceparent]},
            limits=POOL_LIMITS,
            verify=tls_context(),
        )
        if transport is None:
            quicken(self.http)
        by_url = isinstance(wsdl, str) and wsdl.startswith(("http://", "https://"))
        self._wsdl_http = httpx.Client(
            transport=_OneOrigin(str(wsdl), timeout_s) if by_url else NoNetwork(),
            follow_redirects=False,
        )
        try:
            self.client = zeep.AsyncClient(
                str(wsdl),
                wsse=wsse,
                settings=strict_settings(),
                transport=_QuietTransport(client=self.http, wsdl_client=self._wsdl_http),
            )
            binding = _chosen_binding(agency, list(self.client.wsdl.bindings), binding)
        except Exception:
            self._wsdl_http.close()
            raise
        # create_service overrides the WSDL's soap:address; zeep's AsyncClient inherits it unchanged and hands back a
        # synchronous proxy, so re-wrap its binding and address in the async proxy.
        bound = self.client.create_service(binding, address)
        self.service = AsyncServiceProxy(self.client, bound._binding, **bound._binding_options)

    def operations(self) -> list[str]:
        """The operation names of the bound binding."""
        return list(self.service._binding._operations)

    async def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Invoke an operation; every failure comes out as an AgencyError."""
        return await guarded(self.agency, getattr(self.service, operation), *args, **kwargs)

    async def aclose(self) -> None:
        await self.http.aclose()
        self._wsdl_http.close()

    def close_now(self) -> None:
        """Release the WSDL loader at once (a client refused at start-up; its async pool never sent anything)."""
        self._wsdl_http.close()


def _chosen_binding(agency: str, names: list[str], declared: str | None) -> str:
    """The declared binding, else the WSDL's only one (another WSDL, setting `wsdl`, names its own)."""
    if declared in names:
        return str(declared)
    if len(names) == 1:
        return names[0]
    if declared is None:
        raise ValueError(f"{agency}: WSDL has {len(names)} bindings; name one")
    raise ValueError(f"{agency}: the WSDL has no binding {declared} and {len(names)} others")


async def guarded(agency: str, func: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """Run a zeep call and translate what can go wrong into the AgencyError hierarchy."""
    try:
        return await func(*args, **kwargs)
    except AgencyError:
        raise
    except HostileReply as exc:
        raise AgencyProtocolError(agency, f"reply refused: {exc.message}") from exc
    except zeep.exceptions.Fault as exc:
        raise fault_error(agency, exc) from exc
    except zeep.exceptions.TransportError as exc:
        raise transport_error(agency, exc) from exc
    except httpx.TimeoutException as exc:
        raise AgencyTimeout(agency, f"no answer in time ({type(exc).__name__})") from exc
    except (httpx.TransportError, OSError) as exc:
        raise AgencyUnavailable(agency, f"cannot reach the agency ({type(exc).__name__})") from exc
    except (zeep.exceptions.Error, etree.LxmlError, ValueError) as exc:
        raise AgencyProtocolError(agency, f"reply does not fit the agency's WSDL ({type(exc).__name__})") from exc


def fault_code(fault: zeep.exceptions.Fault) -> tuple[str, str]:
    """(class, local name) of a SOAP 1.1 faultcode: `soap:Client.Auth` → ("Client", "Client.Auth")."""
    local = (fault.code or "").strip().rpartition(":")[2]
    return local.split(".", 1)[0], local


def detail_code(fault: zeep.exceptions.Fault, names: tuple[str, ...] = ("kode", "code", "errorCode")) -> str | None:
    """The agency's own error code from the fault's <detail>, if it carries one."""
    detail = fault.detail
    if detail is None or not isinstance(detail, etree._Element):
        return None
    for element in detail.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname in names and (element.text or "").strip():
            return element.text.strip()
    return None


def fault_error(agency: str, fault: zeep.exceptions.Fault) -> AgencyError:
    """Classify a SOAP fault: WS-Security → access denied, Client → rejected, Server → unavailable."""
    kind, local = fault_code(fault)
    message = (fault.message or "").strip() or f"SOAP fault {fault.code}"
    code = detail_code(fault) or local or None
    if kind in AUTH_FAULTS:
        return AgencyAccessDenied(agency, message, code=code)
    if kind == "Client":
        return AgencyRejected(agency, message, code=code)
    if kind == "Server":
        return AgencyUnavailable(agency, message, code=code)
    return AgencyProtocolError(agency, f"unexpected SOAP fault {fault.code!r}: {message}", code=code)


def transport_error(agency: str, exc: zeep.exceptions.TransportError) -> AgencyError:
    """A reply zeep could not treat as SOAP: 5xx → unavailable, 401/403 → denied, anything else → protocol error."""
    status = exc.status_code or 0
    if status >= 500:
        return AgencyUnavailable(agency, f"agency answered HTTP {status} without a SOAP envelope")
    if status in (401, 403):
        return AgencyAccessDenied(agency, f"agency answered HTTP {status}")
    if status == 200:
        return AgencyProtocolError(agency, "reply is not well-formed XML")
    return AgencyProtocolError(agency, f"agency answered HTTP {status} without a usable SOAP envelope")


def plain(value: Any) -> Any:
    """zeep objects → JSON-friendly dicts/lists: dates as ISO strings, decimals as strings (exact), None kept."""
    value = zeep.helpers.serialize_object(value, target_cls=dict)
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
