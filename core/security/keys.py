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
    """The public prefix operators see in listings (never enough to use the key)."""
    return key[:12]


def check_supplied_key(key: str) -> None:
    """Refuse a key that is too short to be safe (e.g. a weak GERBANG_DEMO_API_KEY)."""
    if len(key) < MIN_KEY_LENGTH or not key.isprintable() or " " in key:
        raise ValueError(f"an API key needs at least {MIN_KEY_LENGTH} printable characters and no spaces")
