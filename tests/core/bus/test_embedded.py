"""Embedded mode (no broker): the outbox dispatched inside the API process, against every simulator over real
HTTP, on SQLite and (when configured) PostgreSQL. Accept → submitted for every agency service; the agency's
refusal → rejected; agency down → rescheduled from the database, then submitted; deadline → failed, listed as
dead, replayed; a restart resumes what the last run left (never dispatched, or interrupted mid-attempt)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from core.audit.models import entry_table
from core.audit.sequencer import sequence
from core.bus.claim import Work, begin
from core.bus.message import Message
from core.bus.models import Application, Outbox, Status
from core.bus.service import accept
from core.bus.states import Policy
from core.security.secrets import load_secrets
from core.settings import Settings
from tests.conftest import BUS_SECRETS
from tests.core.bus.helpers import (
    FAST,
    SUPPLY,
    history,
    receipts,
    submit,
    wait_status,
    wait_until,
)
from tests.core.bus.payloads import BUILDERS, oss_refused
from tests.core.conftest import POPULATION
from core.api.state import app_state

SERVICES = sorted(BUILDERS)
SUPPLY_NIKS = {p.nik for p in POPULATION.people}


@pytest.fixture
def counter(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    key = add_client("counter", ["application:submit:*", "application:read"])
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def operator(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {add_client('operator', ['admin'])}"}


def audit_entries(api: Any, app_id: str) -> list[tuple[str, str]]:
    """(action, text) of the audit entries about one application, after sequencing everything written so far
    (reading pending and sequenced rows apart could count an entry the sequencer moves in between twice)."""
    state = app_state(api.app)
    sequence(state.engine, state.audit.signer)
    with state.sessions() as session:
        sequenced = session.execute(select(entry_table.c.action, entry_table.c.data)).all()
    return [(a, bytes(d).decode()) for a, d in sequenced if app_id.encode() in bytes(d)]


def test_every_agency_service_ends_submitted_once(make_api, simulators, counter, sessions) -> None:  # type: ignore
    api = make_api(**FAST)
    sent = {agency: submit(api, counter, SUPPLY.fresh(agency)) for agency in SERVICES}
    for agency, answer in sent.items():
        view = wait_status(api, counter, answer["id"])
        assert view["status"] == "submitted", view
        assert view["agency_reference"] and view["attempts"] == 1
        assert history(view) == ["accepted", "queued", "submitting", "submitted"]
        assert view["agency_detail"], view
        # the agency received the application id as idempotency key, exactly once
        assert receipts(simulators[agency].url).get(answer["id"]) == 1
    samsat = wait_status(api, counter, sent["samsat"]["id"])
    assert len(samsat["agency_detail"]["payment_code"]) == 16 and samsat["agency_reference"].isdigit()
    entries = audit_entries(api, sent["oss"]["id"])
    assert sorted(action for action, _ in entries) == ["application.accepted", "application.queued",
                                                       "application.submitted", "application.submitting"]
    accepted = next(text for action, text in entries if action == "application.accepted")
    assert "loket-01" in accepted and "petugas-01" in accepted          # the counter context
    assert all(sent["oss"]["id"] in text and SUPPLY_NIKS.isdisjoint(text.split('"')) for _, text in entries)


def test_the_agencys_refusal_ends_rejected_with_its_reason(make_api, simulators, counter) -> None:  # type: ignore
    api = make_api(**FAST)
    answer = submit(api, counter, oss_refused(POPULATION))
    view = wait_status(api, counter, answer["id"])
    assert view["status"] == "rejected" and view["agency_reference"] is None
    assert "Data izin tidak ditemukan" in view["reason"], view["reason"]
    assert history(view)[-1] == "rejected" and view["attempts"] == 1
    assert receipts(simulators["oss"].url)[answer["id"]] == 1   # a refusal is not retried


def test_agency_down_is_rescheduled_then_submitted(make_api, simulators, counter, set_fault) -> None:  # type: ignore
    api = make_api(**FAST)
    set_fault("samsat", "down")
    answer = submit(api, counter, SUPPLY.repeatable("samsat"))
    waiting = wait_until(lambda: (v := api.get(f"/v1/applications/{answer['id']}", headers=counter).json())
                         ["attempts"] >= 2 and v, what="two rescheduled attempts")
    assert waiting["status"] in ("queued", "submitting")
    retried = [s for s in waiting["history"] if s["status"] == "queued" and (s["detail"] or "").startswith("retry")]
    assert retried, waiting["history"]
    assert "503" in retried[0]["detail"] or "unavailable" in retried[0]["detail"].lower()
    set_fault("samsat", "ok")
    view = wait_status(api, counter, answer["id"])
    assert view["status"] == "submitted" and view["attempts"] >= 2, view
    assert receipts(simulators["samsat"].url)[answer["id"]] == 1   # refused at the door while down


def test_deadline_fails_then_replay_submits(make_api, simulators, counter, operator, set_fault) -> None:  # type: ignore
    api = make_api(**{**FAST, "submit_deadline_s": 1.0})
    set_fault("oss", "down")
    answer = submit(api, counter, SUPPLY.repeatable("oss"))
    view = wait_status(api, counter, answer["id"])
    assert view["status"] == "failed" and "deadline" in view["history"][-1]["detail"], view
    assert view["attempts"] >= 2
    dead = api.get("/v1/admin/applications/dead", headers=operator).json()["items"]
    assert answer["id"] in [item["id"] for item in dead]
    assert api.get("/v1/admin/applications/dead", headers=counter).status_code == 403
    assert api.post(f"/v1/admin/applications/{answer['id']}/replay", headers=counter).status_code == 403

    set_fault("oss", "ok")
    replayed = api.post(f"/v1/admin/applications/{answer['id']}/replay", headers=operator)
    assert replayed.status_code == 202, replayed.text
    view = wait_status(api, counter, answer["id"])
    assert view["status"] == "submitted", view
    assert history(view)[-4:] == ["accepted", "queued", "submitting", "submitted"]
    assert "replayed by operator" in [s for s in view["history"] if s["status"] == "accepted"][-1]["detail"]
    again = api.post(f"/v1/admin/applications/{answer['id']}/replay", headers=operator)
    assert again.status_code == 409 and again.json()["code"] == "not_replayable"
    assert api.post("/v1/admin/applications/nope/replay", headers=operator).status_code == 404
    assert receipts(simulators["oss"].url)[answer["id"]] == 1


def _client_id(sessions: Any, name: str) -> int:
    with sessions() as session:
        return int(session.execute(text("SELECT id FROM client WHERE name = :n"), {"n": name}).scalar_one())


def test_a_restart_resumes_what_the_last_run_left(make_api, simulators, counter, sessions, database_url,  # type: ignore
                                                   tmp_path) -> None:
    """Two applications as a crash would leave them, written with no API running: one accepted whose outbox row
    was never dispatched, one interrupted mid-attempt (status submitting, lease held). The next start sends
    both, each exactly once."""
    settings = Settings(database_url=database_url, data_dir=tmp_path, **BUS_SECRETS)
    secrets, policy = load_secrets(settings), Policy(deadline_s=3600)
    client_id = _client_id(sessions, "counter")
    first, second = SUPPLY.repeatable("oss"), SUPPLY.repeatable("oss")
    with sessions() as session:
        pending = accept(session, secrets, policy, client_id=client_id, client_name="counter",
                         idempotency_key="crash-1", **first).application
        interrupted = accept(session, secrets, policy, client_id=client_id, client_name="counter",
                             idempotency_key="crash-2", **second).application
    with sessions() as session:
        row = session.exec(select(Outbox).where(Outbox.application_id == interrupted.id)).one()
        work = begin(session, Message.of(row), secrets, policy)
        assert isinstance(work, Work)
    with sessions() as session:
        stuck = session.get(Application, interrupted.id)
        assert stuck.status == Status.submitting.value and stuck.lease_until is not None

    api = make_api(**FAST)
    for app in (pending, interrupted):
        view = wait_status(api, counter, app.id, timeout_s=15)
        assert view["status"] == "submitted", view
        assert receipts(simulators["oss"].url)[app.id] == 1
    assert wait_status(api, counter, interrupted.id)["attempts"] == 2


def test_a_stuck_attempt_of_a_live_process_is_swept_after_its_lease(sessions, database_url, tmp_path) -> None:
    """Distributed workers cannot release each other's leases: an attempt whose worker died is dispatched again
    by the sweep once its lease has run out — and failed instead when the deadline has passed too."""
    from core.bus.sweep import sweep

    settings = Settings(database_url=database_url, data_dir=tmp_path, **BUS_SECRETS)
    secrets = load_secrets(settings)
    policy = Policy(deadline_s=3600, call_timeout_s=0.1, retry_attempts=1, retry_wait_s=0)
    client_id = _client_id_or_create(sessions)
    now = dt.datetime.now(dt.timezone.utc)
    apps = []
    with sessions() as session:
        for key in ("lease-1", "lease-2"):
            apps.append(accept(session, secrets, policy, client_id=client_id, client_name="sweeper",
                               idempotency_key=key, now=now, **SUPPLY.repeatable("oss")).application)
    for app in apps:
        with sessions() as session:
            row = session.exec(select(Outbox).where(Outbox.application_id == app.id)).one()
            row.sent_at = now
            session.commit()
            assert isinstance(begin(session, Message.of(row), secrets, policy, now=now), Work)
    with sessions() as session:
        late = session.get(Application, apps[1].id)
        late.deadline_at = now + dt.timedelta(seconds=1)
        session.commit()
    with sessions() as session:
        assert sweep(session, policy, now=now + dt.timedelta(seconds=1)) == 0       # leases still held
    with sessions() as session:
        assert sweep(session, policy, now=now + dt.timedelta(seconds=policy.lease_s + 1)) == 2
    with sessions() as session:
        again = session.get(Application, apps[0].id)
        failed = session.get(Application, apps[1].id)
        assert again.status == "queued" and failed.status == "failed"
        pending = session.exec(select(Outbox).where(Outbox.application_id == again.id,
                                                    Outbox.sent_at.is_(None))).all()  # type: ignore[union-attr]
        assert len(pending) == 1


def _client_id_or_create(sessions: Any) -> int:
    from core.security.clients import create_client

    with sessions() as session:
        client, _ = create_client(session, "sweeper", ["application:read"], [])
        assert client.id is not None
        return client.id
