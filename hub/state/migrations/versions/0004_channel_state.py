"""Channel state: what hub keeps for a channel that calls hub instead of being called.

Revision ID: 0004
Revises: 0003

Yandex Eda and CommerceML sites pull from hub: the menu, stock and prices hub
publishes for them, the orders and statuses they read back, the tokens hub
issued them. All of it lives here, so every daemon sharing the state DB
answers the same, and a restart forgets nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)  # schema.UtcDateTime's storage type


def upgrade() -> None:
    op.create_table(
        "channel_state",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
