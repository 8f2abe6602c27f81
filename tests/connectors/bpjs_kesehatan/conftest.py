"""A BPJS Kesehatan simulator on loopback, shared by this folder's tests, and the `bpjs` helper fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.bpjs_kesehatan import PLUGIN
from connectors.bpjs_kesehatan.client import BpjsKesehatanClient
from connectors.bpjs_kesehatan.participants import Membership, Registry
from connectors.simkit.population import Person, Population
from connectors.simkit.serving import RunningServer, serving
from tests.connectors.helpers import reset, run_with, set_fault, sim_stats


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
        return run_with(client or self.client(**overrides), lambda chosen: getattr(chosen, method)(*args))

    def faults(self, mode: str, delay_ms: int = 0) -> None:
        set_fault(self.url, mode, delay_ms)

    def stats(self) -> dict[str, Any]:
        return sim_stats(self.url)

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
    reset(bpjs_server.url)
