"""Agency pushes: OSS's `receiveLicenseStatus`, checked with OSS's token and applied to the application.

A push is one transaction: the application's history step, its audit entry and the `application.status_changed`
event (plus the move to `rejected` for a refusal) commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from connectors.base import utcnow
from connectors.oss.push import check_push_token
from core.bus.models import Application, Status, Transition
from core.bus.states import audit_step, move
from core.callbacks.events import emit

WIB = dt.timezone(dt.timedelta(hours=7))
REFUSED = {"90"}  # OSS: ditolak (refused) — the application ends rejected
TEXT_MAX = 200


@dataclass(frozen=True)
class LicenceStatus:
    nib: str
    id_izin: str
    kd_status: str
    keterangan: str


def parse(body: Any) -> LicenceStatus | None:
    """The push's fields from `{"RECEIVELICENSESTATUS": {...}}` (wrapper name in any case), or None."""
    if not isinstance(body, dict):
        return None
    params = next((v for k, v in body.items() if isinstance(k, str) and k.upper() == "RECEIVELICENSESTATUS"), None)
    if not isinstance(params, dict):
        return None
    fields = {k: params.get(k) for k in ("nib", "id_izin", "kd_status")}
    if not all(isinstance(v, str) and 0 < len(v) <= 64 for v in fields.values()):
        return None
    text = params.get("keterangan")
    return LicenceStatus(fields["nib"], fields["id_izin"], fields["kd_status"],  # type: ignore[arg-type]
                         (text if isinstance(text, str) else "")[:TEXT_MAX])


def token_ok(token: str, push: LicenceStatus, config: Mapping[str, str], now: dt.datetime | None = None) -> bool:
    """OSS's token for this NIB today (WIB), or yesterday near midnight; False if pushes are not configured."""
    user, password = config.get("push_user"), config.get("push_password")
    if not user or not password or not token:
        return False
    today = (now or utcnow()).astimezone(WIB).date()
    return any(check_push_token(token, user, password, push.nib, day)
               for day in (today, today - dt.timedelta(days=1)))


def apply(session: Session, push: LicenceStatus) -> str:
    """Record the licence status; returns "applied", "duplicate" or "unknown" (no such OSS application)."""
    app = session.exec(select(Application).where(Application.agency == "oss",
                                                 Application.agency_reference == push.id_izin)
                       .with_for_update()).first()
    if app is None:
        session.rollback()
        return "unknown"
    detail = f"OSS licence status {push.kd_status}: {push.keterangan}".strip()[:1000]
    last = session.exec(select(Transition).where(Transition.application_id == app.id)
                        .order_by(Transition.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    if last is not None and last.detail == detail:
        session.rollback()
        return "duplicate"
    now = utcnow()
    extra = {"agency_status": push.kd_status}
    if push.kd_status in REFUSED and app.status == Status.submitted.value:
        app.reason, app.reason_code = push.keterangan or "refused by OSS", "licence_refused"
        move(session, app, Status.rejected, now, detail=detail, audit=extra)
    else:
        app.updated_at = now
        session.add(Transition(application_id=app.id, status=app.status, at=now, attempt=None, detail=detail))
        audit_step(session, "application.status_changed", app, extra)
    session.add(app)
    emit(session, "application.status_changed", agency=app.agency, application_id=app.id, at=now,
         data={"application_id": app.id, "agency": app.agency, "service": app.service, "status": app.status,
               "agency_status": push.kd_status, "agency_status_text": push.keterangan})
    session.commit()
    return "applied"
