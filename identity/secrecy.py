"""Personal data at rest: AES-256-GCM data keys that rotate, sealed JSON values, and the keyed hash of a NIK.

One home for the bus, security, audit, the API and the record cache: a NIK (or a plate) is stored outside
ciphertext only as `subject_hash` — HMAC-SHA256 with the bus's NIK hash key — so the same citizen has the same
name in the audit log, the applications table and the cache, and none of them reveals the NIK.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class DataKeys:
    """AES-256-GCM keys by id; `active` encrypts, any known key decrypts (so keys can be rotated).

    With a `reload` source (the embedded secrets file), a key set rotated by `gerbang keys rotate` reaches a running
    process without a restart: before encrypting it checks the source at most every `reload_every_s`, and a key id
    it does not know makes it look at once (at most every `reload_every_s / 4`). The source returns None when
    nothing changed."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        active: str,
        *,
        reload: Callable[[], DataKeys | None] | None = None,
        reload_every_s: float = 1.0,
    ):
        if active not in keys:
            raise ValueError(f"active data key {active!r} is not among the keys")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"data key {key_id!r} must be 32 bytes")
        self._aead = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active = active
        self._reload, self.reload_every_s = reload, reload_every_s
        self._checked = time.monotonic()

    @property
    def key_ids(self) -> list[str]:
        """Known key ids, the active one first."""
        return [self.active] + [k for k in self._aead if k != self.active]

    def refresh(self, *, urgent: bool = False) -> None:
        """Take a changed key set from the reload source, if there is one and it is time to look."""
        if self._reload is None:
            return
        now = time.monotonic()
        if now - self._checked < (self.reload_every_s / 4 if urgent else self.reload_every_s):
            return
        self._checked = now
        fresh = self._reload()
        if fresh is not None:
            self._aead, self.active = fresh._aead, fresh.active

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        self.refresh()
        active = self.active
        nonce = os.urandom(12)
        return active, nonce + self._aead[active].encrypt(nonce, plaintext, aad)

    def decrypt(self, key_id: str, payload: bytes, aad: bytes) -> bytes:
        aead = self._aead.get(key_id)
        if aead is None:
            self.refresh(urgent=True)
            aead = self._aead.get(key_id)
        if aead is None:
            raise KeyError(f"unknown data key {key_id!r}")
        return aead.decrypt(payload[:12], payload[12:], aad)

    @staticmethod
    def parse(text: str, **options: Any) -> DataKeys:
        """`kid1:base64key[,kid2:base64key…]`; the first key is the active one."""
        keys: dict[str, bytes] = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            key_id, sep, encoded = part.partition(":")
            if not sep or not key_id:
                raise ValueError("data keys are written kid:base64key, separated by commas")
            if key_id in keys:
                raise ValueError(f"data key {key_id!r} is given twice")
            keys[key_id] = base64.b64decode(encoded, validate=True)
        if not keys:
            raise ValueError("no data key given")
        return DataKeys(keys, next(iter(keys)), **options)


@functools.lru_cache(maxsize=16)
def _keyed(hash_key: bytes) -> Any:
    """The HMAC state after the key, to copy per message (hmac.new per call repeats the key schedule)."""
    return hmac.new(hash_key, digestmod=hashlib.sha256)


def subject_hash(hash_key: bytes, subject: str) -> str:
    """Keyed hash of a NIK (or a plate), 64 hex digits: the only form in which one is stored outside encrypted
    payloads. Surrounding spaces are not part of it. The same function answers an auditor's `subject_nik=`
    query, so whoever knows a NIK can find its entries while the log itself never holds one."""
    mac = _keyed(bytes(hash_key)).copy()
    mac.update(subject.strip().encode("ascii"))
    return str(mac.hexdigest())


def _aad(application_id: str, part: str) -> bytes:
    return f"application:{application_id}:{part}".encode()


def seal(keys: DataKeys, application_id: str, part: str, value: Any) -> tuple[str, bytes]:
    """Encrypt a JSON value for one application (`part` is "request" or "result"), bound to both by the
    associated data, so a blob copied to another application or part does not open."""
    return keys.encrypt(json.dumps(value, separators=(",", ":"), default=str).encode(), _aad(application_id, part))


def unseal(keys: DataKeys, application_id: str, part: str, key_id: str, blob: bytes) -> Any:
    """The JSON value `seal` encrypted for this application and part."""
    return json.loads(keys.decrypt(key_id, blob, _aad(application_id, part)))
