"""Callbacks: subscriptions, the event outbox, items, batches, attempts (core/callbacks/models.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "callback_subscription",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", sa.String(1000), nullable=False),
        sa.Column("batch_max", sa.Integer(), nullable=False),
        sa.Column("batch_window_s", sa.Float(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(500), nullable=True),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        _ts("lease_until", True),
        sa.Column("created_by", sa.String(100), nullable=True),
        _ts("created_at", False),
    )
    op.create_index("ix_callback_subscription_agency", "callback_subscription", ["agency"])
    op.create_table(
        "callback_event",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("agency", sa.String(64), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        _ts("occurred_at", False),
        sa.Column("data", sa.Text(), nullable=False),
        _ts("fanned_at", True),
    )
    op.create_index("ix_callback_event_application_id", "callback_event", ["application_id"])
    op.create_index(
        "ix_callback_event_unfanned",
        "callback_event",
        ["id"],
        postgresql_where=sa.text("fanned_at IS NULL"),
        sqlite_where=sa.text("fanned_at IS NULL"),
    )
    op.create_table(
        "callback_item",
        sa.Column("subscription_id", sa.String(36), primary_key=True),
        sa.Column("event_id", BigId, primary_key=True),
        sa.Column("batch_id", sa.String(36), nullable=True),
        _ts("created_at", False),
    )
    op.create_index("ix_callback_item_open", "callback_item", ["subscription_id", "batch_id", "event_id"])
    op.create_table(
        "callback_batch",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("first_event", BigId, nullable=False),
        sa.Column("last_event", BigId, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", True),
        _ts("created_at", False),
        _ts("delivered_at", True),
    )
    op.create_index("ix_callback_batch_sub_status", "callback_batch", ["subscription_id", "status", "seq"])
    op.create_table(
        "callback_attempt",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _ts("at", False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )
    op.create_index("ix_callback_attempt_batch_id", "callback_attempt", ["batch_id"])


def downgrade() -> None:
    for table in ("callback_attempt", "callback_batch", "callback_item", "callback_event", "callback_subscription"):
        op.drop_table(table)
