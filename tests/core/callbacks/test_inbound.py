"""OSS pushes licence statuses: the token recipe, OSS-style replies, the application's history, and the
`application.status_changed` event reaching a subscribed receiver."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from connectors.oss.push import push_token
from connectors.oss.simulator import DEFAULT_PUSH_PASSWORD, DEFAULT_PUSH_USER, WIB
from tests.core.bus.helpers import FAST, SUPPLY, submit, wait_status, wait_until
from tests.core.callbacks.helpers import receiver
from tests.core.callbacks.test_api import CALLBACKS

URL = "/v1/inbound/oss/receiveLicenseStatus"
REPLY = "responreceiveLicenseStatus"


@pytest.fixture
def counter(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {add_client('counter', ['application:submit:*', 'application:read'])}"}


@pytest.fixture
def operator(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {add_client('operator', ['admin'])}"}


def body(nib: str, id_izin: str, kd_status: str, text: str = "") -> dict[str, Any]:
    return {"RECEIVELICENSESTATUS": {"nib": nib, "id_izin": id_izin, "kd_status": kd_status, "keterangan": text}}


def token(nib: str, password: str = DEFAULT_PUSH_PASSWORD) -> str:
    return push_token(DEFAULT_PUSH_USER, password, nib, dt.datetime.now(WIB).date())


def test_push_moves_the_application_and_reaches_the_agency(make_api, counter, operator,  # type: ignore
                                                           simulators) -> None:
    api = make_api(**FAST, **CALLBACKS)
    with receiver() as (state, server):
        sub = api.post("/v1/subscriptions", headers=operator, json={
            "agency": "oss", "url": f"{server.url}/hook", "events": ["application.status_changed"],
            "batch_max": 10, "batch_window_s": 0}).json()
        request = SUPPLY.repeatable("oss")
        app_id = submit(api, counter, request)["id"]
        view = wait_status(api, counter, app_id, {"submitted"})
        id_izin, nib = view["agency_reference"], request["payload"]["nib"]

        # the simulator pushes with OSS's token: what it sends is accepted as is
        sent = httpx.post(f"{simulators['oss'].url}/_sim/push", timeout=10, json={
            "url": f"{server.url}/hook", "nib": nib, "id_izin": id_izin, "kd_status": "50",
            "keterangan": "Izin terbit"}).json()
        assert sent["status_code"] == 200
        pushed_body, pushed_headers = state.seen[-1]
        answer = api.post(URL, content=pushed_body, headers={"Token": pushed_headers["token"],
                                                             "Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json()[REPLY]["kode"] == 200
        again = api.post(URL, content=pushed_body, headers={"Token": pushed_headers["token"]})
        assert again.json()[REPLY]["kode"] == 200  # a repeated push is acknowledged, not applied twice

        view = api.get(f"/v1/applications/{app_id}", headers=counter).json()
        assert view["status"] == "submitted"
        assert view["history"][-1]["detail"] == "OSS licence status 50: Izin terbit"
        assert sum("licence status" in (s.get("detail") or "") for s in view["history"]) == 1

        refused = api.post(URL, json=body(nib, id_izin, "90", "Ditolak"), headers={"Token": token(nib)})
        assert refused.json()[REPLY]["kode"] == 200
        assert api.get(f"/v1/applications/{app_id}", headers=counter).json()["status"] == "rejected"

        def changes() -> list[dict[str, Any]]:
            return [e for raw, _ in list(state.seen) if b"batch_id" in raw
                    for e in json.loads(raw)["events"]]

        wait_until(lambda: len(changes()) >= 2, 10, what="two status_changed events")
        events = changes()
        assert [e["data"]["agency_status"] for e in events] == ["50", "90"]
        assert all(e["type"] == "application.status_changed" and e["data"]["application_id"] == app_id
                   for e in events)
        assert events[-1]["data"]["status"] == "rejected"
        assert sub["id"]


def test_push_token_and_unknown_application(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    nib = "9120001234567"
    good = body(nib, "I-00000000000000000000", "50")
    for headers in ({}, {"Token": "0" * 40}, {"Token": token(nib, password="wrong")}, {"Token": token("1" * 13)}):
        answer = api.post(URL, json=good, headers=headers)
        assert answer.status_code == 401 and answer.json()[REPLY]["kode"] == 401
    unknown = api.post(URL, json=good, headers={"Token": token(nib)})
    assert unknown.status_code == 200 and unknown.json()[REPLY]["kode"] == 404
    yesterday = push_token(DEFAULT_PUSH_USER, DEFAULT_PUSH_PASSWORD, nib,
                           dt.datetime.now(WIB).date() - dt.timedelta(days=1))
    assert api.post(URL, json=good, headers={"Token": yesterday}).json()[REPLY]["kode"] == 404  # accepted token
    malformed = api.post(URL, content=b"{not json", headers={"Token": token(nib)})
    assert malformed.json()[REPLY]["kode"] == 400
    assert api.post(URL, json={"RECEIVELICENSESTATUS": {"nib": nib}}, headers={"Token": token(nib)}
                    ).json()[REPLY]["kode"] == 400
