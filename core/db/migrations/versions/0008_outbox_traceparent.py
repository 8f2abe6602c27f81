"""The trace context of an outbox row (core/bus/models.py): the submission's W3C traceparent, so the worker's
spans join the counter's trace across the outbox and RabbitMQ (core/ops/tracing.py). Empty when tracing is off.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("traceparent")
