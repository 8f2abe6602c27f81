"""Write an attempt's outcome (`finish`): the application's new state and the message's inbox row, in one
transaction, and only then is the message acknowledged.

Why this order: a crash anywhere before the commit leaves the message to be redelivered, and a redelivery after
it finds its id in the inbox. The outcome is one UPDATE guarded by the version `begin` set: if anything else
changed the row since (a sweep after an expired lease, a replay), this attempt's word no longer counts
("stale"; the agency deduplicated by key, so nothing is lost). The outcomes: submitted with the agency's
reference; rejected with the agency's reason (a permanent refusal); or, on a transient failure, queued again
with `next_attempt_at` after a growing wait — or failed (dead-lettered) once the deadline has passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from core.bus.agency_call import Outcome
from core.bus.batch_writes import FINISH_COLUMNS, write_outcomes
from core.bus.claim import Work
from core.bus.message import Message
from core.bus.models import REASON_MAX, Inbox, Status
from core.bus.states import Moves, Policy
from core.db.group_commit import batch_or_each
from core.db.tables import table_of
from core.security.secrets import BusSecrets
from identity.clock import utcnow
from identity.secrecy import seal

_INBOX = insert(table_of(Inbox))


def finish(
    session: Session,
    message: Message | None,
    work: Work,
    outcome: Outcome,
    secrets: BusSecrets,
    policy: Policy,
    now: dt.datetime | None = None,
) -> str:
    """Write the outcome and the inbox row in one transaction; returns the application's status ("stale" if
    another attempt took over meanwhile — the agency deduplicated by key, so nothing is lost).

    One UPDATE guarded by the version `begin` set: if anything else changed the row since (a sweep after an
    expired lease, a replay), this attempt's word no longer counts."""
    now = now or utcnow()
    done = _finish_batch(session, [(message, work, outcome)], secrets, policy, now)
    if done is not None:
        return done[0]
    session.rollback()
    if message is not None:
        session.add(Inbox(message_id=message.message_id, application_id=work.application_id))
        session.commit()
    return "stale"


def finish_many(
    session: Session,
    items: Sequence[tuple[Message | None, Work, Outcome]],
    secrets: BusSecrets,
    policy: Policy,
    now: dt.datetime | None = None,
) -> list[str | BaseException]:
    """`finish` for several attempts in one transaction; falls back to one by one if any of them is stale."""
    at = now or utcnow()

    def one(item: tuple[Message | None, Work, Outcome]) -> str:
        return finish(session, *item, secrets, policy, at)

    return batch_or_each(session, items, partial(_finish_batch, session, secrets=secrets, policy=policy, now=at), one)


def _finish_batch(
    session: Session,
    items: Sequence[tuple[Message | None, Work, Outcome]],
    secrets: BusSecrets,
    policy: Policy,
    now: dt.datetime,
) -> list[str] | None:
    rows: list[dict[str, Any]] = []
    inbox: list[dict[str, Any]] = []
    steps: list[tuple[Work, Status, str, dict[str, Any]]] = []
    for message, work, outcome in sorted(items, key=lambda item: item[1].application_id):
        if message is not None:
            inbox.append({"message_id": message.message_id, "application_id": work.application_id, "processed_at": now})
        values, status, detail, extra = _outcome(work, outcome, secrets, policy, now)
        rows.append(
            {
                "_id": work.application_id,
                "_version": work.version,
                **{f"_{name}": values.get(name) for name in FINISH_COLUMNS},
            }
        )
        steps.append((work, status, detail, extra))
    if write_outcomes(session, rows) != len(rows):
        return None
    if inbox:  # the messages' inbox rows, in the same transaction (a duplicate id fails the batch: one by one)
        session.execute(_INBOX, inbox)
    moves = Moves()
    for work, status, detail, extra in steps:
        moves.add(work.application(), status, now, detail=detail, audit=extra)
    moves.write(session)
    session.commit()
    by_id = {work.application_id: status.value for work, status, _, _ in steps}
    return [by_id[work.application_id] for _, work, _ in items]


def _outcome(
    work: Work, outcome: Outcome, secrets: BusSecrets, policy: Policy, now: dt.datetime
) -> tuple[dict[str, Any], Status, str, dict[str, Any]]:
    """The row's new values, the status, the history detail and the audit detail for an attempt's outcome."""
    values: dict[str, Any] = {
        "lease_until": None,
        "updated_at": now,
        "reason_code": outcome.code,
        "traceparent": work.traceparent,  # a retry the sweep dispatches continues this attempt
    }
    extra: dict[str, Any] = {"calls": outcome.calls, "code": outcome.code}
    if outcome.status == Status.submitted.value:
        reference = (outcome.reference or "")[:200]
        key_id, blob = seal(secrets.data_keys, work.application_id, "result", outcome.detail or {})
        values.update(status=Status.submitted.value, agency_reference=reference, result_key_id=key_id, result=blob)
        extra["reference"] = reference
        return values, Status.submitted, f"reference {reference}", extra
    reason = outcome.reason or ("refused" if outcome.status == Status.rejected.value else "unavailable")
    values["reason"] = reason = reason[:REASON_MAX]
    if outcome.status == Status.rejected.value:
        values["status"] = Status.rejected.value
        return values, Status.rejected, reason, extra
    deadline = work.deadline_at or now
    if now >= deadline:
        values["status"] = Status.failed.value
        return values, Status.failed, f"deadline passed; last error: {reason}", extra
    wait = policy.wait_after(work.attempt, outcome.retry_after_s)
    due = min(now + dt.timedelta(seconds=wait), deadline)
    values.update(status=Status.queued.value, next_attempt_at=due)
    extra["retry_in_s"] = wait
    return values, Status.queued, f"retry at {due.isoformat(timespec='seconds')}: {reason}", extra
