"""Journey 1 through the real API: auth, purposes, NIK errors and Dukcapil outcomes, over real HTTP to the
Dukcapil simulator, on every database backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from connectors.dukcapil import PLUGIN as DUKCAPIL
from connectors.simkit import serving
from connectors.simkit.population import Person, Population
from core.api.app import create_app
from core.settings import Settings
from tests.conftest import BUS_SECRETS
from tests.core.conftest import COUNTER_CONTEXT

POPULATION = Population(seed=7, size=200)


def first(predicate) -> Person:  # type: ignore[no-untyped-def]
    return next(p for p in POPULATION.people if predicate(p))


ALIVE = first(lambda p: p.life_status == "alive" and p.in_dukcapil)
DECEASED = first(lambda p: p.life_status == "deceased" and p.in_dukcapil)
INACTIVE = first(lambda p: p.life_status == "inactive" and p.in_dukcapil)
UNKNOWN = first(lambda p: not p.in_dukcapil)


@pytest.fixture(scope="module")
def dukcapil() -> Iterator[serving.RunningServer]:
    assert DUKCAPIL.simulator is not None
    with serving.serving(DUKCAPIL.simulator(POPULATION)) as server:
        yield server


@pytest.fixture(autouse=True)
def healthy_dukcapil(dukcapil: serving.RunningServer) -> Iterator[None]:
    yield
    httpx.post(f"{dukcapil.url}/_sim/faults", json={"mode": "ok", "delay_ms": 0})


@pytest.fixture
def api(database_url: str, dukcapil: serving.RunningServer, tmp_path: Path) -> Iterator[TestClient]:
    assert DUKCAPIL.sim_config is not None
    agency_env = {f"GERBANG_AGENCY_DUKCAPIL_{k.upper()}": str(v) for k, v in DUKCAPIL.sim_config(dukcapil.url).items()}
    settings = Settings(database_url=database_url, agency_env=agency_env, agency_timeout_s=2.0, data_dir=tmp_path,
                        **BUS_SECRETS)
    with TestClient(create_app(settings), headers=COUNTER_CONTEXT) as client:
        yield client


@pytest.fixture
def counter_key(add_client) -> str:  # type: ignore[no-untyped-def]
    return add_client("counter-1", ["citizen:read:*"], ["identity_check"])


def get(api: TestClient, key: str | None, nik: str, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    params.setdefault("purpose", "identity_check")
    return api.get(f"/v1/citizens/{nik}", headers=headers, params=params)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code and body["status"] == status and body["type"].endswith(code)
    return body


def test_found_person_has_identity_facet_with_provenance(api: TestClient, counter_key: str) -> None:
    response = get(api, counter_key, ALIVE.nik)
    assert response.status_code == 200, response.text
    record = response.json()
    identity = record["facets"]["identity"]
    assert identity["provenance"]["agency"] == "dukcapil"
    assert identity["provenance"]["status"] == "ok"
    assert identity["data"]["nik"] == ALIVE.nik
    assert identity["data"]["full_name"] == ALIVE.name
    assert identity["data"]["birth_date"] == ALIVE.birth_date.isoformat()
    assert identity["data"]["sex"] == ALIVE.sex
    assert record["life_status"] == "alive"


def test_nik_with_separators_is_normalised(api: TestClient, counter_key: str) -> None:
    spaced = f"{ALIVE.nik[:6]} {ALIVE.nik[6:12]}-{ALIVE.nik[12:]}"
    response = get(api, counter_key, spaced)
    assert response.status_code == 200
    assert response.json()["nik"] == ALIVE.nik


@pytest.mark.parametrize("nik", ["123", "3276014412990000", "327601441299000X", "９９"])
def test_invalid_nik_is_400_with_errors(api: TestClient, counter_key: str, nik: str) -> None:
    body = assert_problem(get(api, counter_key, nik), 400, "nik_invalid")
    assert body["errors"] and all({"code", "detail"} <= set(e) and e["parameter"] == "nik" for e in body["errors"])


def test_unknown_nik_is_404(api: TestClient, counter_key: str) -> None:
    assert_problem(get(api, counter_key, UNKNOWN.nik), 404, "citizen_not_found")


def test_deceased_is_200_with_life_status(api: TestClient, counter_key: str) -> None:
    response = get(api, counter_key, DECEASED.nik)
    assert response.status_code == 200, response.text
    assert response.json()["life_status"] == "deceased"


def test_inactive_is_200_with_life_status(api: TestClient, counter_key: str) -> None:
    response = get(api, counter_key, INACTIVE.nik)
    assert response.status_code == 200, response.text
    assert response.json()["life_status"] == "inactive"


@pytest.mark.parametrize("mode", ["down", "error", "garbage"])
def test_dukcapil_failure_is_503_with_retry_after(api: TestClient, counter_key: str,
                                                   dukcapil: serving.RunningServer, mode: str) -> None:
    httpx.post(f"{dukcapil.url}/_sim/faults", json={"mode": mode})
    response = get(api, counter_key, ALIVE.nik)
    assert_problem(response, 503, "agency_unavailable")
    assert int(response.headers["retry-after"]) >= 1


def test_dukcapil_too_slow_is_503(api: TestClient, counter_key: str, dukcapil: serving.RunningServer) -> None:
    httpx.post(f"{dukcapil.url}/_sim/faults", json={"mode": "slow", "delay_ms": 3000})
    body = assert_problem(get(api, counter_key, ALIVE.nik), 503, "agency_unavailable")
    assert body["status_detail"] == "timeout"


def test_no_key_is_401(api: TestClient) -> None:
    response = get(api, None, ALIVE.nik)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_key_is_401(api: TestClient, counter_key: str) -> None:
    assert_problem(get(api, counter_key + "x", ALIVE.nik), 401, "unauthenticated")


def test_wrong_scope_is_403(api: TestClient, add_client) -> None:  # type: ignore[no-untyped-def]
    auditor = add_client("auditor", ["audit:read"], ["identity_check"])
    body = assert_problem(get(api, auditor, ALIVE.nik), 403, "scope_missing")
    assert body["required_scope"] == "citizen:read:identity"


def test_purpose_rules(api: TestClient, counter_key: str) -> None:
    assert_problem(get(api, counter_key, ALIVE.nik, purpose=""), 400, "purpose_missing")
    assert_problem(get(api, counter_key, ALIVE.nik, purpose="curiosity"), 400, "purpose_unknown")
    assert_problem(get(api, counter_key, ALIVE.nik, purpose="vehicle_tax"), 403, "purpose_not_allowed")


def test_unknown_route_and_method_are_problems(api: TestClient, counter_key: str) -> None:
    assert_problem(api.get("/v1/nothing-here"), 404, "not_found")
    assert_problem(api.delete(f"/v1/citizens/{ALIVE.nik}"), 405, "method_not_allowed")


def test_openapi_documents_the_lookup(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    assert "/v1/citizens/{nik}" in spec["paths"]
