"""GET /readyz and GET /metrics (GET /healthz, "the process answers", is in core/api/app.py).

Readiness asks what this process needs to serve: the database answers, the broker answers (distributed mode
only; cached probe), the audit signing key loads. Agency breakers are reported but never make the process
unready: an agency outage is shared by every process, and taking them all out of rotation would turn a partial
answer (records with that facet unavailable) into no answer at all.

/metrics is deliberately unauthenticated, like /healthz and /readyz: Prometheus scrapes it without an API key,
and it carries no personal data (agency names, counts, ages). Operators keep it on the internal network
(docs/operations.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from core.agencies import AgencyRegistry
from core.api.problems import PROBLEM_TYPE, problem_body
from core.api.state import AppState, app_state
from core.audit.signer import load_signer
from core.ops.metrics import StateCollector, exposition
from core.ops.probe import BrokerProbe
from core.settings import Settings

router = APIRouter(tags=["operations"])


def start(engine: Engine, agencies: AgencyRegistry, settings: Settings) -> tuple[BrokerProbe | None, CollectorRegistry]:
    """An API process's broker probe (distributed mode only) and metrics registry (from the app's lifespan)."""
    probe = None if settings.embedded else BrokerProbe(settings, list(agencies.active), settings.ready_cache_s)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(engine, agencies.breakers, probe))
    return probe, registry


def _checks(state: AppState) -> dict[str, Any]:
    """Every readiness check, run in a worker thread (each may block briefly)."""
    checks: dict[str, Any] = {}
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except SQLAlchemyError as exc:
        checks["database"] = {"ok": False, "reason": f"database unavailable ({type(exc).__name__})"}
    if state.broker_probe is not None:
        probe = state.broker_probe.check()
        checks["broker"] = {"ok": probe.ok, **({"reason": probe.error} if probe.error else {})}
    try:
        load_signer(state.settings)
        checks["signing_key"] = {"ok": True}
    except (ValueError, OSError) as exc:
        checks["signing_key"] = {"ok": False, "reason": f"audit signing key cannot be loaded ({type(exc).__name__})"}
    checks["agencies"] = {name: breaker.snapshot() for name, breaker in sorted(state.agencies.breakers.items())}
    return checks


class Readiness(BaseModel):
    status: str
    checks: dict[str, Any]


@router.get(
    "/readyz",
    response_model=None,
    responses={
        200: {"model": Readiness, "description": "Ready"},
        503: {"description": "`not_ready`: a problem document listing every check", "x-problem-codes": ["not_ready"]},
    },
)
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: database, broker (distributed mode), signing key; agency breakers reported. 503 if not."""
    checks = await asyncio.to_thread(_checks, app_state(request.app))
    failing = [name for name, check in checks.items() if name != "agencies" and not check["ok"]]
    if not failing:
        return JSONResponse({"status": "ready", "checks": checks})
    body = problem_body(
        503,
        "not_ready",
        "Not ready to serve",
        "failing: " + ", ".join(failing),
        request.url.path,
        state="not_ready",
        checks=checks,
    )  # `status` is RFC 9457's HTTP status member
    return JSONResponse(body, status_code=503, media_type=PROBLEM_TYPE, headers={"Retry-After": "5"})


@router.get(
    "/metrics", response_class=PlainTextResponse, responses={200: {"description": "Prometheus text exposition format"}}
)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition (unauthenticated on purpose; see the module docstring)."""
    data = await asyncio.to_thread(exposition, app_state(request.app).metrics_registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
