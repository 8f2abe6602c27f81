"""Tables of the audit log (migration 0003).

Two stages, so the sequenced log is append-only: `audit_pending` receives entries inside the caller's
transaction (no index yet, no hashing, no lock), and the sequencer moves them, in id order, into
`audit_entry` with a dense leaf index, their canonical bytes and leaf hash. `audit_node` keeps the hash of
every complete subtree of level >= 1 (level 0 is `audit_entry.leaf_hash`), so a proof is a few indexed
lookups at any size. `audit_state` is one row: the sequencer's lock, tree size and right frontier.
`audit_checkpoint` holds every signed checkpoint.

Core tables (not SQLModel): `record()` and the sequencer write them with plain multi-row statements, no ORM.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlmodel import SQLModel

from core.db.models import BigId

metadata = SQLModel.metadata


def _entry_columns() -> list[Column[Any]]:
    """What an entry says, the same in both stages (new Column objects: a column belongs to one table)."""
    return [
        Column("time_us", BigInteger, nullable=False),
        Column("action", String(64), nullable=False),
        Column("client", String(100), nullable=True),
        Column("subject", String(64), nullable=True),
        Column("agency", String(64), nullable=True),
    ]


pending_table = Table(
    "audit_pending",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    *_entry_columns(),
    Column("detail", Text, nullable=True),  # canonical JSON (RFC 8785) of the detail object, or NULL
)

entry_table = Table(
    "audit_entry",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    *_entry_columns(),
    Column("data", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Index("ix_audit_entry_subject", "subject", "leaf_index"),
    Index("ix_audit_entry_client", "client", "leaf_index"),
    Index("ix_audit_entry_agency", "agency", "leaf_index"),
    Index("ix_audit_entry_action", "action", "leaf_index"),
    Index("ix_audit_entry_time", "time_us"),
)

node_table = Table(
    "audit_node",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)

state_table = Table(
    "audit_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False, server_default=text("0")),
    Column("frontier", LargeBinary, nullable=False),  # compact range of [0, size): one hash per set bit
    Column("checkpoint_size", BigInteger, nullable=True),
    Column("checkpoint_us", BigInteger, nullable=True),
    Column("runs", BigInteger, nullable=False, server_default=text("0")),  # bumped to take the lock
)

checkpoint_table = Table(
    "audit_checkpoint",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
    Column("signed_us", BigInteger, nullable=False),
)


__all__ = ["checkpoint_table", "entry_table", "node_table", "pending_table", "state_table"]
