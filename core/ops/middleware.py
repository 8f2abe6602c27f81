"""Request context as pure ASGI middleware: a request id and a W3C trace for every HTTP request.

Pure ASGI (not BaseHTTPMiddleware) because it runs on every request, warm lookups included: it reads two headers,
sets two contextvars and appends one response header — a few microseconds. The request id is the counter's
`X-Request-Id` when it is sane (1–128 characters of [A-Za-z0-9._:-]), else a new one; it is echoed in the response.
The trace is the counter's valid `traceparent`, else a new trace; agency calls continue it (connectors/tracing.py).
With OpenTelemetry on (core/ops/tracing.py) the request is also a SERVER span, a child of that traceparent, named
by its route template (`GET /v1/citizens/{nik}`: never the path, which may hold a NIK).
New ids come from the process's PRNG (seeded from the OS, reseeded after a fork): they must be unique, not secret,
and `os.urandom` releases the GIL — on a busy event loop each call can hand the loop to another thread for a
whole switch interval.
"""

from __future__ import annotations

import random
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors import tracing
from connectors.otel_request_span import RequestSpan
from core.logs import request_id

_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def random_hex(bits: int) -> str:
    """`bits` random bits as lower-case hex, never all zeros (an all-zero trace or span id is invalid)."""
    return f"{random.getrandbits(bits) or 1:0{bits // 4}x}"


def new_trace() -> tracing.Trace:
    """As `tracing.new_trace()` (random trace id, new parent id, sampled flag unset), without a system call."""
    return tracing.Trace(random_hex(128), random_hex(64), "00")


class RequestContext:
    """Sets `core.logs.request_id` and `connectors.tracing.current` for the request; adds X-Request-Id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given: bytes | None = None
        parent: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                given = value
            elif key == b"traceparent":
                parent = value
        rid = given if given is not None and _SANE_ID.fullmatch(given) else random_hex(128).encode()
        counter_trace = tracing.parse(parent.decode("latin-1")) if parent else None
        header = (b"x-request-id", rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        rid_token = request_id.set(rid.decode("ascii"))
        if tracing.enabled():
            try:
                await self._traced(scope, receive, send_with_id, counter_trace)
            finally:
                request_id.reset(rid_token)
            return
        trace_token = tracing.current.set(counter_trace or new_trace())
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            tracing.current.reset(trace_token)
            request_id.reset(rid_token)

    async def _traced(self, scope: Scope, receive: Receive, send: Send, counter_trace: tracing.Trace | None) -> None:
        """The request as an OpenTelemetry SERVER span; `tracing.current` follows it (logs show its trace id)."""
        method = scope["method"]
        status: list[int] = []

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        request = RequestSpan(method, counter_trace)
        trace_token = tracing.current.set(request.trace())
        try:
            with request:
                try:
                    await self.app(scope, receive, send_status)
                finally:
                    route = getattr(scope.get("route"), "path", None)
                    if route:
                        request.name = f"{method} {route}"
                        request.attributes["http.route"] = route
                    request.attributes["http.request.method"] = method
                    if status:
                        request.attributes["http.response.status_code"] = status[0]
                        if status[0] >= 500:
                            request.status = tracing.Status(tracing.StatusCode.ERROR)
        finally:
            tracing.current.reset(trace_token)
