"""Recovery of the submission path: what no message will bring back by itself is dispatched again or ended.

Why: a retry waits in the database (`next_attempt_at`), not in the broker, and a worker that died mid-call
leaves its application `submitting` with a lease that runs out. `sweep` (run by the dispatcher and the relay)
turns due retries and expired leases into new outbox messages; `release_leases` frees, at an embedded start,
the leases a previous run left behind; `fail_unprocessable` ends, as failed (replayable), an application whose
message kept crashing its consumer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from core.bus.models import FINAL, REASON_MAX, Application, Outbox, Status
from core.bus.service import new_outbox
from core.bus.states import Policy, move
from identity.clock import as_utc, utcnow


def sweep(session: Session, policy: Policy, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Dispatch again what is due: retries whose time has come, and attempts whose lease ran out (the worker
    died mid-call). Rows are claimed with SKIP LOCKED, so several relays may sweep at once."""
    now = now or utcnow()
    count = 0
    retry_at, lease = col(Application.next_attempt_at), col(Application.lease_until)
    due = _locked(session, (col(Application.status) == Status.queued.value) & (retry_at <= now), retry_at, limit)
    for app in due:
        app.next_attempt_at = None
        app.version += 1
        app.updated_at = now
        session.add(new_outbox(app, now))
        count += 1
    lost = _locked(session, (col(Application.status) == Status.submitting.value) & (lease < now), lease, limit)
    for app in lost:
        app.lease_until = None
        app.version += 1
        deadline = as_utc(app.deadline_at)
        if now >= deadline:
            app.reason, app.reason_code = "attempt interrupted after the deadline", "interrupted"
            move(session, app, Status.failed, now, detail=app.reason)
        else:
            move(session, app, Status.queued, now, detail="attempt interrupted (worker lost); dispatched again")
            session.add(new_outbox(app, now))
        count += 1
    session.commit()
    return count


def _locked(session: Session, condition: Any, order: Any, limit: int) -> Sequence[Application]:
    """The first `limit` applications that meet `condition`, locked; rows another sweep holds are skipped."""
    return session.exec(
        select(Application).where(condition).order_by(order).limit(limit).with_for_update(skip_locked=True)
    ).all()


def release_leases(session: Session) -> int:
    """Embedded start-up (one process per database): no attempt of a previous run is still going, so their
    leases can go at once; their outbox rows are still unsent (embedded marks a row sent only when its attempt
    is finished), so they are simply picked up again."""
    rows = session.exec(
        select(Application).where(
            Application.status == Status.submitting.value, col(Application.lease_until).is_not(None)
        )
    ).all()
    unsent = set(
        session.exec(
            select(col(Outbox.application_id)).where(
                col(Outbox.application_id).in_([app.id for app in rows]), col(Outbox.sent_at).is_(None)
            )
        ).all()
    )  # one query for every released application, not one each
    for app in rows:
        app.lease_until = None
        app.version += 1
        if app.id not in unsent:
            session.add(new_outbox(app, utcnow()))
    session.commit()
    return len(rows)


def fail_unprocessable(session: Session, application_id: str, error: str, now: dt.datetime | None = None) -> bool:
    """A message about this application crashed its consumer too often: end it as failed (replayable) instead
    of leaving it waiting forever. False if there is no such application or it is already final."""
    now = now or utcnow()
    app = session.exec(select(Application).where(col(Application.id) == application_id).with_for_update()).first()
    if app is None or app.status in FINAL:
        session.rollback()
        return False
    app.lease_until = app.next_attempt_at = None
    app.version += 1
    app.reason, app.reason_code = f"could not be processed: {error}"[:REASON_MAX], "unprocessable"
    move(session, app, Status.failed, now, detail=app.reason)
    session.commit()
    return True
