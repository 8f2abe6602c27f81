"""Status changes of an application: the row, its history and its audit entry, always together.

Every change goes through `move()` so none can skip the history or the audit log; the caller's transaction
commits all three or none. `Policy` holds the retry rules read from settings, so the API, the embedded
dispatcher and `gerbang worker` apply the same ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from core.audit.log import record
from core.bus.models import Application, Status, Transition
from core.callbacks.events import emit_for_status
from core.settings import Settings

DETAIL_MAX = 1000


@dataclass(frozen=True)
class Policy:
    """Retry rules: quick calls within an attempt, then rescheduled attempts with growing waits, until the
    deadline; `lease_s` bounds how long an attempt may hold an application before it counts as interrupted."""

    retry_attempts: int = 3
    retry_wait_s: float = 0.5
    schedule_s: tuple[float, ...] = (30, 60, 120, 300, 600, 1800, 3600)
    deadline_s: float = 86400.0
    call_timeout_s: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(retry_attempts=settings.submit_retry_attempts, retry_wait_s=settings.submit_retry_wait_s,
                   schedule_s=tuple(settings.submit_schedule_s), deadline_s=settings.submit_deadline_s,
                   call_timeout_s=settings.agency_timeout_s)

    @property
    def call_budget_s(self) -> float:
        """Longest one call may take before it is abandoned (connectors time out at `call_timeout_s` already)."""
        return self.call_timeout_s + 2

    @property
    def lease_s(self) -> float:
        """Longest an attempt can legitimately take: every call running out its budget plus every wait, with a
        margin for the database. A lease older than this belongs to a worker that died."""
        waits = sum(min(self.retry_wait_s * 2 ** i, self.retry_wait_s * 8) for i in range(self.retry_attempts - 1))
        return self.retry_attempts * self.call_budget_s + waits + 3

    def wait_after(self, failed_attempts: int, retry_after_s: float | None = None) -> float:
        """Wait before the next attempt after `failed_attempts` (≥ 1) attempts failed transiently."""
        wait = self.schedule_s[min(max(failed_attempts, 1), len(self.schedule_s)) - 1]
        if retry_after_s and retry_after_s > wait:
            wait = min(retry_after_s, max(self.schedule_s))
        return wait


def move(session: Session, app: Application, status: Status, at: dt.datetime, *, detail: str | None = None,
         audit: Mapping[str, Any] | None = None, action: str | None = None) -> None:
    """Set `app.status`, add the transition and the audit entry (all in the caller's transaction)."""
    app.status = status.value
    app.updated_at = at
    text = detail[:DETAIL_MAX] if detail else None
    session.add(Transition(application_id=app.id, status=status.value, at=at, attempt=app.attempts or None,
                           detail=text))
    audit_step(session, action or f"application.{status.value}", app, audit)
    emit_for_status(session, app, status.value, at, audit)  # the callback event, in the same transaction


def audit_step(session: Session, action: str, app: Application, extra: Mapping[str, Any] | None = None) -> None:
    """The audit entry of one step: who submitted, whose application (keyed hash), which agency; no payload."""
    detail: dict[str, Any] = {"application": app.id, "service": app.service, "status": app.status}
    if app.attempts:
        detail["attempt"] = app.attempts
    if extra:
        detail.update({k: v for k, v in extra.items() if v is not None})
    record(session, action, client=app.client_name, subject=app.nik_hash, agency=app.agency, detail=detail)
