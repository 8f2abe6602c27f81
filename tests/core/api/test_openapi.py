"""The OpenAPI document tells the truth (issue #15 item 3): Bearer security, typed success answers, every error as
`application/problem+json` with the one Problem schema, `Idempotency-Key` required, short operation ids. What
the API really answers is checked against it by schemathesis (tests/core/security/test_schemathesis.py) and by a
generated client (tests/core/api/test_generated_client.py)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from core.api.app import create_app
from core.api.openapi import CAMEL


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_operation_ids_are_short_and_stable(document: dict[str, Any]) -> None:
    ids = {f"{m} {p}": op["operationId"] for m, p, op in operations(document)}
    assert len(set(ids.values())) == len(ids) >= 30
    assert all(CAMEL.match(i) and len(i) <= 32 for i in ids.values()), ids
    assert ids["GET /v1/citizens/{nik}"] == "getCitizen"
    assert ids["POST /v1/citizens/{nik}/verify"] == "verifyCitizen"
    assert ids["POST /v1/applications"] == "submitApplication"
    assert ids["GET /v1/applications/{application_id}"] == "getApplication"


def test_bearer_security_where_a_key_is_needed(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["bearerAuth"][
            "description"]}
    secured = {p for m, p, op in operations(document) if op.get("security") == [{"bearerAuth": []}]}
    assert {"/v1/citizens/{nik}", "/v1/applications", "/v1/subscriptions", "/v1/audit/entries"} <= secured
    for method, path, op in operations(document):
        assert ("401" in op["responses"]) == (path in secured) or path.startswith("/v1/inbound"), (method, path)
    assert "/v1/audit/key" not in secured and "/healthz" not in secured


def test_every_error_is_a_problem(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code"} <= set(problem["required"])
    for method, path, op in operations(document):
        for status, response in op["responses"].items():
            if status[0] in "45" and not path.startswith("/v1/inbound"):
                assert response["content"] == {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}, (method, path, status)
                assert response["x-problem-codes"], (method, path, status)
        assert "500" in op["responses"] and "400" in op["responses"], (method, path)


def test_success_answers_are_typed(document: dict[str, Any]) -> None:
    untyped = []
    for method, path, op in operations(document):
        for status, response in op["responses"].items():
            if status.startswith("2"):
                for media, content in (response.get("content") or {}).items():
                    schema = content.get("schema") or {}
                    if not schema or schema.get("additionalProperties") is True and "properties" not in schema \
                            and path != "/v1/agencies/{agency}/services/{service}":  # a JSON Schema: any object
                        untyped.append((method, path, status, media))
    assert not untyped
    submit = document["paths"]["/v1/applications"]["post"]["responses"]["202"]
    assert submit["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Accepted"}
    assert submit["headers"]["Location"]["required"] is True


def test_required_parameters_are_marked_required(document: dict[str, Any]) -> None:
    submit = {p["name"]: p for p in document["paths"]["/v1/applications"]["post"]["parameters"]}
    assert submit["Idempotency-Key"]["required"] is True and submit["Idempotency-Key"]["in"] == "header"
    assert all(submit[h]["required"] for h in ("Officer-Id", "Counter-Id", "Mpp-Site"))
    for path, method in (("/v1/citizens/{nik}", "get"), ("/v1/citizens/{nik}/verify", "post")):
        purpose = [p for p in document["paths"][path][method]["parameters"] if p["name"] == "purpose"]
        assert len(purpose) == 1 and purpose[0]["required"] is True, path


def test_every_code_an_endpoint_raises_is_declared(document: dict[str, Any]) -> None:
    """What an endpoint function raises itself (helpers it calls are not read) is among its declared codes."""
    from core.api.openapi import api_routes
    from tests.core.api.test_problem_codes import raised

    undeclared = []
    for route in api_routes(create_app()):
        if not route.include_in_schema:
            continue
        source = Path(inspect.getsourcefile(route.endpoint) or "")
        lines, start = inspect.getsourcelines(route.endpoint)
        end = start + len(lines)
        own = {code for _, code, line in raised(source) if start <= line < end}
        for method in route.methods:
            op = document["paths"][route.path_format][method.lower()]
            declared = {c for r in op["responses"].values() for c in r.get("x-problem-codes", [])}
            undeclared += [(method, route.path_format, code) for code in sorted(own - declared)]
    assert not undeclared
