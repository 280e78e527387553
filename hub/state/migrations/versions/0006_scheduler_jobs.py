"""APScheduler's job table, made by a migration so that two daemons starting at once do not race to make it.

Revision ID: 0006
Revises: 0005

APScheduler creates its table when its job store starts, checking first; two
daemons starting together on a fresh PostgreSQL database both found it missing,
and the second one's ``CREATE TABLE`` failed. Migrations run under an advisory
lock, so made here it is made once. The shape is APScheduler 3's
``SQLAlchemyJobStore`` table, which it then finds and leaves alone. A database
where an earlier hub let APScheduler make it already has it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("scheduler_jobs"):
        return
    op.create_table(
        "scheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25)),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_scheduler_jobs_next_run_time", "scheduler_jobs", ["next_run_time"])
