"""Tables of the callbacks: subscriptions, the event outbox, per-subscription items, batches and attempts.

Why this shape: an `event` row is written in the transaction of the status change that causes it (the outbox
idea), so an event exists if and only if the change committed. The deliverer then *fans out* each event once to
the matching subscriptions (`callback_item`), and cuts a subscription's unassigned items into batches while it
holds that subscription's lease — an item gets its `batch_id` once, so no event is ever in two batches, and a
retried batch is the same row with the same id.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from core.db.models import BigId, timestamp, unsent_index
from identity.clock import utcnow

EVENT_TYPES = (
    "application.accepted",
    "application.submitted",
    "application.rejected",
    "application.failed",
    "application.status_changed",
)


class Subscription(SQLModel, table=True):
    """An agency's webhook: which events, where, how they are batched. `status`: active, disabled (410 Gone or an
    operator), deleted. `lease_until`: the deliverer holding it (one sender per subscription keeps the order)."""

    __tablename__ = "callback_subscription"

    id: str = Field(primary_key=True, max_length=36)
    agency: str = Field(max_length=64, index=True)
    url: str = Field(max_length=2000)
    events: str = Field(max_length=1000)  # comma-separated event types
    batch_max: int = Field(default=100)
    batch_window_s: float = Field(default=5.0)
    secret: str = Field(max_length=128)
    status: str = Field(default="active", max_length=16)
    status_reason: str | None = Field(default=None, max_length=500)
    next_seq: int = Field(default=1)
    lease_until: dt.datetime | None = timestamp(nullable=True)
    created_by: str | None = Field(default=None, max_length=100)
    created_at: dt.datetime = timestamp(nullable=False, default=utcnow)


class Event(SQLModel, table=True):
    """One application event, written with the change that caused it; `fanned_at` once handed on: fanned out to
    the subscriptions (embedded), or confirmed by the events exchange, from which the workers fan it out
    (distributed, core/callbacks/exchange.py)."""

    __tablename__ = "callback_event"
    __table_args__ = (unsent_index("ix_callback_event_unfanned", "fanned_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    event_id: str = Field(max_length=36, unique=True)
    type: str = Field(max_length=64)
    agency: str = Field(max_length=64)
    application_id: str = Field(max_length=36, index=True)
    occurred_at: dt.datetime = timestamp(nullable=False)
    data: str = Field(sa_column=Column(Text, nullable=False))
    fanned_at: dt.datetime | None = timestamp(nullable=True)
    traceparent: str | None = Field(default=None, max_length=55)  # the span it was written in, when tracing is on


class Item(SQLModel, table=True):
    """One event for one subscription; `batch_id` is set once, when the event is cut into a batch."""

    __tablename__ = "callback_item"
    __table_args__ = (Index("ix_callback_item_open", "subscription_id", "batch_id", "event_id"),)

    subscription_id: str = Field(primary_key=True, max_length=36)
    event_id: int = Field(sa_column=Column(BigId, primary_key=True))
    batch_id: str | None = Field(default=None, max_length=36)
    created_at: dt.datetime = timestamp(nullable=False, default=utcnow)


class Batch(SQLModel, table=True):
    """A batch: `pending` until a 2xx (`delivered`) or until it is older than the maximum age (`dead`)."""

    __tablename__ = "callback_batch"
    __table_args__ = (Index("ix_callback_batch_sub_status", "subscription_id", "status", "seq"),)

    id: str = Field(primary_key=True, max_length=36)
    subscription_id: str = Field(max_length=36)
    seq: int
    status: str = Field(default="pending", max_length=16)
    event_count: int
    first_event: int = Field(sa_column=Column(BigId, nullable=False))
    last_event: int = Field(sa_column=Column(BigId, nullable=False))
    attempts: int = Field(default=0)
    next_attempt_at: dt.datetime | None = timestamp(nullable=True)
    created_at: dt.datetime = timestamp(nullable=False, default=utcnow)
    delivered_at: dt.datetime | None = timestamp(nullable=True)


class Attempt(SQLModel, table=True):
    """One POST of a batch and what came of it."""

    __tablename__ = "callback_attempt"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    batch_id: str = Field(max_length=36, index=True)
    attempt: int
    at: dt.datetime = timestamp(nullable=False)
    status_code: int | None = Field(default=None)
    outcome: str = Field(max_length=16)  # delivered, retry, dead, gone, refused
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int = Field(default=0)
