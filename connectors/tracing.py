"""W3C Trace Context (traceparent) for calls to agencies, and the thin span helpers every traced point calls.

The API accepts a `traceparent` header from the counter (core/ops/middleware.py) and keeps the parsed trace in a
contextvar; every outbound agency call (connectors/rest.py, connectors/soap.py) then sends a traceparent with the
same trace id and a fresh parent id (this hop's span). Lives in `connectors` because connectors must not import
the core; the contextvar follows the request into `asyncio.gather`ed agency calls and `to_thread` work.

OpenTelemetry spans: `core/ops/tracing.py` installs a tracer (`use()`) when the OTEL_* environment asks for one.
Until then `span()` hands out the API's invalid span (a no-op) and nothing else changes, so tracing costs one
branch per point when off. Spans never carry exceptions' messages or stack traces (they may hold personal data):
a failed span gets status ERROR with the exception's type name only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from typing import Any, NamedTuple

import httpx
from opentelemetry import trace as otel
from opentelemetry.context import Context, attach, detach
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

_tracer: SdkTracer | None = None

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_PARENT = "0" * 16


class Trace(NamedTuple):
    """One request's place in a distributed trace: the trace id, the caller's span (parent id) and flags."""

    trace_id: str
    parent_id: str
    flags: str


current: ContextVar[Trace | None] = ContextVar("gerbang_trace", default=None)


def parse(header: str | None) -> Trace | None:
    """A valid version-00 traceparent, or None (an invalid one is ignored, as the spec asks, not refused)."""
    if not header or len(header) > 128:
        return None
    match = _TRACEPARENT.fullmatch(header.strip())
    if match is None:
        return None
    trace_id, parent_id, flags = match.groups()
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_PARENT:
        return None
    return Trace(trace_id, parent_id, flags)


def new_trace() -> Trace:
    """A trace started here (the counter sent none): random trace id, sampled flag unset."""
    return Trace(os.urandom(16).hex(), os.urandom(8).hex(), "00")


def outbound() -> str | None:
    """The traceparent to send on an agency call now: the current trace id, a new parent id; None outside a trace.
    With tracing on, the parent id is the current span's (the agency call's own span)."""
    value = current_traceparent()
    if value is not None:
        return value
    trace = current.get()
    if trace is None:
        return None
    return f"00-{trace.trace_id}-{os.urandom(8).hex()}-{trace.flags}"


async def add_traceparent(request: httpx.Request) -> None:
    """httpx request hook: stamp the outbound traceparent (replacing any a connector might have set)."""
    value = outbound()
    if value is not None:
        request.headers["traceparent"] = value
    if _tracer is not None:  # the protocol and the agency's host on the agency call's span (never the path)
        span_now = otel.get_current_span()
        if span_now.is_recording():
            soap = "soapaction" in request.headers or "xml" in request.headers.get("content-type", "")
            span_now.set_attributes(
                {
                    "rpc.system": "soap" if soap else "rest",
                    "server.address": request.url.host,
                    "server.port": request.url.port or (443 if request.url.scheme == "https" else 80),
                }
            )


# --- OpenTelemetry spans -------------------------------------------------------------------------------------------


def use(tracer: SdkTracer | None) -> None:
    """Install the tracer every traced point uses (None: tracing off). Called by core/ops/tracing.py."""
    global _tracer
    _tracer = tracer


def enabled() -> bool:
    return _tracer is not None


class _Recorded:
    """A started span as a context manager: current inside (unless a leaf), ended on exit; an exception gives
    status ERROR with its type name only. A plain class, not a generator: this runs for every traced point."""

    __slots__ = ("span", "current", "token")
    token: Token[Context] | None

    def __init__(self, span: otel.Span, current: bool) -> None:
        self.span, self.current = span, current
        self.token: Token[Context] | None = None

    def __enter__(self) -> otel.Span:
        if self.current:
            self.token = attach(otel.set_span_in_context(self.span))
        return self.span

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is not None:
            self.span.set_status(Status(StatusCode.ERROR, exc_type.__name__))
        if self.token is not None:
            detach(self.token)
        self.span.end()


def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    context: Context | None = None,
    links: Sequence[Link] | None = None,
    leaf: bool = False,
) -> Any:
    """A context manager yielding the span (current inside it unless `leaf`: a span with no children need not
    be), or the no-op span when tracing is off. Attributes: ids, names of agencies and operations, outcomes,
    counts — never a NIK, a name or record data."""
    if _tracer is None:
        return otel.INVALID_SPAN
    started = _tracer.start_span(
        name,
        context=context,
        kind=kind,
        attributes=attributes,
        links=links,
        record_exception=False,
        set_status_on_exception=False,
    )
    return _Recorded(started, not leaf)


def note(key: str, value: str | int) -> None:
    """An attribute of the request's span (else of the current span), with tracing on: what a traced point too
    short for a span of its own reports (the record memo's hit or miss, an audit entry handed to the group
    committer: docs/operations.md)."""
    if _tracer is None:
        return
    noted = request_attributes.get()
    if noted is not None:
        noted[key] = value
        return
    span_now = otel.get_current_span()
    if span_now.is_recording():
        span_now.set_attribute(key, value)


request_attributes: ContextVar[dict[str, Any] | None] = ContextVar("gerbang_request_attributes", default=None)
"""The attributes of the request's span while it is current (connectors/otel_request_span.py): where `note()` adds."""


def tracer() -> SdkTracer | None:
    """The installed tracer (None: tracing off)."""
    return _tracer


def current_traceparent() -> str | None:
    """The current span as a traceparent (to store with an outbox row or an event, or to send); None when tracing
    is off or outside a span."""
    if _tracer is None:
        return None
    ctx = otel.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def context_of(traceparent: str | None) -> Context | None:
    """The OpenTelemetry context a stored or received traceparent stands for (None if absent or invalid)."""
    return remote_context(parse(traceparent))


def remote_context(trace: Trace | None) -> Context | None:
    """The OpenTelemetry context of an already parsed traceparent: its span as a remote parent. (What the SDK's
    W3C propagator does, without parsing the header a second time on every request.)"""
    if trace is None:
        return None
    parent = SpanContext(int(trace.trace_id, 16), int(trace.parent_id, 16), True, TraceFlags(int(trace.flags, 16)))
    return otel.set_span_in_context(NonRecordingSpan(parent))


def link_to(traceparent: str | None) -> Link | None:
    """A span link to the trace a stored traceparent belongs to (a callback batch links to its events' traces)."""
    context = context_of(traceparent)
    if context is None:
        return None
    return Link(otel.get_current_span(context).get_span_context())
