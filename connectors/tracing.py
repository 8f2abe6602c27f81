"""W3C Trace Context (traceparent) for calls to agencies: the counter's trace continues into the agency.

The API accepts a `traceparent` header from the counter (core/ops/middleware.py) and keeps the parsed trace in a
contextvar; every outbound agency call (connectors/rest.py, connectors/soap.py) then sends a traceparent with the
same trace id and a fresh parent id (this hop's span). Lives in `connectors` because connectors must not import
the core; the contextvar follows the request into `asyncio.gather`ed agency calls and `to_thread` work.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from typing import NamedTuple

import httpx

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
    """The traceparent to send on an agency call now: the current trace id, a new parent id; None outside a trace."""
    trace = current.get()
    if trace is None:
        return None
    return f"00-{trace.trace_id}-{os.urandom(8).hex()}-{trace.flags}"


async def add_traceparent(request: httpx.Request) -> None:
    """httpx request hook: stamp the outbound traceparent (replacing any a connector might have set)."""
    value = outbound()
    if value is not None:
        request.headers["traceparent"] = value
