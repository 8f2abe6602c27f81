"""API keys: generated once, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "gbk_"
MIN_KEY_LENGTH = 24


def generate_key() -> str:
    """A new API key: `gbk_` + 43 url-safe characters (256 bits of randomness)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """SHA-256 hex of the key; what the database keeps."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id(key: str) -> str:
    """The public id operators see in listings and the audit log: `gbk_` + 12 hex characters of a hash of the key.

    Why not the key's first characters (as it was): 12 characters are half of a 24-character supplied key, and a
    listing or an audit export must not hand out part of a secret. Keys made before keep the id stored with them;
    nothing looks a key up by its id (authentication goes by the key's hash), so they keep working."""
    return KEY_PREFIX + hashlib.sha256(b"gerbang-key-id\0" + key.encode("utf-8")).hexdigest()[:12]


def check_supplied_key(key: str) -> None:
    """Refuse a key that is too short to be safe (e.g. a weak GERBANG_DEMO_API_KEY)."""
    if len(key) < MIN_KEY_LENGTH or not key.isprintable() or " " in key:
        raise ValueError(f"an API key needs at least {MIN_KEY_LENGTH} printable characters and no spaces")
