"""W3C traceparent: parsing, and the same trace id (new parent id) on REST and SOAP calls to agencies."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from connectors import tracing
from connectors.imigrasi.client import BINDING, WSDL
from connectors.rest import make_client
from connectors.soap import SoapSession

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{PARENT}-01"


@pytest.mark.parametrize("header", [
    None, "", "garbage", f"01-{TRACE}-{PARENT}-01", f"ff-{TRACE}-{PARENT}-01", f"00-{'0' * 32}-{PARENT}-01",
    f"00-{TRACE}-{'0' * 16}-01", f"00-{TRACE.upper()}-{PARENT}-01", f"00-{TRACE[:-1]}-{PARENT}-01",
    f"00-{TRACE}-{PARENT}-1", f"00-{TRACE}-{PARENT}-01-extra", VALID + "x" * 200])
def test_invalid_traceparents_are_ignored(header: str | None) -> None:
    assert tracing.parse(header) is None


def test_valid_traceparent_is_parsed() -> None:
    assert tracing.parse(VALID) == tracing.Trace(TRACE, PARENT, "01")
    assert tracing.parse(f" {VALID} ") == tracing.Trace(TRACE, PARENT, "01")
    fresh = tracing.new_trace()
    assert tracing.parse(f"00-{fresh.trace_id}-{fresh.parent_id}-00") == fresh


def outbound_headers(call) -> list[str]:  # type: ignore[no-untyped-def]
    """The traceparent headers `call(transport)` sends, inside the trace VALID."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("traceparent", ""))
        return httpx.Response(200, stream=httpx.ByteStream(b"<ok/>"))

    async def run() -> None:
        token = tracing.current.set(tracing.parse(VALID))
        try:
            await call(httpx.MockTransport(handler))
            await call(httpx.MockTransport(handler))
        finally:
            tracing.current.reset(token)
        await call(httpx.MockTransport(handler))  # outside any trace: none sent

    asyncio.run(run())
    return seen


def check(seen: list[str]) -> None:
    first, second, outside = seen
    for header in (first, second):
        parsed = tracing.parse(header)
        assert parsed is not None and parsed.trace_id == TRACE and parsed.flags == "01"
        assert parsed.parent_id != PARENT and re.fullmatch(r"[0-9a-f]{16}", parsed.parent_id)
    assert first != second  # a new span per call
    assert outside == ""


def test_rest_calls_carry_the_trace() -> None:
    async def call(transport: httpx.MockTransport) -> None:
        async with make_client("http://agency.test", transport=transport) as client:
            await client.get("/x")

    check(outbound_headers(call))


def test_soap_calls_carry_the_trace() -> None:
    async def call(transport: httpx.MockTransport) -> None:
        session = SoapSession("imigrasi", WSDL, "http://agency.test/ws", binding=BINDING, transport=transport)
        try:
            await session.client.transport.post("http://agency.test/ws", b"<x/>", {})
        finally:
            await session.aclose()

    check(outbound_headers(call))


def test_the_api_continues_the_counters_trace(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    seen: list[object] = []

    @api.app.get("/_test/trace")
    async def trace() -> dict[str, str | None]:
        seen.append(tracing.current.get())
        return {"outbound": tracing.outbound()}

    outbound = api.get("/_test/trace", headers={"traceparent": VALID}).json()["outbound"]
    assert seen[-1] == tracing.Trace(TRACE, PARENT, "01")
    assert outbound.startswith(f"00-{TRACE}-") and outbound.endswith("-01")
    api.get("/_test/trace", headers={"traceparent": "00-bogus"})
    started = seen[-1]
    assert isinstance(started, tracing.Trace) and started.trace_id != TRACE  # a new trace when none (valid) given
    assert tracing.current.get() is None  # reset after the request
