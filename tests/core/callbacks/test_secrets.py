"""Subscription secrets are derived, not stored: a copy of the database cannot sign as Gerbang."""

from __future__ import annotations

import base64
import datetime as dt
import os

import pytest
from sqlmodel import select
from standardwebhooks import Webhook

from core.callbacks import service, signing
from core.callbacks.models import Subscription
from core.callbacks.secrets import STORED_MAX, callback_key, new_stored, reveal, rotated, signing_secrets


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


def test_a_rotation_keeps_the_old_secret_signing_for_its_overlap_only() -> None:
    key = callback_key(os.urandom(32))
    first = new_stored()
    old = reveal(first, "sub-a", key)
    both = rotated(first, 3600, now=1_000_000)
    new = reveal(both, "sub-a", key)
    assert new != old and len(both) <= STORED_MAX
    assert signing_secrets(both, "sub-a", key, now=1_000_000 + 3599) == [new, old]
    assert signing_secrets(both, "sub-a", key, now=1_000_000 + 3600) == [new]  # the overlap is over
    again = rotated(both, 3600, now=1_000_100)  # rotating during an overlap keeps only the newest previous one
    assert signing_secrets(again, "sub-a", key, now=1_000_200) == [reveal(again, "sub-a", key), new]
    at_once = rotated(both, 0)  # after a leak: the old secret stops at once
    assert " " not in at_once and signing_secrets(at_once, "sub-a", key) == [reveal(at_once, "sub-a", key)]


def test_secrets_are_standard_webhooks_secrets() -> None:
    """Our `v1` equals the reference library's own signature, for derived secrets and for the base64url form
    secrets were handed out in before (the same key bytes)."""
    key = callback_key(os.urandom(32))
    secret = reveal(new_stored(), "sub-a", key)
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[len("whsec_"):], validate=True)) == 32
    at = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    body = b'{"batch_id": "b-1", "events": []}'
    content = signing.signed_content("b-1", int(at.timestamp()), body)
    assert signing.v1(secret, content) == Webhook(secret).sign("b-1", at, body)
    raw = base64.b64decode(secret[len("whsec_"):])
    old_form = "whsec_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert signing.v1(old_form, content) == signing.v1(secret, content)
    with pytest.raises(ValueError):
        signing.secret_bytes("whsec_")
