"""A fork of FastAPI's routing for the hottest request, `GET /v1/citizens/{nik}`: route matching, per-request
parameter and dependency solving and the exception dispatch of Starlette's ExceptionMiddleware, as one pure ASGI
middleware. Checked against fastapi 0.165 and starlette 1.10 (pinned in pyproject.toml):
tests/core/api/test_fastapi_routing.py holds it equal to the router (the same answers, errors included).

Why: a warm lookup costs a few hundred microseconds of our own work, and FastAPI's routing (every included router
is asked), its dependency solving and its exception wrapping cost as much again or more. Measured with
bench/lookup.py --against (this app with the lane and without it, alternating in one run; medians of 8 rounds):
server CPU per warm lookup 377 µs with the lane against 828 µs through the router (-54 %), 3.9 times the rate.

This middleware sits innermost (inside BodyLimits and RequestContext) and hands exactly that request — method GET,
path `/v1/citizens/<one segment>`, no root path — to the same endpoint function the route declares, with the same
scope keys the router would set. Errors take the same way as through the router: the app's exception handlers
(problem documents, 422 `request_invalid`) answer what they handle, anything else propagates to the server-error
handler. Everything else — other methods (405), HEAD, a trailing slash, a mounted root path — goes through the
normal stack, and the route stays declared there (OpenAPI, schema tests).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from core.api import citizens
from core.api.auth import current_principal

Handler = Callable[[Request, Exception], Any]

_PATH = re.compile(r"/v1/citizens/([^/]+)")
_FLAG = TypeAdapter(bool)


def _route() -> Any:
    """The declared route object, for `scope["route"]` (what the router would have matched)."""
    for route in citizens.router.routes:
        if getattr(route, "endpoint", None) is citizens.get_citizen and "GET" in getattr(route, "methods", ()):
            return route
    raise RuntimeError("GET /v1/citizens/{nik} is not declared")


async def _arguments(request: Request) -> dict[str, Any]:
    """`get_citizen`'s declared parameters, solved as FastAPI does: its dependency first (authentication), then the
    query (the last of repeated names wins; a flag that is not a boolean is 422 `request_invalid`)."""
    principal = await current_principal(request)
    query = request.query_params
    return {
        "principal": principal,
        "purpose": query.get("purpose"),
        "facets": query.get("facets"),
        "refresh": query_flag(query, "refresh"),
        "plates": query.get("plates"),
    }


def query_flag(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter (default false), parsed and refused as FastAPI does a declared `bool`."""
    value = query.get(name)
    if value is None:
        return False
    try:
        return _FLAG.validate_python(value)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", name, *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None


class LookupLane:
    """Serves GET /v1/citizens/{nik} without the router; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = _route()
        self._handlers: dict[Any, Handler] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        match = _PATH.fullmatch(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        nik = match.group(1)
        scope["endpoint"], scope["path_params"], scope["route"] = citizens.get_citizen, {"nik": nik}, self.route
        request = Request(scope, receive, send)
        try:
            response = await citizens.get_citizen(nik, request, **await _arguments(request))
        except Exception as exc:
            handler = self._handler(scope, exc)
            if handler is None:
                raise
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)

    def _handler(self, scope: Scope, exc: Exception) -> Handler | None:
        """The app's handler for `exc`, looked up as Starlette's ExceptionMiddleware does (by the exception's MRO;
        the 500 / Exception handler belongs to the server-error middleware, outside this one)."""
        if self._handlers is None:
            self._handlers = {
                key: value for key, value in scope["app"].exception_handlers.items() if key not in (500, Exception)
            }
        if isinstance(exc, HTTPException) and exc.status_code in self._handlers:
            return self._handlers[exc.status_code]
        for cls in type(exc).__mro__:
            handler = self._handlers.get(cls)
            if handler is not None:
                return handler
        return None
