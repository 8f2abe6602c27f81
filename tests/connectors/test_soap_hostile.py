"""Hostile SOAP replies: every SOAP simulator can answer with entity expansion (billion laughs), an external entity
(XXE) or a huge body; every SOAP client refuses each of them quickly, with bounded memory, and the facet comes out
`error` — never a hang, a crash, or a local file's contents in a record."""

from __future__ import annotations

import asyncio
import gzip
import importlib
import time
import tracemalloc
from typing import Any

import httpx
import pytest

from connectors.base import AgencyProtocolError, ConnectorPlugin, FacetStatus
from connectors.rest import ReplyRefused as HostileReply
from connectors.rest import read_bounded
from connectors.simkit.population import Population
from connectors.simkit.serving import serving
from identity.record import Agency, ask
from mappings.engine import load_mapping
from tests.connectors.helpers import each_agency, set_fault

SOAP_AGENCIES = ["korlantas", "imigrasi", "bpjs_ketenagakerjaan"]
HOSTILE = ["billion_laughs", "external_entity", "huge_body"]
QUICK_S = 2.0
MEMORY_BOUND = 24 * 1024 * 1024  # the client reads at most 5 MiB; the huge body is 256 MiB


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(seed=2024, size=40)


agency = each_agency(SOAP_AGENCIES)


def set_mode(server: Any, mode: str) -> None:
    set_fault(server.url, mode)


def test_simulator_really_is_hostile(agency: tuple[ConnectorPlugin, Any]) -> None:
    """The modes do what they say on the wire (so the refusals below are refusals of the real thing)."""
    plugin, server = agency
    url = plugin.sim_config(server.url)["url"]
    set_mode(server, "billion_laughs")
    body = httpx.post(url, content=b"<x/>", headers={"Content-Type": "text/xml"}).content
    assert b"<!ENTITY lol9" in body and b"&lol9;" in body
    set_mode(server, "external_entity")
    body = httpx.post(url, content=b"<x/>", headers={"Content-Type": "text/xml"}).content
    assert b'SYSTEM "file:///etc/passwd"' in body and b"&xxe;" in body
    set_mode(server, "huge_body")
    read = 0
    with httpx.stream("POST", url, content=b"<x/>", headers={"Content-Type": "text/xml"}) as reply:
        assert "content-length" not in reply.headers
        for chunk in reply.iter_raw():
            read += len(chunk)
            if read > 8 * 1024 * 1024:
                break
    assert read > 8 * 1024 * 1024
    set_mode(server, "ok")


@pytest.mark.parametrize("mode", HOSTILE)
def test_client_refuses_quickly_with_bounded_memory(agency: tuple[ConnectorPlugin, Any], population: Population,
                                                    mode: str) -> None:
    plugin, server = agency
    set_mode(server, mode)
    nik = population.people[0].nik

    async def lookup() -> Any:
        client = plugin.create(plugin.sim_config(server.url))
        try:
            return await client.lookup(nik)
        finally:
            await client.aclose()

    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(AgencyProtocolError) as caught:
            asyncio.run(lookup())
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        set_mode(server, "ok")
    assert "reply refused" in caught.value.message
    assert elapsed < QUICK_S, f"{mode} took {elapsed:.2f} s"
    assert peak < MEMORY_BOUND, f"{mode} peaked at {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("mode", HOSTILE)
def test_facet_is_marked_error(agency: tuple[ConnectorPlugin, Any], population: Population, mode: str) -> None:
    plugin, server = agency
    set_mode(server, mode)

    async def facet() -> Any:
        client = plugin.create(plugin.sim_config(server.url))
        try:
            return await ask(Agency(plugin.name, plugin.facet, client, load_mapping(plugin.mapping)),
                             population.people[0].nik, 3.0)
        finally:
            await client.aclose()

    try:
        result = asyncio.run(facet())
    finally:
        set_mode(server, "ok")
    assert result.provenance.status is FacetStatus.error and result.data is None
    assert "root:" not in (result.provenance.message or "")


def test_a_simulator_without_hostile_modes_refuses_to_switch() -> None:
    plugin = importlib.import_module("connectors.samsat").PLUGIN
    with serving(plugin.simulator(Population(seed=1, size=5))) as running:
        reply = httpx.post(f"{running.url}/_sim/faults", json={"mode": "billion_laughs"})
        assert reply.status_code == 422
        assert httpx.get(f"{running.url}/_sim/stats").json()["mode"] == "ok"


class _Stream(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]):
        self.chunks = chunks

    async def __aiter__(self) -> Any:
        for chunk in self.chunks:
            yield chunk


def _bounded(headers: dict[str, str], chunks: list[bytes], limit: int) -> bytes:
    return asyncio.run(read_bounded(httpx.Response(200, headers=headers, stream=_Stream(chunks)), limit))


def test_declared_length_and_gzip_bombs_are_refused_without_reading() -> None:
    with pytest.raises(HostileReply, match="too large"):
        _bounded({"content-length": "999999999"}, [b"<x/>"], 1000)
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB that would inflate to 50 MB
    tracemalloc.start()
    try:
        with pytest.raises(HostileReply, match="too large"):
            _bounded({"content-encoding": "gzip"}, [bomb[i:i + 4096] for i in range(0, len(bomb), 4096)], 100_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000
    assert _bounded({"content-encoding": "gzip"}, [gzip.compress(b"<ok/>")], 1000) == b"<ok/>"
    with pytest.raises(HostileReply, match="encoding"):
        _bounded({"content-encoding": "br"}, [b"x"], 1000)
