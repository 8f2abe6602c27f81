"""The API app's state, typed: everything the app's start-up builds (core/api/app.py `lifespan`), in one dataclass
set once per app, read through `app_state(app)` — so a route, the console and the operations endpoints name each
part with its type instead of reaching into Starlette's untyped `app.state`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette

from core.agencies import AgencyRegistry
from core.audit.sequencer import Sequencer
from core.bus.dispatch import Dispatcher
from core.bus.intake import Intake
from core.bus.states import Policy
from core.callbacks.delivery import Deliverer
from core.db.group_commit import GroupCommit
from core.ops.probe import BrokerProbe
from core.security.ratelimit import RateLimiter
from core.security.secrets import BusSecrets
from core.settings import Settings
from identity.cache import RecordCache

if TYPE_CHECKING:  # core/api/auth.py reads the state through `app_state`
    from core.api.auth import PrincipalCache


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: Callable[[], Session]
    secrets: BusSecrets
    agencies: AgencyRegistry
    principals: PrincipalCache  # API keys' principals, for two seconds (core/api/auth.py)
    rates: RateLimiter
    cache: RecordCache
    audit: Sequencer  # sequences and signs the log; holds the signer
    audit_writer: GroupCommit[dict[str, Any], None]  # the request path's audit entries, group-committed
    policy: Policy
    metrics_registry: CollectorRegistry
    broker_probe: BrokerProbe | None  # distributed mode only
    dispatcher: Dispatcher | None  # embedded mode only
    callbacks: Deliverer | None  # embedded mode only
    intake: Intake  # submissions, group-committed (core/bus/intake.py)


def app_state(app: Starlette) -> AppState:
    """The app's state (set by its lifespan before the first request is served)."""
    state: AppState = app.state.gerbang
    return state
