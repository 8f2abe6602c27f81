"""A client generated from `/openapi.json` by openapi-python-client runs a counter's journey (issue #15 item 3):
lookup, verify, submit, follow, and one error of each kind — every answer parsed into a typed model, errors
included (before, a 422 and the 202 of a submission parsed as None)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.registry import discover
from connectors.simkit import serving
from core.api.app import create_app
from core.demo import agency_environment
from core.settings import Settings
from tests.conftest import BUS_SECRETS
from tests.core.bus.helpers import FAST, SUPPLY
from tests.core.conftest import COUNTER_CONTEXT, GENEROUS_LIMITS, POPULATION

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "gerbang_client"
CONTEXT = {"officer_id": COUNTER_CONTEXT["Officer-Id"], "counter_id": COUNTER_CONTEXT["Counter-Id"],
           "mpp_site": COUNTER_CONTEXT["Mpp-Site"]}
UNKNOWN = next(p for p in POPULATION.people if not p.in_dukcapil)


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Any]:
    """The client package, generated from the app's document into a temporary folder and imported."""
    if not GENERATOR.exists():
        pytest.skip("openapi-python-client is not installed (pip install -e '.[test]')")
    spec = tmp_path / "openapi.json"
    spec.write_text(__import__("json").dumps(create_app().openapi()), encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n", encoding="utf-8")
    out = tmp_path / PACKAGE
    done = subprocess.run([str(GENERATOR), "generate", "--path", str(spec), "--output-path", str(out), "--meta",
                           "none", "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr  # every schema understood
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def server(database_url: str, simulators: Any, tmp_path: Path) -> Iterator[str]:
    settings = Settings(database_url=database_url, agency_env=agency_environment(discover(), simulators),
                        data_dir=tmp_path, **BUS_SECRETS, **{**FAST, **GENEROUS_LIMITS, "agency_timeout_s": 2.0,
                                                             "lookup_budget_s": 4.0})
    running = serving.start(create_app(settings))
    try:
        yield running.url
    finally:
        running.stop()


def module(package: Any, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_a_counters_journey_with_a_generated_client(generated: Any, server: str, add_client: Any) -> None:  # type: ignore[no-untyped-def]
    counter_key = add_client("counter", ["citizen:read:*", "citizen:verify", "application:submit:*",
                                         "application:read"], ["*"])
    reader_key = add_client("reader", ["citizen:read:identity"], ["identity_check"])
    models = module(generated, "models")
    Problem = models.Problem
    get_citizen = module(generated, "api.citizens.get_citizen")
    verify_citizen = module(generated, "api.citizens.verify_citizen")
    submit_application = module(generated, "api.applications.submit_application")
    get_application = module(generated, "api.applications.get_application")
    counter = generated.AuthenticatedClient(base_url=server, token=counter_key, timeout=httpx.Timeout(20.0))
    request = SUPPLY.fresh("samsat")
    nik = request["nik"]

    # lookup
    record = get_citizen.sync_detailed(nik, client=counter, purpose="identity_check", **CONTEXT)
    assert record.status_code == 200 and isinstance(record.parsed, models.CitizenRecord), record.content
    assert record.parsed.nik == nik and "identity" in record.parsed.facets.additional_properties
    # verify
    person = next(p for p in POPULATION.people if p.nik == nik)
    verdict = verify_citizen.sync_detailed(nik, client=counter, purpose="identity_check", **CONTEXT,
                                           body=models.Claims(full_name=person.name))
    assert isinstance(verdict.parsed, models.Verification), verdict.content
    assert verdict.parsed.fields["full_name"].result.value == "match"
    # submit: a typed 202 with its Location
    body = models.ApplicationIn.from_dict(request)
    key = str(uuid.uuid4())
    accepted = submit_application.sync_detailed(client=counter, body=body, idempotency_key=key, **CONTEXT)
    assert accepted.status_code == 202 and isinstance(accepted.parsed, models.Accepted), accepted.content
    assert accepted.headers["location"] == accepted.parsed.links.self_
    # follow
    deadline = time.monotonic() + 20
    while True:
        view = get_application.sync_detailed(accepted.parsed.id, client=counter)
        assert isinstance(view.parsed, models.ApplicationView), view.content
        if view.parsed.status.value in ("submitted", "rejected", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert view.parsed.status.value == "submitted" and view.parsed.agency_reference

    # one error of each kind, each parsed into the one Problem model
    def problem(answer: Any, status: int, code: str) -> Any:
        assert answer.status_code == status, answer.content
        assert isinstance(answer.parsed, Problem), answer.content
        assert answer.parsed.code == code and answer.parsed.status == status
        return answer.parsed

    bad_nik = problem(get_citizen.sync_detailed("123", client=counter, purpose="identity_check", **CONTEXT),
                      400, "nik_invalid")
    assert bad_nik.errors and all(isinstance(e, models.ProblemItem) and e.parameter == "nik"
                                  for e in bad_nik.errors)
    stranger = generated.AuthenticatedClient(base_url=server, token="not-a-key")
    problem(get_citizen.sync_detailed(nik, client=stranger, purpose="identity_check", **CONTEXT),
            401, "unauthenticated")
    reader = generated.AuthenticatedClient(base_url=server, token=reader_key)
    problem(get_citizen.sync_detailed(nik, client=reader, purpose="passport_application", **CONTEXT),
            403, "purpose_not_allowed")
    problem(get_citizen.sync_detailed(UNKNOWN.nik, client=counter, purpose="identity_check", **CONTEXT),
            404, "citizen_not_found")
    other = models.ApplicationIn.from_dict({**request, "payload": {**request["payload"], "year": 2001}})
    problem(submit_application.sync_detailed(client=counter, body=other, idempotency_key=key, **CONTEXT),
            409, "idempotency_conflict")
    mismatch = models.ApplicationIn.from_dict({**request, "payload": {**request["payload"],
                                                                      "nik": "3171010101900001"}})
    refused = problem(submit_application.sync_detailed(client=counter, body=mismatch,
                                                       idempotency_key=str(uuid.uuid4()), **CONTEXT),
                      422, "nik_mismatch")
    assert [e.pointer for e in refused.errors] == ["#/payload/nik"]
    invalid = models.ApplicationIn.from_dict({**request, "payload": {**request["payload"], "year": 1999}})
    schema = problem(submit_application.sync_detailed(client=counter, body=invalid,
                                                      idempotency_key=str(uuid.uuid4()), **CONTEXT),
                     422, "payload_invalid")
    assert [(e.pointer, e.code) for e in schema.errors] == [("#/payload/year", "minimum")]
    # a body not sent as JSON: the generated client only sends JSON, so its httpx client sends this one
    raw = counter.get_httpx_client().post("/v1/applications", content=b"{}", headers={
        "Content-Type": "text/plain", "Idempotency-Key": str(uuid.uuid4()), **COUNTER_CONTEXT})
    problem(submit_application._build_response(client=counter, response=raw), 415, "unsupported_media_type")
