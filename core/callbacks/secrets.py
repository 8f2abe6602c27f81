"""Subscription secrets that the database never holds.

An agency's HMAC secret must be reproducible by every process that signs its batches, yet a copy of the database
alone must not let anyone forge Gerbang's signatures. So the row keeps only a random salt (`v1$<salt>`) and the
secret is derived when needed: `whsec_` + base64(HMAC-SHA256(K, subscription id ‖ salt)) — the Standard Webhooks
form, 32 random-looking bytes — with K derived from the deployment's NIK hash key (`GERBANG_NIK_HASH_KEY`, the same
in every process, never in the database). Rows written before this scheme hold the secret itself (`whsec_…`) and
keep working.

Rotating draws a new salt; the old one may stay valid for an overlap (`v1$<new> v1$<old>@<unix until>`), during
which batches carry both signatures, as the Standard Webhooks spec asks for a rotation without downtime.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random
import time

LABEL = b"gerbang callback subscription secrets v1"
PREFIX = "v1$"
STORED_MAX = 128  # the column's length (callback_subscription.secret)


def callback_key(nik_hash_key: bytes) -> bytes:
    """K: a key of its own for subscription secrets, so no other use of the NIK hash key can yield one."""
    return hmac.new(bytes(nik_hash_key), LABEL, hashlib.sha256).digest()


def new_stored() -> str:
    """What a new or rotated subscription row stores: a fresh salt, not the secret."""
    return PREFIX + random.token_urlsafe(24)


def _current(stored: str) -> str:
    return stored.split(" ", 1)[0]


def _derive(part: str, subscription_id: str, key: bytes) -> str:
    if not part.startswith(PREFIX):
        return part
    if len(key) < 32:
        raise ValueError("a subscription secret needs the callback key (callback_key)")
    mac = hmac.new(key, subscription_id.encode() + b"\0" + part[len(PREFIX) :].encode(), hashlib.sha256)
    return "whsec_" + base64.b64encode(mac.digest()).decode()


def reveal(stored: str, subscription_id: str, key: bytes) -> str:
    """The subscription's current secret from its stored form (a legacy row's secret is returned as it is)."""
    return _derive(_current(stored), subscription_id, key)


def signing_secrets(stored: str, subscription_id: str, key: bytes, now: float | None = None) -> list[str]:
    """Every secret a batch is signed with now: the current one, then the previous one while its overlap lasts."""
    out = [reveal(stored, subscription_id, key)]
    _, _, previous = stored.partition(" ")
    part, _, until = previous.rpartition("@")
    if part and until.isdigit() and int(until) > (time.time() if now is None else now):
        out.append(_derive(part, subscription_id, key))
    return out


def rotated(stored: str, overlap_s: int, now: float | None = None) -> str:
    """The stored form after a rotation: a fresh salt, and the current one kept valid for `overlap_s` seconds
    (0: the old secret stops at once, e.g. after a leak). Only one previous secret is ever kept."""
    fresh = new_stored()
    previous = _current(stored)
    if overlap_s <= 0:
        return fresh
    combined = f"{fresh} {previous}@{int((time.time() if now is None else now) + overlap_s)}"
    return combined if len(combined) <= STORED_MAX else fresh
