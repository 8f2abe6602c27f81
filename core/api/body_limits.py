"""Request body caps and text checks, as pure ASGI middleware: a body larger than the limit is refused with 413
`payload_too_large` before it is read past the limit; a body nested deeper than the limit with 400
`json_too_deep` before any parser recurses into it (whatever its content type: an agency's push may come as
text/plain and still be parsed as JSON); and characters that are not text — control characters other than tab,
line feed and carriage return, unpaired surrogates, U+FFFE / U+FFFF — in a JSON body, a form body, the path or
the query string with 400 `text_invalid`; a JSON object repeating a key with 400 `json_duplicate_key`; a
single-valued header (Authorization, Idempotency-Key, Officer-Id …) given twice with 400 `header_repeated`; a body
that stops arriving with 408 `body_timeout`. Every check is linear in the body's size; bodies of 64 KiB and more are
checked in a worker thread, so a large hostile body never holds the event loop.

Why here and not in the endpoints: the JSON parser and pydantic would already have built the whole object (or
hit Python's recursion limit and answered 500) by the time an endpoint could look; and characters that are not
text fail far from where they came in — a NUL in PostgreSQL's text columns, an unpaired surrogate in UTF-8
encoding or hashing, a control character in a SOAP agency's XML (where it looked like the agency's fault and
opened its circuit breaker) — unless refused at the door, once, for every route. Bodyless requests — the hot
path of citizen lookups — pass with two cheap checks of the URL and without a single extra await.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.api.problems import PROBLEM_TYPE, Problem, item, problem_body
from core.api.text_checks import FORM_CONTROL, MULTIPART_CONTROL, URLENCODED, json_text_problem, url_text_problem

# one token per match, each character looked at once: a whole string (escapes skipped), a bracket, or a quote
# that opens a string never closed — after which the rest of the body is that string's text to any parser, so the
# scan stops there. (The old pass replaced strings first; each unterminated `"` made it rescan the rest of the
# body: quadratic, 16 s for 64 KB.)
_TOKEN = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{}]|"', re.DOTALL)


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True if arrays/objects in `body` nest deeper than `limit` (strings ignored). One linear pass, no recursion; a
    body with no more than `limit` brackets in all cannot exceed it and is not scanned."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _TOKEN.finditer(body):
        token = match.group()
        if token == b"[" or token == b"{":
            depth += 1
            if depth > limit:
                return True
        elif token == b"]" or token == b"}":
            depth -= 1
        elif token == b'"':
            return False  # an unterminated string: nothing after it nests
    return False


# headers that carry one value: a repeated one is refused, as a proxy in front may read the first where Gerbang
# reads the last (request smuggling of a key, an officer or an idempotency key)
SINGLE_VALUED = frozenset(
    {
        b"authorization",
        b"idempotency-key",
        b"officer-id",
        b"counter-id",
        b"mpp-site",
        b"content-type",
        b"content-length",
        b"host",
        b"origin",
        b"webhook-id",
        b"webhook-timestamp",
        b"webhook-signature",
    }
)
OFF_LOOP_BYTES = 64 * 1024  # bodies at least this large are checked in a worker thread, off the event loop


def repeated_header(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The name of the first single-valued header given more than once, or None."""
    seen: set[bytes] = set()
    for name, _ in headers:
        if name in SINGLE_VALUED:
            if name in seen:
                return name.decode("latin-1")
            seen.add(name)
    return None


class DuplicateKey(ValueError):
    """A JSON object names the same key twice."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return result


def duplicate_key(body: bytes) -> str | None:
    """The first key a JSON object in `body` repeats, or None (also when `body` is not JSON: its parser answers)."""
    if b'"' not in body or b"{" not in body:
        return None
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except DuplicateKey as exc:
        return str(exc)
    except (ValueError, RecursionError):
        return None
    return None


def body_problem(body: bytes, media: bytes, max_depth: int) -> Problem | None:
    """What is wrong with a whole request body, or None. Pure and linear in the body's size (at most two JSON
    parses, only of bodies that need them), so it can run in a worker thread."""
    form = media == URLENCODED or media.startswith(b"multipart/")
    if not form and json_depth_exceeds(body, max_depth):
        return Problem(
            400,
            "json_too_deep",
            "The JSON body is nested too deeply",
            f"At most {max_depth} levels of arrays and objects.",
            max_depth=max_depth,
        )
    if not form and len(body) >= 2 and json.detect_encoding(body) not in ("utf-8", "utf-8-sig"):
        return _text_problem("the body, which is not UTF-8 (RFC 8259: JSON is)")
    pointer = json_text_problem(body)  # any body: a handler may parse a form-typed body as JSON too
    if pointer is not None:
        return _text_problem(
            f"the body at {pointer}", errors=[item("Not text.", "text_invalid", pointer="#" + pointer.rstrip("/"))]
        )
    if (
        media == URLENCODED
        and FORM_CONTROL.search(body)
        or media.startswith(b"multipart/")
        and MULTIPART_CONTROL.search(body)
    ):
        return _text_problem("the form")
    if not form:
        key = duplicate_key(body)
        if key is not None:
            return Problem(
                400,
                "json_duplicate_key",
                "A JSON object names the same key twice",
                "Each key may appear once per object (RFC 8259 leaves a repeated key's meaning open, so "
                "a proxy and Gerbang could read different values).",
                errors=[item("Repeated key.", "json_duplicate_key", pointer="#")],
            )
    return None


def _text_problem(where: str, **extra: Any) -> Problem:
    return Problem(
        400,
        "text_invalid",
        "The request holds characters that are not text",
        f"In {where}: control characters other than tab, line feed and carriage return, unpaired "
        "surrogates and U+FFFE / U+FFFF are refused.",
        **extra,
    )


class BodyLimits:
    """ASGI middleware enforcing `max_bytes` on every request body, `max_depth` on every body but a form, text
    (NOT_TEXT) in the URL and the bodies, unique JSON keys, single-valued headers given once, and a body that
    arrives in time (`read_timeout_s` between two parts of it: 408 beyond)."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int, read_timeout_s: float = 10.0):
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = url_text_problem(scope)
        if where is not None:
            await self._refuse_text(scope, send, f"the {where}")
            return
        raw_headers = scope.get("headers") or ()
        repeated = repeated_header(raw_headers)
        if repeated is not None:
            await self._refuse(
                scope,
                send,
                400,
                "header_repeated",
                "A header that takes one value is repeated",
                f"Send {repeated} once.",
                errors=[item("Given more than once.", "header_repeated", header=repeated)],
            )
            return
        headers = dict(raw_headers)
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: nothing to check
            return
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse_too_large(scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout_s)
            except TimeoutError:
                await self._refuse(
                    scope,
                    send,
                    408,
                    "body_timeout",
                    "The request body did not arrive in time",
                    f"Each part of the body must follow the last within {self.read_timeout_s:g} s.",
                )
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse_too_large(scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        # the Content-Type, as Starlette reads it (given once: repeated_header above)
        media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if len(body) >= OFF_LOOP_BYTES:  # linear, but long enough on 1 MiB to hold every other request up
            problem = await anyio.to_thread.run_sync(body_problem, body, media, self.max_depth)
        else:
            problem = body_problem(body, media, self.max_depth)
        if problem is not None:
            await self._answer(scope, send, problem)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse_too_large(self, scope: Scope, send: Send) -> None:
        """413, whether the declared length or the bytes counted so far pass `max_bytes`."""
        await self._refuse(
            scope,
            send,
            413,
            "payload_too_large",
            "The request body is too large",
            f"At most {self.max_bytes} bytes.",
            max_bytes=self.max_bytes,
        )

    @classmethod
    async def _refuse_text(cls, scope: Scope, send: Send, where: str, **extra: Any) -> None:
        await cls._answer(scope, send, _text_problem(where, **extra))

    @classmethod
    async def _answer(cls, scope: Scope, send: Send, problem: Problem) -> None:
        await cls._send(
            scope,
            send,
            problem.status,
            problem_body(
                problem.status, problem.code, problem.title, problem.detail, scope.get("path"), **problem.extra
            ),
        )

    @classmethod
    async def _refuse(
        cls, scope: Scope, send: Send, status: int, code: str, title: str, detail: str, **extra: Any
    ) -> None:
        await cls._send(scope, send, status, problem_body(status, code, title, detail, scope.get("path"), **extra))

    @staticmethod
    async def _send(scope: Scope, send: Send, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_TYPE.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
