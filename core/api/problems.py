"""Errors as RFC 9457 problem details, each with a stable machine-readable `code` (core/api/problem_codes.py).

Every error the API returns goes through here — including FastAPI's validation errors, unknown routes and any
unexpected exception — so a client never sees a traceback or a bare 500 page. Many errors at once follow RFC 9457's
own convention: an `errors` array whose items are `{"detail", "pointer"}` (an RFC 6901 pointer into the body, as a
URI fragment: `#/payload/kodeKanim`), `{"detail", "parameter"}` (a query or path parameter) or `{"detail",
"header"}`, each with its own `code`. One shape for every error, so a client parses one model.
"""

from __future__ import annotations

import email.message
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.api.problem_codes import HTTP_CODES

PROBLEM_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


class ProblemItem(BaseModel):
    """One of many errors: where (exactly one of `pointer`, `parameter`, `header`), what, and its code."""

    model_config = ConfigDict(extra="allow")
    detail: str
    code: str
    pointer: str | None = Field(
        default=None, description="RFC 6901 JSON pointer into the body, as a URI fragment: `#/payload/kodeKanim`"
    )
    parameter: str | None = Field(default=None, description="A query or path parameter")
    header: str | None = Field(default=None, description="A request header")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; `code` is the stable part to branch on. Other members (`required_scope`,
    `agencies`, `retry_after` …) are extensions named by the code's documentation."""

    model_config = ConfigDict(extra="allow", title="Problem")
    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemItem] | None = None


def item(
    detail: str, code: str, *, pointer: str | None = None, parameter: str | None = None, header: str | None = None
) -> dict[str, str]:
    """An `errors` item; give exactly one of `pointer` (from `pointer_to`), `parameter`, `header`."""
    where = {k: v for k, v in (("pointer", pointer), ("parameter", parameter), ("header", header)) if v is not None}
    return {"detail": detail, **where, "code": code}


def pointer_to(parts: Iterable[Any]) -> str:
    """RFC 6901 pointer, URI-fragment form: `pointer_to(["payload", "kodeKanim"])` → `#/payload/kodeKanim`."""
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class Problem(Exception):
    """Raise to answer with a problem document: `Problem(404, "citizen_not_found", "Citizen not found")`.
    `errors`: items made with `item()`."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        **extra: Any,
    ):
        super().__init__(title)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.headers = headers or {}
        self.extra = {**extra, "errors": list(errors)} if errors is not None else extra


def scope_missing(required: str, wording: str | None = None) -> Problem:
    """The 403 for a key without the scope an endpoint needs: `required_scope` names `required`; the detail says
    `wording` when more than one scope would do."""
    return Problem(
        403,
        "scope_missing",
        "The API key lacks a required scope",
        f"Required scope: {wording or required}",
        required_scope=required,
    )


def problem_body(
    status: int, code: str, title: str, detail: str | None, instance: str | None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": f"urn:gerbang:problem:{code}", "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem_body(problem.status, problem.code, problem.title, problem.detail, request.url.path, **problem.extra),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_TYPE,
    )


def validation_items(errors: Iterable[Any]) -> list[dict[str, str]]:
    """FastAPI/pydantic errors as `errors` items: body fields as pointers, query/path as parameters, headers."""
    items = []
    for error in errors:
        loc = list(error.get("loc", ()))
        source, rest = (loc[0], loc[1:]) if loc else ("body", [])
        detail, code = str(error.get("msg", "")), str(error.get("type", "invalid"))
        if source in ("query", "path") and rest:
            items.append(item(detail, code, parameter=str(rest[0])))
        elif source == "header" and rest:
            items.append(item(detail, code, header=str(rest[0])))
        else:
            items.append(item(detail, code, pointer=pointer_to(rest if source == "body" else loc)))
    return items


def is_json(content_type: str | None) -> bool:
    """True for application/json and application/*+json (what FastAPI parses as JSON), or no Content-Type."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def validation_problem(request: Request, exc: RequestValidationError) -> Problem:
    """415 for a body not sent as JSON, 400 `json_invalid` for JSON that does not parse, else 422."""
    errors = list(exc.errors())
    body_errors = [e for e in errors if tuple(e.get("loc", ()))[:1] == ("body",)]
    if body_errors and not is_json(request.headers.get("content-type")):
        return Problem(
            415,
            "unsupported_media_type",
            "The body must be JSON",
            "Send the body as JSON with 'Content-Type: application/json'.",
        )
    broken = [e for e in body_errors if e.get("type") == "json_invalid"]
    if broken:
        return Problem(
            400,
            "json_invalid",
            "The body is not valid JSON",
            errors=[item(str(e.get("msg", "")), "json_invalid", pointer="#") for e in broken],
        )
    return Problem(422, "request_invalid", "The request is not valid", errors=validation_items(errors))


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(request, exc), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers or {})
        return problem_response(
            Problem(exc.status_code, code, detail or code.replace("_", " "), headers=headers), request
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return problem_response(
            Problem(500, "internal_error", "Internal error", "The error has been logged; the request can be retried."),
            request,
        )
