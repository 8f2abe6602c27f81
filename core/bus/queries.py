"""Reading applications: the few queries the API's routes and the operator console both show.

Why here: the application tables belong to the bus, so what a page of them is (newest first, by a stable
cursor) is said once, next to them; the API shapes the rows into its answers, the console into its dashboard.
Writes stay in core/bus/service.py.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from core.bus.models import Application, Status, Transition


def application_page(
    session: Session,
    *,
    limit: int,
    client_id: int | None = None,
    status: Status | None = None,
    agency: str | None = None,
    nik_hash: str | None = None,
    after: tuple[dt.datetime, str] | None = None,
) -> tuple[list[Application], bool]:
    """Applications newest first (of one client, or of all with `client_id` None), at most `limit`, strictly
    after the (created_at, id) cursor `after`; and whether more follow."""
    query = select(Application)
    if client_id is not None:
        query = query.where(col(Application.client_id) == client_id)
    if status is not None:
        query = query.where(col(Application.status) == status.value)
    if agency:
        query = query.where(col(Application.agency) == agency)
    if nik_hash:
        query = query.where(col(Application.nik_hash) == nik_hash)
    if after:
        query = query.where(
            (col(Application.created_at) < after[0])
            | ((col(Application.created_at) == after[0]) & (col(Application.id) < after[1]))
        )
    query = query.order_by(col(Application.created_at).desc(), col(Application.id).desc()).limit(limit + 1)
    rows = list(session.exec(query).all())
    return rows[:limit], len(rows) > limit


def failed_applications(session: Session, *, limit: int, agency: str | None = None) -> list[Application]:
    """Failed (dead-lettered) applications, the most recently failed first."""
    query = select(Application).where(col(Application.status) == Status.failed.value)
    if agency:
        query = query.where(col(Application.agency) == agency)
    return list(session.exec(query.order_by(col(Application.updated_at).desc()).limit(limit)).all())


def history(session: Session, application_id: str) -> list[Transition]:
    """An application's transitions, oldest first."""
    query = select(Transition).where(col(Transition.application_id) == application_id)
    return list(session.exec(query.order_by(col(Transition.id))).all())
