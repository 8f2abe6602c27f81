"""POST/GET /v1/applications through the API (embedded mode, real simulators): idempotency per client, the
checks in order (key, agency, scope, service, NIK, schema), reading and listing, and what is stored."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlmodel import select

from core.bus.models import Application, Outbox, Transition
from tests.core.bus.helpers import FAST, SUPPLY, submit, wait_status


@pytest.fixture
def counter(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    key = add_client("counter", ["application:submit:*", "application:read"])
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api(make_api) -> Any:  # type: ignore[no-untyped-def]
    return make_api(**FAST)


def post(api: Any, headers: dict[str, str], body: dict[str, Any], key: str | None = "k-1") -> Any:
    extra = {"Idempotency-Key": key} if key is not None else {}
    return api.post("/v1/applications", json=body, headers={**headers, **extra})


def test_accepted_with_location_and_the_same_answer_again(api, counter) -> None:  # type: ignore[no-untyped-def]
    body = SUPPLY.repeatable("oss")
    first = post(api, counter, body)
    assert first.status_code == 202, first.text
    app_id = first.json()["id"]
    assert first.headers["location"] == f"/v1/applications/{app_id}" == first.json()["links"]["self"]
    assert first.json()["status"] == "accepted" and first.json()["agency"] == "oss"
    again = post(api, counter, body)
    assert again.status_code == 202 and again.json()["id"] == app_id
    assert again.headers["location"] == first.headers["location"] and again.headers["idempotent-replayed"] == "true"
    other_body = {**body, "payload": {**body["payload"], "kd_status": "90"}}
    conflict = post(api, counter, other_body)
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    assert conflict.headers["content-type"].startswith("application/problem+json")
    assert post(api, counter, body, key="k-2").json()["id"] != app_id


def test_keys_are_scoped_per_client(api, counter, add_client) -> None:  # type: ignore[no-untyped-def]
    other = {"Authorization": f"Bearer {add_client('other', ['application:submit:oss', 'application:read'])}"}
    body = SUPPLY.repeatable("oss")
    mine, theirs = post(api, counter, body, "shared"), post(api, other, body, "shared")
    assert mine.status_code == theirs.status_code == 202 and mine.json()["id"] != theirs.json()["id"]
    assert api.get(f"/v1/applications/{mine.json()['id']}", headers=other).status_code == 404


@pytest.mark.parametrize("change, status, code", [
    ({"agency": "atlantis"}, 422, "agency_unknown"),
    ({"service": "passport_application"}, 422, "service_unknown"),
    ({"agency": "dukcapil", "service": "anything"}, 422, "service_unknown"),
    ({"nik": "1234"}, 400, "nik_invalid"),
    ({"payload": {"nib": "12", "kd_izin": "X"}}, 422, "payload_invalid"),
    ({"extra": 1}, 422, "request_invalid"),
])
def test_bad_requests_are_problems(api, counter, change, status, code) -> None:  # type: ignore[no-untyped-def]
    response = post(api, counter, {**SUPPLY.repeatable("oss"), **change})
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_schema_errors_are_listed(api, counter) -> None:  # type: ignore[no-untyped-def]
    body = {**SUPPLY.repeatable("samsat")}
    body["payload"] = {"nik": body["nik"], "plate": "NOT A PLATE 1", "year": 1999, "colour": "red"}
    problem = post(api, counter, body).json()
    assert problem["code"] == "payload_invalid"
    by_pointer = {e["pointer"]: e for e in problem["errors"]}
    assert set(by_pointer) == {"#/payload", "#/payload/plate", "#/payload/year"}, problem["errors"]
    assert by_pointer["#/payload/year"]["code"] == "minimum"
    assert by_pointer["#/payload"]["code"] == "additionalProperties"


def test_idempotency_key_is_required_and_checked(api, counter) -> None:  # type: ignore[no-untyped-def]
    body = SUPPLY.repeatable("oss")
    missing = post(api, counter, body, key=None)
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_missing"
    long = post(api, counter, body, key="x" * 201)
    assert long.status_code == 400 and long.json()["code"] == "idempotency_key_invalid"


def test_scopes(api, add_client) -> None:  # type: ignore[no-untyped-def]
    only_oss = {"Authorization": f"Bearer {add_client('oss-only', ['application:submit:oss'])}"}
    samsat = post(api, only_oss, SUPPLY.repeatable("samsat"))
    assert samsat.status_code == 403 and samsat.json()["required_scope"] == "application:submit:samsat"
    accepted = post(api, only_oss, SUPPLY.repeatable("oss"))
    assert accepted.status_code == 202
    assert api.get(f"/v1/applications/{accepted.json()['id']}", headers=only_oss).status_code == 403
    assert api.get("/v1/applications", headers=only_oss).status_code == 403
    assert post(api, {}, SUPPLY.repeatable("oss")).status_code == 401


def test_read_and_list(api, counter, add_client) -> None:  # type: ignore[no-untyped-def]
    oss, samsat = SUPPLY.repeatable("oss"), SUPPLY.repeatable("samsat")
    ids = [submit(api, counter, oss)["id"], submit(api, counter, oss)["id"], submit(api, counter, samsat)["id"]]
    for app_id in ids:
        assert wait_status(api, counter, app_id)["status"] == "submitted"
    view = api.get(f"/v1/applications/{ids[0]}", headers=counter).json()
    assert [s["status"] for s in view["history"]] == ["accepted", "queued", "submitting", "submitted"]
    assert all(s["at"] for s in view["history"]) and view["attempts"] == 1 and view["deadline_at"]
    assert api.get("/v1/applications/no-such-id", headers=counter).status_code == 404

    listed = api.get("/v1/applications", headers=counter, params={"agency": "oss", "status": "submitted"}).json()
    assert {ids[0], ids[1]} <= {item["id"] for item in listed["items"]}
    assert ids[2] not in {item["id"] for item in listed["items"]}
    by_nik = api.get("/v1/applications", headers=counter, params={"nik": samsat["nik"]}).json()["items"]
    assert ids[2] in [item["id"] for item in by_nik] and all(i["agency"] == "samsat" for i in by_nik)
    assert api.get("/v1/applications", headers=counter, params={"nik": "123"}).json()["code"] == "nik_invalid"
    assert api.get("/v1/applications", headers=counter, params={"status": "lost"}).status_code == 422

    pages, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/applications", headers=counter, params=params).json()
        pages += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages[:3] == ids[::-1] and len(pages) == len(set(pages))
    outsider = {"Authorization": f"Bearer {add_client('reader', ['application:read'])}"}
    assert api.get("/v1/applications", headers=outsider).json()["items"] == []
    admin = {"Authorization": f"Bearer {add_client('admin', ['admin'])}"}
    assert api.get(f"/v1/applications/{ids[0]}", headers=admin).status_code == 403   # admin ≠ application:read


def test_no_nik_in_clear_at_rest_or_in_logs(api, counter, sessions, caplog) -> None:  # type: ignore[no-untyped-def]
    body = SUPPLY.repeatable("samsat")
    nik = body["nik"]
    with caplog.at_level(logging.DEBUG):
        app_id = submit(api, counter, body)["id"]
        assert wait_status(api, counter, app_id)["status"] == "submitted"
    assert not [r for r in caplog.records if nik in r.getMessage()]
    with sessions() as session:
        row = session.get(Application, app_id)
        assert nik not in row.nik_hash and len(row.nik_hash) == 64
        assert nik.encode() not in row.payload and body["payload"]["plate"].encode() not in row.payload
        assert row.result is not None and row.agency_reference.encode() not in row.result
        dumped = repr(row.model_dump()) + repr(session.exec(select(Transition)).all()) + repr(
            session.exec(select(Outbox)).all())
        assert nik not in dumped
