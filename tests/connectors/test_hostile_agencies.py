"""Every connector — REST and SOAP, lookup, verify and submit — against a hostile agency (tests/connectors/
hostile_agency.py): an endless reply, a gzip bomb, JSON or XML nested 100 000 deep, a 256 MiB body, a trickle, a
server that never answers, an external entity, an entity bomb. Each call must end in bounded time and memory, with
the agency error class the API and the worker know how to answer (a protocol error: 503 / retried; a timeout) —
never a hang, a crash, a 500, or a file's contents in a record."""

from __future__ import annotations

import importlib
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.base import AgencyError, AgencyProtocolError, AgencyTimeout, ConnectorPlugin
from connectors.breaker import BreakerConnector, CircuitBreaker
from connectors.contract.samples import samples_for
from connectors.simkit.population import Population
from tests.connectors.helpers import run, run_with
from tests.connectors.hostile_agency import MODES, HostileAgency, gzip_bomb, hostile_agency

AGENCIES = ["dukcapil", "bpjs_kesehatan", "oss", "samsat", "korlantas", "imigrasi", "bpjs_ketenagakerjaan"]


def _operations() -> list[tuple[str, str]]:
    """Each (agency, operation) the agency offers: lookup always, verify where it checks claims, submit where it
    takes applications — so no case is generated only to be skipped."""
    population = Population(seed=2024, size=40)
    cases = []
    for name in AGENCIES:
        plugin: ConnectorPlugin = importlib.import_module(f"connectors.{name}").PLUGIN
        samples = samples_for(plugin, population)
        cases.append((name, "lookup"))
        if samples.claims:
            cases.append((name, "verify"))
        if plugin.services and samples.service is not None:
            cases.append((name, "submit"))
    return cases


OPERATIONS = _operations()
TIMEOUT_S = 0.4  # the agency's configured timeout: a trickle or a hang ends after about twice this
TIME_BOUND_S = 2.5
MEMORY_BOUND = 32 * 1024 * 1024  # replies are read to at most 5 MiB; the hostile ones are 256 MiB or endless
EXPECTED: dict[str, type[AgencyError]] = {"trickle": AgencyTimeout, "hang": AgencyTimeout}


@pytest.fixture(scope="module")
def agency() -> Iterator[HostileAgency]:
    gzip_bomb()  # built before any client waits for it
    with hostile_agency() as server:
        yield server


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(seed=2024, size=40)


def _call(plugin: ConnectorPlugin, population: Population, operation: str) -> Any:
    samples = samples_for(plugin, population)
    nik = samples.found or population.people[0].nik
    if operation == "lookup":
        return lambda client: client.lookup(nik)
    if operation == "verify":
        if not samples.claims:
            pytest.skip(f"{plugin.name} offers no per-field verification")
        return lambda client: client.verify(nik, samples.claims)
    if not plugin.services or samples.service is None:
        pytest.skip(f"{plugin.name} takes no submissions")
    return lambda client: client.submit(samples.service, samples.payload, "hostile-1")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("name", "operation"), OPERATIONS)
def test_a_hostile_reply_ends_quickly_small_and_classified(agency: HostileAgency, population: Population,
                                                           name: str, operation: str, mode: str) -> None:
    plugin: ConnectorPlugin = importlib.import_module(f"connectors.{name}").PLUGIN
    action = _call(plugin, population, operation)
    assert plugin.sim_config is not None
    config = {**plugin.sim_config(agency.url), "timeout_s": str(TIMEOUT_S)}
    agency.mode = mode
    before = agency.requests
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(AgencyError) as caught:
            run(plugin, config, action)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert agency.requests > before, "the call never reached the hostile agency"
    expected = EXPECTED.get(mode, AgencyProtocolError)
    assert isinstance(caught.value, expected), f"{type(caught.value).__name__}: {caught.value.message}"
    assert elapsed < TIME_BOUND_S, f"{mode} took {elapsed:.2f} s"
    assert peak < MEMORY_BOUND, f"{mode} peaked at {peak / 1e6:.1f} MB"
    assert "root:" not in caught.value.message


@pytest.mark.parametrize(("name", "operation"), OPERATIONS)
def test_a_reply_of_an_unknown_shape_is_a_protocol_error_through_the_breaker(
        agency: HostileAgency, population: Population, name: str, operation: str) -> None:
    """What every agency call in Gerbang passes (BreakerConnector) turns a parse failure of any kind — KeyError,
    TypeError, … from a connector's own reading code — into AgencyProtocolError, counted against the breaker."""
    plugin: ConnectorPlugin = importlib.import_module(f"connectors.{name}").PLUGIN
    action = _call(plugin, population, operation)
    assert plugin.sim_config is not None
    config = {**plugin.sim_config(agency.url), "timeout_s": str(TIMEOUT_S)}
    agency.mode = "wrong_shape"
    breaker = CircuitBreaker(name, threshold=100)
    with pytest.raises(AgencyError) as caught:
        run_with(BreakerConnector(plugin.create(config), breaker), action)
    assert isinstance(caught.value, AgencyProtocolError), f"{type(caught.value).__name__}: {caught.value.message}"
    assert breaker.snapshot()["consecutive_failures"] == 1


class _MisreadingConnector:
    """A connector whose reading code trips over a reply: the errors a parser raises, not AgencyErrors."""

    name = "misreading"

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def lookup(self, nik: str) -> Any:
        raise self.error

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("error", [KeyError("NAMA_LGKP"), TypeError("list indices"), IndexError("list index"),
                                   AttributeError("'list' object has no attribute 'get'"), ValueError("bad date"),
                                   RecursionError("deep")])
def test_any_parse_error_of_a_connector_is_a_protocol_error(error: Exception) -> None:
    breaker = CircuitBreaker("misreading", threshold=100)
    with pytest.raises(AgencyProtocolError) as caught:
        run_with(BreakerConnector(_MisreadingConnector(error), breaker), lambda client: client.lookup("x"))  # type: ignore[arg-type]
    assert type(error).__name__ in caught.value.message
    assert caught.value.__cause__ is error
    assert breaker.snapshot()["consecutive_failures"] == 1
