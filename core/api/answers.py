"""Typed answers of the routes that build their JSON by hand (audit, subscriptions, an agency's push), for the OpenAPI
document: `responses=answer(Model)` declares the model without re-validating what the route returns, so the
document types every success answer while the answers stay byte for byte what they were."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def answer(model: type[BaseModel], status: int = 200, description: str = "OK") -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model, "description": description}}


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- audit -----------------------------------------------------------------------------------------------------


class AuditEntry(Open):
    index: int = Field(description="The entry's leaf index in the log")
    data: str = Field(description="The entry's canonical JSON bytes, base64 (what the leaf hash covers)")
    entry: dict[str, Any] = Field(description="The same entry, parsed")
    proof: list[str] = Field(description="Inclusion proof against `checkpoint`: base64 hashes, leaf to root")


class AuditEntries(Open):
    checkpoint: str = Field(description="The signed checkpoint (C2SP signed note) the proofs are against")
    size: int
    entries: list[AuditEntry]
    next_cursor: str | None = None


class InclusionProof(Open):
    index: int
    size: int
    leaf_hash: str | None = None
    proof: list[str]
    checkpoint: str | None = None


class ConsistencyProof(Open):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    from_: int = Field(alias="from")
    to: int
    proof: list[str]
    checkpoint_from: str | None = None
    checkpoint_to: str | None = None


class AuditBundle(Open):
    """gerbang-audit-bundle/v1 (docs/audit-format.md): entries with the proofs to verify them offline."""


class AccessEntry(Open):
    index: int
    time: str | None = None
    action: str | None = None
    client: str | None = None
    purpose: str | None = None
    facets: list[str] | None = Field(default=None, description="The facets read (reads only)")
    agency: str | None = None


class AccessHistory(Open):
    nik: str
    checkpoint_size: int
    entries: list[AccessEntry]
    next_cursor: str | None = None


class AgencyReply(Open):
    """An agency's own reply to its push, in the format its connector's inbound hook builds."""


# --- callbacks -------------------------------------------------------------------------------------------------


class Subscription(Open):
    id: str
    agency: str
    url: str
    events: list[str]
    batch_max: int
    batch_window_s: float
    status: str
    status_reason: str | None = None
    created_at: str | None = None


class SubscriptionCreated(Subscription):
    secret: str = Field(description="Shown only here and on rotation")


class SecretRotated(Open):
    id: str
    secret: str


class ReplayQueued(Open):
    id: str
    batches: int = Field(description="Batches queued again")


class DeliveryAttempt(Open):
    attempt: int
    at: str | None = None
    status_code: int | None = None
    outcome: str | None = None
    error: str | None = None
    duration_ms: float | None = None


class Delivery(Open):
    batch_id: str
    seq: int
    status: str
    events: int
    attempts: list[DeliveryAttempt]
    created_at: str | None = None
    delivered_at: str | None = None
    next_attempt_at: str | None = None


class Deliveries(Open):
    deliveries: list[Delivery]


class CallbackEvent(Open):
    id: str
    type: str
    occurred_at: str | None = None
    data: dict[str, Any]


class EventPage(Open):
    events: list[CallbackEvent]
    next_after: str | None = Field(default=None, description="Pass back as `after` to go on")
