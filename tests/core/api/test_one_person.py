"""One person per application (issue #15 item 2): where a service's schema names the citizen, the payload's NIK
must be the envelope's (422 `nik_mismatch`, nothing stored), or is left out and filled in from the envelope."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select as sa_select
from sqlmodel import select

from connectors.registry import discover
from core.audit.models import entry_table
from core.bus.citizen import MARK, citizen_fields, one_person
from core.bus.models import Application, Outbox
from tests.core.bus.helpers import FAST, SUPPLY, submit, wait_status

OTHER_NIK = "3171010101900001"


def test_every_service_that_names_the_citizen_is_found() -> None:
    named = {(agency, service): citizen_fields(schema) for agency, plugin in discover().items()
             for service, schema in plugin.services.items()}
    # every submission service of the bus names its applicant by a top-level `nik`
    assert named and all(fields == ["nik"] for fields in named.values()), named


def test_one_person_fills_and_compares() -> None:
    schema = {"properties": {"nik": {"type": "string"}, "pemohon": {"type": "string", MARK: True},
                             "nikAyah": {"type": "string"}}}
    assert citizen_fields(schema) == ["nik", "pemohon"]
    assert one_person(schema, {"nikAyah": OTHER_NIK}, "1" * 16) == (
        {"nikAyah": OTHER_NIK, "nik": "1" * 16, "pemohon": "1" * 16}, [])
    assert one_person(schema, {"nik": OTHER_NIK, "pemohon": "1" * 16}, "1" * 16)[1] == ["nik"]
    assert one_person({"properties": {"nib": {}}}, {"nib": "1"}, "1" * 16) == ({"nib": "1"}, [])


@pytest.fixture
def counter(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {add_client('counter', ['application:submit:*', 'application:read'])}"}


def stored(sessions: Any) -> tuple[int, int, int]:
    """(applications, outbox rows, audit entries of application steps) on the test database."""
    with sessions() as session:
        entries = session.execute(sa_select(func.count()).select_from(entry_table)
                                  .where(entry_table.c.action.like("application.%"))).scalar_one()
        return (len(session.exec(select(Application)).all()), len(session.exec(select(Outbox)).all()), entries)


@pytest.mark.parametrize("agency", ["oss", "samsat", "korlantas", "imigrasi", "bpjs_kesehatan",
                                    "bpjs_ketenagakerjaan"])
def test_a_payload_naming_another_citizen_is_refused_and_nothing_is_stored(make_api, counter, sessions,
                                                                          agency: str) -> None:  # type: ignore[no-untyped-def]
    api = make_api(**FAST)
    body = SUPPLY.fresh(agency)
    assert body["payload"]["nik"] == body["nik"] != OTHER_NIK
    before = stored(sessions)
    reply = api.post("/v1/applications", json={**body, "payload": {**body["payload"], "nik": OTHER_NIK}},
                     headers={**counter, "Idempotency-Key": f"mismatch-{agency}"})
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["code"] == "nik_mismatch"
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [("#/payload/nik", "nik_mismatch")]
    assert stored(sessions) == before
    assert OTHER_NIK not in reply.text  # the other person's NIK is not echoed either


def test_the_envelope_nik_fills_the_payload(make_api, counter, sessions) -> None:  # type: ignore[no-untyped-def]
    api = make_api(**FAST)
    body = SUPPLY.fresh("samsat")
    payload = {k: v for k, v in body["payload"].items() if k != "nik"}
    accepted = submit(api, counter, {**body, "payload": payload})
    # Samsat's schema requires the owner's NIK: it was filled in, and the agency took the application
    assert wait_status(api, counter, accepted["id"])["status"] == "submitted"
    again = api.post("/v1/applications", json=body, headers={**counter, "Idempotency-Key": "fill-2"})
    assert again.status_code == 202, again.text
