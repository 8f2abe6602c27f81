"""API keys, scopes and clients: hashing, scope matching, authentication, revocation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from core.db.models import ApiKey, Client
from core.security.clients import ClientExists, authenticate, create_client
from core.security.keys import generate_key, hash_key
from core.security.scopes import allowed, covers, validate_scope


def test_keys_are_random_and_hashed() -> None:
    a, b = generate_key(), generate_key()
    assert a != b and a.startswith("gbk_") and len(a) > 40
    assert hash_key(a) != a and len(hash_key(a)) == 64


@pytest.mark.parametrize(("granted", "required", "ok"), [
    ("citizen:read:identity", "citizen:read:identity", True),
    ("citizen:read:*", "citizen:read:passports", True),
    ("citizen:read:identity", "citizen:read:passports", False),
    ("citizen:*", "citizen:verify", True),
    ("admin", "audit:read", False),
    ("citizen:read", "citizen:read:identity", False),
])
def test_scope_coverage(granted: str, required: str, ok: bool) -> None:
    assert covers(granted, required) is ok


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        validate_scope("citizen:raed:identity")
    with pytest.raises(ValueError):
        validate_scope("*")
    assert validate_scope("application:submit:imigrasi")


def test_client_authenticates_only_with_its_live_key(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        client, key = create_client(session, "counter", ["citizen:read:*"], ["identity_check"])
        principal = authenticate(session, key)
        assert principal is not None and principal.name == "counter"
        assert allowed(principal.scopes, "citizen:read:identity")
        assert authenticate(session, key + "x") is None
        stored = session.exec(select(ApiKey)).one()
        assert key not in stored.key_hash and stored.key_hash == hash_key(key)
        stored.revoked_at = dt.datetime.now(dt.timezone.utc)
        session.add(stored)
        session.commit()
        assert authenticate(session, key) is None


def test_disabled_client_is_refused(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        client, key = create_client(session, "counter", ["citizen:read:*"], [])
        client.disabled = True
        session.add(client)
        session.commit()
        assert authenticate(session, key) is None


def test_duplicate_client_name_is_refused(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        create_client(session, "counter", [], [])
        with pytest.raises(ClientExists):
            create_client(session, "counter", [], [])
        assert len(session.exec(select(Client)).all()) == 1


def test_weak_supplied_key_is_refused(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, pytest.raises(ValueError, match="at least"):
        create_client(session, "demo", [], [], key="short")
