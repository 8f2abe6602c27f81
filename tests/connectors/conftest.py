"""Fixtures the connector tests share: the synthetic population, and an agency's simulator for tests that run the
same checks against several agencies (parametrised indirectly with agency names).

A folder or module may override `population` (another size) and `server` (a simulator with its own options).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.base import ConnectorPlugin
from connectors.simkit.population import Population
from connectors.simkit.serving import RunningServer
from tests.connectors.helpers import agency_simulator, reset


@pytest.fixture(scope="session")
def population() -> Population:
    """Seed 2024, 500 people: deterministic, so a test's chosen person is the same on every run."""
    return Population(seed=2024, size=500)


@pytest.fixture(scope="module")
def agency(request: pytest.FixtureRequest, population: Population) -> Iterator[tuple[ConnectorPlugin, RunningServer]]:
    """An agency's plug-in and its simulator on loopback, started once per module and agency. Parametrise it
    indirectly: `pytestmark = pytest.mark.parametrize("agency", ["oss", "samsat"], indirect=True, scope="module")`."""
    with agency_simulator(request.param, population) as pair:
        yield pair


@pytest.fixture
def plugin(agency: tuple[ConnectorPlugin, RunningServer]) -> Iterator[ConnectorPlugin]:
    """The plug-in under test; its simulator's faults and counters are reset after each test."""
    yield agency[0]
    reset(agency[1].url)


@pytest.fixture
def server(agency: tuple[ConnectorPlugin, RunningServer]) -> RunningServer:
    """The simulator of the plug-in under test."""
    return agency[1]
