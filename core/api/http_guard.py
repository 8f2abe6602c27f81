"""The HTTP server's own limits, below the ASGI app: how large a request head may grow and how long it may take to
arrive, and a problem document (not uvicorn's plain text) for a request that does not parse.

Why a protocol class: uvicorn's default parser (httptools) bounds neither — an 8 MB header was answered 200, and
four sockets each sending an unfinished 64 MB header held ~300 MB, unauthenticated — and the ASGI app only sees a
request once its whole head has been read, which is too late. The bytes of a head are counted as they arrive and
the connection is answered 431 past `max_head_bytes` (so at most that plus one socket read is ever buffered); a
head that has not arrived whole `head_timeout_s` after it began (or after the connection opened) is answered 408.
A slow *body* is the ASGI layer's to time (core/api/body_limits.py). A fronting proxy should still enforce its own
limits (docs/operations.md): this is the last line, not the only one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.api.problems import PROBLEM_TYPE, Problem, problem_body

REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def problem_response(problem: Problem) -> bytes:
    """A whole HTTP/1.1 response carrying a problem document, closing the connection."""
    body = json.dumps(problem_body(problem.status, problem.code, problem.title, problem.detail, None)).encode()
    head = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % (
        problem.status,
        REASONS[problem.status],
        PROBLEM_TYPE.encode(),
        len(body),
    )
    return head + body


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded, timed request head and problem-shaped parse errors."""

    max_head_bytes = 16_384
    head_timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # waiting for (the rest of) a request head
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # may begin a head, complete it, or both
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._answer(
                    Problem(
                        431,
                        "header_too_large",
                        "The request head is too large",
                        f"At most {self.max_head_bytes} bytes of request line and headers.",
                    )
                )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        if self._head_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        self._answer(Problem(400, "http_invalid", "The request is not valid HTTP", msg))

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes == 0 and self.cycle is not None:
            return  # between requests on a kept-alive connection: uvicorn's keep-alive timeout closes it
        self._answer(
            Problem(
                408,
                "header_timeout",
                "The request head did not arrive in time",
                f"A request's line and headers must arrive within {self.head_timeout_s:g} s.",
            )
        )

    def _answer(self, problem: Problem) -> None:
        self._disarm()
        self.logger.info("refused a request: %s", problem.code)
        self.transport.write(problem_response(problem))
        self.transport.close()


def guarded_protocol(max_head_bytes: int, head_timeout_s: float) -> type[GuardedHttpTools]:
    """The protocol class for uvicorn's `http=` option, with these limits."""
    return type(
        "GuardedHttpTools", (GuardedHttpTools,), {"max_head_bytes": max_head_bytes, "head_timeout_s": head_timeout_s}
    )


def server_options(settings: Any) -> dict[str, Any]:
    """uvicorn.Config options that apply the settings' head limits (h11, if chosen instead, bounds its own)."""
    return {
        "http": guarded_protocol(settings.max_header_bytes, settings.header_read_timeout_s),
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }
