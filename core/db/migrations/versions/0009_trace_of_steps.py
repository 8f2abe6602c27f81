"""The trace context of an application's latest step and of each callback event (W3C traceparent): a retry the
sweep dispatches continues the attempt that failed (its consuming span), and a callback batch links to the span
each of its events was written in (core/ops/tracing.py). Empty when tracing is off.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("application", sa.Column("traceparent", sa.String(55), nullable=True))
    op.add_column("callback_event", sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    for table in ("callback_event", "application"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("traceparent")
