"""The control surface every simulator shares, so tests and the demo can show every failure path.

`POST /_sim/faults {"mode": "ok"|"down"|"slow"|"error"|"garbage", "delay_ms": N}` switches behaviour:
down = 503 with the connection closed; slow = wait `delay_ms` then answer normally; error = the agency's own error
reply; garbage = a malformed body with the agency's content type. Simulators that offer them (the SOAP ones) also
take the hostile modes `billion_laughs` (entity expansion), `external_entity` (an XXE reference to a local file)
and `huge_body` (a reply far larger than any client should read); a simulator refuses a mode it does not offer
with 422. A simulator may also offer modes named after its agency's own real error replies (Dukcapil's `quota`,
`login`, `ip`, `deceased` …: `install(..., replies={...})`), so every real error can be switched on.
`GET /_sim/stats` reports requests seen, requests in flight now and at most so far (`max_inflight`), and
submissions received per idempotency key.
`POST /_sim/reset` clears counters and faults.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

FaultMode = Literal["ok", "down", "slow", "error", "garbage", "billion_laughs", "external_entity", "huge_body"]
HOSTILE_MODES = ("billion_laughs", "external_entity", "huge_body")
ErrorReply = Callable[[Request], Awaitable[Response] | Response]
HostileReply = Callable[[Request], Response]


class FaultSetting(BaseModel):
    """Body of POST /_sim/faults."""

    model_config = {"extra": "forbid"}
    mode: str = Field(default="ok", max_length=40, pattern=r"^[a-z_]+$")
    delay_ms: int = Field(default=0, ge=0, le=600_000)


@dataclass
class SimControl:
    """Mutable state of one simulator: its fault mode and what it has seen."""

    mode: str = "ok"
    delay_ms: int = 0
    requests: int = 0
    inflight: int = 0
    max_inflight: int = 0
    submissions: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_request(self) -> None:
        with self.lock:
            self.requests += 1
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)

    def done(self) -> None:
        with self.lock:
            self.inflight -= 1

    def record_submission(self, idempotency_key: str) -> int:
        """Count a submission; returns how many times this key has now been received."""
        with self.lock:
            self.submissions[idempotency_key] += 1
            return self.submissions[idempotency_key]

    def stats(self) -> dict[str, object]:
        with self.lock:
            return {
                "mode": self.mode,
                "delay_ms": self.delay_ms,
                "requests": self.requests,
                "inflight": self.inflight,
                "max_inflight": self.max_inflight,
                "submissions": dict(self.submissions),
                "submissions_total": sum(self.submissions.values()),
            }

    def reset(self) -> None:
        with self.lock:
            self.mode, self.delay_ms, self.requests, self.max_inflight = "ok", 0, 0, self.inflight
            self.submissions.clear()


def install(
    app: FastAPI,
    control: SimControl,
    *,
    error_reply: ErrorReply,
    garbage_body: bytes = b'{"content": [',
    garbage_type: str = "application/json",
    hostile: Mapping[str, HostileReply] | None = None,
    replies: Mapping[str, ErrorReply] | None = None,
) -> None:
    """Add /_sim routes and the fault middleware to a simulator app; `hostile` maps the hostile modes this
    simulator offers to their replies, `replies` the modes named after its agency's real error replies."""
    hostile = dict(hostile or {})
    own = dict(replies or {})
    clash = set(own) & (set(get_args(FaultMode)) | set(hostile))
    if clash:
        raise ValueError(f"reply modes {sorted(clash)} clash with the shared fault modes")
    offered = {mode for mode in get_args(FaultMode) if mode not in HOSTILE_MODES} | set(hostile) | set(own)

    @app.post("/_sim/faults", include_in_schema=False, response_model=None)
    async def set_faults(setting: FaultSetting) -> dict[str, object] | JSONResponse:
        if setting.mode not in offered:
            return JSONResponse(
                {"error": f"this simulator does not offer mode {setting.mode!r}", "offered": sorted(offered)},
                status_code=422,
            )
        control.mode, control.delay_ms = setting.mode, setting.delay_ms
        return control.stats()

    @app.get("/_sim/stats", include_in_schema=False)
    async def stats() -> dict[str, object]:
        return control.stats()

    @app.post("/_sim/reset", include_in_schema=False)
    async def reset() -> dict[str, object]:
        control.reset()
        return control.stats()

    @app.middleware("http")
    async def faults(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path.startswith("/_sim/"):
            return await call_next(request)
        control.count_request()
        try:
            return await _faulty(request, call_next)
        finally:
            control.done()

    async def _faulty(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        mode, delay_ms = control.mode, control.delay_ms
        if mode == "down":
            return JSONResponse({"error": "service unavailable"}, status_code=503, headers={"Connection": "close"})
        if delay_ms:  # "slow" is the usual carrier of a delay, but any mode may add one
            await asyncio.sleep(delay_ms / 1000)
        if mode == "error":
            reply = error_reply(request)
            return reply if isinstance(reply, Response) else await reply
        if mode == "garbage":
            return Response(garbage_body, media_type=garbage_type)
        if mode in hostile:
            return hostile[mode](request)
        if mode in own:
            reply = own[mode](request)
            return reply if isinstance(reply, Response) else await reply
        return await call_next(request)
