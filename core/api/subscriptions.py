"""Callback subscriptions (scope `admin`): create, read, delete, rotate, replay, deliveries, pull fallback.

The pull fallback is also open to the agency itself: a client holding `callbacks:pull:<agency>` may pull the events
of that agency's subscriptions (and of no other), so an agency that cannot receive webhooks needs no admin key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from core.api.answers import (
    Deliveries,
    EventPage,
    ReplayQueued,
    SecretRotated,
    Subscription,
    SubscriptionCreated,
    answer,
)
from core.api.auth import current_principal, require
from core.api.openapi import problems
from core.api.problems import Problem, item, scope_missing
from core.api.state import app_state
from core.callbacks import service
from core.callbacks.config import NotAllowed, check_url
from core.callbacks.models import EVENT_TYPES
from core.callbacks.secrets import callback_key
from core.security.clients import Principal
from core.security.scopes import allowed

router = APIRouter(prefix="/v1/subscriptions", tags=["callbacks"])
Admin = Annotated[Principal, Depends(require("admin"))]
Caller = Annotated[Principal, Depends(current_principal)]


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(
        min_length=1, max_length=len(EVENT_TYPES), description="Any of: " + ", ".join(EVENT_TYPES)
    )
    batch_max: int = Field(default=100, ge=1, le=1000)
    batch_window_s: float = Field(default=5.0, ge=0, le=3600)


def _key(request: Request) -> bytes:
    """The key subscription secrets are derived with (core/callbacks/secrets.py)."""
    return callback_key(app_state(request.app).secrets.nik_hash_key)


def _not_found(subscription_id: str) -> Problem:
    return Problem(404, "subscription_not_found", "Subscription not found", f"No subscription {subscription_id}")


async def _run(request: Request, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    def work() -> Any:
        with app_state(request.app).sessions() as session:
            return call(session, *args, **kwargs)

    try:
        return await run_in_threadpool(work)
    except service.NotFound as exc:
        raise _not_found(str(exc)) from None


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses={
        **problems("agency_unknown", "event_unknown", "callback_url_not_allowed", "request_invalid"),
        **answer(SubscriptionCreated, 201, "Created"),
    },
)
async def create_subscription(body: NewSubscription, request: Request, principal: Admin) -> dict[str, Any]:
    """Returns the subscription with its `secret` (shown only here and on rotation)."""
    settings = app_state(request.app).settings
    registry = app_state(request.app).agencies
    if body.agency not in registry.plugins:
        raise Problem(
            422,
            "agency_unknown",
            "No such agency on this bus",
            f"{body.agency!r} is not installed.",
            agencies=sorted(registry.plugins),
            errors=[item(f"{body.agency!r} is not installed.", "agency_unknown", pointer="#/agency")],
        )
    unknown = [(i, e) for i, e in enumerate(body.events) if e not in EVENT_TYPES]
    if unknown:
        raise Problem(
            422,
            "event_unknown",
            "No such event type",
            "Known: " + ", ".join(EVENT_TYPES),
            errors=[item(f"{e!r} is not an event type.", "event_unknown", pointer=f"#/events/{i}") for i, e in unknown],
        )
    try:
        check_url(body.url, settings.callback_allowed_hosts)
    except NotAllowed as exc:
        raise Problem(400, "callback_url_not_allowed", "Callback URL not allowed", str(exc)) from None
    try:
        sub, secret = await _run(
            request,
            service.create,
            agency=body.agency,
            url=body.url,
            events=body.events,
            batch_max=body.batch_max,
            batch_window_s=body.batch_window_s,
            actor=principal.name,
            key=_key(request),
        )
    except ValueError as exc:  # the service's own checks, after the ones above
        raise Problem(422, "request_invalid", "Invalid subscription", str(exc)) from None
    return {**service.describe(sub), "secret": secret}


@router.get(
    "/{subscription_id}", response_model=None, responses={**problems("subscription_not_found"), **answer(Subscription)}
)
async def get_subscription(subscription_id: str, request: Request, _: Admin) -> dict[str, Any]:
    return service.describe(await _run(request, service.get, subscription_id))


@router.delete("/{subscription_id}", status_code=204, responses=problems("subscription_not_found"))
async def delete_subscription(subscription_id: str, request: Request, principal: Admin) -> None:
    await _run(request, service.delete, subscription_id, principal.name)


@router.post(
    "/{subscription_id}/rotate-secret",
    response_model=None,
    responses={**problems("subscription_not_found"), **answer(SecretRotated)},
)
async def rotate_secret(
    subscription_id: str,
    request: Request,
    principal: Admin,
    keep_previous_s: Annotated[
        int,
        Query(
            ge=0,
            le=7 * 86400,
            description=(
                "How long the old secret keeps signing beside the new one (a second `v1` signature); "
                "0 stops it at once (e.g. after a leak)"
            ),
        ),
    ] = 86400,
) -> dict[str, str]:
    """A new secret signs from the next attempt on; the old one too, for `keep_previous_s` (Standard Webhooks
    rotation without downtime)."""
    return {
        "id": subscription_id,
        "secret": await _run(request, service.rotate, subscription_id, principal.name, _key(request), keep_previous_s),
    }


@router.post(
    "/{subscription_id}/replay",
    status_code=202,
    response_model=None,
    responses={**problems("subscription_not_found", "event_not_found"), **answer(ReplayQueued, 202, "Queued again")},
)
async def replay(
    subscription_id: str,
    request: Request,
    principal: Admin,
    from_event: Annotated[str, Query(min_length=1, max_length=36)],
) -> dict[str, Any]:
    """Queue again every batch holding `from_event` or later (same batch ids); re-enables the subscription."""
    try:
        count = await _run(request, service.replay, subscription_id, from_event, principal.name)
    except LookupError as exc:
        if isinstance(exc, service.NotFound):
            raise
        raise Problem(404, "event_not_found", "Event not found", f"No event {from_event}") from None
    deliverer = app_state(request.app).callbacks
    if deliverer is not None:
        deliverer.wake()
    return {"id": subscription_id, "batches": count}


@router.get(
    "/{subscription_id}/deliveries",
    response_model=None,
    responses={**problems("subscription_not_found"), **answer(Deliveries)},
)
async def deliveries(
    subscription_id: str, request: Request, _: Admin, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    return {"deliveries": await _run(request, service.deliveries, subscription_id, limit)}


@router.get(
    "/{subscription_id}/events",
    response_model=None,
    responses={**problems("subscription_not_found", "event_not_found", "scope_missing"), **answer(EventPage)},
)
async def pull_events(
    subscription_id: str,
    request: Request,
    principal: Caller,
    after: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Pull fallback: events after the event id `after`, oldest first; pass `next_after` back to go on.

    Scope `admin`, or `callbacks:pull:<agency>` for the subscription's own agency."""
    if not allowed(principal.scopes, "admin"):
        sub = await _run(request, service.get, subscription_id)
        required = f"callbacks:pull:{sub.agency}"
        if not allowed(principal.scopes, required):
            raise scope_missing(required)
    try:
        return await _run(request, service.pull, subscription_id, after, limit)
    except LookupError as exc:
        if isinstance(exc, service.NotFound):
            raise
        raise Problem(404, "event_not_found", "Event not found", f"No event {after}") from None
