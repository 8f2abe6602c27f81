"""One attempt at submitting an application, the same in embedded and distributed mode.

    begin (tx) → call the agency, with a short tenacity retry for transient failures → finish (tx) → ack

`begin` claims the application with a compare-and-set on its version and a lease (so two deliveries of one
message, or a message and a sweep, never call the agency at the same time), after checking the inbox. `finish`
writes the outcome and the message's inbox row in one transaction: submitted with the agency's reference;
rejected with the agency's reason (a permanent refusal); or, on a transient failure, queued again with
`next_attempt_at` after a growing wait — or failed (dead-lettered) once the deadline has passed. Only then is
the message acknowledged, so a crash anywhere before leaves the message to be redelivered, and a redelivery
after finds its id in the inbox.

The agency always receives the application id as the idempotency key, so a repeated call never creates a second
application at the agency. `sweep` (run by the dispatcher and the relay) turns due retries and attempts whose
lease ran out (a worker died mid-call) into new outbox messages. `replay` is the operator's way back for a
failed application.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, insert, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from connectors import tracing
from connectors.base import AgencyAccessDenied, AgencyError, AgencyRejected, NotSupported, SubmitResult
from core.bus.models import FINAL, Application, Inbox, Outbox, Status
from core.bus.service import new_outbox, open_request
from core.bus.states import Moves, Policy, Step, audit_step, move
from core.db.tables import table_of
from core.security.secrets import BusSecrets
from identity.clock import as_utc, utcnow
from identity.secrecy import seal

log = logging.getLogger(__name__)
Sessions = Callable[[], Session]
REASON_MAX = 1000


class PoisonMessage(ValueError):
    """A message that can never be processed (malformed, or about no application): dead-letter it."""


@dataclass(frozen=True)
class Message:
    """What travels through the broker: ids only, never personal data."""

    message_id: str
    application_id: str
    agency: str

    def encode(self) -> bytes:
        return json.dumps(
            {"message_id": self.message_id, "application_id": self.application_id, "agency": self.agency},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, body: bytes) -> Message:
        try:
            data = json.loads(body)
            fields = [data[k] for k in ("message_id", "application_id", "agency")]
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            raise PoisonMessage("not a submission message") from None
        if not all(isinstance(f, str) and 0 < len(f) <= 64 for f in fields):
            raise PoisonMessage("submission message with malformed fields")
        return cls(*fields)

    @classmethod
    def of(cls, row: Outbox) -> Message:
        return cls(row.message_id, row.application_id, row.agency)


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

    def application(self, status: str) -> Step:
        """A stand-in for the row, for the history, audit and event rows of `finish` (no ORM object)."""
        return Step(
            self.application_id, self.client_name, self.nik_hash, self.agency, self.service, self.attempt, status
        )


@dataclass(frozen=True)
class Skip:
    """Nothing to call: `reason` says why (duplicate, final, in flight elsewhere, not due)."""

    reason: str


@dataclass(frozen=True)
class Outcome:
    """The result of calling the agency: `status` submitted / rejected / retry."""

    status: str
    reference: str | None = None
    detail: Mapping[str, Any] | None = None
    reason: str | None = None
    code: str | None = None
    retry_after_s: float | None = None
    calls: int = 1


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
    try:
        decided = _begin_batch(session, messages, secrets, policy, now)
        if decided is not None:
            return decided
    except Exception:
        if len(messages) == 1:
            session.rollback()
            return [_caught(lambda: begin(session, messages[0], secrets, policy, now))]
    session.rollback()
    results: list[Work | Skip | BaseException] = []
    for message in messages:
        results.append(_caught(partial(begin, session, message, secrets, policy, now)))
        session.rollback()
    return results


def _caught(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:
        return exc


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
    table = table_of(Application)
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
        claimed = _claim(session, table, claims, now + dt.timedelta(seconds=policy.lease_s), now)
        if claimed != len(claims):
            return None
        moves.write(session)
    session.commit()
    return results


# PostgreSQL: one UPDATE for a whole batch, its rows passed as arrays (one fixed statement, so compiled once and
# prepared by the driver); per row it is the same compare-and-set as the per-row UPDATE used elsewhere
_CLAIM = text("""
    UPDATE application AS a
    SET version = a.version + 1, attempts = c.attempts, status = :status, lease_until = :lease_until,
        next_attempt_at = NULL, updated_at = :now
    FROM unnest(CAST(:ids AS varchar[]), CAST(:versions AS integer[]), CAST(:attempts AS integer[]))
        AS c (id, version, attempts)
    WHERE a.id = c.id AND a.version = c.version""")


def _claim(
    session: Session, table: Table, claims: list[dict[str, Any]], lease_until: dt.datetime, now: dt.datetime
) -> int:
    """The compare-and-set of `begin` for a batch; returns how many rows it claimed. On PostgreSQL one UPDATE
    for the whole batch (a statement per row cost more than the rest of the step)."""
    if not _one_statement(session):
        return (
            session.connection()
            .execute(
                update(table)
                .where(table.c.id == bindparam("_id"), table.c.version == bindparam("_version"))
                .values(
                    version=bindparam("_next"),
                    attempts=bindparam("_attempts"),
                    status=Status.submitting.value,
                    lease_until=lease_until,
                    next_attempt_at=None,
                    updated_at=now,
                ),
                claims,
            )
            .rowcount
        )
    return (
        session.connection()
        .execute(
            _CLAIM,
            {
                "status": Status.submitting.value,
                "lease_until": lease_until,
                "now": now,
                "ids": [c["_id"] for c in claims],
                "versions": [c["_version"] for c in claims],
                "attempts": [c["_attempts"] for c in claims],
            },
        )
        .rowcount
    )


def _one_statement(session: Session) -> bool:
    """Whether a batch's per-row UPDATEs go as one statement (PostgreSQL)."""
    return session.get_bind().dialect.name == "postgresql"


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, AgencyError) and exc.transient or isinstance(exc, (asyncio.TimeoutError, TimeoutError))


async def call_agency(connector: Any, work: Work, policy: Policy) -> Outcome:
    """Submit with a short retry for transient failures; classify the end result. Never raises."""
    calls = 0

    async def once() -> SubmitResult:
        nonlocal calls
        calls += 1
        async with asyncio.timeout(policy.call_budget_s):  # no extra task per call, unlike wait_for
            return await connector.submit(work.service, work.payload, work.application_id)

    first: BaseException | None = None

    async def again() -> SubmitResult:
        """The first attempt's transient failure once more (tenacity then waits and retries), then `once`."""
        nonlocal first
        if first is not None:
            error, first = first, None
            raise error
        return await once()

    try:
        try:  # the common case, a first call that succeeds, without building the retry machinery
            result = await once()
        except Exception as exc:
            if not _transient(exc) or policy.retry_attempts <= 1:
                raise
            first = exc
            retrying = AsyncRetrying(
                stop=stop_after_attempt(policy.retry_attempts),
                reraise=True,
                wait=wait_exponential(
                    multiplier=policy.retry_wait_s, min=policy.retry_wait_s, max=policy.retry_wait_s * 8
                ),
                retry=retry_if_exception(_transient),
            )
            result = await retrying(again)
    except (AgencyRejected, NotSupported) as exc:
        return Outcome(Status.rejected.value, reason=exc.message, code=exc.code, calls=calls)
    except AgencyAccessDenied as exc:  # our credentials or registration: an operator must act, so keep trying
        return Outcome("retry", reason=f"access denied: {exc.message}", code=exc.code, calls=calls)
    except AgencyError as exc:
        return Outcome("retry", reason=exc.message, code=exc.code, retry_after_s=exc.retry_after_s, calls=calls)
    except TimeoutError:
        return Outcome("retry", reason="no answer in time", code="timeout", calls=calls)
    except Exception as exc:  # a connector bug must not lose the application: retry until the deadline
        log.exception("connector %s raised %s on application %s", work.agency, type(exc).__name__, work.application_id)
        return Outcome("retry", reason=f"internal error ({type(exc).__name__})", code="internal", calls=calls)
    return Outcome(Status.submitted.value, reference=result.reference, detail=dict(result.detail), calls=calls)


_INBOX = insert(table_of(Inbox))
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
)


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
    now = now or utcnow()
    try:
        done = _finish_batch(session, items, secrets, policy, now)
        if done is not None:
            return list(done)
    except Exception:
        pass
    session.rollback()
    results: list[str | BaseException] = []
    for message, work, outcome in items:
        results.append(_caught(partial(finish, session, message, work, outcome, secrets, policy, now)))
        session.rollback()
    return results


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
    table = table_of(Application)
    if _write_outcomes(session, table, rows) != len(rows):
        return None
    if inbox:  # the messages' inbox rows, in the same transaction (a duplicate id fails the batch: one by one)
        session.execute(_INBOX, inbox)
    moves = Moves()
    for work, status, detail, extra in steps:
        moves.add(work.application(Status.submitting.value), status, now, detail=detail, audit=extra)
    moves.write(session)
    session.commit()
    by_id = {work.application_id: status.value for work, status, _, _ in steps}
    return [by_id[work.application_id] for _, work, _ in items]


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
}
assert set(_FINISH_TYPES) == {"id", "version", *FINISH_COLUMNS}
_FINISH = text(f"""
    UPDATE application AS a
    SET {", ".join(f"{name} = o.{name}" for name in FINISH_COLUMNS)}
    FROM unnest({", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _FINISH_TYPES.items())})
        AS o ({", ".join(_FINISH_TYPES)})
    WHERE a.id = o.id AND a.version = o.version AND a.status = :submitting""")


def _write_outcomes(session: Session, table: Table, rows: list[dict[str, Any]]) -> int:
    """The outcome UPDATE of `finish` for a batch, each row guarded by its version and `submitting`; returns
    how many rows it changed. On PostgreSQL one UPDATE for the whole batch (varchar, not the columns' lengths:
    a value too long fails as in a plain UPDATE)."""
    if not _one_statement(session):
        return (
            session.connection()
            .execute(
                update(table)
                .where(
                    table.c.id == bindparam("_id"),
                    table.c.version == bindparam("_version"),
                    table.c.status == Status.submitting.value,
                )
                .values(**{name: bindparam(f"_{name}") for name in FINISH_COLUMNS}),
                rows,
            )
            .rowcount
        )
    arrays = {name: [row[f"_{name}"] for row in rows] for name in _FINISH_TYPES}
    return session.connection().execute(_FINISH, {**arrays, "submitting": Status.submitting.value}).rowcount


def _outcome(
    work: Work, outcome: Outcome, secrets: BusSecrets, policy: Policy, now: dt.datetime
) -> tuple[dict[str, Any], Status, str, dict[str, Any]]:
    """The row's new values, the status, the history detail and the audit detail for an attempt's outcome."""
    values: dict[str, Any] = {"lease_until": None, "updated_at": now, "reason_code": outcome.code}
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


def sweep(session: Session, policy: Policy, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Dispatch again what is due: retries whose time has come, and attempts whose lease ran out (the worker
    died mid-call). Rows are claimed with SKIP LOCKED, so several relays may sweep at once."""
    now = now or utcnow()
    count = 0
    due = session.exec(
        select(Application)
        .where(col(Application.status) == Status.queued.value, col(Application.next_attempt_at) <= now)
        .order_by(col(Application.next_attempt_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for app in due:
        app.next_attempt_at = None
        app.version += 1
        app.updated_at = now
        session.add(new_outbox(app, now))
        count += 1
    lost = session.exec(
        select(Application)
        .where(col(Application.status) == Status.submitting.value, col(Application.lease_until) < now)
        .order_by(col(Application.lease_until))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for app in lost:
        app.lease_until = None
        app.version += 1
        deadline = as_utc(app.deadline_at)
        assert deadline is not None
        if now >= deadline:
            app.reason, app.reason_code = "attempt interrupted after the deadline", "interrupted"
            move(session, app, Status.failed, now, detail=app.reason)
        else:
            move(session, app, Status.queued, now, detail="attempt interrupted (worker lost); dispatched again")
            session.add(new_outbox(app, now))
        count += 1
    session.commit()
    return count


def release_leases(session: Session) -> int:
    """Embedded start-up (one process per database): no attempt of a previous run is still going, so their
    leases can go at once; their outbox rows are still unsent (embedded marks a row sent only when its attempt
    is finished), so they are simply picked up again."""
    rows = session.exec(
        select(Application).where(
            col(Application.status) == Status.submitting.value, col(Application.lease_until).is_not(None)
        )
    ).all()
    for app in rows:
        app.lease_until = None
        app.version += 1
        pending = session.exec(
            select(col(Outbox.id)).where(col(Outbox.application_id) == app.id, col(Outbox.sent_at).is_(None))
        ).first()
        if pending is None:
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


class NotReplayable(ValueError):
    """Only failed applications can be replayed."""


def replay(
    session: Session,
    application_id: str,
    policy: Policy,
    *,
    operator: str | None = None,
    now: dt.datetime | None = None,
) -> Application:
    """Send a failed application again: a new deadline, a new outbox message, the same idempotency key."""
    now = now or utcnow()
    app = session.exec(select(Application).where(col(Application.id) == application_id).with_for_update()).first()
    if app is None:
        raise LookupError(application_id)
    if app.status != Status.failed.value:
        raise NotReplayable(f"application is {app.status}; only failed applications can be replayed")
    app.deadline_at = now + dt.timedelta(seconds=policy.deadline_s)
    app.next_attempt_at = app.lease_until = None
    app.version += 1
    audit_step(session, "application.replayed", app, {"operator": operator})
    move(session, app, Status.accepted, now, detail=f"replayed by {operator or 'an operator'}")
    session.add(new_outbox(app, now))
    session.commit()
    return app


class AgencyGates:
    """At most as many attempts per agency at once as the agency's concurrency limit gives this process.

    Why: the connectors wait for one of the agency's slots inside the call (core/security/concurrency.py). An
    attempt that started (lease taken) and then queued for a slot would spend its call budget waiting, time out,
    and be rescheduled for nothing; gated here, a message waits *before* its attempt begins, still unacknowledged
    and within the prefetch."""

    def __init__(self, capacity: Callable[[str], int]):
        self.capacity = capacity
        self.active: dict[str, int] = {}
        self._conditions: dict[str, asyncio.Condition] = {}

    @classmethod
    def of(cls, registry: Any, default: int) -> AgencyGates:
        """Gates sized by the registry's agency limits (their current share for this process), else `default`."""
        limits = getattr(registry, "limits", None)
        slots = getattr(limits, "slots", None) or {}

        def capacity(agency: str) -> int:
            found = slots.get(agency)
            return max(1, int(found.capacity)) if found is not None else default

        return cls(capacity)

    async def enter(self, agency: str) -> None:
        condition = self._conditions.get(agency)
        if condition is None:  # made on the loop that uses it
            condition = self._conditions[agency] = asyncio.Condition()
        async with condition:
            await condition.wait_for(lambda: self.active.get(agency, 0) < self.capacity(agency))
            self.active[agency] = self.active.get(agency, 0) + 1

    async def leave(self, agency: str) -> None:
        condition = self._conditions[agency]
        async with condition:
            self.active[agency] -= 1
            # wake only as many of this agency's waiters as may now enter (not every waiter of every agency:
            # with a deep prefetch that was dozens of wake-ups per finished call)
            condition.notify(max(1, self.capacity(agency) - self.active[agency]))


class StepRunner(Protocol):
    """Runs the database steps of an attempt (core/bus/steps.py: one by one, or in micro-batches)."""

    async def begin(self, message: Message) -> Work | Skip: ...

    async def finish(self, message: Message | None, work: Work, outcome: Outcome) -> str: ...


def consume_span(message: Message, queue: str, traceparent: str | None) -> Any:
    """The CONSUMER span of one message's processing, in the submission's trace when the message carried it
    (a no-op when tracing is off)."""
    return tracing.span(
        f"{queue} process",
        {
            "messaging.system": "rabbitmq" if queue != "embedded" else "gerbang",
            "messaging.operation.type": "process",
            "messaging.destination.name": queue,
            "messaging.message.id": message.message_id,
            "gerbang.agency": message.agency,
            "gerbang.application.id": message.application_id,
        },
        kind=tracing.SpanKind.CONSUMER,
        context=tracing.context_of(traceparent),
    )


async def attempt(
    steps: StepRunner, message: Message, connectors: Mapping[str, Any], policy: Policy, gates: AgencyGates | None = None
) -> str:
    """Process one message end to end (database steps on threads, the call on the loop); returns the resulting
    status or the reason it was skipped. Raises PoisonMessage for a message that can never be processed."""
    if gates is None:
        return await _attempt(steps, message, connectors, policy)
    await gates.enter(message.agency)
    try:
        return await _attempt(steps, message, connectors, policy)
    finally:
        await gates.leave(message.agency)


async def _attempt(steps: StepRunner, message: Message, connectors: Mapping[str, Any], policy: Policy) -> str:
    started = time.perf_counter()
    claimed = await steps.begin(message)
    if isinstance(claimed, Skip):
        return claimed.reason
    called = time.perf_counter()
    connector = connectors.get(claimed.agency)
    if connector is None:
        outcome = Outcome("retry", reason="agency not configured in this process", code="not_configured", calls=0)
    else:
        with tracing.span(
            f"submit {claimed.agency}",
            {"gerbang.agency": claimed.agency, "gerbang.service": claimed.service, "gerbang.attempt": claimed.attempt},
        ) as span:
            outcome = await call_agency(connector, claimed, policy)
            span.set_attributes({"gerbang.outcome": outcome.status, "gerbang.calls": outcome.calls})
    answered = time.perf_counter()
    status = await steps.finish(message, claimed, outcome)
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "application %s %s: begin %.1f ms, agency %.1f ms, finish %.1f ms",
            claimed.application_id,
            status,
            1000 * (called - started),
            1000 * (answered - called),
            1000 * (time.perf_counter() - answered),
        )
    return status
