"""Assembled records in memory for a couple of seconds, encrypted, so a burst of warm lookups skips re-assembly.

Why: a warm lookup spends more on opening, validating and merging four cached facets and serialising the record
than on everything else it does. When every facet of a record came from the cache, the answer is a pure function
of those rows (plus the NIK and the facets asked for), so the same process may send the same bytes again while
the rows stay fresh — for at most `ttl_s` (2 s), never past the earliest facet's own freshness. What is kept:

- the response body, AES-GCM-encrypted under a key made at process start and never written anywhere (memory
  holds ciphertext, as the row memo does), bound by its associated data to the slot it sits in; sealed in pieces
  of at most `PIECE` bytes, each bound to its place and to the piece count (none can be moved, dropped or
  added), because the cryptography library releases the GIL for an input of 2 KiB or more, and on the event loop
  every such release means waiting for a background thread (the audit sequencer, a commit) to hand the GIL
  back: a 3 KB record cost 0.7 µs to open on an idle process but ~190 µs next to a busy thread;
- the per-facet agency and status the audit entry needs (no personal data);
- found by a keyed hash of the NIK (never the NIK) and then by purpose and facet list.

Only records assembled entirely from cached facets are kept (a record with a fresh agency answer or a failed
facet is never remembered), `refresh=true` bypasses it, and `RecordCache.put` drops the NIK's records in this
process at once; another process's refresh reaches this one within `ttl_s`, as for cached rows.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from identity.clock import utcnow

MEMO_TTL_S = 2.0
PIECE = 1536  # bytes of body per AES-GCM call: below the size from which cryptography releases the GIL
Variant = tuple[str, tuple[str, ...]]  # (purpose, facets asked)


@dataclass(frozen=True)
class _Slot:
    sealed: tuple[bytes, ...]  # per piece of the body: nonce + ciphertext
    summary: Mapping[str, Mapping[str, Any]]
    until: float  # monotonic
    expires_at: dt.datetime  # the earliest facet freshness


class RecordMemo:
    """keyed NIK hash → {(purpose, facets): encrypted body and audit summary}, bounded and short-lived."""

    def __init__(self, ttl_s: float = MEMO_TTL_S, max_entries: int = 4096):
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._aead = AESGCM(AESGCM.generate_key(bit_length=128))
        self._records: dict[str, dict[Variant, _Slot]] = {}

    def get(self, subject: str, variant: Variant) -> tuple[bytes, Mapping[str, Mapping[str, Any]]] | None:
        """The body and audit summary remembered for `subject` (a keyed NIK hash) and `variant`, if still good."""
        slots = self._records.get(subject)
        slot = slots.get(variant) if slots is not None else None
        if slots is None or slot is None:
            return None
        if slot.until < time.monotonic() or slot.expires_at <= utcnow():
            slots.pop(variant, None)
            return None
        return self._open(slot.sealed, _aad(subject, variant)), slot.summary

    def put(
        self,
        subject: str,
        variant: Variant,
        body: bytes,
        summary: Mapping[str, Mapping[str, Any]],
        expires_at: dt.datetime,
    ) -> None:
        """Remember a record assembled wholly from cached facets, until the earliest of them stops being fresh."""
        if self.ttl_s <= 0:
            return
        records = self._records
        slots = records.get(subject)
        if slots is None:
            if len(records) >= self.max_entries:
                records.pop(next(iter(records)), None)
            slots = records[subject] = {}
        slots[variant] = _Slot(
            self._seal(body, _aad(subject, variant)), summary, time.monotonic() + self.ttl_s, expires_at
        )

    def drop(self, subject: str) -> None:
        """Forget every record of `subject` (its cached rows just changed)."""
        self._records.pop(subject, None)

    def clear(self) -> None:
        self._records.clear()

    def _seal(self, body: bytes, aad: bytes) -> tuple[bytes, ...]:
        count = max(1, -(-len(body) // PIECE))
        sealed = []
        for i in range(count):
            nonce = os.urandom(12)
            sealed.append(nonce + self._aead.encrypt(nonce, body[i * PIECE : (i + 1) * PIECE], _piece(aad, i, count)))
        return tuple(sealed)

    def _open(self, sealed: tuple[bytes, ...], aad: bytes) -> bytes:
        count = len(sealed)
        return b"".join(self._aead.decrypt(s[:12], s[12:], _piece(aad, i, count)) for i, s in enumerate(sealed))


def _aad(subject: str, variant: Variant) -> bytes:
    return f"{subject}|{variant[0]}|{','.join(variant[1])}".encode()


def _piece(aad: bytes, index: int, count: int) -> bytes:
    return b"%s|%d/%d" % (aad, index, count)


__all__ = ["MEMO_TTL_S", "PIECE", "RecordMemo", "Variant"]
