"""The initial state schema: id links, cursors, inbox, outbox, fingerprints, runs, dead letters, discrepancies.

Revision ID: 0001
Revises:
"""

from alembic import op

from hub.state.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # While 0001 is the only revision, schema.py *is* its shape. The first change to
    # schema.py must first freeze these tables into this file (op.create_table), then
    # add revision 0002; tests/test_state.py compares the migrated DB with schema.py.
    metadata.create_all(op.get_bind())
