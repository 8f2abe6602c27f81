"""Audit log: pending entries, sequenced entries, subtree hashes, the sequencer's state row, checkpoints.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("client", sa.String(100), nullable=True),
        sa.Column("subject", sa.String(64), nullable=True),
        sa.Column("agency", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    op.create_table(
        "audit_entry",
        sa.Column("leaf_index", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("client", sa.String(100), nullable=True),
        sa.Column("subject", sa.String(64), nullable=True),
        sa.Column("agency", sa.String(64), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_audit_entry_subject", "audit_entry", ["subject", "leaf_index"])
    op.create_index("ix_audit_entry_client", "audit_entry", ["client", "leaf_index"])
    op.create_index("ix_audit_entry_agency", "audit_entry", ["agency", "leaf_index"])
    op.create_index("ix_audit_entry_action", "audit_entry", ["action", "leaf_index"])
    op.create_index("ix_audit_entry_time", "audit_entry", ["time_us"])
    op.create_table(
        "audit_node",
        sa.Column("level", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
    )
    state = op.create_table(
        "audit_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=True),
        sa.Column("checkpoint_us", sa.BigInteger(), nullable=True),
        sa.Column("runs", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.bulk_insert(state, [{"id": 1, "size": 0, "frontier": b"", "runs": 0}])
    op.create_table(
        "audit_checkpoint",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_us", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_checkpoint", "audit_state", "audit_node", "audit_entry", "audit_pending"):
        op.drop_table(table)
