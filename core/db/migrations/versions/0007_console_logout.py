"""Console sessions ended by logging out (core/console/models.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_logout",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_s", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_console_logout_expires_s", "console_logout", ["expires_s"])


def downgrade() -> None:
    op.drop_index("ix_console_logout_expires_s", "console_logout")
    op.drop_table("console_logout")
