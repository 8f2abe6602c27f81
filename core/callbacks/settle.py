"""Writing what a POST came to: the attempt, the batch's new state (delivered, retried later with backoff, or
dead past the maximum age), the subscription's (disabled on a 410 Gone or a refused URL) and the audit entry.

Why with the next batch: after a delivery, the subscription's next batch is cut in the same transaction, so a
steady stream costs one commit per batch.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlmodel import Session

from core.audit.log import record
from core.callbacks.batches import Ready, next_batch, synchronous_commit
from core.callbacks.config import Config
from core.callbacks.models import Attempt, Batch, Subscription
from core.callbacks.post import ERROR_MAX, Result
from core.db.tables import table_of
from identity.clock import utcnow


def settle(session: Session, ready: Ready, result: Result, config: Config) -> str:
    """Write the attempt, the batch's new state, the subscription's (410 / refused) and the audit entry, in the
    caller's transaction."""
    now = utcnow()
    batch = session.get(Batch, ready.batch_id)
    assert batch is not None
    batch.attempts = ready.attempt
    outcome = result.outcome
    sub_table = table_of(Subscription)
    if outcome == "delivered":
        batch.status, batch.delivered_at, batch.next_attempt_at = "delivered", now, None
    elif outcome in ("gone", "refused"):
        batch.next_attempt_at = None  # stays pending: replay after re-enabling sends it
        session.execute(
            update(sub_table)
            .where(sub_table.c.id == ready.subscription_id)
            .values(status="disabled", status_reason=(result.error or outcome)[:500])
        )
    elif (now - ready.created_at).total_seconds() >= config.max_age_s:
        batch.status, batch.next_attempt_at, outcome = "dead", None, "dead"
    else:
        batch.next_attempt_at = now + dt.timedelta(seconds=config.backoff(ready.attempt))
    session.add(
        Attempt(
            batch_id=ready.batch_id,
            attempt=ready.attempt,
            at=now,
            status_code=result.status_code,
            outcome=outcome,
            error=(result.error or None) and result.error[:ERROR_MAX],
            duration_ms=result.duration_ms,
        )
    )
    detail = {
        "subscription": ready.subscription_id,
        "batch": ready.batch_id,
        "events": ready.count,
        "attempt": ready.attempt,
        "outcome": outcome,
        "status_code": result.status_code,
    }
    record(
        session,
        "callback.delivered" if outcome == "delivered" else "callback.failed",
        agency=ready.agency,
        detail=detail,
    )
    return outcome


def settle_and_next(session: Session, ready: Ready, result: Result, config: Config) -> tuple[str, Ready | None]:
    """`settle()` and, after a delivery, cut the next batch in the same transaction (one commit per batch)."""
    synchronous_commit(session, False)  # an outcome lost in a crash only means the batch is sent again
    outcome = settle(session, ready, result, config)
    if outcome != "delivered":
        session.commit()
        return outcome, None
    session.flush()
    return outcome, next_batch(session, ready.subscription_id, config.lease_s)
