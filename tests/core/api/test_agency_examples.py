"""Every example in every service schema of every installed connector is a payload the agency accepts: submitted
through the demo (its population, its simulators, its counter key) with the API, each ends `submitted`.

The examples are what a counter copies first (GET /v1/agencies/{agency}/services/{service}); an example the
simulator refuses would teach the wrong payload. The loop is over what the entry points install, so a new
service is covered the day it is added.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.registry import discover
from core.api.app import create_app
from core.demo import Demo, pick_samples, prepare
from core.settings import Settings
from tests.conftest import BUS_SECRETS
from tests.core.bus.helpers import FAST, wait_status
from tests.core.conftest import COUNTER_CONTEXT

EXAMPLES = [(agency, service, index, example) for agency, plugin in discover().items()
            for service, schema in plugin.services.items()
            for index, example in enumerate(schema.get("examples") or [])]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """`gerbang demo`'s world (seed 2024, 500 people, every simulator) on a database of this test's own."""
    settings = Settings(database_url=f"sqlite:///{(tmp_path / 'demo.db').as_posix()}", data_dir=tmp_path,
                        **BUS_SECRETS, **FAST)
    running = prepare(settings, seed=2024, port=0)
    try:
        yield running
    finally:
        running.stop()


def test_there_is_an_example_for_every_service() -> None:
    services = {(agency, service) for agency, plugin in discover().items() for service in plugin.services}
    assert services and services == {(agency, service) for agency, service, _, _ in EXAMPLES}


def test_every_example_is_submitted_by_the_demo_simulators(demo: Demo) -> None:
    counter = {**COUNTER_CONTEXT, "Authorization": f"Bearer {demo.api_key}"}
    fallback_nik = pick_samples(demo.population)[0].nik
    with TestClient(create_app(demo.settings)) as api:
        sent: dict[str, dict[str, Any]] = {}
        for agency, service, index, example in EXAMPLES:
            schema = api.get(f"/v1/agencies/{agency}/services/{service}", headers=counter)
            assert schema.status_code == 200, schema.text
            assert schema.json()["examples"][index] == example      # what a counter reads is what is tested
            request = {"nik": example.get("nik", fallback_nik), "agency": agency, "service": service,
                       "payload": example}
            answer = api.post("/v1/applications", json=request,
                              headers={**counter, "Idempotency-Key": str(uuid.uuid4())})
            assert answer.status_code == 202, (agency, service, answer.text)
            sent[f"{agency}.{service}[{index}]"] = answer.json()
        outcomes = {name: wait_status(api, counter, answer["id"]) for name, answer in sent.items()}
    refused = {name: (view["status"], view.get("reason")) for name, view in outcomes.items()
               if view["status"] != "submitted"}
    assert refused == {}
    assert all(view["agency_reference"] for view in outcomes.values())
