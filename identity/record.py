"""Assemble one verified record for a NIK: the civil registry first, then the purpose's other agencies in parallel.

The civil registry (the root facet's agency) is the root of identity: a NIK it does not know raises
`CitizenNotFound`; a deceased or inactive person gets a record with the identity facet only and the life status
said plainly. Every other agency is asked
concurrently, each under its own timeout inside the overall budget; whatever happens to one of them becomes that
facet's status (`unavailable`, `timeout`, `error`, `not_found`), never a failed lookup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connectors import tracing
from connectors.base import (
    AgencyError,
    AgencyTimeout,
    AgencyUnavailable,
    Connector,
    FacetStatus,
    LifeStatus,
    LookupResult,
    PlateLookup,
)
from identity.cache import RecordCache
from identity.clock import utcnow
from identity.model import CitizenRecord, Conflict, Facet, Provenance
from identity.purposes import ROOT_FACET, Purpose

log = logging.getLogger(__name__)

CONFLICT_FIELDS = ("full_name", "birth_date", "sex")


class FacetMapping(Protocol):
    """What the record needs of a mapping: turn an agency's fields into canonical data."""

    def apply(self, fields: Mapping[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Agency:
    """An agency as the record sees it: the facet it fills, its connector and its mapping."""

    name: str
    facet: str
    connector: Connector
    mapping: FacetMapping


class CitizenNotFound(Exception):
    """The civil registry does not know this NIK (or says it is not a valid NIK)."""

    def __init__(self, agency_code: str | None = None):
        super().__init__("citizen not found")
        self.agency_code = agency_code


class IdentityUnavailable(Exception):
    """The civil registry could not be asked; without the root of identity there is no record."""

    def __init__(self, reason: str, retry_after_s: float | None = None, status: FacetStatus = FacetStatus.unavailable):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.status = status


def status_of(error: AgencyError) -> FacetStatus:
    """How a connector failure shows in a facet's provenance."""
    if isinstance(error, AgencyTimeout):
        return FacetStatus.timeout
    if isinstance(error, AgencyUnavailable):
        return FacetStatus.unavailable
    return FacetStatus.error


def failed_facet(agency: Agency, status: FacetStatus, message: str) -> Facet:
    return Facet(
        name=agency.facet,
        provenance=Provenance(agency=agency.name, fetched_at=utcnow(), status=status, message=message),
    )


def facet_from(agency: Agency, result: LookupResult) -> Facet:
    """Map a connector's answer to a canonical facet; a mapping failure marks the facet `error`."""
    provenance = Provenance(
        agency=agency.name,
        fetched_at=result.fetched_at,
        status=result.status,
        agency_code=result.agency_code,
        message=result.message,
    )
    if result.status is not FacetStatus.ok or not result.fields:
        return Facet(name=agency.facet, provenance=provenance)
    try:
        data = agency.mapping.apply(result.fields).model_dump(mode="json")
    except Exception as exc:  # a mapping error is the agency's malformed data, not our crash
        log.warning("mapping of %s reply failed: %s", agency.name, type(exc).__name__)
        return failed_facet(agency, FacetStatus.error, "agency reply could not be mapped")
    return Facet(name=agency.facet, provenance=provenance, data=data)


def by_plate(agency: Agency) -> bool:
    """Whether the agency's connector can look vehicles up by plate (`lookup_plates(nik, plates)`)."""
    return callable(getattr(agency.connector, "lookup_plates", None))  # cheaper than isinstance(…, PlateLookup)


async def ask(agency: Agency, nik: str, timeout_s: float, plates: Sequence[str] = ()) -> Facet:
    """One agency's facet, whatever happens to the call; by `plates` where given and the connector can."""
    connector = agency.connector
    call = (
        connector.lookup_plates(nik, list(plates))
        if plates and isinstance(connector, PlateLookup)
        else connector.lookup(nik)
    )
    try:
        result = await asyncio.wait_for(call, timeout_s)
    except TimeoutError:
        return failed_facet(agency, FacetStatus.timeout, f"no answer within {timeout_s:g} s")
    except AgencyError as exc:
        return failed_facet(agency, status_of(exc), exc.message)
    except Exception as exc:  # a buggy connector must not fail the lookup
        log.exception("connector %s raised %s", agency.name, type(exc).__name__)
        return failed_facet(agency, FacetStatus.error, "connector failure")
    return facet_from(agency, result)


async def ask_identity(root: Agency, nik: str, timeout_s: float) -> Facet:
    """The root facet (with `life_status` in its data); raises CitizenNotFound or IdentityUnavailable when there
    can be no record."""
    try:
        result = await asyncio.wait_for(root.connector.lookup(nik), timeout_s)
    except TimeoutError:
        raise IdentityUnavailable("the civil registry did not answer in time", status=FacetStatus.timeout) from None
    except AgencyUnavailable as exc:
        raise IdentityUnavailable(exc.message, exc.retry_after_s, status_of(exc)) from exc
    except AgencyError as exc:
        raise IdentityUnavailable(exc.message, status=FacetStatus.error) from exc
    except Exception as exc:  # a reply the connector could not read is the registry unavailable, never a 500
        log.error("connector %s raised %s", root.name, type(exc).__name__)
        raise IdentityUnavailable("the civil registry's reply could not be read", status=FacetStatus.error) from exc
    if result.status is FacetStatus.not_found:
        raise CitizenNotFound(result.agency_code)
    facet = facet_from(root, result)
    if facet.provenance.status is not FacetStatus.ok:
        raise IdentityUnavailable("the civil registry's reply could not be used", status=facet.provenance.status)
    life_status = result.life_status or LifeStatus.alive
    if facet.data is None:
        facet.data = {"nik": nik}
    facet.data["life_status"] = life_status.value
    return facet


def conflicts_with(identity: Facet, others: Iterable[Facet]) -> list[Conflict]:
    """Fields where another agency holds a different name, birth date or sex than the civil registry."""
    root = identity.data or {}
    found: list[Conflict] = []
    for facet in others:
        if facet.data is None:
            continue
        for field in CONFLICT_FIELDS:
            theirs, ours = facet.data.get(field), root.get(field)
            if theirs is None or ours is None:
                continue
            if comparable(theirs) != comparable(ours):
                found.append(
                    Conflict(field=field, agency=facet.provenance.agency, agency_value=theirs, dukcapil_value=ours)
                )
    return found


def comparable(value: Any) -> Any:
    """Names compare case- and space-insensitively; other values as they are."""
    return " ".join(value.upper().split()) if isinstance(value, str) else value


async def _cached(cache: RecordCache, nik: str, names: list[str]) -> dict[str, Facet]:
    """The cache's fresh facets, traced as a hit, a miss or a partial hit (counts only, never contents)."""
    if not tracing.enabled():  # tracing off: one branch
        return await cache.get(nik, names)
    with tracing.span("record cache", {"gerbang.cache.wanted": len(names)}, leaf=True) as span:
        found = await cache.get(nik, names)
        span.set_attributes(
            {
                "gerbang.cache.hits": len(found),
                "gerbang.cache.result": "hit" if len(found) == len(names) else "miss" if not found else "partial",
            }
        )
        return found


async def assemble_record(
    nik: str,
    purpose: Purpose,
    agencies: Mapping[str, Agency],
    *,
    facets: Iterable[str] | None = None,
    timeout_s: float = 5.0,
    budget_s: float = 8.0,
    cache: RecordCache | None = None,
    refresh: bool = False,
    plates: Sequence[str] = (),
) -> CitizenRecord:
    """The verified record of `nik` for `purpose`, with the facets the purpose allows (narrowed by `facets`).

    `agencies` maps facet name → agency; facets the purpose allows but no configured agency fills are left out.
    Fresh cached facets are used unless `refresh`; new answers (ok / not found) are cached. With `plates`, agencies
    that look up by plate are asked for those plates, and their facet is neither read from nor kept in the cache
    (it depends on the plates, not only on the NIK).
    """
    started = time.monotonic()
    root = agencies.get(ROOT_FACET)
    if root is None:
        raise IdentityUnavailable("no connector for the civil registry is configured")
    selected = set(facets) if facets is not None else None
    wanted = [f for f in purpose.facets if f != ROOT_FACET and (selected is None or f in selected) and f in agencies]
    plated = {name for name in wanted if plates and by_plate(agencies[name])}
    cacheable = [ROOT_FACET, *(name for name in wanted if name not in plated)]
    cached = await _cached(cache, nik, cacheable) if cache is not None and not refresh else {}
    fetched: list[Facet] = []
    identity = cached.get(ROOT_FACET)
    if identity is None:
        identity = await ask_identity(root, nik, min(timeout_s, budget_s))
        fetched.append(identity)
    life_status = LifeStatus((identity.data or {}).get("life_status", LifeStatus.alive.value))
    record_facets = {ROOT_FACET: identity}
    if life_status is LifeStatus.alive:
        record_facets.update({name: cached[name] for name in wanted if name in cached})
        missing = [agencies[name] for name in wanted if name not in cached]
        remaining = max(0.05, budget_s - (time.monotonic() - started))
        answers = await asyncio.gather(
            *(
                ask(agency, nik, min(timeout_s, remaining), plates if agency.facet in plated else ())
                for agency in missing
            )
        )
        fetched.extend(facet for facet in answers if facet.name not in plated)
        record_facets.update({facet.name: facet for facet in answers})
    if cache is not None and fetched:
        await cache.put(nik, fetched)
    ordered = {name: record_facets[name] for name in [ROOT_FACET, *wanted] if name in record_facets}
    return CitizenRecord(
        nik=nik,
        purpose=purpose.name,
        life_status=life_status,
        facets=ordered,
        conflicts=conflicts_with(identity, (f for name, f in ordered.items() if name != ROOT_FACET)),
    )
