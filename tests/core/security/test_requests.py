"""What a request must carry and may not carry: the counter context (400 `context_missing` / `context_invalid`,
recorded with the access), the body size and JSON depth caps (413 `payload_too_large`, 400 `json_too_deep`, before
parsing), unknown fields refused (422), and hostile agency replies showing as a facet `error`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.api.body_limits import json_depth_exceeds
from tests.core.conftest import COUNTER_CONTEXT, POPULATION
from core.api.state import app_state

ALIVE = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil]
PERSON = ALIVE[0]


@pytest.fixture
def counter(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    key = add_client("counter", ["citizen:read:*", "citizen:verify", "application:submit:*", "application:read"],
                     ["identity_check", "sim_renewal", "passport_application"])
    return {"Authorization": f"Bearer {key}"}


def submission() -> dict[str, Any]:
    return {"nik": PERSON.nik, "agency": "oss", "service": "license_status",
            "payload": {"nib": "1234567890123", "id_izin": "I-202502200921407719340", "kd_izin": "059000000214",
                        "kd_status": "50", "tgl_status": "2025-03-04 14:20:05"}}


def calls(api: Any, headers: dict[str, str]) -> list[Any]:
    """A citizen read, a verification and a submission, each with `headers`."""
    return [
        api.get(f"/v1/citizens/{PERSON.nik}", headers=headers, params={"purpose": "identity_check"}),
        api.post(f"/v1/citizens/{PERSON.nik}/verify", headers=headers, params={"purpose": "identity_check"},
                 json={"full_name": PERSON.name}),
        api.post("/v1/applications", headers={**headers, "Idempotency-Key": "ctx-1"}, json=submission()),
    ]


@pytest.mark.parametrize("header", sorted(COUNTER_CONTEXT))
def test_each_context_header_is_required(make_api, counter, header: str) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for reply in calls(api, {**counter, header: ""}):
        assert reply.status_code == 400, reply.text
        assert reply.json()["code"] == "context_missing"
        assert [(e["header"], e["code"]) for e in reply.json()["errors"]] == [(header, "context_missing")]


def test_context_must_be_short_printable_ascii(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for bad in ("x" * 65, "loket\t1"):
        for reply in calls(api, {**counter, "Counter-Id": bad}):
            assert reply.status_code == 400 and reply.json()["code"] == "context_invalid", reply.text


def test_unauthenticated_comes_before_context(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for reply in calls(api, {"Officer-Id": "", "Authorization": "Bearer nope-nope-nope-nope-nope-nope"}):
        assert reply.status_code == 401


def test_context_is_recorded_with_the_access(make_api, counter, add_client) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    desk = {"Officer-Id": "199001012015011001", "Counter-Id": "loket-7", "Mpp-Site": "mpp-kota-bogor"}
    replies = calls(api, {**counter, **desk})
    assert [r.status_code for r in replies] == [200, 200, 202], [r.text for r in replies]
    auditor = {"Authorization": f"Bearer {add_client('auditor', ['audit:read'])}"}
    entries = api.get("/v1/audit/entries", headers=auditor, params={"client": "counter"}).json()["entries"]
    by_action = {e["entry"]["action"]: e["entry"] for e in entries}
    expected = {"officer": "199001012015011001", "counter": "loket-7", "site": "mpp-kota-bogor"}
    for action in ("citizen.read", "citizen.verify", "application.accepted"):
        assert by_action[action]["detail"]["counter"] == expected, by_action[action]


def test_body_size_cap(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api(max_body_bytes=4096)
    big = {"full_name": "A" * 5000}
    declared = api.post(f"/v1/citizens/{PERSON.nik}/verify", headers=counter, params={"purpose": "identity_check"},
                        json=big)
    assert declared.status_code == 413 and declared.json()["code"] == "payload_too_large"
    assert declared.json()["max_bytes"] == 4096
    assert declared.headers["content-type"].startswith("application/problem+json")

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b"A" * 1000

    streamed = api.post(f"/v1/citizens/{PERSON.nik}/verify", headers={**counter, "Content-Type": "application/json"},
                        params={"purpose": "identity_check"}, content=chunks())
    assert streamed.status_code == 413 and streamed.json()["code"] == "payload_too_large"
    small = api.post(f"/v1/citizens/{PERSON.nik}/verify", headers=counter, params={"purpose": "identity_check"},
                     json={"full_name": PERSON.name})
    assert small.status_code == 200, small.text


def test_json_depth_cap(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api(max_json_depth=8)
    deep = "[" * 100_000 + "]" * 100_000  # far past Python's recursion limit, were it parsed
    for path, extra in ((f"/v1/citizens/{PERSON.nik}/verify", {}), ("/v1/applications", {"Idempotency-Key": "d"})):
        reply = api.post(path, headers={**counter, **extra, "Content-Type": "application/json"},
                         params={"purpose": "identity_check"}, content=deep.encode())
        assert reply.status_code == 400 and reply.json()["code"] == "json_too_deep", reply.text
    nested = submission()
    nested["payload"]["kd_izin"] = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {}}}}}}}}
    reply = api.post("/v1/applications", headers={**counter, "Idempotency-Key": "d2"}, json=nested)
    assert reply.json()["code"] == "json_too_deep"
    brackets_in_strings = {"full_name": "[[[[[[[[[[{{{{{{{{{{"}
    reply = api.post(f"/v1/citizens/{PERSON.nik}/verify", headers=counter, params={"purpose": "identity_check"},
                     json=brackets_in_strings)
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize(("body", "limit", "deeper"), [
    (b'{"a": [1, 2, {"b": []}]}', 4, False),
    (b'{"a": [1, 2, {"b": []}]}', 3, True),
    (b'{"a": "[[[[[[", "b": "\\"[[[["}', 1, False),
    (b"[]" * 1000, 1, False),
])
def test_depth_scanner(body: bytes, limit: int, deeper: bool) -> None:
    assert json_depth_exceeds(body, limit) is deeper


def test_unknown_fields_are_refused(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    verify = api.post(f"/v1/citizens/{PERSON.nik}/verify", headers=counter, params={"purpose": "identity_check"},
                      json={"full_name": PERSON.name, "nama_ibu": "X"})
    assert verify.status_code == 422 and verify.json()["code"] == "request_invalid"
    extra_top = api.post("/v1/applications", headers={**counter, "Idempotency-Key": "u1"},
                         json={**submission(), "priority": "high"})
    assert extra_top.status_code == 422 and extra_top.json()["code"] == "request_invalid"
    extra_payload = submission()
    extra_payload["payload"]["catatan"] = "x"
    reply = api.post("/v1/applications", headers={**counter, "Idempotency-Key": "u2"}, json=extra_payload)
    assert reply.status_code == 422 and reply.json()["code"] == "payload_invalid"


def test_every_request_body_and_service_schema_forbids_unknown_fields(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    spec = api.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def closed(schema: dict[str, Any], seen: set[str]) -> list[str]:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name in seen:
                return []
            seen.add(name)
            return closed(schemas[name], seen)
        open_ = []
        if schema.get("type") == "object" and "properties" in schema and schema.get("additionalProperties") is not False:
            open_.append(schema.get("title", "?"))
        children = [*schema.get("properties", {}).values(), *schema.get("anyOf", [])]
        for child in children + ([schema["items"]] if "items" in schema else []):
            open_ += closed(child, seen)
        return open_

    bodies = [op["requestBody"]["content"]["application/json"]["schema"]
              for path in spec["paths"].values() for op in path.values() if "requestBody" in op]
    assert len(bodies) >= 6
    assert [name for body in bodies for name in closed(body, set())] == []
    for agency in app_state(api.app).agencies.plugins.values():
        for service, schema in agency.services.items():
            assert schema.get("additionalProperties") is False, (agency.name, service)


def test_hostile_soap_replies_are_a_facet_error_not_a_failure(make_api, counter, set_fault) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for mode in ("billion_laughs", "external_entity", "huge_body"):
        set_fault("korlantas", mode)
        set_fault("imigrasi", mode)
        for purpose, facet in (("sim_renewal", "driving_licences"), ("passport_application", "passports")):
            reply = api.get(f"/v1/citizens/{ALIVE[1].nik}", headers=counter,
                            params={"purpose": purpose, "refresh": "true"})
            assert reply.status_code == 200, reply.text
            provenance = reply.json()["facets"][facet]["provenance"]
            assert provenance["status"] == "error" and "refused" in provenance["message"], provenance
            assert "root:" not in json.dumps(reply.json())
