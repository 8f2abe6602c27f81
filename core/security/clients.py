"""Clients and their keys: create, authenticate. Used by the CLI, the demo and the API's auth dependency."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from core.db.models import ApiKey, Client
from core.security.keys import check_supplied_key, generate_key, hash_key, key_id
from core.security.scopes import validate_scope


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    client_id: int
    name: str
    scopes: tuple[str, ...]
    purposes: tuple[str, ...]


class ClientExists(ValueError):
    """A client of that name is already registered."""


def create_client(session: Session, name: str, scopes: list[str], purposes: list[str],
                  key: str | None = None) -> tuple[Client, str]:
    """Register a client with one key; returns the client and the key (shown once, stored hashed)."""
    name = name.strip()
    if not name:
        raise ValueError("a client needs a name")
    for scope in scopes:
        validate_scope(scope)
    if session.exec(select(Client).where(Client.name == name)).first() is not None:
        raise ClientExists(f"a client named {name!r} already exists")
    if key is None:
        key = generate_key()
    else:
        check_supplied_key(key)
    client = Client(name=name, scopes=sorted(set(scopes)), purposes=sorted(set(purposes)))
    session.add(client)
    session.flush()
    assert client.id is not None
    session.add(ApiKey(client_id=client.id, key_id=key_id(key), key_hash=hash_key(key)))
    session.commit()
    return client, key


def authenticate(session: Session, key: str) -> Principal | None:
    """The principal owning `key`, or None if the key is unknown, revoked or its client disabled."""
    row = session.exec(
        select(ApiKey, Client).join(Client, Client.id == ApiKey.client_id).where(ApiKey.key_hash == hash_key(key))
    ).first()
    if row is None:
        return None
    api_key, client = row
    if api_key.revoked_at is not None or client.disabled:
        return None
    assert client.id is not None
    return Principal(client.id, client.name, tuple(client.scopes), tuple(client.purposes))
