"""`GET /v1/agencies`: the agencies this bus talks to and the JSON Schemas of their services.

A counter has to build a payload before it can submit one, so any client that may submit to an agency
(`application:submit:<agency>`) reads that agency's services, schemas, examples and code lists. Where an agency is
reached (its URL), its health and its breaker are the operators' business: only `admin` sees them.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from connectors.base import AgencyError, AgencyRejected, Health, NotSupported
from core.agencies import AgencyRegistry
from core.api.auth import current_principal
from core.api.openapi import problems
from core.api.problems import Problem, scope_missing
from core.api.state import app_state
from core.security.clients import Principal
from core.security.scopes import allowed

router = APIRouter(prefix="/v1/agencies", tags=["agencies"])

HEALTH_TIMEOUT_S = 2.0
CODES_TIMEOUT_S = 10.0
SEARCH = r"^[A-Za-z0-9][A-Za-z0-9 .'-]*$"


class AgencyHealth(BaseModel):
    up: bool
    latency_ms: float | None = None
    detail: str | None = None


class AgencyServices(BaseModel):
    """What a client that may submit to the agency sees: its services and their payload schemas."""

    name: str
    title: str
    facet: str
    protocol: str
    services: dict[str, dict[str, Any]]
    code_lists: dict[str, str] = {}


class AgencyView(AgencyServices):
    """What an operator (`admin`) sees: also where the agency is reached, its health and its breaker."""

    url: str
    breaker: dict[str, Any]
    health: AgencyHealth


class AgencyList(BaseModel):
    agencies: list[AgencyView | AgencyServices]


async def probe(connector: Any, name: str) -> Health:
    """Health of one agency, bounded in time; a failing probe is a 'down', never an error of this endpoint."""
    try:
        return await asyncio.wait_for(connector.health(), HEALTH_TIMEOUT_S)
    except TimeoutError:
        return Health(agency=name, up=False, detail="health check timed out")
    except AgencyError as exc:
        return Health(agency=name, up=False, detail=exc.message)
    except Exception as exc:  # a buggy connector's health check must not break the listing
        return Health(agency=name, up=False, detail=type(exc).__name__)


def may_submit(principal: Principal, agency: str) -> bool:
    return allowed(principal.scopes, f"application:submit:{agency}")


def is_admin(principal: Principal) -> bool:
    return allowed(principal.scopes, "admin")


def services_of(registry: AgencyRegistry, name: str) -> AgencyServices:
    plugin = registry.plugins[name]
    return AgencyServices(
        name=name,
        title=plugin.title,
        facet=plugin.facet,
        protocol=plugin.protocol,
        services={k: dict(v) for k, v in plugin.services.items()},
        code_lists=dict(plugin.code_lists),
    )


async def admin_views(registry: AgencyRegistry, names: list[str]) -> list[AgencyView]:
    """The operator's view of `names`, their health checked at once."""
    healths = await asyncio.gather(*(probe(registry.active[n].connector, n) for n in names))
    return [
        AgencyView(
            **services_of(registry, name).model_dump(),
            url=registry.urls[name],
            breaker=registry.breakers[name].snapshot(),
            health=AgencyHealth(up=health.up, latency_ms=health.latency_ms, detail=health.detail),
        )
        for name, health in zip(names, healths, strict=False)
    ]


def readable_agency(request: Request, agency: str, principal: Principal) -> Any:
    """The agency registry, once `agency` is known to exist (else 404 `agency_not_found`) and the principal may read
    its services (`application:submit:<agency>` or admin; else 403 `scope_missing`)."""
    registry = app_state(request.app).agencies
    if agency not in registry.active:
        raise Problem(
            404,
            "agency_not_found",
            "No such agency on this bus",
            agencies=sorted(n for n in registry.active if registry.plugins[n].services),
        )
    required = f"application:submit:{agency}"
    if not (may_submit(principal, agency) or is_admin(principal)):
        raise scope_missing(required)
    return registry


@router.get("", response_model=AgencyList, responses=problems("scope_missing"))
async def list_agencies(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> AgencyList:
    """`admin`: every configured agency with its services (JSON Schemas), health and circuit-breaker state.
    Any other client: the agencies it may submit to (`application:submit:<agency>`), with their services."""
    registry = app_state(request.app).agencies
    names = list(registry.active)
    if is_admin(principal):
        return AgencyList(agencies=list(await admin_views(registry, names)))
    mine = [name for name in names if registry.plugins[name].services and may_submit(principal, name)]
    if not mine:
        raise scope_missing("admin", "admin, or application:submit:<agency>")
    return AgencyList(agencies=[services_of(registry, name) for name in mine])


@router.get(
    "/{agency}", response_model=AgencyView | AgencyServices, responses=problems("agency_not_found", "scope_missing")
)
async def get_agency(
    agency: str, request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> AgencyView | AgencyServices:
    """One agency: its services and their schemas for a client that may submit to it; for `admin` also its URL,
    health and breaker."""
    registry = readable_agency(request, agency, principal)
    if is_admin(principal):
        return (await admin_views(registry, [agency]))[0]
    return services_of(registry, agency)


@router.get(
    "/{agency}/services/{service}",
    response_model=dict[str, Any],
    responses=problems("agency_not_found", "service_not_found", "scope_missing"),
)
async def get_schema(
    agency: str, service: str, request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> dict[str, Any]:
    """The JSON Schema of one service's payload, with its `examples` (scope `application:submit:<agency>`)."""
    registry = readable_agency(request, agency, principal)
    services = registry.plugins[agency].services
    if service not in services:
        raise Problem(404, "service_not_found", f"{agency} offers no such service", services=sorted(services))
    return dict(services[service])


class CodeEntry(BaseModel):
    code: str
    name: str


class CodeList(BaseModel):
    agency: str
    code_list: str
    query: str
    codes: list[CodeEntry]


@router.get(
    "/{agency}/codes/{name}",
    response_model=CodeList,
    responses=problems(
        "agency_not_found", "code_list_not_found", "scope_missing", "request_invalid", "agency_unavailable"
    ),
)
async def search_codes(
    agency: str,
    name: str,
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    q: Annotated[
        str,
        Query(
            min_length=3,
            max_length=50,
            pattern=SEARCH,
            description="A code, or part of a name: 3-50 letters, digits, spaces, . ' -",
        ),
    ],
) -> CodeList:
    """Search one of the agency's code lists (`code_lists` in its listing) at the agency, e.g. a health insurer's
    clinics for `new_clinic_code` (scope `application:submit:<agency>`)."""
    registry = readable_agency(request, agency, principal)
    lists = registry.plugins[agency].code_lists
    if name not in lists:
        raise Problem(404, "code_list_not_found", f"{agency} has no such code list", code_lists=sorted(lists))
    try:
        found = await asyncio.wait_for(registry.active[agency].connector.codes(name, q), CODES_TIMEOUT_S)
    except TimeoutError:
        raise Problem(
            503, "agency_unavailable", "The agency did not answer in time", headers={"Retry-After": "30"}
        ) from None
    except (AgencyRejected, NotSupported) as exc:
        raise Problem(
            422,
            "request_invalid",
            "The agency refused the search",
            exc.message,
            errors=[{"detail": exc.message, "parameter": "q", "code": "agency_refused"}],
        ) from None
    except AgencyError as exc:
        raise Problem(
            503, "agency_unavailable", "The agency cannot be reached", exc.message, headers={"Retry-After": "30"}
        ) from None
    return CodeList(agency=agency, code_list=name, query=q, codes=[CodeEntry(**entry) for entry in found])
