"""Gerbang's signed audit log.

Entries are RFC 8785 (JCS) canonical JSON; their bytes are the leaves of an RFC 6962 Merkle tree
(`merkle`, grown by `compact_range`); the log signs C2SP checkpoints (`checkpoint`) as Ed25519 signed notes (`note`); an
auditor verifies an export (`export`) offline (`bundle`). Formats: docs/audit-format.md.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from core.audit import bundle, checkpoint, merkle, note
from core.audit.bundle import BundleError, Verified
from core.audit.checkpoint import Checkpoint, CheckpointError, check_consistent, open_checkpoint, sign_checkpoint
from core.audit.export import build_bundle
from core.audit.memory_tree import MemoryTree
from core.audit.merkle import (
    ConsistencyError,
    InclusionError,
    ProofError,
    TreeStore,
    leaf_hash,
    node_hash,
)
from core.audit.note import NoteError, generate_signer, open_note, parse_signer, parse_verifier


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


verify_bundle = bundle.verify

__all__ = [
    "BundleError",
    "Checkpoint",
    "CheckpointError",
    "ConsistencyError",
    "InclusionError",
    "MemoryTree",
    "NoteError",
    "ProofError",
    "TreeStore",
    "Verified",
    "build_bundle",
    "bundle",
    "check_consistent",
    "checkpoint",
    "decode_entry",
    "encode_entry",
    "generate_signer",
    "leaf_hash",
    "merkle",
    "node_hash",
    "note",
    "open_checkpoint",
    "open_note",
    "parse_signer",
    "parse_verifier",
    "sign_checkpoint",
    "verify_bundle",
]
