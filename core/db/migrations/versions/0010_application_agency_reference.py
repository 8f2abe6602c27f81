"""An index on (agency, agency_reference): an agency's push is matched to its record, and a counter's decision to the
pushed record it is about (core/bus/inbound.py), by that pair; without it each such look-up scanned every
application, a cost that grew with the table on the submission path.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_application_agency_reference", "application", ["agency", "agency_reference"])


def downgrade() -> None:
    op.drop_index("ix_application_agency_reference", table_name="application")
