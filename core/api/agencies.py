"""`GET /v1/agencies` (scope `admin`): the agencies this bus talks to, their services, health and breaker state."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from connectors.base import AgencyError, Health
from core.api.auth import require
from core.security.clients import Principal

router = APIRouter(prefix="/v1/agencies", tags=["agencies"])

HEALTH_TIMEOUT_S = 2.0


class AgencyHealth(BaseModel):
    up: bool
    latency_ms: float | None = None
    detail: str | None = None


class AgencyView(BaseModel):
    name: str
    title: str
    facet: str
    protocol: str
    url: str
    services: dict[str, dict[str, Any]]
    breaker: dict[str, Any]
    health: AgencyHealth


class AgencyList(BaseModel):
    agencies: list[AgencyView]


async def probe(connector: Any, name: str) -> Health:
    """Health of one agency, bounded in time; a failing probe is a 'down', never an error of this endpoint."""
    try:
        return await asyncio.wait_for(connector.health(), HEALTH_TIMEOUT_S)
    except (asyncio.TimeoutError, TimeoutError):
        return Health(agency=name, up=False, detail="health check timed out")
    except AgencyError as exc:
        return Health(agency=name, up=False, detail=exc.message)
    except Exception as exc:  # a buggy connector's health check must not break the listing
        return Health(agency=name, up=False, detail=type(exc).__name__)


@router.get("", response_model=AgencyList)
async def list_agencies(request: Request, _: Annotated[Principal, Depends(require("admin"))]) -> AgencyList:
    """Every configured agency with its services (JSON Schemas), health and circuit-breaker state."""
    registry = request.app.state.agencies
    names = list(registry.active)
    healths = await asyncio.gather(*(probe(registry.active[n].connector, n) for n in names))
    views = []
    for name, health in zip(names, healths):
        plugin = registry.plugins[name]
        views.append(AgencyView(
            name=name, title=plugin.title, facet=plugin.facet, protocol=plugin.protocol, url=registry.urls[name],
            services={k: dict(v) for k, v in plugin.services.items()},
            breaker=registry.breakers[name].snapshot(),
            health=AgencyHealth(up=health.up, latency_ms=health.latency_ms, detail=health.detail)))
    return AgencyList(agencies=views)
