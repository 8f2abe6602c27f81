"""The OpenAPI document, made to tell the truth about what the API answers.

FastAPI's generated document describes what its own machinery does, not what ours does: every error here is an
RFC 9457 problem (`application/problem+json`, one Problem schema), not FastAPI's `HTTPValidationError`; the
middleware (core/api/body_limits.py) answers 400/413 before any route; authentication is a Bearer key; the
lookup's query is published as the contract its own 400 codes hold (`QUERY_PARAMETERS`). So the document is
generated, then completed route by route from what each route really depends on: Bearer security where it
authenticates, the problems of authentication, scopes, bodies and parameters, and the codes each route declares
with `problems(...)`. Operation ids are short and stable (`getCitizen`, `submitApplication`): clients generated
from the document name their functions after them.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from core.api.auth import current_principal
from core.api.problem_codes import CODES, describe
from core.api.problems import PROBLEM_TYPE, ProblemDetails

SECURITY_SCHEME = "bearerAuth"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
CODES_KEY = "x-problem-codes"

OPERATION_IDS = {
    "get_schema": "getServiceSchema",
    "audit_key": "getAuditKey",
    "audit_checkpoint": "getAuditCheckpoint",
    "audit_entries": "listAuditEntries",
    "audit_inclusion": "getInclusionProof",
    "audit_consistency": "getConsistencyProof",
    "audit_export": "exportAudit",
    "access_history": "getAccessHistory",
    "dead_applications": "listDeadApplications",
    "show_client": "getClient",
    "change_client": "updateClient",
    "rotate_key": "rotateClientKey",
    "revoke": "revokeClientKeys",
    "disable": "disableClient",
    "enable": "enableClient",
    "rotate_secret": "rotateSubscriptionSecret",
    "replay": "replaySubscription",
    "deliveries": "listDeliveries",
    "pull_events": "pullEvents",
    "receive_push": "receiveAgencyPush",
    "readyz": "getReadiness",
    "metrics": "getMetrics",
    "healthz": "getHealth",
}
"""Route function name → operation id, where the camel-cased function name would not say what it does."""

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def operation_id(route: APIRoute) -> str:
    """`generate_unique_id_function` for the app: `getCitizen`, not `get_citizen_v1_citizens__nik__get`."""
    if route.name in OPERATION_IDS:
        return OPERATION_IDS[route.name]
    head, *rest = route.name.split("_")
    return head + "".join(part.title() for part in rest)


def problems(*codes: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the problem codes it answers with besides the ones every route of its kind has
    (authentication, body, parameters: added by `complete`)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out.setdefault(CODES[code].status, {"description": "", CODES_KEY: []})[CODES_KEY].append(code)
    for response in out.values():
        response["description"] = describe(response[CODES_KEY])
    return out


def _calls(route: APIRoute) -> list[Any]:
    found, stack = [], [route.dependant]
    while stack:
        dependant = stack.pop()
        found.append(dependant.call)
        stack.extend(dependant.dependencies)
    return found


def _generic(route: APIRoute, operation: dict[str, Any]) -> list[str]:
    """The codes a route answers with by its kind: what it depends on, takes and declares."""
    calls = _calls(route)
    # the door checks every path, query and header (core/api/body_limits.py)
    codes = ["text_invalid", "header_repeated", "internal_error"]
    if current_principal in calls:
        codes += ["unauthenticated", "agreement_expired", "agreement_not_started", "rate_limited"]
    if any(getattr(c, "__qualname__", "").startswith("require.") for c in calls):
        codes.append("scope_missing")
    if "requestBody" in operation:
        codes += ["json_too_deep", "json_duplicate_key", "body_timeout", "payload_too_large"]
    if route.dependant.body_params:
        codes += ["json_invalid", "unsupported_media_type", "request_invalid"]
    if any(p.get("in") in ("query", "path", "header") for p in operation.get("parameters", [])):
        codes.append("request_invalid")
    if "{" in route.path_format:
        codes.append("not_found")  # a path parameter holding "/" (%2F) names no route
    return codes


def api_routes(app: FastAPI) -> list[Any]:
    """The app's API routes, those of included routers too (FastAPI ≥ 0.16x keeps included routers whole and
    hands out route contexts that act as the routes)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied into app.routes
        return [r for r in app.routes if isinstance(r, APIRoute)]
    contexts = iter_route_contexts(app.routes)
    return [c for c in contexts if isinstance(getattr(c, "original_route", c), APIRoute)]


def complete(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    """Security, problem responses and Problem schemas, in the generated `document` (changed in place)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer <key>` (`gerbang clients add` prints one)",
        }
    }
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            _complete_operation(route, operation)
    return document


def _complete_operation(route: APIRoute, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    codes: dict[str, list[str]] = {}
    for status, response in responses.items():
        codes[status] = list(response.pop(CODES_KEY, []))
    for code in _generic(route, operation):
        status = str(CODES[code].status)
        if code not in codes.setdefault(status, []):
            codes[status].append(code)
    if "unauthenticated" in codes.get("401", []):
        operation["security"] = [{SECURITY_SCHEME: []}]
    for status, listed in codes.items():
        if not status.startswith(("4", "5")):
            continue
        response = responses.setdefault(status, {})
        content = response.get("content") or {}
        own = {t: c for t, c in content.items() if t != "application/json" or "HTTPValidationError" not in str(c)}
        if own and PROBLEM_TYPE not in own:  # an agency's own reply format (its push): left as declared
            response.setdefault(CODES_KEY, listed)
            continue
        response["content"] = {PROBLEM_TYPE: {"schema": PROBLEM_REF}}
        response["description"] = describe(listed) if listed else response.get("description") or "A problem"
        response[CODES_KEY] = listed
        if status in ("429", "503"):
            response.setdefault("headers", {}).update(RETRY_AFTER)
        if status == "401":
            response.setdefault("headers", {})["WWW-Authenticate"] = {
                "description": '`Bearer realm="gerbang"`',
                "schema": {"type": "string"},
            }


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (made once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                openapi_version=app.openapi_version,
            )
            app.openapi_schema = complete(app, document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


CAMEL = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)*$")
"""What an operation id looks like (tests/core/api/test_openapi.py)."""
