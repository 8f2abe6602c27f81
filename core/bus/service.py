"""The bus's service functions, which the API, the console and the CLI call: accept an application — check it,
then write the application, its outbox row, its history and its audit entry in one transaction — and replay a
failed one (a new deadline, a new outbox message, the same idempotency key).

Why one transaction: a crash can leave neither an application that will never be dispatched nor a dispatch of
an application that was never stored. The NIK is kept only as a keyed hash (for listing by NIK) and, with the
payload, as AES-256-GCM ciphertext bound to the application id. The idempotency key is scoped per client: the
same key with the same body answers the stored application again, with another body it is a conflict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from connectors import tracing
from core.bus.models import Application, Outbox, Status
from core.bus.payload_schema import validator_of
from core.bus.states import Moves, Policy, audit_step, move
from core.db.group_commit import batch_or_each
from core.db.tables import table_of
from core.security.secrets import BusSecrets
from identity.clock import utcnow
from identity.secrecy import DataKeys, seal, subject_hash, unseal

MAX_ERRORS = 20


class IdempotencyConflict(Exception):
    """The client already used this idempotency key for another request."""

    def __init__(self, application_id: str):
        super().__init__(application_id)
        self.application_id = application_id


@dataclass(frozen=True)
class Accepted:
    """The stored application (from `accept_many`: its fields, not an ORM object), and whether this call created
    it (False: an idempotent repeat)."""

    application: Application
    created: bool


def request_hash(hash_key: bytes, nik: str, agency: str, service: str, payload: Mapping[str, Any]) -> str:
    """Keyed hash of the whole request: compares repeats without storing the body (or the NIK) in clear."""
    canonical = json.dumps(
        {"nik": nik, "agency": agency, "service": service, "payload": payload},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hmac.new(hash_key, canonical.encode(), hashlib.sha256).hexdigest()


def open_request(keys: DataKeys, app: Application) -> tuple[str, dict[str, Any]]:
    """The NIK and the payload of an application."""
    data = unseal(keys, app.id, "request", app.key_id, app.payload)
    return data["nik"], data["payload"]


def open_result(keys: DataKeys, app: Application) -> dict[str, Any] | None:
    """What the agency answered with its reference (payment code, amounts, dates …), if anything."""
    if app.result is None or app.result_key_id is None:
        return None
    return unseal(keys, app.id, "result", app.result_key_id, app.result)


def schema_errors(schema: Mapping[str, Any], payload: Any) -> list[dict[str, Any]]:
    """Every way `payload` breaks the service's JSON Schema (at most MAX_ERRORS), as {path, parts, message, rule}
    (`parts`: the path's steps, for a JSON pointer)."""
    validator = validator_of(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(payload), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [
        {
            "path": "/" + "/".join(str(p) for p in error.absolute_path),
            "parts": list(error.absolute_path),
            "message": error.message,
            "rule": str(error.validator),
        }
        for error in errors[:MAX_ERRORS]
    ]


def new_outbox(app: Application, at: dt.datetime) -> Outbox:
    """A new message for `app`; each dispatch has its own message id (the inbox deduplicates by it)."""
    return Outbox(
        message_id=str(uuid.uuid4()),
        application_id=app.id,
        agency=app.agency,
        created_at=at,
        traceparent=app.traceparent,  # its latest step's trace: the request's, or the attempt a retry continues
    )


def accept(
    session: Session,
    secrets: BusSecrets,
    policy: Policy,
    *,
    client_id: int,
    client_name: str,
    idempotency_key: str,
    nik: str,
    agency: str,
    service: str,
    payload: Mapping[str, Any],
    now: dt.datetime | None = None,
    audit: Mapping[str, Any] | None = None,
) -> Accepted:
    """Store a checked application with its outbox row (one transaction), or find the one this key made.
    `audit` is added to the `application.accepted` entry (e.g. the counter context)."""
    digest = request_hash(secrets.nik_hash_key, nik, agency, service, payload)
    at = now or utcnow()
    app_id = str(uuid.uuid4())
    key_id, blob = seal(secrets.data_keys, app_id, "request", {"nik": nik, "payload": payload})
    app = Application(
        id=app_id,
        client_id=client_id,
        client_name=client_name,
        idempotency_key=idempotency_key,
        request_hash=digest,
        nik_hash=subject_hash(secrets.nik_hash_key, nik),
        agency=agency,
        service=service,
        status=Status.accepted.value,
        key_id=key_id,
        payload=blob,
        deadline_at=at + dt.timedelta(seconds=policy.deadline_s),
        created_at=at,
        updated_at=at,
        traceparent=tracing.current_traceparent(),
    )
    session.add(app)
    move(session, app, Status.accepted, at, audit=audit)
    session.add(new_outbox(app, at))
    try:  # new keys are the common case: insert first, and only on the unique key's refusal look for the first
        session.commit()
    except IntegrityError:  # this client used the key before (or a parallel request just did)
        session.rollback()
        existing = _by_key(session, client_id, idempotency_key)
        if existing is None:
            raise
        return _repeat(existing, digest)
    return Accepted(app, True)


@dataclass(frozen=True)
class Submission:
    """One checked request for `accept_many` (the arguments of `accept`)."""

    client_id: int
    client_name: str
    idempotency_key: str
    nik: str
    agency: str
    service: str
    payload: Mapping[str, Any]
    audit: Mapping[str, Any] | None = None
    traceparent: str | None = field(default_factory=tracing.current_traceparent)  # the request's span (tracing on)


_ACCEPT_FIELDS = ("client_id", "client_name", "idempotency_key", "nik", "agency", "service", "payload", "audit")
_APPLICATIONS = insert(table_of(Application))
_OUTBOX = insert(table_of(Outbox))


def accept_many(
    session: Session, secrets: BusSecrets, policy: Policy, items: Sequence[Submission], now: dt.datetime | None = None
) -> list[Accepted | BaseException]:
    """`accept` for several requests in one transaction (the API's group commit): every application with its
    outbox row, history, audit entry and event, each kind written with one statement. Same guarantees as
    `accept` — all of a request's rows commit together — and if the batch cannot commit as a whole (a repeated
    idempotency key, usually) each request is accepted on its own, so one never fails another."""

    def one(item: Submission) -> Accepted:
        return accept(session, secrets, policy, now=now, **{name: getattr(item, name) for name in _ACCEPT_FIELDS})

    return batch_or_each(session, items, partial(_accept_all, session, secrets, policy, now or utcnow()), one)


def _accept_all(
    session: Session, secrets: BusSecrets, policy: Policy, at: dt.datetime, items: Sequence[Submission]
) -> list[Accepted]:
    apps: list[Any] = []
    rows: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    moves = Moves()
    deadline = at + dt.timedelta(seconds=policy.deadline_s)
    for item in items:
        app_id = str(uuid.uuid4())
        key_id, blob = seal(secrets.data_keys, app_id, "request", {"nik": item.nik, "payload": item.payload})
        row = {
            "id": app_id,
            "client_id": item.client_id,
            "client_name": item.client_name,
            "idempotency_key": item.idempotency_key,
            "request_hash": request_hash(secrets.nik_hash_key, item.nik, item.agency, item.service, item.payload),
            "nik_hash": subject_hash(secrets.nik_hash_key, item.nik),
            "agency": item.agency,
            "service": item.service,
            "status": Status.accepted.value,
            "key_id": key_id,
            "payload": blob,
            "attempts": 0,
            "version": 0,
            "deadline_at": deadline,
            "created_at": at,
            "updated_at": at,
            "traceparent": item.traceparent,
        }
        rows.append(row)
        app: Any = SimpleNamespace(**row)  # what the answer reads (an ORM object per request cost more)
        apps.append(app)
        moves.add(app, Status.accepted, at, audit=item.audit)
        outbox.append(
            {
                "message_id": str(uuid.uuid4()),
                "application_id": app_id,
                "agency": item.agency,
                "created_at": at,
                "sent_at": None,
                "traceparent": item.traceparent,
            }
        )
    connection = session.connection()
    connection.execute(_APPLICATIONS, rows)
    connection.execute(_OUTBOX, outbox)
    moves.write(session)
    session.commit()
    return [Accepted(app, True) for app in apps]


def _by_key(session: Session, client_id: int, key: str) -> Application | None:
    return session.exec(
        select(Application).where(col(Application.client_id) == client_id, col(Application.idempotency_key) == key)
    ).first()


def _repeat(existing: Application, digest: str) -> Accepted:
    if not hmac.compare_digest(existing.request_hash, digest):
        raise IdempotencyConflict(existing.id)
    return Accepted(existing, False)


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
    app.traceparent = tracing.current_traceparent() or app.traceparent  # the replay request's trace, if traced
    move(session, app, Status.accepted, now, detail=f"replayed by {operator or 'an operator'}")
    session.add(new_outbox(app, now))
    session.commit()
    return app
