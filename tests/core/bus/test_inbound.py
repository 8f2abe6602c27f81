"""Agency pushes through a connector's inbound hook: OSS `receiveNIB` opens the licences a region must process as
applications (status `received`), bound to the NIB its Token covers; refused pushes are audited; the region's
decision goes back to OSS through the outbox like any submission."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from connectors.oss.push import push_token
from connectors.oss.simdata import OssState, active_licences, decision
from connectors.oss.simulator import DEFAULT_PUSH_PASSWORD, DEFAULT_PUSH_USER, push_body
from connectors.registry import discover
from connectors.simkit import serving
from core.api.app import create_app
from core.audit.models import entry_table
from core.audit.sequencer import sequence
from core.demo import agency_environment
from core.settings import Settings
from identity.clock import WIB
from tests.core.bus.helpers import FAST, wait_status
from tests.conftest import BUS_SECRETS
from tests.core.conftest import COUNTER_CONTEXT, GENEROUS_LIMITS, POPULATION
from core.api.state import app_state

URL = "/v1/inbound/oss/receiveNIB"
REPLY = "responreceiveNIB"
FIXTURES = Path(__file__).parents[2] / "connectors" / "oss" / "fixtures"
STATE = OssState(POPULATION)
LICENCES = active_licences(STATE)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def token(nib: str, *, password: str = DEFAULT_PUSH_PASSWORD, day: dt.date | None = None) -> str:
    return push_token(DEFAULT_PUSH_USER, password, nib, day or dt.datetime.now(WIB).date())


@pytest.fixture
def settings(database_url: str, simulators: dict[str, serving.RunningServer], tmp_path: Path) -> Settings:
    """The bus wired to every simulator; OSS's pushed licences belong to the client `counter`."""
    env = {**agency_environment(discover(), simulators), "GERBANG_AGENCY_OSS_INBOX_CLIENT": "counter"}
    return Settings(database_url=database_url, agency_env=env, data_dir=tmp_path, **BUS_SECRETS,
                    **{"agency_timeout_s": 2.0, **GENEROUS_LIMITS, **FAST})


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers=COUNTER_CONTEXT) as client:
        yield client


@pytest.fixture
def counter(add_client: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {add_client('counter', ['application:submit:*', 'application:read'])}"}


def audit(api: TestClient) -> list[tuple[str, dict[str, Any]]]:
    """(action, entry) of every audit entry so far, sequenced first."""
    state = app_state(api.app)
    sequence(state.engine, state.audit.signer)
    with state.sessions() as session:
        rows = session.execute(select(entry_table.c.action, entry_table.c.data)).all()
    return [(action, json.loads(bytes(data))) for action, data in rows]


def refusals(api: TestClient) -> list[dict[str, Any]]:
    return [entry.get("detail", entry) for action, entry in audit(api) if action == "inbound.refused"]


def test_the_simulator_pushes_and_counters_see_the_licences(settings: Settings, counter: dict[str, str],
                                                            simulators: dict[str, serving.RunningServer]) -> None:
    owner, nib, _ = LICENCES[0]
    with serving.serving(create_app(settings)) as bus:
        sent = httpx.post(f"{simulators['oss'].url}/_sim/push", timeout=20,
                          json={"url": f"{bus.url}{URL}", "nib": nib.nib}).json()
        assert sent["status_code"] == 200 and sent["reply"] == fixture("receiveNIB_reply_ok")
        assert set(sent["sent"]["dataNIB"]) == set(fixture("receiveNIB_push")["dataNIB"])
        listed = httpx.get(f"{bus.url}/v1/applications", headers={**counter, **COUNTER_CONTEXT},
                           params={"status": "received"}).json()
        mine = [a for a in listed["items"] if a["agency"] == "oss"]
        assert sorted(a["agency_reference"] for a in mine) == sorted(lic.id_izin for lic in nib.licences)
        view = httpx.get(f"{bus.url}/v1/applications/{mine[0]['id']}", headers=counter).json()
    assert view["status"] == "received" and view["service"] == "license_request"
    assert view["history"][0]["detail"] == "receiveNIB: pushed by oss"
    assert owner.nik not in json.dumps(view)


def test_the_evidence_push_is_stored_once_and_updated(api: TestClient, counter: dict[str, str]) -> None:
    body = fixture("receiveNIB_push")
    nib = body["dataNIB"]["nib"]
    first = api.post(URL, json=body, headers={"Token": token(nib)})
    assert first.status_code == 200 and first.json() == fixture("receiveNIB_reply_ok")
    again = api.post(URL, json=body, headers={"Token": token(nib).upper()})
    assert again.json() == fixture("receiveNIB_reply_ok")
    changed = json.loads(json.dumps(body))
    changed["dataNIB"]["data_checklist"][0]["nama_izin"] = "SERTIFIKAT STANDAR (PERUBAHAN)"
    assert api.post(URL, json=changed, headers={"Token": token(nib)}).json() == fixture("receiveNIB_reply_ok")
    listed = api.get("/v1/applications", headers=counter, params={"status": "received"}).json()["items"]
    assert [a["agency_reference"] for a in listed] == ["I-202502200921407719340"]
    view = api.get(f"/v1/applications/{listed[0]['id']}", headers=counter).json()
    assert [s["detail"] for s in view["history"]] == ["receiveNIB: pushed by oss", "receiveNIB: updated by oss"]
    actions = [action for action, _ in audit(api)]
    assert actions.count("application.received") == 1 and actions.count("application.updated") == 1


def test_a_push_cannot_touch_another_nibs_licence(api: TestClient, counter: dict[str, str]) -> None:
    (_, nib_a, _), (_, nib_b, licence_b) = LICENCES[0], next(x for x in LICENCES if x[1].nib != LICENCES[0][1].nib)
    assert api.post(URL, json=push_body(STATE, nib_b.nib), headers={"Token": token(nib_b.nib)}
                    ).json()[REPLY]["status"] == "1"
    # NIB A's own token, on a body naming NIB B's id_izin: refused whole, nothing stored, audited
    forged = push_body(STATE, nib_a.nib)
    forged["dataNIB"]["data_checklist"].append({**forged["dataNIB"]["data_checklist"][0],
                                                "id_izin": licence_b.id_izin})
    refused = api.post(URL, json=forged, headers={"Token": token(nib_a.nib)})
    assert refused.status_code == 403 and refused.json()[REPLY]["status"] == "2"
    listed = api.get("/v1/applications", headers=counter, params={"status": "received"}).json()["items"]
    assert sorted(a["agency_reference"] for a in listed) == sorted(lic.id_izin for lic in nib_b.licences)
    # NIB A's token on NIB B's body: the token does not cover it
    stolen = api.post(URL, json=push_body(STATE, nib_b.nib), headers={"Token": token(nib_a.nib)})
    assert stolen.status_code == 401 and stolen.json()[REPLY]["status"] == "2"
    reasons = [(r["reason"], r.get("owner"), r.get("reference")) for r in refusals(api)]
    assert ("owner_mismatch", nib_a.nib, licence_b.id_izin) in reasons and ("token_invalid", None, None) in reasons


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "token_missing"), ({"Token": "0" * 40}, "token_invalid"),
    ({"Token": token("0220205481936", password="wrong")}, "token_invalid"),
    ({"Token": token("0220205481936", day=dt.datetime.now(WIB).date() - dt.timedelta(days=2))}, "token_invalid")])
def test_bad_tokens_are_refused_in_oss_words_and_audited(api: TestClient, headers: dict[str, str],
                                                         reason: str) -> None:
    answer = api.post(URL, json=fixture("receiveNIB_push"), headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {REPLY: {"status": "2", "keterangan": "User Akses Tidak Valid"}}
    assert [r["reason"] for r in refusals(api)] == [reason]


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"dataNIB": {"nib": "12"}}',
                                  json.dumps({"dataNIB": {**fixture("receiveNIB_push")["dataNIB"],
                                                          "no_id_user_proses": ""}}).encode()])
def test_malformed_pushes_are_400_in_oss_words(api: TestClient, body: bytes) -> None:
    answer = api.post(URL, content=body, headers={"Token": token("0220205481936"),
                                                  "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()[REPLY]["status"] == "2"
    assert len(refusals(api)) == 1


def test_unknown_routes_are_problems(api: TestClient) -> None:
    for path in ("/v1/inbound/oss/receiveLicenseStatus", "/v1/inbound/dukcapil/receiveNIB",
                 "/v1/inbound/nobody/x"):
        answer = api.post(path, json={})
        assert answer.status_code == 404 and answer.json()["code"] == "inbound_not_found"


def test_the_decision_goes_back_to_oss(api: TestClient, counter: dict[str, str],
                                       simulators: dict[str, serving.RunningServer]) -> None:
    owner, nib, licence = LICENCES[2]
    assert api.post(URL, json=push_body(STATE, nib.nib), headers={"Token": token(nib.nib)}
                    ).json()[REPLY]["status"] == "1"
    payload = decision(owner, nib, licence, "90")
    answer = api.post("/v1/applications", headers={**counter, "Idempotency-Key": "decide-1"},
                      json={"nik": owner.nik, "agency": "oss", "service": "license_status", "payload": payload})
    assert answer.status_code == 202
    view = wait_status(api, counter, answer.json()["id"], {"submitted"})
    assert view["agency_reference"] == licence.id_izin
    received = httpx.get(f"{simulators['oss'].url}/_sim/oss/received").json()["statuses"][licence.id_izin]
    assert received[-1]["kd_status"] == "90" and received[-1]["tgl_status"] == payload["tgl_status"]
    wrong = api.post("/v1/applications", headers={**counter, "Idempotency-Key": "decide-2"},
                     json={"nik": owner.nik, "agency": "oss", "service": "license_status",
                           "payload": {**payload, "id_izin": "I-000000000000000000001"}})
    view = wait_status(api, counter, wrong.json()["id"], {"rejected"})
    assert "I-000000000000000000001" in view["reason"]


def test_without_an_inbox_client_the_records_belong_to_a_keyless_agency_client(make_api, add_client,  # type: ignore
                                                                              counter: dict[str, str]) -> None:
    api = make_api()
    operator = {"Authorization": f"Bearer {add_client('operator', ['admin', 'application:read'])}"}
    body = fixture("receiveNIB_push")
    assert api.post(URL, json=body, headers={"Token": token(body["dataNIB"]["nib"])}).json() == fixture(
        "receiveNIB_reply_ok")
    seen = api.get("/v1/applications", headers=operator, params={"status": "received"}).json()["items"]
    assert [a["agency_reference"] for a in seen] == ["I-202502200921407719340"]
    assert api.get(f"/v1/applications/{seen[0]['id']}", headers=counter).status_code == 404   # not the counter's
    assert api.get("/v1/applications", headers=counter, params={"status": "received"}).json()["items"] == []


def test_a_decision_joins_the_pushed_licence(api: TestClient, counter: dict[str, str]) -> None:
    """The received licence gets a `decided` step naming the decision application, audited; a decision naming the
    id_izin under another NIB does not touch it; OSS pushing the licence again after the decision reached OSS
    updates the pushed record, not the decision (both carry the id_izin as their reference)."""
    owner, nib, licence = LICENCES[3]
    assert api.post(URL, json=push_body(STATE, nib.nib), headers={"Token": token(nib.nib)}
                    ).json()[REPLY]["status"] == "1"
    received = [a for a in api.get("/v1/applications", headers=counter, params={"status": "received"}
                                   ).json()["items"] if a["agency_reference"] == licence.id_izin]
    assert len(received) == 1
    pushed = received[0]["id"]
    payload = decision(owner, nib, licence, "90")
    other_nib = {**payload, "nib": next(n.nib for _, n, _ in LICENCES if n.nib != nib.nib)}
    stranger = api.post("/v1/applications", headers={**counter, "Idempotency-Key": "join-0"},
                        json={"nik": owner.nik, "agency": "oss", "service": "license_status", "payload": other_nib})
    assert stranger.status_code == 202
    assert [s["detail"] for s in api.get(f"/v1/applications/{pushed}", headers=counter).json()["history"]] == [
        "receiveNIB: pushed by oss"], "a decision under another NIB must not join this licence"

    answer = api.post("/v1/applications", headers={**counter, "Idempotency-Key": "join-1"},
                      json={"nik": owner.nik, "agency": "oss", "service": "license_status", "payload": payload})
    assert answer.status_code == 202
    decided = answer.json()["id"]
    view = api.get(f"/v1/applications/{pushed}", headers=counter).json()
    assert view["status"] == "received"
    assert [s["detail"] for s in view["history"]] == ["receiveNIB: pushed by oss",
                                                      f"decided: application {decided} (license_status)"]
    replay = api.post("/v1/applications", headers={**counter, "Idempotency-Key": "join-1"},
                      json={"nik": owner.nik, "agency": "oss", "service": "license_status", "payload": payload})
    assert replay.json()["id"] == decided
    assert len(api.get(f"/v1/applications/{pushed}", headers=counter).json()["history"]) == 2, \
        "a replayed submission adds no second step"
    entries = [e["detail"] for action, e in audit(api) if action == "application.decided"]
    assert entries == [{"application": pushed, "service": "license_request", "status": "received",
                        "reference": licence.id_izin, "decision": decided, "decision_service": "license_status"}]

    assert wait_status(api, counter, decided, {"submitted"})["agency_reference"] == licence.id_izin
    changed = push_body(STATE, nib.nib)
    changed["dataNIB"]["data_checklist"][0]["nama_izin"] = "PERUBAHAN"
    assert api.post(URL, json=changed, headers={"Token": token(nib.nib)}).json()[REPLY]["status"] == "1"
    assert api.get(f"/v1/applications/{pushed}", headers=counter).json()["history"][-1]["detail"] == \
        "receiveNIB: updated by oss"
