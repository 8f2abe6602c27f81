"""Gerbang's signed audit log.

Entries are RFC 8785 (JCS) canonical JSON; their bytes are the leaves of an RFC 6962 Merkle tree
(`merkle`, grown by `compact_range`); the log signs C2SP checkpoints (`checkpoint`) as Ed25519 signed notes (`note`); an
auditor verifies an export (`export`) offline (`bundle`). Formats: docs/audit-format.md.

The package itself holds only the reference encoding of an entry: each part is imported from its own module, so
importing one (`from core.audit import store`) does not load the others.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785


def encode_entry(obj: Any) -> bytes:
    """The canonical bytes of an audit entry (RFC 8785), i.e. exactly what the leaf hash covers.

    Canonical so that anyone re-encoding the same JSON value gets the same bytes, hence the
    same leaf hash. Raises ValueError for values JSON cannot carry exactly (NaN, integers
    beyond +-2**53, non-string keys, ...).
    """
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"audit entry is not canonical JSON: {exc}") from None


def decode_entry(data: bytes) -> Any:
    """Parse entry bytes, refusing anything that is not already in canonical form."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"audit entry is not JSON: {exc}") from None
    if encode_entry(obj) != bytes(data):
        raise ValueError("audit entry is not in RFC 8785 canonical form")
    return obj
