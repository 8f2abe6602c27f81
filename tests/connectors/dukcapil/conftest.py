"""A Dukcapil simulator on loopback shared by this folder's tests, and the `duk` helper that drives the client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from connectors.dukcapil import PLUGIN
from connectors.simkit.population import Person, Population
from connectors.simkit.serving import RunningServer
from tests.connectors.helpers import reset, run, running_simulator, set_fault, sim_stats


@pytest.fixture(scope="session")
def population() -> Population:
    return Population(seed=2024, size=300)


@pytest.fixture(scope="module")
def dukcapil_server(population: Population) -> Iterator[RunningServer]:
    with running_simulator(PLUGIN, population) as server:
        yield server


def run_client(config: dict[str, str], method: str, *args: Any) -> Any:
    """Build a client from `config`, run one method to completion on a fresh loop, close the client."""
    return run(PLUGIN, config, lambda client: getattr(client, method)(*args))


class Duk:
    """What the tests do over and over: configure a client like the demo does, call it, pick people, set faults."""

    def __init__(self, server: RunningServer, population: Population):
        self.server, self.url, self.population = server, server.url, population

    def config(self, **overrides: str) -> dict[str, str]:
        assert PLUGIN.sim_config is not None
        return {**PLUGIN.sim_config(self.url), "timeout_s": "3", **overrides}

    def call(self, method: str, *args: Any, **overrides: str) -> Any:
        return run_client(self.config(**overrides), method, *args)

    def ordinary(self, n: int = 0) -> Person:
        return self.population.ordinary()[n]

    def special(self, kind: str) -> Person:
        return self.population.special(kind)[0]  # type: ignore[arg-type]

    def faults(self, mode: str, delay_ms: int = 0) -> None:
        set_fault(self.url, mode, delay_ms)

    def stats(self) -> dict[str, Any]:
        return sim_stats(self.url)

    def raw(self, call: str, body: Any, institution: str = "GERBANG") -> httpx.Response:
        return httpx.post(f"{self.url}/dukcapil/get_json/{institution}/{call}", json=body)


@pytest.fixture
def duk(dukcapil_server: RunningServer, population: Population) -> Iterator[Duk]:
    helper = Duk(dukcapil_server, population)
    reset(helper.url)
    yield helper
    reset(helper.url)


@contextmanager
def other_simulator(population: Population, **options: Any) -> Iterator[Duk]:
    """A simulator with non-default options (quota, allow-list, date format …), for one test."""
    with running_simulator(PLUGIN, population, **options) as server:
        yield Duk(server, population)


@pytest.fixture
def other_sim(population: Population) -> Any:
    """`with other_sim(daily_quota=2) as duk:` — a simulator of its own for one test."""

    def make(**options: Any) -> Any:
        return other_simulator(population, **options)

    return make
