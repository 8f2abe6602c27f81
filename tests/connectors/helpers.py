"""What the connector tests do over and over: serve a simulator, drive its `/_sim` control surface, run one client
call to completion, answer a client from respx, and pick a person an agency knows."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
import pytest
import respx

from connectors.base import ConnectorPlugin
from connectors.simkit.population import Person, Population
from connectors.simkit.serving import RunningServer, serving
from mappings.engine import load_mapping

Record = TypeVar("Record")


@contextmanager
def running_simulator(plugin: ConnectorPlugin, population: Population, **options: Any) -> Iterator[RunningServer]:
    """The plug-in's simulator, built with `options`, served on loopback for the duration of the block."""
    assert plugin.simulator is not None, f"{plugin.name} has no simulator"
    with serving(plugin.simulator(population, **options)) as server:
        yield server


@contextmanager
def agency_simulator(
    name: str, population: Population, **options: Any
) -> Iterator[tuple[ConnectorPlugin, RunningServer]]:
    """A built-in agency's plug-in (by its folder name) and its simulator, served on loopback for the block."""
    plugin = importlib.import_module(f"connectors.{name}").PLUGIN
    with running_simulator(plugin, population, **options) as server:
        yield plugin, server


def each_agency(names: list[str]) -> Any:
    """An `agency` fixture serving each of `names` in turn, once per module (the `plugin` and `server` fixtures of
    tests/connectors/conftest.py read it). Use: `agency = each_agency(["korlantas", "imigrasi"])`."""

    @pytest.fixture(scope="module", params=names, name="agency")
    def agency(request: pytest.FixtureRequest, population: Population) -> Iterator[tuple[ConnectorPlugin, Any]]:
        with agency_simulator(request.param, population) as pair:
            yield pair

    return agency


def simulated_agency(plugin: ConnectorPlugin, **options: Any) -> tuple[Any, Any]:
    """A test module's `server` and `config` fixtures for one agency: `server` its simulator built with `options`
    (once per module, on the module's `population`), `config` the demo settings for it, with the simulator's faults
    and counters reset after each test. Use: `server, config = simulated_agency(PLUGIN, today=TODAY)`."""

    @pytest.fixture(scope="module", name="server")
    def server(population: Population) -> Iterator[RunningServer]:
        with running_simulator(plugin, population, **options) as running:
            yield running

    @pytest.fixture(name="config")
    def config(server: RunningServer) -> Iterator[dict[str, str]]:
        assert plugin.sim_config is not None
        yield plugin.sim_config(server.url)
        reset(server.url)

    return server, config


def set_fault(url: str, mode: str, delay_ms: int = 0) -> None:
    """Switch the simulator at `url` into a fault mode (down, slow, error, garbage …) until `reset`."""
    httpx.post(f"{url}/_sim/faults", json={"mode": mode, "delay_ms": delay_ms}, timeout=5).raise_for_status()


def reset(url: str) -> None:
    """Clear the simulator's fault mode and counters, so one test's faults never leak into the next."""
    httpx.post(f"{url}/_sim/reset", timeout=5).raise_for_status()


def sim_stats(url: str) -> dict[str, Any]:
    """What the simulator has seen: requests, submissions per idempotency key, current mode."""
    return httpx.get(f"{url}/_sim/stats", timeout=5).json()  # type: ignore[no-any-return]


def run_with(client: Any, action: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `action(client)` to completion on a fresh event loop, then close the client whatever happened."""

    async def main() -> Any:
        try:
            return await action(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def run(plugin: ConnectorPlugin, config: Mapping[str, str], action: Callable[[Any], Awaitable[Any]]) -> Any:
    """Create the plug-in's client from `config` and `run_with` it."""
    return run_with(plugin.create(config), action)


def run_mocked(plugin: ConnectorPlugin, config: Mapping[str, str], endpoint: str, answer: httpx.Response | Exception,
               action: Callable[[Any], Awaitable[Any]]) -> Any:
    """`run`, with the POST to `endpoint` answered by respx: `answer` is the response, or the exception to raise.
    The route must be called, so a client that never sends the request fails the test."""
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(endpoint)
        if isinstance(answer, Exception):
            route.side_effect = answer
        else:
            route.return_value = answer
        return run(plugin, config, action)


def assert_agency_spelling(plugin: ConnectorPlugin, config: Mapping[str, str], person: Person, holder: Any) -> None:
    """The facet mapped from the agency's answer about `person` names and dates them as the agency's own record
    (`holder`) does, not as the civil registry does: the conflict a merged record reports."""
    facet = load_mapping(plugin.mapping).apply(run(plugin, config, lambda c: c.lookup(person.nik)).fields)
    assert (facet.full_name, facet.birth_date) != (person.name, person.birth_date)
    assert (facet.full_name, facet.birth_date) == (holder.name, holder.birth_date)


def first_known(population: Population, known: Mapping[str, Record], *, variant: bool = False,
                where: Callable[[Record], bool] = lambda record: True) -> tuple[Person, Record]:
    """The first person an agency knows (`known`: NIK → the agency's record of them, with a `name`) under Dukcapil's
    spelling of the name, or with `variant=True` under another one; `where` narrows the choice further."""
    for person in population.people:
        record = known.get(person.nik)
        if record is None or (record.name != person.name) != variant:  # type: ignore[attr-defined]
            continue
        if where(record):
            return person, record
    raise AssertionError("the population has no such person")
