"""Fixtures for API tests that need every agency: all simulators on loopback, and an app wired to them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from connectors.registry import discover
from connectors.simkit import serving
from connectors.simkit.population import Population
from core.api.app import create_app
from core.demo import agency_environment
from core.ops import tracing
from core.settings import Settings
from tests.conftest import BUS_SECRETS

POPULATION = Population(seed=11, size=300)
COUNTER_CONTEXT = {"Officer-Id": "petugas-01", "Counter-Id": "loket-01", "Mpp-Site": "mpp-test"}
"""The counter context headers every citizen read and submission carries; `make_api` clients send them by default
(a test that means to omit one sends it empty)."""
GENEROUS_LIMITS = {"rate_limit_per_s": 2000.0, "rate_limit_burst": 2000}
"""`make_api`'s rate limit: the limiter runs in every API test without getting in the way of fast loops (tests of
the limit itself set their own)."""


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test, into the SDK's in-memory exporter; off again afterwards."""
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter), "gerbang-test")
    yield exporter
    tracing.shutdown()


@pytest.fixture(scope="session")
def simulators() -> Iterator[dict[str, serving.RunningServer]]:
    """Every installed agency simulator, running for the whole session on the same population."""
    plugins = discover()
    running = {name: serving.start(p.simulator(POPULATION)) for name, p in plugins.items() if p.simulator}
    yield running
    for server in running.values():
        server.stop()


@pytest.fixture
def set_fault(simulators: dict[str, serving.RunningServer]) -> Iterator[Callable[..., None]]:
    """`set_fault("oss", "down")`; every simulator is reset to healthy after the test."""

    def set_mode(agency: str, mode: str, delay_ms: int = 0) -> None:
        httpx.post(f"{simulators[agency].url}/_sim/faults", json={"mode": mode, "delay_ms": delay_ms}).raise_for_status()

    yield set_mode
    for server in simulators.values():
        httpx.post(f"{server.url}/_sim/faults", json={"mode": "ok", "delay_ms": 0})


def sim_requests(simulators: dict[str, serving.RunningServer], agency: str) -> int:
    """How many protocol requests a simulator has seen (its /_sim/stats)."""
    return int(httpx.get(f"{simulators[agency].url}/_sim/stats").json()["requests"])


@pytest.fixture
def make_api(database_url: str, simulators: dict[str, serving.RunningServer],
             tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """`make_api(**settings)` → a started TestClient on the test database, wired to every simulator (a setting
    given here wins over the defaults, the bus secrets included)."""
    clients: list[TestClient] = []
    env = agency_environment(discover(), simulators)

    def make(**overrides: object) -> TestClient:
        settings = Settings(**{"database_url": database_url, "agency_env": env, "data_dir": tmp_path, **BUS_SECRETS,
                               "agency_timeout_s": 2.0, "lookup_budget_s": 4.0, **GENEROUS_LIMITS, **overrides})
        client = TestClient(create_app(settings), headers=COUNTER_CONTEXT)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
