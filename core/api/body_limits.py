"""Request body caps, as pure ASGI middleware: a body larger than the limit is refused with 413
`payload_too_large` before it is read past the limit, and a JSON body nested deeper than the limit with 400
`json_too_deep` before any parser recurses into it.

Why here and not in the endpoints: the JSON parser and pydantic would already have built the whole object (or
hit Python's recursion limit and answered 500) by the time an endpoint could look. Bodyless requests — the hot
path of citizen lookups — pass straight through without a single extra await.
"""

from __future__ import annotations

import json
import re
from typing import Any, Awaitable, Callable

from core.api.problems import PROBLEM_TYPE, problem_body

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True if arrays/objects in `body` nest deeper than `limit` (strings ignored). Linear, no recursion; a body
    with no more than `limit` brackets in all cannot exceed it and is not scanned."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _BRACKETS.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class BodyLimits:
    """ASGI middleware enforcing `max_bytes` on every request body and `max_depth` on JSON bodies."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int):
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: nothing to check
            return
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, send, 413, "payload_too_large", "The request body is too large",
                               f"At most {self.max_bytes} bytes.", max_bytes=self.max_bytes)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send, 413, "payload_too_large", "The request body is too large",
                                   f"At most {self.max_bytes} bytes.", max_bytes=self.max_bytes)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").lower()
        if b"json" in content_type and json_depth_exceeds(body, self.max_depth):
            await self._refuse(scope, send, 400, "json_too_deep", "The JSON body is nested too deeply",
                               f"At most {self.max_depth} levels of arrays and objects.", max_depth=self.max_depth)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, code: str, title: str, detail: str,
                      **extra: Any) -> None:
        payload = json.dumps(problem_body(status, code, title, detail, scope.get("path"), **extra)).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", PROBLEM_TYPE.encode()),
                                (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
