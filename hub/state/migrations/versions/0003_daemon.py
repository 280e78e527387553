"""What the daemon needs: how each run was started, and leases so a job never runs twice at once.

Revision ID: 0003
Revises: 0002

``runs.scheduled_for`` is the fire time of a scheduled run. It is unique per
job, so when several daemons share this database a fire time is recorded (and
run) once. ``leases`` holds which process runs a job now, until when.
APScheduler's own table (``scheduler_jobs``) is created by APScheduler.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)  # schema.UtcDateTime's storage type


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("trigger", sa.String(16), nullable=False, server_default="manual"))
        batch.add_column(sa.Column("scheduled_for", When, nullable=True))
        batch.add_column(sa.Column("worker", sa.String(255), nullable=True))
    op.create_index("uq_runs_scheduled", "runs", ["job", "scheduled_for"], unique=True)
    op.create_table(
        "leases",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("acquired_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
    )
