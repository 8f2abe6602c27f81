"""A BPJS Kesehatan simulator on loopback, shared by this folder's tests, and the `bpjs` helper fixture."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.bpjs_kesehatan import PLUGIN
from connectors.bpjs_kesehatan.client import BpjsKesehatanClient
from connectors.bpjs_kesehatan.participants import Membership, Registry
from connectors.simkit.population import Person, Population
from connectors.simkit.serving import RunningServer, serving


@pytest.fixture(scope="session")
def population() -> Population:
    return Population(seed=2024, size=300)


@pytest.fixture(scope="session")
def bpjs_app(population: Population) -> Any:
    assert PLUGIN.simulator is not None
    return PLUGIN.simulator(population)


@pytest.fixture(scope="session")
def bpjs_server(bpjs_app: Any) -> Iterator[RunningServer]:
    with serving(bpjs_app) as server:
        yield server


@pytest.fixture(scope="session")
def registry(bpjs_app: Any) -> Registry:
    return bpjs_app.state.registry  # type: ignore[no-any-return]


class Bpjs:
    """What the tests do over and over: build a client the way the demo does, call it, pick a person, set faults."""

    def __init__(self, server: RunningServer, population: Population, registry: Registry):
        self.server, self.url, self.population, self.registry = server, server.url, population, registry

    def client(self, **overrides: Any) -> BpjsKesehatanClient:
        """PLUGIN.sim_config + PLUGIN.create, with settings overridden."""
        assert PLUGIN.sim_config is not None
        client = PLUGIN.create({**PLUGIN.sim_config(self.url), "timeout_s": "3", **overrides})
        assert isinstance(client, BpjsKesehatanClient)
        return client

    def call(self, method: str, *args: Any, client: BpjsKesehatanClient | None = None, **overrides: Any) -> Any:
        """Run one client method to completion on a fresh event loop, closing the client."""
        chosen = client or self.client(**overrides)

        async def go() -> Any:
            try:
                return await getattr(chosen, method)(*args)
            finally:
                await chosen.aclose()

        return asyncio.run(go())

    def faults(self, mode: str, delay_ms: int = 0) -> None:
        httpx.post(f"{self.url}/_sim/faults", json={"mode": mode, "delay_ms": delay_ms},
                   timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_sim/stats", timeout=5).json()  # type: ignore[no-any-return]

    def pick(self, *, card: bool, active: bool | None = None, conflict: bool = False
             ) -> tuple[Person, Membership | None]:
        """The first living person in the given situation (deterministic, as the population is)."""
        for person in self.population.people:
            if person.life_status != "alive":
                continue
            membership = self.registry.membership(person)
            if (membership is not None) != card:
                continue
            if membership is None:
                return person, None
            differs = membership.name != person.name or membership.birth_date != person.birth_date
            if differs == conflict and (active is None or membership.active == active):
                return person, membership
        raise AssertionError("no such person in the population")


@pytest.fixture
def bpjs(bpjs_server: RunningServer, population: Population, registry: Registry) -> Iterator[Bpjs]:
    """The helper on the shared simulator; faults and counters are reset after each test."""
    yield Bpjs(bpjs_server, population, registry)
    httpx.post(f"{bpjs_server.url}/_sim/reset", timeout=5).raise_for_status()
