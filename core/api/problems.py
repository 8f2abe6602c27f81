"""Errors as RFC 9457 problem details, each with a stable machine-readable `code`.

Every error the API returns goes through here — including FastAPI's validation errors, unknown routes and any
unexpected exception — so a client never sees a traceback or a bare 500 page.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """Raise to answer with a problem document: `Problem(404, "citizen_not_found", "Citizen not found")`."""

    def __init__(self, status: int, code: str, title: str, detail: str | None = None, *,
                 headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(title)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.headers = headers or {}
        self.extra = extra


def problem_body(status: int, code: str, title: str, detail: str | None, instance: str | None,
                 **extra: Any) -> dict[str, Any]:
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
        status_code=problem.status, headers=problem.headers, media_type=PROBLEM_TYPE,
    )


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 413: "payload_too_large",
              415: "unsupported_media_type", 429: "rate_limited"}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return problem_response(Problem(422, "request_invalid", "The request is not valid", errors=errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers or {})
        return problem_response(Problem(exc.status_code, code, detail or code.replace("_", " "), headers=headers),
                                request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return problem_response(Problem(500, "internal_error", "Internal error",
                                        "The error has been logged; the request can be retried."), request)
