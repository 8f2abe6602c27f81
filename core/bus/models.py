"""Tables of the submission path: applications, their history, the outbox and the inbox.

Why these four: the application row is the truth about where a submission stands (status, attempts, next
attempt, lease, deadline); every status change is a history row (and an audit entry) written in the same
transaction; the outbox row is written with the application so "accepted" and "will be dispatched" commit
together; the inbox row makes a redelivered message harmless (its unique message id is already there).

Nothing here holds a NIK in clear: `nik_hash` is the keyed hash (the same as the audit subject), and the NIK and
payload travel together as AES-256-GCM ciphertext (`payload`, bound to the application id).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db.models import BigId, timestamp, unsent_index
from identity.clock import utcnow


class Status(str, Enum):
    """Where an application stands. accepted: stored, its outbox row not yet handed on; queued: waiting for a
    worker (or, with `next_attempt_at`, for its next attempt); submitting: a worker is calling the agency;
    submitted / rejected / failed are final (failed can be replayed by an operator); received: an agency pushed it
    to us (e.g. a licence the region must process) — it waits for the region's decision, never for a worker."""

    accepted = "accepted"
    queued = "queued"
    submitting = "submitting"
    submitted = "submitted"
    rejected = "rejected"
    failed = "failed"
    received = "received"


FINAL = frozenset({Status.submitted.value, Status.rejected.value, Status.failed.value})
REASON_MAX = 1000  # the longest reason an application keeps


class Application(SQLModel, table=True):
    """One submission to one agency service, by one client under one idempotency key."""

    __tablename__ = "application"
    __table_args__ = (
        UniqueConstraint("client_id", "idempotency_key", name="uq_application_client_key"),
        Index("ix_application_status_next", "status", "next_attempt_at"),
        Index("ix_application_status_lease", "status", "lease_until"),
        Index("ix_application_client_created", "client_id", "created_at"),
        Index("ix_application_agency_reference", "agency", "agency_reference"),  # a push or decision finds its record
    )

    id: str = Field(primary_key=True, max_length=36)
    client_id: int = Field(foreign_key="client.id")
    client_name: str = Field(max_length=100)
    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    nik_hash: str = Field(max_length=64, index=True)
    agency: str = Field(max_length=64, index=True)
    service: str = Field(max_length=64)
    status: str = Field(max_length=16)
    key_id: str = Field(max_length=32)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    agency_reference: str | None = Field(default=None, max_length=200)
    result_key_id: str | None = Field(default=None, max_length=32)
    result: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    reason_code: str | None = Field(default=None, max_length=64)
    attempts: int = Field(default=0)
    version: int = Field(default=0)
    next_attempt_at: dt.datetime | None = timestamp(nullable=True)
    lease_until: dt.datetime | None = timestamp(nullable=True)
    deadline_at: dt.datetime = timestamp(nullable=False)
    created_at: dt.datetime = timestamp(nullable=False, default=utcnow)
    updated_at: dt.datetime = timestamp(nullable=False, default=utcnow)
    traceparent: str | None = Field(default=None, max_length=55)  # its latest step's trace, when tracing is on


class Transition(SQLModel, table=True):
    """One status change of an application, with its time: the history GET /v1/applications/{id} shows."""

    __tablename__ = "application_transition"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    application_id: str = Field(foreign_key="application.id", index=True, max_length=36)
    status: str = Field(max_length=16)
    at: dt.datetime = timestamp(nullable=False)
    attempt: int | None = Field(default=None)
    detail: str | None = Field(default=None, max_length=1000)


class Outbox(SQLModel, table=True):
    """A message to hand on (to RabbitMQ, or to the in-process worker), written in the transaction that made it
    necessary. `sent_at` is set only once the broker confirmed it (or the in-process worker finished it)."""

    __tablename__ = "outbox"
    __table_args__ = (unsent_index("ix_outbox_pending", "sent_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    message_id: str = Field(max_length=36, unique=True)
    application_id: str = Field(foreign_key="application.id", index=True, max_length=36)
    agency: str = Field(max_length=64)
    created_at: dt.datetime = timestamp(nullable=False, default=utcnow)
    sent_at: dt.datetime | None = timestamp(nullable=True)
    traceparent: str | None = Field(default=None, max_length=55)  # the submission's trace, when tracing is on


class Inbox(SQLModel, table=True):
    """A message already processed: a redelivery finds its id here and is acknowledged without effect."""

    __tablename__ = "inbox"

    message_id: str = Field(primary_key=True, max_length=36)
    application_id: str = Field(max_length=36)
    processed_at: dt.datetime = timestamp(nullable=False, default=utcnow)
