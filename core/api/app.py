"""The FastAPI application: one API for counter applications, auditors and operators.

`create_app(settings)` builds everything from settings; tests pass their own settings (and, if they like, a ready
agency registry). The database schema is expected to be migrated (`gerbang db upgrade`; the demo does it).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from core.agencies import AgencyRegistry, build_registry
from core.api import access_history, health, openapi, problems, verification
from core.api import audit as audit_api
from core.api.agencies import router as agencies_router
from core.api.applications import admin_router as applications_admin_router
from core.api.applications import router as applications_router
from core.api.auth import PrincipalCache
from core.api.body_limits import BodyLimits
from core.api.citizens import router as citizens_router
from core.api.clients_admin import router as clients_admin_router
from core.api.fastapi_routing import LookupLane
from core.api.inbound import router as inbound_router
from core.api.state import AppState
from core.api.subscriptions import router as subscriptions_router
from core.audit.group import audit_writer
from core.audit.sequencer import Sequencer
from core.bus.dispatch import start_embedded
from core.bus.intake import intake
from core.bus.states import Policy
from core.cache_store import SqlCacheStore
from core.callbacks.delivery import Deliverer
from core.console.routes import router as console_router
from core.db import make_engine, session_factory
from core.logs import install_redaction
from core.ops import tracing
from core.ops.middleware import RequestContext
from core.security.ratelimit import Limit, RateLimiter
from core.security.secrets import load_secrets
from core.settings import Settings, get_settings
from identity.cache import RecordCache


def create_app(settings: Settings | None = None, *, registry: AgencyRegistry | None = None) -> FastAPI:
    """Build the API app. A given `registry` is used as is (and not closed); otherwise one is built at start."""
    settings = settings or get_settings()
    install_redaction()
    tracing.setup("gerbang-api")  # OpenTelemetry, if the OTEL_* environment asks for it (core/ops/tracing.py)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        sessions = session_factory(engine)
        own_registry = registry is None
        agencies = registry if registry is not None else build_registry(settings)
        if agencies.limits is not None and agencies.limits.slots:
            await asyncio.to_thread(agencies.limits.start)  # join the census: concurrency shares
        secrets = load_secrets(settings)
        cache = RecordCache(
            SqlCacheStore(engine),
            secrets.data_keys,
            secrets.nik_hash_key,
            agencies.freshness(settings),
            settings.cache_freshness_s,
        )
        sequencer = Sequencer.from_settings(engine, settings).start()
        broker_probe, metrics_registry = health.start(engine, agencies, settings)
        connectors = {name: agency.connector for name, agency in agencies.active.items()}
        policy = Policy.from_settings(settings)
        state = app.state.gerbang = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            secrets=secrets,
            agencies=agencies,
            principals=PrincipalCache(),
            rates=RateLimiter(
                engine, Limit(settings.rate_limit_per_s, settings.rate_limit_burst), settings.rate_lease_s
            ),
            cache=cache,
            audit=sequencer,
            audit_writer=audit_writer(sessions),
            policy=policy,
            metrics_registry=metrics_registry,
            broker_probe=broker_probe,
            dispatcher=start_embedded(sessions, connectors, secrets, settings, agencies),
            # distributed: the workers deliver callbacks, from the events exchange (core/callbacks/exchange.py)
            callbacks=Deliverer(sessions, settings, sequencer.signer).start() if settings.embedded else None,
            intake=intake(sessions, secrets, policy),
        )
        gc.freeze()  # what start-up built lives as long as the process: keep it out of every later GC pass
        try:
            yield
        finally:
            if state.callbacks is not None:
                await state.callbacks.stop()
            if state.dispatcher is not None:
                await state.dispatcher.stop()
            sequencer.stop()
            if own_registry:
                await agencies.aclose()
            engine.dispose()

    app = FastAPIOffline(  # /docs and /redoc with their scripts from the installed package: MPP networks are closed
        title="Gerbang",
        version="0.1.0",
        description="One API for MPP counters: verified citizen records by NIK, applications to agencies, "
        "signed audit. Errors are RFC 9457 problem details with a stable `code`.",
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
        # FastAPI's own OpenTelemetry hooks stay off: its spans would carry the path (a NIK); ours are in
        # core/ops/middleware.py. Off, it does not even look for a provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    problems.install(app)
    openapi.install(app)
    app.add_middleware(LookupLane)  # innermost: GET /v1/citizens/{nik} past the router (core/api/fastapi_routing.py)
    app.add_middleware(
        BodyLimits,
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        read_timeout_s=settings.body_read_timeout_s,
    )
    app.add_middleware(RequestContext)  # outermost of ours: problems from BodyLimits carry the request id too
    app.include_router(citizens_router)
    app.include_router(verification.router)
    app.include_router(agencies_router)
    app.include_router(audit_api.router)
    app.include_router(access_history.router)
    app.include_router(applications_router)
    app.include_router(applications_admin_router)
    app.include_router(clients_admin_router)
    app.include_router(subscriptions_router)
    app.include_router(inbound_router)
    app.include_router(health.router)
    app.include_router(console_router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    return app
