"""Request body caps and text checks, as pure ASGI middleware: a body larger than the limit is refused with 413
`payload_too_large` before it is read past the limit; a body nested deeper than the limit with 400
`json_too_deep` before any parser recurses into it (whatever its content type: an agency's push may come as
text/plain and still be parsed as JSON); and characters that are not text — control characters other than tab,
line feed and carriage return, unpaired surrogates, U+FFFE / U+FFFF — in a JSON body, a form body, the path or
the query string with 400 `text_invalid`.

Why here and not in the endpoints: the JSON parser and pydantic would already have built the whole object (or
hit Python's recursion limit and answered 500) by the time an endpoint could look; and characters that are not
text fail far from where they came in — a NUL in PostgreSQL's text columns, an unpaired surrogate in UTF-8
encoding or hashing, a control character in a SOAP agency's XML (where it looked like the agency's fault and
opened its circuit breaker) — unless refused at the door, once, for every route. Bodyless requests — the hot
path of citizen lookups — pass with two cheap checks of the URL and without a single extra await.
"""

from __future__ import annotations

import json
import re
from typing import Any, Awaitable, Callable

from core.api.problems import PROBLEM_TYPE, item, problem_body
from core.api.text_checks import (FORM_CONTROL, MULTIPART_CONTROL, URLENCODED, json_text_problem,
                                  url_text_problem)

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
    """ASGI middleware enforcing `max_bytes` on every request body, `max_depth` on every body but a form, and text
    (NOT_TEXT) in the URL and the bodies."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int):
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = url_text_problem(scope)
        if where is not None:
            await self._refuse_text(scope, send, f"the {where}")
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
        # the first Content-Type, as Starlette reads it (dict() above keeps the last of repeated headers)
        media = next((v for k, v in scope.get("headers") or () if k == b"content-type"), b"")
        media = media.split(b";", 1)[0].strip().lower()
        form = media == URLENCODED or media.startswith(b"multipart/")
        if not form and json_depth_exceeds(body, self.max_depth):
            await self._refuse(scope, send, 400, "json_too_deep", "The JSON body is nested too deeply",
                               f"At most {self.max_depth} levels of arrays and objects.", max_depth=self.max_depth)
            return
        if not form and len(body) >= 2 and json.detect_encoding(body) not in ("utf-8", "utf-8-sig"):
            await self._refuse_text(scope, send, "the body, which is not UTF-8 (RFC 8259: JSON is)")
            return
        pointer = json_text_problem(body)  # any body: a handler may parse a form-typed body as JSON too
        if pointer is not None:
            await self._refuse_text(scope, send, f"the body at {pointer}",
                                    errors=[item("Not text.", "text_invalid", pointer="#" + pointer.rstrip("/"))])
            return
        if (media == URLENCODED and FORM_CONTROL.search(body)
                or media.startswith(b"multipart/") and MULTIPART_CONTROL.search(body)):
            await self._refuse_text(scope, send, "the form")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @classmethod
    async def _refuse_text(cls, scope: Scope, send: Send, where: str, **extra: Any) -> None:
        await cls._refuse(scope, send, 400, "text_invalid", "The request holds characters that are not text",
                          f"In {where}: control characters other than tab, line feed and carriage return, "
                          "unpaired surrogates and U+FFFE / U+FFFF are refused.", **extra)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, code: str, title: str, detail: str,
                      **extra: Any) -> None:
        payload = json.dumps(problem_body(status, code, title, detail, scope.get("path"), **extra)).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", PROBLEM_TYPE.encode()),
                                (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
