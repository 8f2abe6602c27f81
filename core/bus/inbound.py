"""Agency pushes, stored: each record a push carries opens an application (status `received`) or updates it.

Why applications: a pushed licence is work the region must do, and counters and auditors already know how to find
and follow an application (GET /v1/applications/{id}, its history, its audit entries, its callback events). The
row belongs to the agency's inbox client (setting `inbox_client`, else a client named `<agency>-inbound`, made on
first use), so the counters that act under that client see it. The record's NIK travels sealed like every
payload; the owner the push's credential covered (e.g. a business number) is sealed with it.

Binding: a push may change only records of the owner its credential covers. A record that already belongs to
another owner refuses the whole push (nothing is stored) and the refusal is an audit entry.
One push is one transaction: every record, history step, audit entry and event, or none.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from connectors.base import InboundItem, InboundPush
from core.audit.log import record
from core.bus.models import Application, Status, Transition
from core.bus.service import request_hash
from core.bus.states import audit_step, move
from core.callbacks.events import emit
from core.db.models import Client
from core.security.secrets import BusSecrets
from identity.secrecy import seal, subject_hash, unseal

EVENT = "application.status_changed"
KEEP_FOR = dt.timedelta(days=365)  # deadline_at of a received record: it is never dispatched, the column is required


class OwnerMismatch(Exception):
    """A record named by the push belongs to another owner than the one the push's credential covers."""

    def __init__(self, reference: str, application_id: str):
        super().__init__(reference)
        self.reference, self.application_id = reference, application_id


@dataclass
class Stored:
    """What a push did: the ids of the records it opened, updated, or found unchanged."""

    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def inbox_client(session: Session, agency: str, config: Mapping[str, str]) -> Client:
    """The client that owns the agency's pushed records: `inbox_client` if set (it must exist), else
    `<agency>-inbound` (kind agency, no scopes, no key), created on first use."""
    name = (config.get("inbox_client") or "").strip() or f"{agency}-inbound"
    client = session.exec(select(Client).where(col(Client.name) == name)).first()
    if client is None:
        if config.get("inbox_client"):
            raise LookupError(f"inbox client {name!r} is not registered")
        client = Client(name=name, scopes=[], purposes=[], kind="agency")
        session.add(client)
        session.flush()
    return client


def store(
    session: Session, secrets: BusSecrets, agency: str, push: InboundPush, config: Mapping[str, str], now: dt.datetime
) -> Stored:
    """Open or update every record of `push` and commit; raises OwnerMismatch (after rolling back) when a record
    belongs to another owner. A concurrent push of the same new record loses the unique key and is retried once."""
    for attempt in (1, 2):
        try:
            stored = _store(session, secrets, agency, push, config, now)
            session.commit()
            return stored
        except OwnerMismatch:
            session.rollback()
            raise
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store(
    session: Session, secrets: BusSecrets, agency: str, push: InboundPush, config: Mapping[str, str], now: dt.datetime
) -> Stored:
    client = inbox_client(session, agency, config)
    stored = Stored()
    for item in push.items:
        app = session.exec(
            select(Application)
            .where(
                col(Application.agency) == agency,
                col(Application.agency_reference) == item.reference,
                col(Application.service) == item.service,
            )  # not its decision
            .with_for_update()
        ).first()
        if app is None:
            stored.opened.append(_open(session, secrets, agency, push.method, client, item, now))
            continue
        sealed = unseal(secrets.data_keys, app.id, "request", app.key_id, app.payload)
        if sealed.get("owner") != item.owner:
            raise OwnerMismatch(item.reference, app.id)
        digest = request_hash(secrets.nik_hash_key, item.subject, agency, item.service, item.payload)
        if digest == app.request_hash:
            stored.unchanged.append(app.id)
            continue
        _update(session, secrets, push.method, app, item, digest, now)
        stored.updated.append(app.id)
    return stored


def _sealed(secrets: BusSecrets, app_id: str, item: InboundItem) -> tuple[str, bytes]:
    return seal(
        secrets.data_keys, app_id, "request", {"nik": item.subject, "payload": dict(item.payload), "owner": item.owner}
    )


def _open(
    session: Session, secrets: BusSecrets, agency: str, method: str, client: Client, item: InboundItem, now: dt.datetime
) -> str:
    assert client.id is not None, "the pushing client is a stored row"
    app_id = str(uuid.uuid4())
    key_id, blob = _sealed(secrets, app_id, item)
    app = Application(
        id=app_id,
        client_id=client.id,
        client_name=client.name,
        idempotency_key=f"inbound:{method}:{item.reference}"[:200],
        request_hash=request_hash(secrets.nik_hash_key, item.subject, agency, item.service, item.payload),
        nik_hash=subject_hash(secrets.nik_hash_key, item.subject),
        agency=agency,
        service=item.service,
        status=Status.received.value,
        key_id=key_id,
        payload=blob,
        agency_reference=item.reference,
        deadline_at=now + KEEP_FOR,
        created_at=now,
        updated_at=now,
    )
    session.add(app)
    session.flush()
    move(
        session,
        app,
        Status.received,
        now,
        detail=f"{method}: pushed by {agency}",
        audit={"reference": item.reference, "method": method},
    )
    _event(session, app, method, now)
    return app_id


def _update(
    session: Session,
    secrets: BusSecrets,
    method: str,
    app: Application,
    item: InboundItem,
    digest: str,
    now: dt.datetime,
) -> None:
    app.key_id, app.payload = _sealed(secrets, app.id, item)
    app.request_hash, app.updated_at = digest, now
    session.add(app)
    session.add(
        Transition(
            application_id=app.id, status=app.status, at=now, attempt=None, detail=f"{method}: updated by {app.agency}"
        )
    )
    audit_step(session, "application.updated", app, {"reference": item.reference, "method": method})
    _event(session, app, method, now)


def _event(session: Session, app: Application, method: str, now: dt.datetime) -> None:
    emit(
        session,
        EVENT,
        agency=app.agency,
        application_id=app.id,
        at=now,
        data={
            "application_id": app.id,
            "agency": app.agency,
            "service": app.service,
            "status": app.status,
            "reference": app.agency_reference,
            "method": method,
        },
    )


def join_decision(
    session: Session,
    secrets: BusSecrets,
    agency: str,
    owner: str,
    reference: str,
    decision: Application,
    now: dt.datetime,
) -> str | None:
    """A decision accepted for a pushed record (same agency, reference and owner, still `received`) becomes a step
    of that record: history `decided: application <id> (<service>)`, an `application.decided` audit entry and an
    event; committed. Returns the record's id, or None when there is no such record (nothing is written)."""
    app = session.exec(
        select(Application)
        .where(
            col(Application.agency) == agency,
            col(Application.agency_reference) == reference,
            col(Application.status) == Status.received.value,
        )
        .with_for_update()
    ).first()
    if app is None or unseal(secrets.data_keys, app.id, "request", app.key_id, app.payload).get("owner") != owner:
        session.rollback()
        return None
    app.updated_at = now
    session.add(app)
    session.add(
        Transition(
            application_id=app.id,
            status=app.status,
            at=now,
            attempt=None,
            detail=f"decided: application {decision.id} ({decision.service})",
        )
    )
    audit_step(
        session,
        "application.decided",
        app,
        {"reference": reference, "decision": decision.id, "decision_service": decision.service},
    )
    _event(session, app, decision.service, now)
    session.commit()
    return app.id


def audit_refusal(
    session: Session,
    agency: str,
    method: str,
    reason: str,
    *,
    owner: str | None = None,
    reference: str | None = None,
    application_id: str | None = None,
) -> None:
    """One audit entry for a refused push (its own transaction: nothing of the push was stored)."""
    detail = {"method": method, "reason": reason, "owner": owner, "reference": reference, "application": application_id}
    record(session, "inbound.refused", agency=agency, detail={k: v for k, v in detail.items() if v is not None})
    session.commit()
