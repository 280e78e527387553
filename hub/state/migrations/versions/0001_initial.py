"""The initial state schema: id links, cursors, inbox, outbox, fingerprints, runs, dead letters, discrepancies.

Revision ID: 0001
Revises:

Frozen history: these tables are spelled out rather than taken from schema.py,
so later changes to schema.py (each with its own revision) cannot alter what
this revision builds.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only
When = sa.DateTime(timezone=True)  # schema.UtcDateTime's storage type


def upgrade() -> None:
    op.create_table(
        "id_links",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.UniqueConstraint("system", "entity", "external_id", name="uq_id_links_external"),
    )
    op.create_index("ix_id_links_ref", "id_links", ["entity", "ref"])

    op.create_table(
        "cursors",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )

    op.create_table(
        "inbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255)),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("processed_at", When),
        sa.UniqueConstraint("source", "dedupe_key", name="uq_inbox_dedupe"),
    )
    op.create_index("ix_inbox_pending", "inbox", ["status", "source", "entity", "id"])

    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("inbox_id", sa.BigInteger),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", When, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("ref", sa.String(255)),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.UniqueConstraint("target", "entity", "key", name="uq_outbox_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "target", "next_attempt_at"])

    op.create_table(
        "fingerprints",
        sa.Column("target", sa.String(64), primary_key=True),
        sa.Column("entity", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )

    op.create_table(
        "runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("started_at", When, nullable=False),
        sa.Column("finished_at", When),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("read", sa.Integer, nullable=False),
        sa.Column("created", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("unchanged", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("error_summary", sa.Text),
    )
    op.create_index("ix_runs_job", "runs", ["job", "id"])

    op.create_table(
        "dead_letters",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255)),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("inbox_id", sa.BigInteger),
        sa.Column("outbox_id", sa.BigInteger),
        sa.Column("run_id", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_index("ix_dead_letters_status", "dead_letters", ["status", "source"])

    op.create_table(
        "discrepancies",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.BigInteger),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("found_at", When, nullable=False),
        sa.Column("resolved_at", When),
    )
    op.create_index("ix_discrepancies_open", "discrepancies", ["resolved_at", "source", "entity"])
