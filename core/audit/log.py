"""The audit log's write side: `record()` inside the caller's transaction; the sequencer
(core/audit/sequencer.py) then gives entries their place in the log.

Why two steps: many API and worker processes write entries, but a Merkle log needs one order. `record()` only
inserts an unsequenced row (`audit_pending`) in the caller's transaction, so the entry commits or rolls back with
the change it records and costs no lock. Every entry is checked here, before it is stored, so a bad entry fails
its caller and never the sequencer. Rows go in through the driver (COPY on PostgreSQL, executemany on SQLite),
not SQLAlchemy's per-row parameter processing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from connectors import tracing
from core.audit.entry import canonical_detail, now_us
from core.db.bulk import bulk_insert

ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
NAME_MAX = {"client": 100, "agency": 64}
SUBJECT_RE = re.compile(r"^[0-9a-f]{64}$")
_GOOD_ACTIONS: set[str] = set()


def _row(
    action: str, client: str | None, subject: str | None, agency: str | None, detail: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A checked `audit_pending` row: a bad entry fails the caller now, never the sequencer later."""
    if type(action) is not str or action not in _GOOD_ACTIONS:  # a few actions recur: check each once
        if not isinstance(action, str) or len(action) > 64 or not ACTION_RE.fullmatch(action):
            raise ValueError(f"audit action must be a dotted lower-case name, got {action!r}")
        if len(_GOOD_ACTIONS) < 1024:
            _GOOD_ACTIONS.add(action)
    if subject is not None and not (isinstance(subject, str) and SUBJECT_RE.fullmatch(subject)):
        raise ValueError("audit subject must be a keyed hash (64 hex digits from subject_hash), never a NIK")
    for name, value in (("client", client), ("agency", agency)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > NAME_MAX[name]):
            raise ValueError(f"audit {name} must be a non-empty string of at most {NAME_MAX[name]} characters")
    return {
        "time_us": now_us(),
        "action": action,
        "client": client,
        "subject": subject,
        "agency": agency,
        "detail": canonical_detail(detail),
    }


def checked_rows(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`_row()` of each mapping (`action`, and optionally `client`, `subject`, `agency`, `detail`)."""
    return [_row(e["action"], e.get("client"), e.get("subject"), e.get("agency"), e.get("detail")) for e in entries]


PENDING_COLUMNS = ("time_us", "action", "client", "subject", "agency", "detail")
PENDING_PG_TYPES = ("int8", "text", "text", "text", "text", "text")  # migration 0003, for binary COPY


def _insert_pending(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Rows from `_row()` into `audit_pending` through `conn`'s own transaction, at driver speed: COPY (or one
    statement) on PostgreSQL, executemany on SQLite. SQLAlchemy's per-row parameter processing cost more than
    checking and encoding the entries; the rows are durable exactly when the caller's transaction commits."""
    if not rows:
        return
    values = [(r["time_us"], r["action"], r["client"], r["subject"], r["agency"], r["detail"]) for r in rows]
    bulk_insert(conn, "audit_pending", PENDING_COLUMNS, values, PENDING_PG_TYPES)


def record(
    session: Session,
    action: str,
    *,
    client: str | None = None,
    subject: str | None = None,
    agency: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Write one audit entry in `session`'s transaction: it commits or rolls back with the change it records.

    - `action`: dotted lower-case name, e.g. `citizen.read`, `citizen.verify`, `application.accepted`,
      `application.submitted`, `callback.delivered`, `admin.client_created`, `audit.query`.
    - `client`: the API client's name (who acted), if any. `agency`: the agency concerned, if any.
    - `subject`: the citizen as a keyed hash — `identity.secrecy.subject_hash(nik_hash_key, nik)` — never a NIK.
    - `detail`: small JSON object (what was asked, statuses, ids). No NIK, no names, no record contents.

    The row goes into `audit_pending` at once, through the session's connection (no ORM unit of work, no
    autoflush of the caller's objects); nothing is hashed or locked — the entry gets its leaf index when the
    sequencer runs (core/audit/sequencer.py). The caller commits. Raises ValueError at once for a malformed action,
    subject or detail, so a bad entry fails the caller's transaction rather than ever blocking the sequencer.
    """
    row = _row(action, client, subject, agency, detail)  # checked before the session is touched
    with tracing.span("audit append", {"gerbang.audit.action": action}, leaf=True):
        _insert_pending(session.connection(), [row])


def record_many(session: Session, entries: Iterable[Mapping[str, Any]]) -> int:
    """`record()` for a batch (e.g. one callback batch's outcomes): one multi-row insert. Each mapping holds
    `action` and optionally `client`, `subject`, `agency`, `detail`. Returns how many were recorded."""
    rows = checked_rows(entries)
    if rows:
        with tracing.span("audit append", {"gerbang.audit.entries": len(rows)}, leaf=True):
            _insert_pending(session.connection(), rows)
    return len(rows)


def prepare(
    action: str,
    *,
    client: str | None = None,
    subject: str | None = None,
    agency: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A checked pending-entry row for `insert_prepared` (ValueError at once, as `record()`): lets a caller validate
    on its own and write later in a shared transaction (see `core/audit/group.py`)."""
    return _row(action, client, subject, agency, detail)


def insert_prepared(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert rows from `prepare()` in `session`'s transaction, as one statement."""
    if rows:
        _insert_pending(session.connection(), rows)
