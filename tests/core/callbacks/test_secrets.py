"""Subscription secrets are derived, not stored: a copy of the database cannot sign as Gerbang."""

from __future__ import annotations

import os

import pytest
from sqlmodel import select

from core.callbacks import service
from core.callbacks.models import Subscription
from core.callbacks.secrets import callback_key, new_stored, reveal


def test_the_row_holds_a_salt_and_the_secret_needs_the_key(sessions) -> None:  # type: ignore[no-untyped-def]
    key = callback_key(os.urandom(32))
    with sessions() as session:
        sub, secret = service.create(session, agency="oss", url="http://127.0.0.1:9/hook",
                                     events=["application.submitted"], batch_max=10, batch_window_s=1.0,
                                     actor="test", key=key)
        sub_id = sub.id
    with sessions() as session:
        stored = session.exec(select(Subscription.secret).where(Subscription.id == sub_id)).one()
    assert secret.startswith("whsec_") and len(secret) >= 40
    assert stored.startswith("v1$") and secret not in stored and stored not in secret
    assert reveal(stored, sub_id, key) == secret  # every process with the same key derives the same secret
    assert reveal(stored, sub_id, callback_key(os.urandom(32))) != secret  # another deployment's key does not
    with pytest.raises(ValueError):
        reveal(stored, sub_id, b"")

    with sessions() as session:
        rotated = service.rotate(session, sub_id, "test", key)
    with sessions() as session:
        stored_after = session.exec(select(Subscription.secret).where(Subscription.id == sub_id)).one()
    assert rotated != secret and stored_after != stored and reveal(stored_after, sub_id, key) == rotated


def test_salts_are_fresh_and_bound_to_the_subscription() -> None:
    key = callback_key(os.urandom(32))
    salt = new_stored()
    assert salt != new_stored()
    assert reveal(salt, "sub-a", key) != reveal(salt, "sub-b", key)
    assert reveal("whsec_written-before-derivation", "sub-a", key) == "whsec_written-before-derivation"
