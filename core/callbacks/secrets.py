"""Subscription secrets that the database never holds.

An agency's HMAC secret must be reproducible by every process that signs its batches, yet a copy of the database
alone must not let anyone forge Gerbang's signatures. So the row keeps only a random salt (`v1$<salt>`) and the
secret is derived when needed: `whsec_` + base64url(HMAC-SHA256(K, subscription id ‖ salt)), with K derived from
the deployment's NIK hash key (`GERBANG_NIK_HASH_KEY`, the same in every process, never in the database). Rotating
a secret draws a new salt. Rows written before this scheme hold the secret itself (`whsec_…`) and keep working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random

LABEL = b"gerbang callback subscription secrets v1"
PREFIX = "v1$"


def callback_key(nik_hash_key: bytes) -> bytes:
    """K: a key of its own for subscription secrets, so no other use of the NIK hash key can yield one."""
    return hmac.new(bytes(nik_hash_key), LABEL, hashlib.sha256).digest()


def new_stored() -> str:
    """What a new or rotated subscription row stores: a fresh salt, not the secret."""
    return PREFIX + random.token_urlsafe(24)


def reveal(stored: str, subscription_id: str, key: bytes) -> str:
    """The subscription's secret from its stored form (a legacy row's secret is returned as it is)."""
    if not stored.startswith(PREFIX):
        return stored
    if len(key) < 32:
        raise ValueError("a subscription secret needs the callback key (callback_key)")
    mac = hmac.new(key, subscription_id.encode() + b"\0" + stored[len(PREFIX):].encode(), hashlib.sha256)
    return "whsec_" + base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
