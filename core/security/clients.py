"""Clients, their keys and the agreements they act under. Used by the CLI, the admin API, the demo and auth.

A client — a counter application, an auditor, an agency or an operator — holds scopes, allowed purposes and any
number of API keys (stored hashed; several at once so a key can be rotated without downtime). Under UU 27/2022 and
the civil registry's cooperation agreements (PKS) every access is made under an agreement: its reference and validity
dates are part of the client, and outside them the client is refused (`agreement_state`). Every change is an
audit entry (`admin.client_*`) naming the client concerned and, through the API, the operator who made it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from core.audit.log import record
from core.db.models import ApiKey, Client
from core.security.keys import check_supplied_key, generate_key, hash_key, key_id
from core.security.ratelimit import Limit
from core.security.scopes import validate_scope
from identity.clock import as_utc, iso, today_wib, utcnow

KINDS = ("counter", "auditor", "agency", "operator")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    client_id: int
    name: str
    scopes: tuple[str, ...]
    purposes: tuple[str, ...]
    kind: str = "counter"
    agreement: str | None = None
    agreement_from: dt.date | None = None
    agreement_to: dt.date | None = None
    rate_per_s: float | None = None  # the client's own rate limit; None: the settings'
    rate_burst: int | None = None

    def limit(self, default: Limit) -> Limit:
        """The client's rate limit: its own where set, the settings' otherwise."""
        if self.rate_per_s is None and self.rate_burst is None:
            return default
        return Limit(
            default.rate if self.rate_per_s is None else self.rate_per_s,
            default.burst if self.rate_burst is None else self.rate_burst,
        )

    def agreement_state(self, today: dt.date) -> str | None:
        """None while the agreement is in force; else `agreement_expired` or `agreement_not_started`."""
        if self.agreement_to is not None and today > self.agreement_to:
            return "agreement_expired"
        if self.agreement_from is not None and today < self.agreement_from:
            return "agreement_not_started"
        return None


class ClientExists(ValueError):
    """A client of that name is already registered."""


class ClientNotFound(LookupError):
    """No client of that name."""


def check_agreement(reference: str | None, valid_from: dt.date | None, valid_to: dt.date | None) -> None:
    """An agreement has a reference when it has dates, and does not end before it starts."""
    if reference is not None and not reference.strip():
        raise ValueError("an agreement reference cannot be blank")
    if (valid_from or valid_to) and not reference:
        raise ValueError("agreement dates need the agreement's reference (e.g. the PKS number)")
    if valid_from and valid_to and valid_to < valid_from:
        raise ValueError("the agreement ends before it starts")


MIN_RATE_PER_S = 0.001  # one request in about 17 minutes; slower is no service (and 1/5e-324 is infinite)


MAX_RATE_PER_S = 1_000_000.0
MAX_BURST = 1_000_000


def check_limit(rate_per_s: float | None, burst: int | None) -> None:
    if rate_per_s is not None and not (math.isfinite(rate_per_s) and rate_per_s <= MAX_RATE_PER_S):
        raise ValueError(f"a rate limit is a number of requests per second up to {MAX_RATE_PER_S:,.0f}")
    if burst is not None and burst > MAX_BURST:
        raise ValueError(f"a burst is at most {MAX_BURST:,}")
    if rate_per_s is not None and rate_per_s < 0:
        raise ValueError("a rate limit cannot be negative (0 means unlimited)")
    if rate_per_s is not None and 0 < rate_per_s < MIN_RATE_PER_S:
        raise ValueError(f"a rate limit is 0 (unlimited) or at least {MIN_RATE_PER_S} requests per second")
    if burst is not None and burst < 1:
        raise ValueError("a burst is at least 1")


def create_client(
    session: Session,
    name: str,
    scopes: list[str],
    purposes: list[str],
    key: str | None = None,
    *,
    kind: str = "counter",
    agreement: str | None = None,
    agreement_from: dt.date | None = None,
    agreement_to: dt.date | None = None,
    rate_per_s: float | None = None,
    rate_burst: int | None = None,
    actor: str | None = None,
) -> tuple[Client, str]:
    """Register a client with one key; returns the client and the key (shown once, stored hashed)."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise ValueError("a client needs a printable name of at most 100 characters")
    if "/" in name:
        raise ValueError("a client name cannot hold '/': it is addressed as /v1/admin/clients/<name>")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    for scope in scopes:
        validate_scope(scope)
    check_agreement(agreement, agreement_from, agreement_to)
    check_limit(rate_per_s, rate_burst)
    if session.exec(select(Client).where(col(Client.name) == name)).first() is not None:
        raise ClientExists(f"a client named {name!r} already exists")
    if key is None:
        key = generate_key()
    else:
        check_supplied_key(key)
    client = Client(
        name=name,
        scopes=sorted(set(scopes)),
        purposes=sorted(set(purposes)),
        kind=kind,
        agreement=agreement.strip() if agreement else None,
        agreement_from=agreement_from,
        agreement_to=agreement_to,
        rate_per_s=rate_per_s,
        rate_burst=rate_burst,
    )
    session.add(client)
    session.flush()
    assert client.id is not None
    session.add(ApiKey(client_id=client.id, key_id=key_id(key), key_hash=hash_key(key)))
    detail: dict[str, Any] = {"scopes": client.scopes, "purposes": client.purposes, "key_id": key_id(key), "kind": kind}
    if agreement:
        detail["agreement"] = _agreement_detail(client)
    record(session, "admin.client_created", client=name, detail=_by(detail, actor))
    session.commit()
    return client, key


def all_clients(session: Session) -> list[Client]:
    """Every client, by name."""
    return list(session.exec(select(Client).order_by(col(Client.name))))


def get_client(session: Session, name: str) -> Client:
    client = session.exec(select(Client).where(col(Client.name) == name)).first()
    if client is None:
        raise ClientNotFound(f"no client named {name!r}")
    return client


def keys_of(session: Session, client: Client) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(col(ApiKey.client_id) == client.id).order_by(col(ApiKey.id))))


def key_live(api_key: ApiKey, now: dt.datetime) -> bool:
    """A key works until its `revoked_at` (a rotated key keeps working through its grace period)."""
    revoked = as_utc(api_key.revoked_at)
    return revoked is None or revoked > now


def describe(session: Session, client: Client, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything an operator may see of a client — never a key or its hash."""
    now = now or utcnow()
    principal = principal_of(client)
    return {
        "name": client.name,
        "kind": client.kind,
        "scopes": list(client.scopes),
        "purposes": list(client.purposes),
        "disabled": client.disabled,
        "agreement": {
            "reference": client.agreement,
            "valid_from": client.agreement_from.isoformat() if client.agreement_from else None,
            "valid_to": client.agreement_to.isoformat() if client.agreement_to else None,
            "state": principal.agreement_state(today_wib(now)) or "in_force",
        },
        "rate_limit": {"per_s": client.rate_per_s, "burst": client.rate_burst},
        "keys": [
            {
                "key_id": k.key_id,
                "created_at": iso(k.created_at),
                "revoked_at": iso(k.revoked_at),
                "live": key_live(k, now),
            }
            for k in keys_of(session, client)
        ],
        "created_at": iso(client.created_at),
    }


def update_client(session: Session, name: str, *, actor: str | None = None, **changes: Any) -> Client:
    """Change scopes, purposes, kind, agreement or rate limit (only the given fields; None leaves one as is,
    except `clear` listing fields to empty: e.g. clear=["rate_per_s"])."""
    client = get_client(session, name)
    clear = set(changes.pop("clear", None) or ())
    allowed = {"scopes", "purposes", "kind", "agreement", "agreement_from", "agreement_to", "rate_per_s", "rate_burst"}
    unknown = (set(changes) | clear) - allowed
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    if changes.get("scopes") is not None:
        for scope in changes["scopes"]:
            validate_scope(scope)
        changes["scopes"] = sorted(set(changes["scopes"]))
    if changes.get("purposes") is not None:
        changes["purposes"] = sorted(set(changes["purposes"]))
    if changes.get("kind") is not None and changes["kind"] not in KINDS:
        raise ValueError(f"unknown kind {changes['kind']!r}; one of {', '.join(KINDS)}")
    applied = {k: v for k, v in changes.items() if v is not None}
    for field in clear:
        applied[field] = None
    merged = {f: applied.get(f, getattr(client, f)) for f in ("agreement", "agreement_from", "agreement_to")}
    check_agreement(merged["agreement"], merged["agreement_from"], merged["agreement_to"])
    check_limit(applied.get("rate_per_s", client.rate_per_s), applied.get("rate_burst", client.rate_burst))
    for field, value in applied.items():
        setattr(client, field, value)
    session.add(client)
    record(
        session,
        "admin.client_updated",
        client=name,
        detail=_by(
            {"changed": sorted(applied), **({"agreement": _agreement_detail(client)} if client.agreement else {})},
            actor,
        ),
    )
    session.commit()
    return client


def rotate_key(
    session: Session,
    name: str,
    *,
    grace: dt.timedelta = dt.timedelta(hours=24),
    key: str | None = None,
    actor: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[ApiKey, str]:
    """Add a new key; the client's other live keys stop working after `grace` (zero: at once)."""
    client = get_client(session, name)
    now = now or utcnow()
    if grace < dt.timedelta(0):
        raise ValueError("the grace period cannot be negative")
    if key is None:
        key = generate_key()
    else:
        check_supplied_key(key)
    ends = now + grace
    retiring = [k for k in keys_of(session, client) if key_live(k, now)]
    for old in retiring:
        if old.revoked_at is None or as_utc(old.revoked_at) > ends:
            old.revoked_at = ends
            session.add(old)
    assert client.id is not None  # a stored client
    new = ApiKey(client_id=client.id, key_id=key_id(key), key_hash=hash_key(key))
    session.add(new)
    record(
        session,
        "admin.client_key_rotated",
        client=name,
        detail=_by(
            {"key_id": key_id(key), "retiring": [k.key_id for k in retiring], "grace_s": int(grace.total_seconds())},
            actor,
        ),
    )
    session.commit()
    return new, key


def revoke_keys(
    session: Session,
    name: str,
    key_ids: Iterable[str] = (),
    *,
    actor: str | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Revoke the named keys (by key id) of a client at once, or all of its live keys when none are named."""
    client = get_client(session, name)
    now = now or utcnow()
    wanted = set(key_ids)
    keys = keys_of(session, client)
    unknown = wanted - {k.key_id for k in keys}
    if unknown:
        raise ValueError(f"{name} has no key {', '.join(sorted(unknown))}")
    revoked = []
    for api_key in keys:
        if (not wanted or api_key.key_id in wanted) and key_live(api_key, now):
            api_key.revoked_at = now
            session.add(api_key)
            revoked.append(api_key.key_id)
    record(session, "admin.client_key_revoked", client=name, detail=_by({"key_ids": revoked}, actor))
    session.commit()
    return revoked


def set_disabled(session: Session, name: str, disabled: bool = True, *, actor: str | None = None) -> Client:
    """Disable (every key refused) or enable a client again."""
    client = get_client(session, name)
    client.disabled = disabled
    session.add(client)
    record(
        session,
        "admin.client_disabled" if disabled else "admin.client_enabled",
        client=name,
        detail=_by({}, actor) or None,
    )
    session.commit()
    return client


def principal_of(client: Client) -> Principal:
    assert client.id is not None
    return Principal(
        client.id,
        client.name,
        tuple(client.scopes),
        tuple(client.purposes),
        kind=client.kind,
        agreement=client.agreement,
        agreement_from=client.agreement_from,
        agreement_to=client.agreement_to,
        rate_per_s=client.rate_per_s,
        rate_burst=client.rate_burst,
    )


def authenticate(session: Session, key: str, now: dt.datetime | None = None) -> Principal | None:
    """The principal owning `key`, or None if the key is unknown, revoked (or past its grace period) or its client
    disabled. Agreement dates are checked by the caller, per request (`Principal.agreement_state`)."""
    return authenticate_digest(session, hash_key(key), now)


def authenticate_digest(session: Session, digest: str, now: dt.datetime | None = None) -> Principal | None:
    """`authenticate` from the key's hash (what a console session keeps instead of the key)."""
    row = session.exec(
        select(ApiKey, Client)
        .join(Client, col(Client.id) == col(ApiKey.client_id))
        .where(col(ApiKey.key_hash) == digest)
    ).first()
    if row is None:
        return None
    api_key, client = row
    if not key_live(api_key, now or utcnow()) or client.disabled:
        return None
    return principal_of(client)


def _agreement_detail(client: Client) -> dict[str, Any]:
    return {
        "reference": client.agreement,
        "valid_from": client.agreement_from.isoformat() if client.agreement_from else None,
        "valid_to": client.agreement_to.isoformat() if client.agreement_to else None,
    }


def _by(detail: dict[str, Any], actor: str | None) -> dict[str, Any]:
    return {**detail, "by": actor} if actor else detail
