"""The two compare-and-set UPDATEs of an attempt — the claim at `begin`, the outcome at `finish` — for a whole
micro-batch of applications at once.

Why a module of its own: each is one statement per batch on PostgreSQL (its rows passed as arrays: one fixed
statement, so compiled once and prepared by the driver), and a statement per row elsewhere (SQLite); a
statement per row cost more than the rest of the step. Per row both are the same compare-and-set as a plain
UPDATE guarded by the version, so losing a race shows as fewer rows changed than asked for.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, text, update
from sqlmodel import Session

from core.bus.models import Application, Status
from core.db.tables import table_of

APPLICATIONS = table_of(Application)

_CLAIM = text("""
    UPDATE application AS a
    SET version = a.version + 1, attempts = c.attempts, status = :status, lease_until = :lease_until,
        next_attempt_at = NULL, updated_at = :now
    FROM unnest(CAST(:ids AS varchar[]), CAST(:versions AS integer[]), CAST(:attempts AS integer[]))
        AS c (id, version, attempts)
    WHERE a.id = c.id AND a.version = c.version""")

FINISH_COLUMNS = (
    "status",
    "agency_reference",
    "result_key_id",
    "result",
    "reason",
    "reason_code",
    "next_attempt_at",
    "lease_until",
    "updated_at",
    "traceparent",
)
_FINISH_TYPES = {
    "id": "varchar",
    "version": "integer",
    "status": "varchar",
    "agency_reference": "varchar",
    "result_key_id": "varchar",
    "result": "bytea",
    "reason": "varchar",
    "reason_code": "varchar",
    "next_attempt_at": "timestamptz",
    "lease_until": "timestamptz",
    "updated_at": "timestamptz",
    "traceparent": "varchar",
}
assert set(_FINISH_TYPES) == {"id", "version", *FINISH_COLUMNS}
_FINISH = text(f"""
    UPDATE application AS a
    SET {", ".join(f"{name} = o.{name}" for name in FINISH_COLUMNS)}
    FROM unnest({", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _FINISH_TYPES.items())})
        AS o ({", ".join(_FINISH_TYPES)})
    WHERE a.id = o.id AND a.version = o.version AND a.status = :submitting""")


def claim_rows(session: Session, claims: list[dict[str, Any]], lease_until: dt.datetime, now: dt.datetime) -> int:
    """Claim each application (`_id` at `_version`) for an attempt: `submitting`, its lease, `_attempts`;
    returns how many rows it claimed."""
    if not _one_statement(session):
        table = APPLICATIONS
        statement: Any = (
            update(table)
            .where(table.c.id == bindparam("_id"), table.c.version == bindparam("_version"))
            .values(
                version=bindparam("_next"),
                attempts=bindparam("_attempts"),
                status=Status.submitting.value,
                lease_until=lease_until,
                next_attempt_at=None,
                updated_at=now,
            )
        )
        return _rowcount(session, statement, claims)
    arrays = {
        "ids": [c["_id"] for c in claims],
        "versions": [c["_version"] for c in claims],
        "attempts": [c["_attempts"] for c in claims],
    }
    return _rowcount(
        session, _CLAIM, {**arrays, "status": Status.submitting.value, "lease_until": lease_until, "now": now}
    )


def write_outcomes(session: Session, rows: list[dict[str, Any]]) -> int:
    """Write each attempt's outcome (`_<column>` of FINISH_COLUMNS), each row guarded by its `_version` and
    `submitting`; returns how many rows it changed. On PostgreSQL the arrays are varchar, not the columns'
    lengths: a value too long fails as in a plain UPDATE."""
    if not _one_statement(session):
        table = APPLICATIONS
        statement: Any = (
            update(table)
            .where(
                table.c.id == bindparam("_id"),
                table.c.version == bindparam("_version"),
                table.c.status == Status.submitting.value,
            )
            .values(**{name: bindparam(f"_{name}") for name in FINISH_COLUMNS})
        )
        return _rowcount(session, statement, rows)
    arrays = {name: [row[f"_{name}"] for row in rows] for name in _FINISH_TYPES}
    return _rowcount(session, _FINISH, {**arrays, "submitting": Status.submitting.value})


def _rowcount(session: Session, statement: Any, params: Any) -> int:
    return session.connection().execute(statement, params).rowcount


def _one_statement(session: Session) -> bool:
    """Whether a batch's per-row UPDATEs go as one statement (PostgreSQL)."""
    return session.get_bind().dialect.name == "postgresql"
