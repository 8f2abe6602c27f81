"""What the console shows, gathered from the same functions the admin API and /metrics use.

Each part is gathered on its own and a failing part is shown as unavailable instead of failing the page: an
operator opens the console precisely when something is wrong.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from typing import Any

from fastapi import Request

from core.api.agencies import admin_views
from core.api.application_views import ApplicationSummary, summaries
from core.api.state import AppState, app_state
from core.audit import store
from core.bus import queries
from core.callbacks import service as callbacks

log = logging.getLogger(__name__)
DEAD_LIMIT = 50
RECENT_LIMIT = 20
SUBSCRIPTION_LIMIT = 20
BATCHES_PER_SUBSCRIPTION = 5
QUEUE_METRICS = (
    "gerbang_outbox_unsent",
    "gerbang_outbox_lag_seconds",
    "gerbang_applications",
    "gerbang_applications_retrying",
    "gerbang_applications_dead_lettered",
    "gerbang_broker_up",
    "gerbang_queue_messages",
    "gerbang_database_up",
    "gerbang_audit_log_entries",
)


async def agencies(request: Request) -> list[dict[str, Any]]:
    """Every active agency as GET /v1/agencies shows it to an admin: health (probed now, bounded in time) and
    breaker state."""
    registry = app_state(request.app).agencies
    return [
        {
            "name": view.name,
            "title": view.title,
            "protocol": view.protocol,
            **view.health.model_dump(),
            "breaker": view.breaker,
        }
        for view in await admin_views(registry, sorted(registry.active))
    ]


def queues(state: AppState) -> dict[str, Any]:
    """The queue figures of /metrics (outbox, applications by status, broker queue depths), read the same way."""
    figures: dict[str, Any] = {"statuses": {}, "depths": {}}
    for family in state.metrics_registry.collect():
        if family.name not in QUEUE_METRICS:
            continue
        for sample in family.samples:
            if family.name == "gerbang_applications":
                figures["statuses"][sample.labels["status"]] = int(sample.value)
            elif family.name == "gerbang_queue_messages":
                figures["depths"][sample.labels["queue"]] = int(sample.value)
            else:
                figures[family.name.removeprefix("gerbang_")] = sample.value
    return figures


def dead(state: AppState) -> list[ApplicationSummary]:
    """Failed applications, newest first, as GET /v1/admin/applications/dead shows them."""
    with state.sessions() as session:
        return summaries(queries.failed_applications(session, limit=DEAD_LIMIT))


def recent(state: AppState) -> list[ApplicationSummary]:
    """The newest applications of every client, as GET /v1/applications shows them to an admin."""
    with state.sessions() as session:
        return summaries(queries.application_page(session, limit=RECENT_LIMIT)[0])


def deliveries(state: AppState) -> list[dict[str, Any]]:
    """Callback subscriptions (not deleted) with their newest batches and attempts."""
    out = []
    with state.sessions() as session:
        for sub in callbacks.newest(session, SUBSCRIPTION_LIMIT):
            try:
                batches = callbacks.deliveries(session, sub.id, BATCHES_PER_SUBSCRIPTION)
            except callbacks.NotFound:  # deleted between the two queries
                continue
            out.append(
                {
                    "id": sub.id,
                    "agency": sub.agency,
                    "url": sub.url,
                    "status": sub.status,
                    "status_reason": sub.status_reason,
                    "batches": batches,
                }
            )
    return out


def checkpoint(state: AppState) -> dict[str, Any] | None:
    """The latest signed checkpoint (as stored: no new one is signed for looking)."""
    with state.engine.connect() as conn:
        row = store.latest_checkpoint(conn)
    if row is None:
        return None
    return {
        "size": row.size,
        "root": base64.b64encode(bytes(row.root)).decode(),
        "note": row.note,
        "signed_at": dt.datetime.fromtimestamp(row.signed_us / 1e6, dt.UTC),
    }


async def gather(request: Request) -> dict[str, Any]:
    """Everything the dashboard shows; a part that cannot be read is None and listed in `unavailable`."""
    state = app_state(request.app)
    parts: dict[str, Any] = {
        "agencies": agencies(request),
        "queues": asyncio.to_thread(queues, state),
        "dead": asyncio.to_thread(dead, state),
        "recent": asyncio.to_thread(recent, state),
        "deliveries": asyncio.to_thread(deliveries, state),
        "checkpoint": asyncio.to_thread(checkpoint, state),
    }
    results = await asyncio.gather(*parts.values(), return_exceptions=True)
    view: dict[str, Any] = {"unavailable": []}
    for name, result in zip(parts, results, strict=False):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            log.warning("console: %s unavailable (%s)", name, type(result).__name__)
            view["unavailable"].append(name)
            view[name] = None
        else:
            view[name] = result
    return view
