"""A citizen's access history (scope `subjects:history`): the data subject's right to know (UU 27/2022) who read
their record, when and for which purpose, answered from the signed log (core/api/audit.py is the auditor's side)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from core.api.answers import AccessHistory, answer
from core.api.audit import MAX_LIMIT, RESPONSES, entry_cursor, fresh_checkpoint, reading
from core.api.audit_trail import write_now
from core.api.auth import require
from core.api.citizens import checked_nik
from core.api.state import app_state
from core.audit import queries
from core.security.clients import Principal
from identity.secrecy import subject_hash

router = APIRouter(tags=["citizens"])


@router.get(
    "/v1/citizens/{nik}/access-history",
    response_model=None,
    responses={**RESPONSES, **answer(AccessHistory)},
)
def access_history(
    nik: str,
    request: Request,
    principal: Annotated[Principal, Depends(require("subjects:history"))],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    """Who read this person's record, when and for which purpose — every log entry about them, oldest first,
    answered from the signed log (this request is recorded too, as `citizen.history`)."""
    normalised = checked_nik(nik)
    after = entry_cursor(cursor)
    subject = subject_hash(app_state(request.app).secrets.nik_hash_key, normalised)
    write_now(request, "citizen.history", client=principal.name, subject=subject)
    latest = fresh_checkpoint(request)
    with reading(request) as conn:
        page, more = queries.entries_page(conn, latest.size, limit=limit, after=after, subject=subject)
    items = []
    for row in page:
        entry = json.loads(row.data)
        detail = entry.get("detail") or {}
        item = {
            "index": row.leaf_index,
            "time": entry.get("time"),
            "action": entry.get("action"),
            "client": entry.get("client"),
            "purpose": detail.get("purpose"),
        }
        if isinstance(detail.get("facets"), dict):
            item["facets"] = sorted(detail["facets"])
        if entry.get("agency"):
            item["agency"] = entry["agency"]
        items.append(item)
    return {
        "nik": normalised,
        "checkpoint_size": latest.size,
        "entries": items,
        "next_cursor": str(page[-1].leaf_index) if more else None,
    }
