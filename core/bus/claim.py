"""Claim an application for one attempt (`begin`): check the inbox, read the row, decide, and take it with a
compare-and-set on its version and a lease.

Why a claim: two deliveries of one message, or a message and a sweep, must never call the agency at the same
time, and a redelivered message must cost nothing. The row is read FOR UPDATE (PostgreSQL) and claimed with a
compare-and-set on its version (also right on SQLite, which has no row locks); losing the race means reading
again, never dropping the message. A message already in the inbox is a duplicate; one about an application
that is final or not yet due is remembered in the inbox, so its redelivery is cheap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.bus.batch_writes import APPLICATIONS, claim_rows
from core.bus.message import Message, PoisonMessage
from core.bus.models import FINAL, Inbox, Status
from core.bus.service import open_request
from core.bus.states import Moves, Policy, Step
from core.db.group_commit import batch_or_each
from core.db.tables import table_of
from core.security.secrets import BusSecrets
from identity.clock import as_utc, utcnow


@dataclass(frozen=True)
class Work:
    """A claimed attempt: what to send, the version that proves the claim at `finish`, and what `finish` needs
    for its history and audit rows without reading the application again."""

    application_id: str
    agency: str
    service: str
    nik: str
    payload: dict[str, Any]
    version: int
    attempt: int
    client_name: str = ""
    nik_hash: str = ""
    deadline_at: dt.datetime | None = None
    traceparent: str | None = None  # the attempt's consuming span (tracing on): its retry and events continue it

    def application(self) -> Step:
        """A stand-in for the row as claimed (`submitting`), for the history, audit and event rows of `finish` (no
        ORM object)."""
        return Step(
            self.application_id,
            self.client_name,
            self.nik_hash,
            self.agency,
            self.service,
            self.attempt,
            Status.submitting.value,
            traceparent=self.traceparent,
        )


@dataclass(frozen=True)
class Skip:
    """Nothing to call: `reason` says why (duplicate, final, in flight elsewhere, not due)."""

    reason: str


def begin(
    session: Session, message: Message, secrets: BusSecrets, policy: Policy, now: dt.datetime | None = None
) -> Work | Skip:
    """Claim the application for one attempt, or say why not. Raises PoisonMessage for an unknown application.

    The row is read FOR UPDATE (PostgreSQL) and claimed with a compare-and-set on its version (also right on
    SQLite, which has no row locks); losing the race means reading again, never dropping the message."""
    now = now or utcnow()
    for _ in range(5):
        try:
            decided = _begin_batch(session, [message], secrets, policy, now)
        except IntegrityError:  # the same message's inbox row, written meanwhile by another consumer
            decided = None
        if decided is not None:
            result = decided[0]
            if isinstance(result, BaseException):
                raise result
            return result
        session.rollback()
    raise RuntimeError(f"application {message.application_id} kept changing under us; try the message again")


def begin_many(
    session: Session, messages: Sequence[Message], secrets: BusSecrets, policy: Policy, now: dt.datetime | None = None
) -> list[Work | Skip | BaseException]:
    """`begin` for several messages in one transaction (a worker's micro-batch); per message its Work, its Skip
    or its exception. If the batch as a whole cannot be claimed (a lost race, a payload that does not decrypt),
    each message is tried on its own, so one bad message never fails the others."""
    now = now or utcnow()
    return batch_or_each(
        session,
        messages,
        partial(_begin_batch, session, secrets=secrets, policy=policy, now=now),
        partial(begin, session, secrets=secrets, policy=policy, now=now),
    )


def _begin_batch(
    session: Session, messages: Sequence[Message], secrets: BusSecrets, policy: Policy, now: dt.datetime
) -> list[Work | Skip | BaseException] | None:
    """Decide and claim every message's application in one transaction; None if a compare-and-set lost."""
    inbox = table_of(Inbox)
    seen = set(
        session.execute(
            select(inbox.c.message_id).where(  # Core, not ORM: cheaper to compile and run
                inbox.c.message_id.in_([m.message_id for m in messages])
            )
        ).scalars()
    )
    table = APPLICATIONS
    # plain rows, not ORM objects (the claim is one compare-and-set UPDATE below, not the unit of work; and
    # loading ORM objects cost more than the rest of the step)
    rows = session.execute(
        table.select()
        .where(table.c.id.in_({m.application_id for m in messages}))
        .order_by(table.c.id)
        .with_for_update()
    ).all()
    apps: dict[str, Any] = {row.id: SimpleNamespace(**row._mapping) for row in rows}
    results: list[Work | Skip | BaseException] = []
    claims: list[dict[str, Any]] = []
    taken: set[str] = set()
    moves = Moves()
    for message in messages:
        app = apps.get(message.application_id)
        if message.message_id in seen:
            results.append(Skip("duplicate"))
            continue
        if app is None or app.agency != message.agency:
            results.append(PoisonMessage("message about no known application"))
            continue
        lease, due = as_utc(app.lease_until), as_utc(app.next_attempt_at)
        if app.id in taken or (app.status == Status.submitting.value and lease is not None and lease > now):
            results.append(Skip("in flight"))
            continue
        if app.status in FINAL or (app.status == Status.queued.value and due is not None and due > now):
            # nothing left to do: remember the message so that a redelivery is cheap
            session.add(Inbox(message_id=message.message_id, application_id=app.id))
            seen.add(message.message_id)
            results.append(Skip("final" if app.status in FINAL else "not due"))
            continue
        taken.add(app.id)
        claims.append({"_id": app.id, "_version": app.version, "_next": app.version + 1, "_attempts": app.attempts + 1})
        if app.status == Status.accepted.value:
            moves.add(app, Status.queued, now)
        # still `submitting` with its lease run out: the worker of that attempt was lost (its message came back)
        lost = "attempt interrupted (worker lost); tried again" if app.status == Status.submitting.value else None
        app.attempts += 1
        moves.add(app, Status.submitting, now, detail=lost)
        nik, payload = open_request(secrets.data_keys, app)
        results.append(
            Work(
                app.id,
                app.agency,
                app.service,
                nik,
                payload,
                app.version + 1,
                app.attempts,
                client_name=app.client_name,
                nik_hash=app.nik_hash,
                deadline_at=as_utc(app.deadline_at),
            )
        )
    if claims:
        claimed = claim_rows(session, claims, now + dt.timedelta(seconds=policy.lease_s), now)
        if claimed != len(claims):
            return None
        moves.write(session)
    session.commit()
    return results
