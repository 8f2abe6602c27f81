"""Security: clients' kind, agreement (PKS) and own rate limit; shared rate buckets; the process census.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="counter"))
        batch.add_column(sa.Column("agreement", sa.String(100), nullable=True))
        batch.add_column(sa.Column("agreement_from", sa.Date(), nullable=True))
        batch.add_column(sa.Column("agreement_to", sa.Date(), nullable=True))
        batch.add_column(sa.Column("rate_per_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("rate_burst", sa.Integer(), nullable=True))
    op.create_table(
        "rate_bucket",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_s", sa.Float(), nullable=False),
    )
    op.create_table(
        "bus_process",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("started_s", sa.Float(), nullable=False),
        sa.Column("seen_s", sa.Float(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(100), nullable=False),
    )
    op.create_index("ix_bus_process_seen_s", "bus_process", ["seen_s"])


def downgrade() -> None:
    op.drop_table("bus_process")
    op.drop_table("rate_bucket")
    with op.batch_alter_table("client") as batch:
        for name in ("rate_burst", "rate_per_s", "agreement_to", "agreement_from", "agreement", "kind"):
            batch.drop_column(name)
