"""The fork of FastAPI's routing for the lookup (core/api/fastapi_routing.py) answers exactly as the router would,
and really bypasses it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from connectors.dukcapil import PLUGIN as DUKCAPIL
from connectors.simkit import serving
from connectors.simkit.population import Population
from core.api import problems
from core.api.app import create_app
from core.api.fastapi_routing import LookupLane, query_flag
from core.settings import Settings
from tests.conftest import BUS_SECRETS
from tests.core.conftest import COUNTER_CONTEXT

POPULATION = Population(seed=7, size=200)
ALIVE = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil]
UNKNOWN = next(p for p in POPULATION.people if not p.in_dukcapil)


@pytest.fixture(scope="module")
def dukcapil() -> Iterator[serving.RunningServer]:
    assert DUKCAPIL.simulator is not None
    with serving.serving(DUKCAPIL.simulator(POPULATION)) as server:
        yield server


@pytest.fixture
def apis(database_url: str, dukcapil: serving.RunningServer, tmp_path: Path) -> dict[str, Callable[[], TestClient]]:
    """The same app twice: as built (with the lane) and with the lane taken out (the router answers). Each is
    started when used — one at a time, as a restarted process would be."""
    assert DUKCAPIL.sim_config is not None
    agency_env = {f"GERBANG_AGENCY_DUKCAPIL_{k.upper()}": str(v) for k, v in DUKCAPIL.sim_config(dukcapil.url).items()}
    settings = Settings(database_url=database_url, agency_env=agency_env, agency_timeout_s=2.0, data_dir=tmp_path,
                        **BUS_SECRETS)

    def lane() -> TestClient:
        app = create_app(settings)
        assert any(m.cls is LookupLane for m in app.user_middleware)
        return TestClient(app, headers=COUNTER_CONTEXT)

    def router() -> TestClient:
        app = create_app(settings)
        app.user_middleware = [m for m in app.user_middleware if m.cls is not LookupLane]
        return TestClient(app, headers=COUNTER_CONTEXT)

    return {"lane": lane, "router": router}


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths the router's routes handled."""
    seen: list[str] = []
    original = APIRoute.handle

    async def handle(self: APIRoute, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"].startswith(("/v1/", "/healthz")):  # not the Dukcapil simulator's routes
            seen.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", handle)
    return seen


def comparable(response: httpx.Response) -> tuple[int, str, Any]:
    body = response.json() if response.content else None
    if isinstance(body, dict):
        for facet in (body.get("facets") or {}).values():
            facet["provenance"].pop("fetched_at", None)
            facet["provenance"].pop("cached", None)
    return response.status_code, response.headers.get("content-type", ""), body


def test_lane_answers_as_the_router_does(apis, add_client, routed: list[str]) -> None:  # type: ignore[no-untyped-def]
    key = add_client("counter-1", ["citizen:read:*"], ["identity_check"])
    narrow = add_client("counter-2", ["citizen:read:vehicles"], ["identity_check"])
    auth = {"Authorization": f"Bearer {key}"}
    cases: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
        ("GET", ALIVE[0].nik, {"purpose": "identity_check"}, auth),
        ("GET", ALIVE[1].nik, {"purpose": "identity_check", "refresh": "TRUE"}, auth),
        ("GET", ALIVE[2].nik, {"purpose": "identity_check", "facets": "identity"}, auth),
        ("GET", ALIVE[0].nik, {"purpose": "identity_check", "refresh": "maybe"}, auth),
        ("GET", ALIVE[0].nik, {"purpose": "identity_check", "refresh": ""}, auth),
        ("GET", ALIVE[0].nik, {"purpose": "identity_check", "facets": "nope"}, auth),
        ("GET", ALIVE[0].nik, {"purpose": "identity_check", "facets": "vehicles"}, auth),
        ("GET", ALIVE[0].nik, {"purpose": ""}, auth),
        ("GET", ALIVE[0].nik, {"purpose": "no_such_purpose"}, auth),
        ("GET", ALIVE[0].nik, {"purpose": "vehicle_tax"}, auth),
        ("GET", ALIVE[0].nik, {"purpose": "vehicle_tax", "plates": "d 4127 ubx, B1234XYZ"}, auth),
        ("GET", ALIVE[0].nik, {"purpose": "vehicle_tax", "plates": "D 4127 UBX;B 1 A"}, auth),
        ("GET", ALIVE[0].nik, {"purpose": "vehicle_tax", "plates": ""}, auth),
        ("GET", ALIVE[0].nik, {"purpose": "identity_check"}, {"Authorization": f"Bearer {narrow}"}),
        ("GET", ALIVE[0].nik, {"purpose": "identity_check"}, {}),
        ("GET", ALIVE[0].nik, {"purpose": "identity_check", "refresh": "maybe"}, {}),
        ("GET", ALIVE[0].nik, {"purpose": "identity_check"}, {"Authorization": "Bearer wrong"}),
        ("GET", ALIVE[0].nik, {"purpose": "identity_check"}, {**auth, "Officer-Id": ""}),
        ("GET", ALIVE[0].nik, {"purpose": "identity_check"}, {**auth, "Counter-Id": "a\tb"}),
        ("GET", "12345", {"purpose": "identity_check"}, auth),
        ("GET", UNKNOWN.nik, {"purpose": "identity_check"}, auth),
        ("GET", f"{ALIVE[0].nik}/", {"purpose": "identity_check"}, auth),
        ("HEAD", ALIVE[0].nik, {"purpose": "identity_check"}, auth),
        ("DELETE", ALIVE[0].nik, {"purpose": "identity_check"}, auth),
    ]
    answers: dict[str, list[tuple[int, str, Any]]] = {}
    hits: dict[str, list[int]] = {}
    for name, start in apis.items():
        answers[name], hits[name] = [], []
        with start() as api:
            for method, nik, params, headers in cases:
                before = len(routed)
                answers[name].append(comparable(api.request(method, f"/v1/citizens/{nik}", params=params,
                                                            headers=headers)))
                hits[name].append(len(routed) - before)
    for case, lane, router in zip(cases, answers["lane"], answers["router"]):
        assert lane == router, case[:3]
    assert hits["router"] == [1] * len(cases)
    assert hits["lane"] == [0 if method == "GET" else 1 for method, *_ in cases]  # the lane answered every GET


def test_lane_passes_other_requests_through(apis, add_client, routed: list[str]) -> None:  # type: ignore[no-untyped-def]
    key = add_client("counter-1", ["citizen:read:*", "citizen:verify"], ["identity_check"])
    with apis["lane"]() as api:
        reply = api.post(f"/v1/citizens/{ALIVE[3].nik}/verify", params={"purpose": "identity_check"},
                         headers={"Authorization": f"Bearer {key}"}, json={"sex": ALIVE[3].sex})
        assert reply.status_code == 200, reply.text
        assert api.get("/healthz").json() == {"status": "ok"}
    assert routed == [f"/v1/citizens/{ALIVE[3].nik}/verify", "/healthz"]


FLAGS = ["", "refresh", "refresh=", "refresh=true", "refresh=TRUE", "refresh=1", "refresh=0", "refresh=no",
         "refresh=on", "refresh=off", "refresh=yes", "refresh=maybe", "refresh=2", "refresh=%20true",
         "refresh=true&refresh=maybe", "refresh=maybe&refresh=false", "refresh=tr%75e", "refresh=+1"]


@pytest.fixture(scope="module")
def flags() -> dict[str, TestClient]:
    """One flag read both ways, at the same path, behind the app's own problem handlers."""
    declared, forked = FastAPI(), FastAPI()
    problems.install(declared)
    problems.install(forked)

    @declared.get("/flag")
    async def by_fastapi(refresh: bool = False) -> dict[str, Any]:
        return {"refresh": refresh}

    @forked.get("/flag")
    async def by_hand(request: Request) -> dict[str, Any]:
        return {"refresh": query_flag(request.query_params, "refresh")}

    return {"declared": TestClient(declared), "forked": TestClient(forked)}


@pytest.mark.parametrize("query", FLAGS)
def test_query_flag_answers_as_a_declared_parameter(flags: dict[str, TestClient], query: str) -> None:
    declared, forked = (flags[name].get(f"/flag?{query}") for name in ("declared", "forked"))
    assert (forked.status_code, forked.headers["content-type"]) == (declared.status_code,
                                                                   declared.headers["content-type"])
    assert forked.json() == declared.json()
