"""One guest across channels: a running profile per counterparty, and when a guest entered or left a segment.

Revision ID: 0009
Revises: 0008

* ``guest_profiles``: per matched guest (the 1C counterparty), the figures hub.guests keeps up to date as each
  order lands (first and last order, orders and spend per channel, favourite goods, marketing consent) and the
  segments the guest is in now; one row read and written per new order, never a recompute from history.
* ``segment_events``: a guest entering or leaving a segment, with the date, for "movement this week".
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only
When = sa.DateTime(timezone=True)  # schema.UtcDateTime's storage type


def upgrade() -> None:
    op.create_table(
        "guest_profiles",
        sa.Column("guest", sa.String(255), primary_key=True),
        sa.Column("first_order_at", When, nullable=False),
        sa.Column("last_order_at", When, nullable=False),
        sa.Column("orders", sa.Integer, nullable=False),
        sa.Column("spend", sa.String(32), nullable=False),
        sa.Column("channels", sa.Text, nullable=False),
        sa.Column("goods", sa.Text, nullable=False),
        sa.Column("consent", sa.Boolean),
        sa.Column("consent_at", When),
        sa.Column("segments", sa.Text, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_index("ix_guest_profiles_last_order", "guest_profiles", ["last_order_at"])
    op.create_table(
        "segment_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("guest", sa.String(255), nullable=False),
        sa.Column("segment", sa.String(64), nullable=False),
        sa.Column("entered", sa.Boolean, nullable=False),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_segment_events_at", "segment_events", ["at"])
    op.create_index("ix_segment_events_guest", "segment_events", ["guest", "id"])


def downgrade() -> None:
    op.drop_table("segment_events")
    op.drop_table("guest_profiles")
