"""The vehicles facet by plate: `GET /v1/citizens/{nik}?plates=…` against the Samsat simulator speaking West Java,
configured as the real service is (lookups by plate only). That the router parses `plates` as the fast lane does is in
tests/core/api/test_fastapi_routing.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.registry import discover
from connectors.samsat.simdata import SamsatState
from core.api.app import create_app
from core.demo import agency_environment
from core.settings import Settings
from identity.secrecy import subject_hash
from tests.conftest import BUS_SECRETS
from tests.core.conftest import COUNTER_CONTEXT, GENEROUS_LIMITS, POPULATION, sim_requests
from core.api.state import app_state

STATE = SamsatState(POPULATION)
OWNERS = [(POPULATION.by_nik(nik), owner) for nik, owner in STATE.owners.items()
          if POPULATION.by_nik(nik).life_status == "alive" and POPULATION.by_nik(nik).in_dukcapil]


@pytest.fixture
def counter(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    key = add_client("counter", ["citizen:read:*"], ["vehicle_tax"])
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def plate_only(database_url, simulators, tmp_path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """An API whose Samsat is West Java as confirmed: it answers by plate, not by NIK."""
    env = {**agency_environment(discover(), simulators), "GERBANG_AGENCY_SAMSAT_LOOKUP_BY": "plate"}
    settings = Settings(database_url=database_url, agency_env=env, data_dir=tmp_path, **BUS_SECRETS,
                        agency_timeout_s=2.0, lookup_budget_s=4.0, **GENEROUS_LIMITS)
    with TestClient(create_app(settings), headers=COUNTER_CONTEXT) as client:
        yield client


def vehicles(api: TestClient, headers: dict[str, str], nik: str, plates: str | None) -> dict[str, Any]:
    params = {"purpose": "vehicle_tax", **({"plates": plates} if plates is not None else {})}
    response = api.get(f"/v1/citizens/{nik}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()["facets"]["vehicles"]


def test_plates_fill_the_vehicles_facet_with_only_the_citizens_vehicles(plate_only, counter, simulators,  # type: ignore[no-untyped-def]
                                                                         add_client) -> None:
    (person, owner), (_, stranger) = OWNERS[0], OWNERS[1]
    without = vehicles(plate_only, counter, person.nik, None)
    assert without["provenance"]["status"] == "error" and "plate" in without["provenance"]["message"]

    mine = owner.vehicles[0].plate
    asked = f"{mine.lower()}, {stranger.vehicles[0].plate}"
    before = sim_requests(simulators, "samsat")
    facet = vehicles(plate_only, counter, person.nik, asked)
    assert facet["provenance"]["status"] == "ok" and not facet["provenance"]["cached"], facet
    assert [v["plate"] for v in facet["data"]["vehicles"]] == [mine]  # the stranger's vehicle is left out
    assert sim_requests(simulators, "samsat") == before + 2  # one call per plate

    again = vehicles(plate_only, counter, person.nik, asked)  # never from the cache: asked again
    assert again["provenance"]["status"] == "ok" and not again["provenance"]["cached"]
    assert sim_requests(simulators, "samsat") == before + 4
    nobody = vehicles(plate_only, counter, person.nik, stranger.vehicles[0].plate)
    assert nobody["provenance"]["status"] == "not_found" and nobody.get("data") is None
    plain = vehicles(plate_only, counter, person.nik, None)  # a lookup without plates is not answered by plate
    assert plain["provenance"]["status"] == "error"

    auditor = {"Authorization": f"Bearer {add_client('auditor', ['audit:read'])}"}
    page = plate_only.get("/v1/audit/entries", headers=auditor, params={"subject_nik": person.nik, "limit": 50})
    reads = [e["entry"]["detail"] for e in page.json()["entries"] if e["entry"]["action"] == "citizen.read"]
    assert len(reads) == 5
    with_plates = [r for r in reads if "plates" in r]
    key = app_state(plate_only.app).secrets.nik_hash_key
    assert with_plates[0]["plates"] == [subject_hash(key, mine), subject_hash(key, stranger.vehicles[0].plate)]
    assert len(with_plates) == 3 and with_plates[2]["plates"] == [subject_hash(key, stranger.vehicles[0].plate)]
    assert mine not in page.text and mine.replace(" ", "") not in page.text, "plates are kept as keyed hashes only"


@pytest.mark.parametrize("plates", ["", "not a plate", "B 1234 XYZ;D 1 A", ",".join(["B 1 A"] * 11),
                                    "B 12345 XYZ", "B 1234 XYZW", "١ 1234 XYZ"])
def test_bad_plates_are_refused_before_any_agency_is_asked(plate_only, counter, simulators,  # type: ignore[no-untyped-def]
                                                           plates: str) -> None:
    person, _ = OWNERS[0]
    before = {a: sim_requests(simulators, a) for a in ("dukcapil", "samsat")}
    response = plate_only.get(f"/v1/citizens/{person.nik}", headers=counter,
                              params={"purpose": "vehicle_tax", "plates": plates})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "plates_invalid"
    assert {a: sim_requests(simulators, a) for a in before} == before


def test_the_openapi_declares_plates(plate_only) -> None:  # type: ignore[no-untyped-def]
    operation = plate_only.get("/openapi.json").json()["paths"]["/v1/citizens/{nik}"]["get"]
    declared = {p["name"]: p for p in operation["parameters"]}
    assert declared["plates"]["in"] == "query" and not declared["plates"]["required"]
    assert declared["plates"]["schema"]["maxLength"] == 140 and declared["plates"]["schema"]["pattern"]
    assert "plates_invalid" in repr(operation["responses"]["400"])
