"""The contract kit (connectors/contract): every built-in agency passes it against its own simulator, a connector
that breaks the contract fails the rows it breaks, and `gerbang connectors check` prints the table and exits
non-zero on a failure."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from typer.testing import CliRunner

from connectors.base import AgencyError, ConnectorPlugin, FacetStatus, LookupResult, SubmitResult
from connectors.contract import check_connector, failures, table
from connectors.registry import discover
from connectors.simkit.population import Population
from core.cli.main import app

BUILTIN = ["bpjs_kesehatan", "bpjs_ketenagakerjaan", "dukcapil", "imigrasi", "korlantas", "oss", "samsat"]
ROWS = ["create", "health", "lookup found", "lookup not found", "mapping", "verify", "submit", "fault down",
        "fault error", "fault garbage", "fault down: health", "fault slow", "fault ok (recovered)"]


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(seed=2024, size=200)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_agency_keeps_the_contract(name: str, population: Population) -> None:
    checks = check_connector(discover()[name], population)
    assert [c.name for c in checks] == ROWS
    assert not failures(checks), "\n" + table(checks)


class Careless:
    """A Samsat client that breaks the contract: it hides every agency error behind `not_found` and sends a fresh
    idempotency key on every call."""

    def __init__(self, inner: Any):
        self.inner, self.name = inner, inner.name

    async def lookup(self, nik: str) -> LookupResult:
        try:
            return await self.inner.lookup(nik)
        except AgencyError:
            return LookupResult(agency=self.name, status=FacetStatus.not_found)

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> Any:
        return await self.inner.verify(nik, claims)

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        return await self.inner.submit(service, payload, f"{idempotency_key}-{uuid.uuid4().hex[:6]}")

    async def health(self) -> Any:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_connector_that_breaks_the_contract_fails_those_rows(population: Population) -> None:
    samsat = discover()["samsat"]
    careless = dataclasses.replace(samsat, create=lambda config: Careless(samsat.create(config)))
    checks = {c.name: c for c in check_connector(careless, population)}
    failed = {name for name, check in checks.items() if not check.ok}
    assert failed == {"submit", "fault down", "fault error", "fault garbage", "fault slow"}, table(list(checks.values()))
    assert "second reference" in checks["submit"].detail
    assert "lookup succeeded" in checks["fault down"].detail


def test_a_plugin_without_a_simulator_or_samples_is_reported_not_crashed(population: Population) -> None:
    samsat = discover()["samsat"]
    nameless = dataclasses.replace(samsat, name="nameless", contract=lambda population: 1 / 0)
    checks = check_connector(nameless, population)
    assert [(c.name, c.ok) for c in checks] == [("samples", False)] and "ZeroDivisionError" in checks[0].detail


def test_cli_check_prints_the_table() -> None:
    result = CliRunner().invoke(app, ["connectors", "check", "samsat", "--size", "100"])
    assert result.exit_code == 0, result.output
    assert all(row in result.output for row in ROWS)
    assert "samsat: 13/13 checks passed" in result.output


def test_cli_check_of_an_unknown_connector_is_a_message() -> None:
    result = CliRunner().invoke(app, ["connectors", "check", "nope"])
    assert result.exit_code == 2
    assert "no connector named 'nope'" in result.output and "samsat" in result.output


def test_cli_check_exits_non_zero_when_a_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    samsat = discover()["samsat"]
    careless = dataclasses.replace(samsat, create=lambda config: Careless(samsat.create(config)))
    monkeypatch.setattr("connectors.registry.discover", lambda: {"samsat": careless})
    result = CliRunner().invoke(app, ["connectors", "check", "samsat", "--size", "100"])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "samsat: 8/13 checks passed" in result.output
