"""Outbox: when a create was first sent, so only a create that may have reached the target is looked up.

Revision ID: 0005
Revises: 0004

Before creating, hub used to look every new object up in the target (a lost answer
must not make a second one). ``sent_at`` is set, in its own transaction, just before
the first create goes out; an entry without it was never sent, so the lookup, one
remote call per new order, is needed only for entries that have it. Enqueueing a
newer payload leaves it as it is.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    # Entries written before this revision may have been sent: they keep the lookup.
    op.execute("UPDATE outbox SET sent_at = updated_at")
