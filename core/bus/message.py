"""What travels through the broker for a submission, and how it is read back.

Why a module of its own: the relay (and the embedded dispatcher) writes it, the consumers read it, and both
must agree on one small encoding. A message carries ids only, never personal data; a body that cannot be read
is a `PoisonMessage`, which the consumer dead-letters instead of retrying for ever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.bus.models import Outbox


class PoisonMessage(ValueError):
    """A message that can never be processed (malformed, or about no application): dead-letter it."""


@dataclass(frozen=True)
class Message:
    """What travels through the broker: ids only, never personal data."""

    message_id: str
    application_id: str
    agency: str

    def encode(self) -> bytes:
        return json.dumps(
            {"message_id": self.message_id, "application_id": self.application_id, "agency": self.agency},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, body: bytes) -> Message:
        try:
            data = json.loads(body)
            fields = [data[k] for k in ("message_id", "application_id", "agency")]
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            raise PoisonMessage("not a submission message") from None
        if not all(isinstance(f, str) and 0 < len(f) <= 64 for f in fields):
            raise PoisonMessage("submission message with malformed fields")
        return cls(*fields)

    @classmethod
    def of(cls, row: Outbox) -> Message:
        return cls(row.message_id, row.application_id, row.agency)
