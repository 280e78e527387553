"""Fingerprints keep the payload last pushed, so a dry run can show what changed field by field.

Revision ID: 0002
Revises: 0001

Rows pushed before this revision have no payload (NULL) until their next push.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fingerprints") as batch:
        batch.add_column(sa.Column("payload", sa.Text, nullable=True))
