"""Checking what a counter was told about a citizen: `POST /v1/citizens/{nik}/verify` answers yes or no per claimed
field through the civil registry's own verify call, and discloses nothing else about the person."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import AgencyError, AgencyRejected
from core.api import audit_trail
from core.api.auth import require
from core.api.citizens import COMMON_PROBLEMS, QUERY_PARAMETERS, checked_nik, registry_unavailable, resolve_purpose
from core.api.context import CONTEXT_PARAMETERS, counter_context
from core.api.openapi import problems
from core.api.problems import Problem
from core.api.state import app_state
from core.security.clients import Principal
from identity.purposes import ROOT_FACET

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])

VERIFY_RESPONSES = problems(*COMMON_PROBLEMS, "claims_empty", "claims_invalid")


class Claims(BaseModel):
    """What the counter was told, to be checked against the civil registry without its data being disclosed."""

    model_config = ConfigDict(extra="forbid")
    full_name: str | None = Field(default=None, max_length=200)
    birth_date: dt.date | None = None
    birth_place: str | None = Field(default=None, max_length=100)
    sex: Literal["L", "P"] | None = None
    kk_number: str | None = Field(default=None, pattern=r"^[0-9]{16}$")  # \d would take "١" or "１"
    address: str | None = Field(default=None, max_length=300)
    father_name: str | None = Field(default=None, max_length=200)
    mother_name: str | None = Field(default=None, max_length=200)


class Verdict(BaseModel):
    result: Literal["match", "no_match"]
    score: int | None = Field(default=None, description="Similarity 0–100 for fuzzy fields (names, place, address)")


class Verification(BaseModel):
    nik: str
    purpose: str
    fields: dict[str, Verdict]
    life_status: Literal["alive", "deceased", "inactive"] | None = Field(
        default=None,
        description="What the civil registry said of the person when it gave it; a deceased person (and a "
        "duplicate record) is known but gets no verdicts: `fields` is then empty",
    )
    agency_message: str | None = Field(
        default=None, max_length=200, description="The civil registry's own text when it gave no verdicts"
    )


@router.post(
    "/{nik}/verify",
    response_model=Verification,
    responses=VERIFY_RESPONSES,
    openapi_extra={"parameters": [QUERY_PARAMETERS[0], *CONTEXT_PARAMETERS]},
)
async def verify_citizen(
    nik: str,
    claims: Claims,
    request: Request,
    principal: Annotated[Principal, Depends(require("citizen:verify"))],
    purpose: Annotated[str | None, Query(include_in_schema=False)] = None,  # documented: QUERY_PARAMETERS[0]
) -> Verification:
    """Yes/no per claimed field, via the civil registry's verify call; nothing else about the person is disclosed."""
    counter_context(request)
    chosen = resolve_purpose(purpose, principal)
    normalised = checked_nik(nik)
    given = claims.model_dump(exclude_none=True)
    if not given:
        raise Problem(400, "claims_empty", "Give at least one field to verify")
    agency = app_state(request.app).agencies.by_facet().get(ROOT_FACET)
    if agency is None:
        raise registry_unavailable("No connector for the civil registry is configured")
    question = audit_trail.Question(request, principal, normalised, chosen.name, given)
    try:
        result = await asyncio.wait_for(
            agency.connector.verify(normalised, given), app_state(request.app).settings.agency_timeout_s
        )
    except TimeoutError:
        await audit_trail.verify(question, outcome="agency_unavailable")
        raise registry_unavailable("The civil registry did not answer in time", status_detail="timeout") from None
    except AgencyRejected as exc:
        await audit_trail.verify(question, outcome="claims_invalid")
        raise Problem(400, "claims_invalid", "The civil registry cannot check these claims", exc.message) from None
    except AgencyError as exc:
        await audit_trail.verify(question, outcome="agency_unavailable")
        raise registry_unavailable(
            "The civil registry cannot be reached", exc.message, retry_after_s=exc.retry_after_s
        ) from None
    except Exception as exc:  # a reply the connector could not read: the registry unavailable, never a 500
        logging.getLogger(__name__).error("connector %s raised %s on verify", agency.name, type(exc).__name__)
        await audit_trail.verify(question, outcome="agency_unavailable")
        raise registry_unavailable("The civil registry's reply could not be read") from None
    if not result.found:
        await audit_trail.verify(question, outcome="citizen_not_found")
        raise Problem(404, "citizen_not_found", "The civil registry does not know this NIK")
    await audit_trail.verify(
        question,
        results={name: matched for name, (matched, _) in result.fields.items()},
    )
    life = result.life_status
    message = result.message if not result.fields else None
    return Verification(
        nik=normalised,
        purpose=chosen.name,
        fields={
            name: Verdict(result="match" if matched else "no_match", score=score)
            for name, (matched, score) in result.fields.items()
        },
        life_status=life.value if life is not None else None,
        agency_message=(message or None) and message[:200],
    )
