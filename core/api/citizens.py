"""Journey 1: look a citizen up, once. `GET /v1/citizens/{nik}?purpose=…&facets=…`.

Auth and purpose first, then the NIK's own rules (no agency is asked about a number that cannot be a NIK), then
the record from `identity.record`, trimmed to what this client and purpose may see.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from connectors import tracing
from connectors.registry import root_agency
from core.api import audit_trail
from core.api.auth import current_principal
from core.api.context import CONTEXT_PARAMETERS, counter_context
from core.api.openapi import problems
from core.api.problems import Problem, item
from core.api.state import app_state
from core.security.clients import Principal
from core.security.scopes import allowed
from identity.cache import RecordCache
from identity.model import CitizenRecord
from identity.nik import NikInfo, parse_nik
from identity.purposes import ROOT_FACET, Purpose, load_purposes
from identity.record import CitizenNotFound, IdentityUnavailable, assemble_record
from identity.secrecy import subject_hash

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])

DEFAULT_RETRY_AFTER_S = 30
COMMON_PROBLEMS = (
    "purpose_missing",
    "purpose_unknown",
    "purpose_not_allowed",
    "context_missing",
    "context_invalid",
    "nik_invalid",
    "citizen_not_found",
    "agency_unavailable",
)
LOOKUP_RESPONSES = problems(*COMMON_PROBLEMS, "facet_unknown", "facet_not_allowed", "scope_missing", "plates_invalid")
MAX_PLATES = 10
_PLATE = r"[A-Za-z]{1,2} ?[0-9]{1,4} ?[A-Za-z]{0,3}"
PLATES_PATTERN = rf"^{_PLATE}( ?, ?{_PLATE}){{0,{MAX_PLATES - 1}}}$"
_PLATES = re.compile(PLATES_PATTERN)


def registry_unavailable(
    title: str, detail: str | None = None, *, retry_after_s: float | None = None, **extra: Any
) -> Problem:
    """503 `agency_unavailable` about the civil registry (the root facet's agency), saying when to try again."""
    retry = max(int(retry_after_s), 1) if retry_after_s else DEFAULT_RETRY_AFTER_S
    headers = {"Retry-After": str(retry)}
    return Problem(503, "agency_unavailable", title, detail, agency=root_agency(), headers=headers, **extra)


def resolve_purpose(name: str | None, principal: Principal) -> Purpose:
    """The stated purpose, checked against the declared list and the client's allowed purposes."""
    if not name:
        raise Problem(
            400,
            "purpose_missing",
            "A purpose is required",
            "State why the record is read: ?purpose=<name>.",
            purposes=sorted(load_purposes()),
            errors=[item("A purpose is required.", "purpose_missing", parameter="purpose")],
        )
    purpose = load_purposes().get(name)
    if purpose is None:
        raise Problem(
            400,
            "purpose_unknown",
            "Unknown purpose",
            purposes=sorted(load_purposes()),
            errors=[item(f"{name!r} is not a declared purpose.", "purpose_unknown", parameter="purpose")],
        )
    if name not in principal.purposes and "*" not in principal.purposes:
        raise Problem(403, "purpose_not_allowed", "This client may not read records for that purpose")
    return purpose


def resolve_facets(requested: str | None, purpose: Purpose, principal: Principal) -> list[str]:
    """Facets to fetch: those asked for (default: all the purpose allows) that the client's scopes cover."""
    return list(_resolve_facets(requested, purpose, principal.scopes))


@functools.lru_cache(maxsize=1024)
def _resolve_facets(requested: str | None, purpose: Purpose, scopes: tuple[str, ...]) -> tuple[str, ...]:
    """`resolve_facets` on hashable values, remembered: the same client asks the same way all day (a refusal
    raises, and is not remembered)."""
    if requested:
        names = [f.strip() for f in requested.split(",") if f.strip()]
        for name in names:
            if name not in purpose.facets:
                raise Problem(
                    403 if name in all_facets() else 400,
                    "facet_not_allowed" if name in all_facets() else "facet_unknown",
                    f"Facet {name!r} is not available for purpose {purpose.name!r}",
                )
            if not allowed(scopes, f"citizen:read:{name}"):
                raise Problem(
                    403, "scope_missing", "The API key lacks a required scope", required_scope=f"citizen:read:{name}"
                )
        names = [ROOT_FACET] + [n for n in names if n != ROOT_FACET]
    else:
        names = [f for f in purpose.facets if allowed(scopes, f"citizen:read:{f}")]
    if not allowed(scopes, f"citizen:read:{ROOT_FACET}"):
        raise Problem(
            403, "scope_missing", "The API key lacks a required scope", required_scope=f"citizen:read:{ROOT_FACET}"
        )
    return tuple(names)


def checked_nik(
    nik: str, info: NikInfo | None = None, *, parameter: str | None = "nik", pointer: str | None = None
) -> str:
    """The normalised NIK, or 400 `nik_invalid` listing every rule it breaks (each item names the `parameter`
    the NIK came in, or its `pointer` in the body)."""
    info = info or parse_nik(nik)
    if not info.valid or info.nik is None:
        where = {"pointer": pointer} if pointer else {"parameter": parameter}
        raise Problem(
            400, "nik_invalid", "The NIK is not valid", errors=[item(e.message, e.code, **where) for e in info.errors]
        )
    return info.nik


def all_facets() -> set[str]:
    return {f for p in load_purposes().values() for f in p.facets}


QUERY_PARAMETERS = [
    {
        "name": name,
        "in": "query",
        "required": name == "purpose",
        "description": description,
        "schema": {**schema, "description": description, "title": name.title()},
    }
    for name, schema, description in (
        (
            "purpose",
            {"type": "string", "minLength": 1, "maxLength": 64},
            "Why the record is read; see identity/purposes.yaml",
        ),
        ("facets", {"type": "string"}, "Comma-separated facets (default: all the purpose allows)"),
        ("refresh", {"type": "boolean", "default": False}, "Ask the agencies even if a fresh cached answer exists"),
        (
            "plates",
            {"type": "string", "minLength": 1, "maxLength": 140, "pattern": PLATES_PATTERN},
            f"Comma-separated registration plates (at most {MAX_PLATES}, e.g. `D 4127 UBX,B 1234 XYZ`): an agency that "
            "looks vehicles up by plate (a tax office) is asked for these, and keeps only those registered to the "
            "NIK; such a facet is never cached",
        ),
    )
]
"""The lookup's query parameters as published: `purpose` required, `plates` of a pattern. The endpoints declare
them to FastAPI out of the schema, optional and unchecked, so that a missing purpose or bad plates are answered
with the lookup's own 400 codes (`purpose_missing`, `plates_invalid`) rather than FastAPI's 422."""


def checked_plates(raw: str | None) -> tuple[str, ...]:
    """The `plates` parameter as normalised plates ("d4127ubx" → "D 4127 UBX"), or 400 `plates_invalid`; none given
    → an empty tuple. The same pattern is declared in the OpenAPI, so what the schema allows is what is accepted."""
    if raw is None:
        return ()
    if len(raw) > 140 or not _PLATES.fullmatch(raw):
        raise Problem(
            400,
            "plates_invalid",
            "The plates are not valid",
            f"Give 1-{MAX_PLATES} comma-separated registration plates, e.g. 'D 4127 UBX'.",
            errors=[item("Not a list of registration plates.", "plates_invalid", parameter="plates")],
        )
    plates = []
    for part in raw.split(","):
        match = re.fullmatch(r" ?([A-Za-z]{1,2}) ?([0-9]{1,4}) ?([A-Za-z]{0,3}) ?", part)
        assert match is not None  # the whole list matched _PLATES
        plates.append(" ".join(g for g in match.groups() if g).upper())
    return tuple(dict.fromkeys(plates))


def _remembered(cache: RecordCache, subject: str, variant: Any) -> Any:
    """The assembled-record memo (the first cache a lookup asks); with tracing on, its hit or miss is an attribute
    of the request's span (a dictionary read: a span of its own would cost more than the read)."""
    found = cache.records.get(subject, variant)
    tracing.note("gerbang.memo.result", "miss" if found is None else "hit")
    return found


@router.get(
    "/{nik}",
    response_model=CitizenRecord,
    responses=LOOKUP_RESPONSES,
    openapi_extra={"parameters": [*QUERY_PARAMETERS, *CONTEXT_PARAMETERS]},
)
async def get_citizen(
    nik: str,
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    purpose: Annotated[str | None, Query(include_in_schema=False)] = None,  # the four: see QUERY_PARAMETERS
    facets: Annotated[str | None, Query(include_in_schema=False)] = None,
    refresh: Annotated[bool, Query(include_in_schema=False)] = False,
    plates: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> Response:
    """The merged, verified record of a citizen, with provenance per facet."""
    # the hot path of the API: core/api/fastapi_routing.py calls it past the router, with these parameters solved
    counter_context(request)
    chosen = resolve_purpose(purpose, principal)
    names = resolve_facets(facets, chosen, principal)
    vehicle_plates = checked_plates(plates)
    info = parse_nik(nik)
    normalised = checked_nik(nik, info)
    state = app_state(request.app)
    cache = state.cache
    variant = (chosen.name, tuple(names))
    # one keyed hash per read: the audit log's subject, which is also where the cache remembers records
    subject = subject_hash(state.secrets.nik_hash_key, normalised)
    # plates make a record of their own: never answered from, nor kept in, the record memo
    remembered = _remembered(cache, subject, variant) if not refresh and not vehicle_plates else None
    # every outcome's audit entry names the same caller, purpose, facets asked, subject and plates
    question = audit_trail.Question(request, principal, normalised, chosen.name, names)
    audit = functools.partial(audit_trail.read, question, subject=subject, plates=vehicle_plates)
    if remembered is not None:  # assembled from these same fresh rows a moment ago (identity/record_memo.py)
        body, summary = remembered
        await audit(summary=summary)
        return Response(body, media_type="application/json")
    try:
        record = await assemble_record(
            normalised,
            chosen,
            state.agencies.by_facet(),
            facets=names,
            timeout_s=state.settings.agency_timeout_s,
            budget_s=state.settings.lookup_budget_s,
            cache=cache,
            refresh=refresh,
            plates=vehicle_plates,
        )
    except CitizenNotFound:
        await audit(outcome="citizen_not_found")
        raise Problem(404, "citizen_not_found", "The civil registry does not know this NIK") from None
    except IdentityUnavailable as exc:
        await audit(outcome="agency_unavailable")
        raise registry_unavailable(
            "The civil registry cannot be reached",
            exc.reason,
            retry_after_s=exc.retry_after_s,
            status_detail=exc.status.value,
        ) from None
    record.warnings = [{"code": w.code, "message": w.message} for w in info.warnings]
    summary = audit_trail.facet_summary(record.facets)
    # Already a validated CitizenRecord: serialise it once here rather than have FastAPI validate it again.
    body = record.model_dump_json().encode()
    if not vehicle_plates and all(f.provenance.cached for f in record.facets.values()):
        cache.records.put(subject, variant, body, summary, cache.fresh_until(record.facets.values()))
    await audit(summary=summary, refresh=refresh)
    return Response(body, media_type="application/json")
