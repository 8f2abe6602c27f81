"""What an anonymous caller can send at the door (core/api/body_limits.py, core/api/text_checks.py) and is refused
cheaply: a body built to make the depth scan rescan itself, a JSON object repeating a key, a single-valued header
given twice, a body that stops arriving, a noncharacter percent-encoded in the query."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from core.api.body_limits import BodyLimits, body_problem, duplicate_key, json_depth_exceeds, repeated_header


def _seconds(function: Any, *args: Any) -> float:
    """One call's time: the best of five timings, each over enough calls to last at least 5 ms. Why: a scan of
    16 KiB takes well under a millisecond, so a single call timed once was timer noise, and one preemption on a
    loaded machine made 16× the input look 100× slower."""
    calls = 1
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            function(*args)
        if time.perf_counter() - started >= 0.005:
            break
        calls *= 2
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            function(*args)
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def _unterminated(size: int) -> bytes:
    """The issue's body: 40 brackets, then one quote opening a string of escaped quotes that never closes."""
    return b"[" * 40 + b'"' + b'\\"' * (size // 2)


@pytest.mark.parametrize("build", [_unterminated, lambda n: b'[""' * (n // 3), lambda n: b'{"' * (n // 2),
                                   lambda n: b"[]" * (n // 2), lambda n: b'"\\' * (n // 2)])
def test_the_depth_scan_is_linear(build: Any) -> None:
    small, large = build(16 * 1024), build(256 * 1024)  # 16× the input
    ratio = _seconds(json_depth_exceeds, large, 32) / max(_seconds(json_depth_exceeds, small, 32), 1e-5)
    assert ratio < 48, f"16× the input took {ratio:.0f}× the time"  # quadratic: 256×
    assert _seconds(json_depth_exceeds, build(1024 * 1024), 32) < 2  # the largest body allowed (quadratic: an hour)


def test_the_depth_scan_still_sees_depth_around_strings() -> None:
    assert json_depth_exceeds(b"[" * 40 + b'"unterminated', 32)
    assert not json_depth_exceeds(b'["' + b"[" * 40 + b'"]', 32)  # brackets in a string do not nest
    assert not json_depth_exceeds(b"[" * 20 + b'"a\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["' + b"]" * 20, 32)
    assert json_depth_exceeds(b'[{"a": "\\\\"' + b", [" * 40, 32)  # an escaped backslash ends the escape


def test_duplicate_keys_are_found_at_any_depth() -> None:
    assert duplicate_key(b'{"a": 1, "a": 2}') == "a"
    assert duplicate_key(b'{"a": {"b": [{"c": 1, "c": 1}]}}') == "c"
    assert duplicate_key(b'{"a": 1, "b": {"a": 2}}') is None  # the same key in two objects is fine
    assert duplicate_key(b'{"a": ') is None  # not JSON: its parser answers
    many = b"{" + b",".join(b'"k%d": 1' % i for i in range(100_000)) + b', "k0": 2}'
    assert _seconds(duplicate_key, many) < 1.0 and duplicate_key(many) == "k0"


def test_a_body_problem_names_its_code() -> None:
    def code(body: bytes, media: bytes = b"application/json") -> str | None:
        problem = body_problem(body, media, 32)
        return None if problem is None else problem.code

    assert code(b'{"a": 1, "a": 2}') == "json_duplicate_key"
    assert code(b"[" * 40) == "json_too_deep"
    assert code(b'{"a": 1}') is None
    assert code(b"a=1&a=2", b"application/x-www-form-urlencoded") is None


def test_single_valued_headers_once() -> None:
    assert repeated_header([(b"idempotency-key", b"a"), (b"idempotency-key", b"b")]) == "idempotency-key"
    assert repeated_header([(b"officer-id", b"a"), (b"accept", b"x"), (b"officer-id", b"a")]) == "officer-id"
    assert repeated_header([(b"accept", b"a"), (b"accept", b"b"), (b"authorization", b"x")]) is None


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _door(**options: Any) -> httpx.AsyncClient:
    app = BodyLimits(_echo, max_bytes=1_048_576, max_depth=32, **options)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gerbang")


def _code(reply: httpx.Response) -> str:
    return str(reply.json()["code"])


def test_the_door_answers_each_with_its_code() -> None:
    async def main() -> list[httpx.Response]:
        async with _door() as client:
            return [
                await client.post("/x", content=b'{"nik": "1", "nik": "2"}',
                                  headers={"Content-Type": "application/json"}),
                await client.get("/x", headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "b")]),
                await client.get("/x", headers=[("Officer-Id", "a"), ("Officer-Id", "b")]),
                await client.get("/x?name=%EF%BF%BE"),
                await client.get("/x?name=%ED%A0%80"),  # a surrogate, percent-encoded: not UTF-8 at all
                await client.post("/x", content=_unterminated(64 * 1024), headers={"Content-Type": "application/json"}),
                await client.post("/x", content=json.dumps({"a": ["b"] * 40_000}).encode()),  # large, fine
            ]

    duplicate, key, officer, nonchar, surrogate, unterminated, large = asyncio.run(main())
    assert duplicate.status_code == 400 and _code(duplicate) == "json_duplicate_key"
    assert key.status_code == 400 and _code(key) == "header_repeated"
    assert officer.status_code == 400 and _code(officer) == "header_repeated"
    assert nonchar.status_code == 400 and _code(nonchar) == "text_invalid"
    assert surrogate.status_code != 500
    assert unterminated.status_code == 400 and _code(unterminated) == "json_too_deep"
    assert large.status_code == 200 and len(large.content) > 64 * 1024


def test_a_body_that_stops_arriving_is_408() -> None:
    sent: list[dict[str, Any]] = []

    async def main() -> None:
        parts = iter([{"type": "http.request", "body": b"{", "more_body": True}])

        async def receive() -> dict[str, Any]:
            part = next(parts, None)
            if part is None:
                await asyncio.sleep(3600)  # the client declared 100 bytes and sent one
            return part  # type: ignore[return-value]

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/x", "query_string": b"",
                 "headers": [(b"content-length", b"100"), (b"content-type", b"application/json")]}
        await asyncio.wait_for(BodyLimits(_echo, 1_048_576, 32, read_timeout_s=0.2)(scope, receive, send), 5)

    started = time.perf_counter()
    asyncio.run(main())
    assert time.perf_counter() - started < 2
    assert sent[0]["status"] == 408 and json.loads(sent[1]["body"])["code"] == "body_timeout"
