"""An API key's public id gives away nothing of the key, and keys made when the id was the key's first 12
characters still authenticate."""

from __future__ import annotations

from core.db.models import ApiKey
from core.security.clients import authenticate, create_client
from core.security.keys import generate_key, hash_key, key_id


def test_the_id_is_no_part_of_the_key() -> None:
    key = "gbk_" + "A" * 20  # a 24-character supplied key
    assert key_id(key) != key[:12] and key[4:8] not in key_id(key)
    assert key_id(key) == key_id(key) and key_id(key) != key_id(key + "B")
    assert len(key_id(generate_key())) <= 32  # the column's width


def test_a_key_stored_under_its_old_prefix_id_still_works(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        client, key = create_client(session, "legacy", ["application:read"], ["identity_check"])
        old = generate_key()
        session.add(ApiKey(client_id=client.id, key_id=old[:12], key_hash=hash_key(old)))
        session.commit()
        assert authenticate(session, old) is not None and authenticate(session, key) is not None
        assert authenticate(session, generate_key()) is None
