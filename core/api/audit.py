"""The auditor's interface to the signed log (scope `audit:read`) and the log's public key (a citizen's access
history is core/api/access_history.py). Guide: docs/audit.md; formats: docs/audit-format.md.

Every auditor query is itself an `audit.query` entry, recorded and sequenced before the answer is computed, and
answers are proven against a checkpoint signed after that — so an auditor sees everything recorded before the
query, their own query included. Endpoints are plain `def`s: FastAPI runs them in its thread pool, where the
blocking database work and the sequencer belong.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from core.api.answers import AuditBundle, AuditEntries, ConsistencyProof, InclusionProof, answer
from core.api.audit_trail import write_now
from core.api.auth import require
from core.api.citizens import checked_nik
from core.api.openapi import problems
from core.api.problems import Problem
from core.api.state import app_state
from core.audit import export, queries, store
from core.audit.entry import format_time
from core.audit.sequencer import SequencerError
from core.callbacks import signing
from core.security.clients import Principal
from identity.clock import as_utc
from identity.secrecy import subject_hash

router = APIRouter(tags=["audit"])

MAX_LIMIT = 1000
ACTION_FILTER = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$")
RESPONSES = problems(
    "audit_range", "nik_invalid", "cursor_invalid", "time_invalid", "action_invalid", "audit_unavailable"
)


# --- wiring -----------------------------------------------------------------------------------

MAX_TREE = 2**53 - 1  # indexes and sizes go into canonical JSON (audit entries), which stops at 2^53


def fresh_checkpoint(request: Request) -> Any:
    """Sequence everything recorded so far and make sure a checkpoint covers it; the latest checkpoint row."""
    state = app_state(request.app)
    try:
        state.audit.run(force_checkpoint=True)
    except SequencerError as exc:
        raise Problem(
            503, "audit_unavailable", "The audit log refuses to sign", str(exc), headers={"Retry-After": "30"}
        ) from None
    except SQLAlchemyError as exc:  # database busy or down: a 503 with a retry hint
        raise Problem(
            503,
            "audit_unavailable",
            "The audit log cannot be sequenced right now",
            type(exc).__name__,
            headers={"Retry-After": "5"},
        ) from None
    with state.engine.connect() as conn:
        latest = store.latest_checkpoint(conn)
    if latest is None:
        raise Problem(503, "audit_unavailable", "No checkpoint has been signed yet", headers={"Retry-After": "5"})
    return latest


def _sizes(from_: int, to: int | None) -> dict[str, Any]:
    """The tree sizes a query names, as the audit entry records them (`from` is a keyword in Python)."""
    return {"from": from_, "to": to}


def _query(request: Request, principal: Principal, endpoint: str, *, subject: str | None = None, **params: Any) -> Any:
    """Record the auditor's query, then return a checkpoint covering it."""
    detail = {"endpoint": endpoint, **{k: v for k, v in params.items() if v is not None}}
    write_now(request, "audit.query", client=principal.name, subject=subject, detail=detail)
    return fresh_checkpoint(request)


@contextmanager
def reading(request: Request) -> Iterator[Connection]:
    """A connection for answering; a hash missing from the stored tree is a 503, not a traceback."""
    try:
        with app_state(request.app).engine.connect() as conn:
            yield conn
    except store.StoreError as exc:
        raise Problem(
            503, "audit_unavailable", "The stored audit tree is incomplete", str(exc), headers={"Retry-After": "30"}
        ) from None


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _us(value: dt.datetime) -> int:
    """Microseconds since the epoch; a time whose UTC value falls outside years 1-9999 is refused (400)."""
    try:
        value = as_utc(value).astimezone(dt.UTC)
    except OverflowError:
        raise Problem(
            400,
            "time_invalid",
            "A time outside the years 1 to 9999",
            "since and until must fall between 0001-01-01 and 9999-12-31 UTC.",
        ) from None
    # exact: through a float, 9999-12-31T23:59:59.999999Z rounded up into year 10000 (and .999900 became .999904)
    return (value - EPOCH) // dt.timedelta(microseconds=1)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


CURSOR_MAX = 2**63 - 1  # cursors are entry ids (64-bit)


def entry_cursor(cursor: str | None) -> int:
    if cursor is None:
        return -1
    # isdigit() is also true of '²' or '٣': only ASCII digits, and only what a 64-bit id can be
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19 or int(cursor) > CURSOR_MAX:
        raise Problem(400, "cursor_invalid", "The cursor is not one this API returned")
    return int(cursor)


def _range_problem(message: str) -> Problem:
    return Problem(400, "audit_range", "Sizes or indexes outside the signed log", message)


# --- public key -------------------------------------------------------------------------------


@router.get("/v1/audit/key", response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {}}}})
def audit_key(request: Request) -> PlainTextResponse:
    """The log's public key as a note verifier key (`<origin>+<id>+<key>`): public, no API key needed."""
    return PlainTextResponse(app_state(request.app).audit.signer.verifier.vkey + "\n")


@router.get("/v1/audit/key/webhook", response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {}}}})
def audit_key_webhook(request: Request) -> PlainTextResponse:
    """The same key in the Standard Webhooks `whpk_` form, for the `v1a` signature on callback batches: public."""
    return PlainTextResponse(signing.public_key(app_state(request.app).audit.signer) + "\n")


# --- auditor queries --------------------------------------------------------------------------


@router.get("/v1/audit/checkpoint", response_class=PlainTextResponse, responses=RESPONSES)
def audit_checkpoint(
    request: Request, principal: Annotated[Principal, Depends(require("audit:read"))]
) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP tlog-checkpoint in a signed note), covering this query."""
    latest = _query(request, principal, "checkpoint")
    return PlainTextResponse(latest.note, headers={"Cache-Control": "no-store"})


@router.get("/v1/audit/entries", response_model=None, responses={**RESPONSES, **answer(AuditEntries)})
def audit_entries(
    request: Request,
    principal: Annotated[Principal, Depends(require("audit:read"))],
    subject_nik: Annotated[str | None, Query(description="Entries about this NIK (matched by its keyed hash)")] = None,
    client: Annotated[str | None, Query(max_length=100)] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, description="Exact, or a prefix like `citizen.*`")] = None,
    since: Annotated[dt.datetime | None, Query(description="RFC 3339; entries recorded at or after")] = None,
    until: Annotated[dt.datetime | None, Query(description="RFC 3339; entries recorded before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    """Entries matching every filter, oldest first, each with its bytes and an inclusion proof against the
    checkpoint returned alongside."""
    after = entry_cursor(cursor)
    subject = (
        subject_hash(app_state(request.app).secrets.nik_hash_key, checked_nik(subject_nik, parameter="subject_nik"))
        if subject_nik is not None
        else None
    )
    if action is not None and not ACTION_FILTER.match(action):
        raise Problem(400, "action_invalid", "Actions are dotted lower-case names, optionally ending in `.*`")
    since_us, until_us = (_us(t) if t is not None else None for t in (since, until))
    filters = {
        "client": client,
        "agency": agency,
        "action": action,
        "by_subject": True if subject else None,
        "since": format_time(since_us) if since_us is not None else None,
        "until": format_time(until_us) if until_us is not None else None,
        "cursor": cursor,
        "limit": limit,
    }
    latest = _query(request, principal, "entries", subject=subject, **filters)
    with reading(request) as conn:
        page, more = queries.entries_page(
            conn,
            latest.size,
            limit=limit,
            after=after,
            subject=subject,
            client=client,
            agency=agency,
            action=action,
            since_us=since_us,
            until_us=until_us,
        )
        proofs = (
            store.inclusion_proofs(conn, [r.leaf_index for r in page], latest.size, check_size=False, cached=True)
            if page
            else []
        )
    return {
        "checkpoint": latest.note,
        "size": latest.size,
        "entries": [
            {
                "index": r.leaf_index,
                "data": _b64(r.data),
                "entry": json.loads(r.data),
                "proof": [_b64(h) for h in proof],
            }
            for r, proof in zip(page, proofs, strict=False)
        ],
        "next_cursor": str(page[-1].leaf_index) if more else None,
    }


def _signed_size(request: Request, latest: Any, size: int | None) -> tuple[int, Any]:
    """The tree size asked for (default: the latest checkpoint's), and its checkpoint row if one was signed."""
    if size is None:
        return latest.size, latest
    if size > latest.size:
        raise _range_problem(f"the latest checkpoint has size {latest.size}")
    with reading(request) as conn:
        return size, store.checkpoint_at(conn, size)


@router.get("/v1/audit/proof/inclusion", response_model=None, responses={**RESPONSES, **answer(InclusionProof)})
def audit_inclusion(
    request: Request,
    principal: Annotated[Principal, Depends(require("audit:read"))],
    index: Annotated[int, Query(ge=0, le=MAX_TREE)],
    size: Annotated[
        int | None, Query(ge=1, le=MAX_TREE, description="Tree size (default: the latest checkpoint's)")
    ] = None,
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of entry `index` in the tree of `size` entries."""
    latest = _query(request, principal, "proof.inclusion", index=index, size=size)
    size, cp = _signed_size(request, latest, size)
    if index >= size:
        raise _range_problem(f"index {index} is not in a tree of size {size}")
    with reading(request) as conn:
        # size <= a signed checkpoint's; the leaf comes with the proof's nodes, in one query
        leaf, proof = store.leaf_and_proof(conn, index, size, check_size=False, cached=True)
    return {
        "index": index,
        "size": size,
        "leaf_hash": _b64(leaf) if leaf else None,
        "proof": [_b64(h) for h in proof],
        "checkpoint": cp.note if cp else None,
    }


@router.get("/v1/audit/proof/consistency", response_model=None, responses={**RESPONSES, **answer(ConsistencyProof)})
def audit_consistency(
    request: Request,
    principal: Annotated[Principal, Depends(require("audit:read"))],
    from_: Annotated[int, Query(alias="from", ge=0, le=MAX_TREE)],
    to: Annotated[
        int | None, Query(ge=0, le=MAX_TREE, description="Newer size (default: the latest checkpoint's)")
    ] = None,
) -> dict[str, Any]:
    """RFC 9162 consistency proof that the tree of `from` entries is a prefix of the tree of `to`."""
    latest = _query(request, principal, "proof.consistency", **_sizes(from_, to))
    to, cp = _signed_size(request, latest, to)
    if from_ > to:
        raise _range_problem(f"from ({from_}) is larger than to ({to})")
    with reading(request) as conn:
        proof = store.consistency_proof(conn, from_, to, cached=True) if from_ else []
        old = store.checkpoint_at(conn, from_)
    return {
        "from": from_,
        "to": to,
        "proof": [_b64(h) for h in proof],
        "checkpoint_from": old.note if old else None,
        "checkpoint_to": cp.note if cp else None,
    }


@router.get(
    "/v1/audit/export",
    response_model=None,
    responses={**RESPONSES, **answer(AuditBundle, description="A gerbang-audit-bundle/v1 file")},
)
def audit_export(
    request: Request,
    principal: Annotated[Principal, Depends(require("audit:read"))],
    from_: Annotated[int, Query(alias="from", ge=0, le=MAX_TREE)] = 0,
    to: Annotated[
        int | None, Query(ge=0, le=MAX_TREE, description="End of the range, exclusive (default: checkpoint size)")
    ] = None,
    earlier: Annotated[
        list[int] | None,
        Query(description="Older checkpoint sizes you hold: consistency proofs from them are included"),
    ] = None,
) -> StreamingResponse:
    """A self-contained bundle (gerbang-audit-bundle/v1) of entries [from, to): verify it offline with
    `gerbang audit verify BUNDLE --key VKEY`."""
    latest = _query(request, principal, "export", **_sizes(from_, to))
    to = latest.size if to is None else to
    if not from_ <= to <= latest.size:
        raise _range_problem(f"need 0 <= from <= to <= {latest.size} (the latest checkpoint)")
    sizes = sorted({m for m in (earlier or []) if 0 < m < latest.size})[:64]
    conn = app_state(request.app).engine.connect()
    chunks = export.export_chunks(conn, from_, to, latest, sizes)
    try:  # the head (prefix, suffix, proofs) before the status line goes out: a damaged tree is still a 503
        head = next(chunks)
    except store.StoreError as exc:
        conn.close()
        raise Problem(
            503, "audit_unavailable", "The stored audit tree is incomplete", str(exc), headers={"Retry-After": "30"}
        ) from None
    except BaseException:
        conn.close()
        raise

    def body() -> Iterator[bytes]:
        try:
            yield head.encode("utf-8")
            for chunk in chunks:
                yield chunk.encode("utf-8")
        finally:
            conn.close()

    name = f"gerbang-audit-{from_}-{to}.json"
    return StreamingResponse(
        body(), media_type="application/json", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
