"""What the operator's view reads: an order's journey, each run's own log lines, who saw personal data,
and dead letters that can be dismissed.

Revision ID: 0008
Revises: 0007

* ``events``: one row per step of a record's journey (received, decoded, customer
  matched, queued, each attempt and its answer, created in the target with its
  number, posted, status sent back, dead letter), so ``hub trace`` and the web page
  follow one order from the channel to its 1C document without reading logs.
* ``run_log``: the log lines a run wrote, kept with the run (``hub runs show``),
  because a failed run's lines scroll away in the journal within minutes.
* ``audit_log``: each view of a guest's personal data and each operator action, as
  152-FZ asks of whoever shows it.
* ``dead_letters``: ``closed_by`` and ``note`` say who dismissed one and why, so an
  alert can clear without the record being retried.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only
When = sa.DateTime(timezone=True)  # schema.UtcDateTime's storage type


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", When, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("run_id", sa.BigInteger),
        sa.Column("inbox_id", sa.BigInteger),
        sa.Column("outbox_id", sa.BigInteger),
    )
    op.create_index("ix_events_key", "events", ["entity", "key", "at"])
    op.create_table(
        "run_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_run_log_run", "run_log", ["run_id", "id"])
    op.create_table(
        "audit_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", When, nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("client", sa.String(64)),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("closed_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("note", sa.Text, nullable=True))

