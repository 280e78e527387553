"""Outbox: each entry is claimed by the run writing it, so two runs never write one record at once.

Revision ID: 0007
Revises: 0006

Every orders job's deliver stage takes every due entry of its target, whichever
channel queued it, so two jobs writing to one 1C (or two daemons on one
PostgreSQL) met on the same entries and both created the document. A run now
claims an entry (``claimed_by``, until ``claimed_until``) with a conditional
UPDATE before looking it up in the target and writing it; a claim whose holder
died expires. ``sent_at`` goes: the target is now searched before every create,
whatever hub's state says, so when a create first went out no longer decides
anything.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch.drop_column("sent_at")
