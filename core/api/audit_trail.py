"""Audit entries for citizen reads and verifications, written before the answer leaves the API.

Separate from `core.api.audit` (the auditor's router) so `core.api.citizens` can use it without an import cycle.
What is recorded: who (client), why (purpose), what was asked and how each agency answered, the counter context
(which `core.api.context.counter_context` checked and left on `request.state` before the endpoint's work), and the
citizen as a keyed hash — never the NIK, never record contents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from connectors import tracing
from core.api.state import app_state
from core.audit.log import prepare, record
from core.security.clients import Principal
from identity.purposes import ROOT_FACET
from identity.secrecy import subject_hash


def write_now(request: Request, action: str, **fields: Any) -> None:
    """Record one entry in its own transaction (for code already running in a worker thread)."""
    with app_state(request.app).sessions() as session:
        record(session, action, **fields)
        session.commit()


async def write(request: Request, action: str, **fields: Any) -> None:
    """Record one entry, committed (together with concurrent requests' entries) before this returns."""
    tracing.note("gerbang.audit.action", action)  # the request's span: its end waits for this commit
    await app_state(request.app).audit_writer.submit(prepare(action, **fields))


def facet_summary(facets: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What a read's audit entry says of each facet of an assembled record: agency, status, cached or not."""
    return {
        name: {
            "agency": f.provenance.agency,
            "status": str(f.provenance.status.value),
            "cached": bool(f.provenance.cached),
        }
        for name, f in facets.items()
    }


@dataclass(frozen=True)
class Question:
    """What every citizen read's and verification's entry names: the request, its caller, the NIK (kept only as a
    keyed hash), the purpose and what was asked (facets read, fields verified)."""

    request: Request
    principal: Principal
    nik: str
    purpose: str
    asked: Iterable[str]

    def detail(self, asked: list[str], outcome: str) -> dict[str, Any]:
        return {"purpose": self.purpose, "asked": asked, "outcome": outcome}

    def subject(self) -> str:
        return subject_hash(app_state(self.request.app).secrets.nik_hash_key, self.nik)


async def read(
    question: Question,
    *,
    subject: str,
    summary: Mapping[str, Any] | None = None,
    outcome: str = "ok",
    refresh: bool = False,
    plates: Sequence[str] = (),
) -> None:
    """`citizen.read`: facets asked, each facet's agency and status (`summary`, from `facet_summary`, when a record
    was assembled), outcome. `subject`: `question.subject()`, which the lookup has already made (its record memo's
    key). `plates` a counter gave are kept as keyed hashes, as the NIK is (a plate identifies its owner)."""
    request = question.request
    detail = question.detail(list(question.asked), outcome)
    if summary is not None:
        detail["facets"] = summary
    if refresh:
        detail["refresh"] = True
    if plates:
        detail["plates"] = [subject_hash(app_state(request.app).secrets.nik_hash_key, plate) for plate in plates]
    detail["counter"] = request.state.counter_context.as_detail()
    await write(
        request,
        "citizen.read",
        client=question.principal.name,
        subject=subject,
        detail=detail,
    )


async def verify(
    question: Question,
    *,
    results: Mapping[str, bool] | None = None,
    outcome: str = "ok",
) -> None:
    """`citizen.verify`: fields asked and, when the root facet's agency answered, match / no_match per field."""
    request = question.request
    detail = question.detail(sorted(question.asked), outcome)
    if results is not None:
        detail["results"] = {name: "match" if matched else "no_match" for name, matched in results.items()}
    detail["counter"] = request.state.counter_context.as_detail()
    root = app_state(request.app).agencies.by_facet().get(ROOT_FACET)
    await write(
        request,
        "citizen.verify",
        client=question.principal.name,
        agency=root.name if root is not None else None,
        subject=question.subject(),
        detail=detail,
    )
