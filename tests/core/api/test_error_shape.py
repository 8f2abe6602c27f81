"""One error shape (issue #15 item 6): RFC 9457 problem documents whose many errors are `errors` items with exactly
one of `pointer` (into the body), `parameter` or `header`, and a `code`; a body not sent as JSON is 415."""

from __future__ import annotations

from typing import Any

import pytest

from core.api.problems import ProblemDetails, pointer_to
from tests.core.bus.helpers import SUPPLY


@pytest.fixture
def counter(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    key = add_client("counter", ["application:submit:*", "application:read", "citizen:read:*", "citizen:verify"],
                     ["*"])
    return {"Authorization": f"Bearer {key}"}


def problem(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = reply.json()
    assert body["code"] == code and body["status"] == status
    ProblemDetails.model_validate(body)
    for item in body.get("errors") or []:
        assert len({"pointer", "parameter", "header"} & set(item)) == 1, item
        assert isinstance(item["detail"], str) and isinstance(item["code"], str), item
    return body


def test_pointer_is_rfc6901() -> None:
    assert pointer_to(["payload", "kodeKanim"]) == "#/payload/kodeKanim"
    assert pointer_to(["a/b", "c~d", 0]) == "#/a~1b/c~0d/0"
    assert pointer_to([]) == "#"


def test_json_sent_as_text_is_415(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    import json
    api = make_api()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        reply = api.post("/v1/applications", content=json.dumps(SUPPLY.repeatable("oss")).encode(),
                         headers={**counter, "Idempotency-Key": "ct-1", "Content-Type": content_type})
        problem(reply, 415, "unsupported_media_type")
    assert api.post("/v1/applications", content=json.dumps(SUPPLY.repeatable("oss")).encode(),
                    headers={**counter, "Idempotency-Key": "ct-2",
                             "Content-Type": "application/json; charset=utf-8"}).status_code == 202


def test_json_that_does_not_parse_is_400(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    reply = make_api().post("/v1/applications", content=b'{"nik": ', headers={
        **counter, "Idempotency-Key": "j-1", "Content-Type": "application/json"})
    body = problem(reply, 400, "json_invalid")
    assert [e["pointer"] for e in body["errors"]] == ["#"]


def test_validation_errors_point_into_the_body_or_name_the_parameter(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    body = problem(api.post("/v1/applications", json={**SUPPLY.repeatable("oss"), "extra": 1, "agency": 5},
                            headers={**counter, "Idempotency-Key": "v-1"}), 422, "request_invalid")
    assert {(e["pointer"], e["code"]) for e in body["errors"]} == {("#/extra", "extra_forbidden"),
                                                                   ("#/agency", "string_type")}
    listed = problem(api.get("/v1/applications", params={"limit": 0}, headers=counter), 422, "request_invalid")
    assert [(e["parameter"], e["code"]) for e in listed["errors"]] == [("limit", "greater_than_equal")]
    nik = problem(api.get("/v1/citizens/123", params={"purpose": "identity_check"}, headers=counter), 400,
                  "nik_invalid")
    assert {e["parameter"] for e in nik["errors"]} == {"nik"}
    submitted = problem(api.post("/v1/applications", json={**SUPPLY.repeatable("oss"), "nik": "12"},
                                 headers={**counter, "Idempotency-Key": "v-2"}), 400, "nik_invalid")
    assert {e["pointer"] for e in submitted["errors"]} == {"#/nik"}
    purpose = problem(api.get(f"/v1/citizens/{SUPPLY.repeatable('oss')['nik']}", headers=counter), 400,
                      "purpose_missing")
    assert [e["parameter"] for e in purpose["errors"]] == ["purpose"]


def test_unknown_names_in_the_body_are_422_and_unknown_paths_404(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    body = problem(api.post("/v1/applications", json={**SUPPLY.repeatable("oss"), "service": "nope"},
                            headers={**counter, "Idempotency-Key": "u-1"}), 422, "service_unknown")
    assert [e["pointer"] for e in body["errors"]] == ["#/service"]
    problem(api.get("/v1/no-such-thing", headers=counter), 404, "not_found")
    problem(api.get("/v1/applications/00000000-0000-0000-0000-000000000000", headers=counter), 404,
            "application_not_found")
