"""Tables of the state store (SQLAlchemy Core), the current shape.

Migrations under ``migrations/versions`` are frozen history and build this
shape step by step; a change here goes with a new migration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    Unicode,
    UniqueConstraint,
)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the state store takes aware datetimes only")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


metadata = MetaData()
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only

id_links = Table(
    "id_links", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("ref", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("system", "entity", "external_id", name="uq_id_links_external"),
    Index("ix_id_links_ref", "entity", "ref"),
)

cursors = Table(
    "cursors", metadata,
    Column("source", String(64), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

inbox = Table(
    "inbox", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("external_id", String(255)),
    Column("dedupe_key", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("headers", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("processed_at", UtcDateTime),
    UniqueConstraint("source", "dedupe_key", name="uq_inbox_dedupe"),
    Index("ix_inbox_pending", "status", "source", "entity", "id"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("target", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("source", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("inbox_id", BigInteger),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("ref", String(255)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(255)),  # the run writing it now (host:pid:token), so no other run writes it too
    Column("claimed_until", UtcDateTime),  # when that claim lapses unless renewed
    UniqueConstraint("target", "entity", "key", name="uq_outbox_key"),
    Index("ix_outbox_due", "status", "target", "next_attempt_at"),
)

fingerprints = Table(
    "fingerprints", metadata,
    Column("target", String(64), primary_key=True),
    Column("entity", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("payload", Text),  # what was pushed, for a dry run's field-level diff; NULL if pushed before 0002
    Column("updated_at", UtcDateTime, nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job", String(128), nullable=False),
    Column("source", String(64), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("status", String(16), nullable=False),
    Column("read", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("error_summary", Text),
    Column("trigger", String(16), nullable=False, server_default="manual"),  # manual, schedule, inbound, start
    Column("scheduled_for", UtcDateTime),  # a scheduled run's fire time: one run per job and fire time
    Column("worker", String(255)),  # the process that ran it (host:pid)
    Index("ix_runs_job", "job", "id"),
    Index("uq_runs_scheduled", "job", "scheduled_for", unique=True),
)

leases = Table(
    "leases", metadata,
    Column("name", String(255), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

dead_letters = Table(
    "dead_letters", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("external_id", String(255)),
    Column("stage", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("inbox_id", BigInteger),
    Column("outbox_id", BigInteger),
    Column("run_id", BigInteger),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("closed_by", String(128)),  # who dismissed it (a user, or "cli")
    Column("note", Text),  # why it was dismissed
    Index("ix_dead_letters_status", "status", "source"),
)

events = Table(
    # One step of a record's journey, for hub trace: received, decoded, matched, queued, attempt, created,
    # posted, status_sent, dead_letter... ``key`` is the record's canonical key (``shop:1001``).
    "events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("source", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("run_id", BigInteger),
    Column("inbox_id", BigInteger),
    Column("outbox_id", BigInteger),
    Index("ix_events_key", "entity", "key", "at"),
)

run_log = Table(
    # The log lines a run wrote (personal data masked as in the log), for hub runs show.
    "run_log", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("level", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_run_log_run", "run_id", "id"),
)

audit_log = Table(
    # Who saw a guest's personal data or acted on hub's records, and when (152-FZ).
    "audit_log", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("user", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("client", String(64)),
    Index("ix_audit_log_at", "at"),
)

discrepancies = Table(
    "discrepancies", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger),
    Column("source", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("found_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Index("ix_discrepancies_open", "resolved_at", "source", "entity"),
)

channel_state = Table(
    "channel_state", metadata,
    Column("source", String(64), primary_key=True),
    Column("kind", String(32), primary_key=True),  # catalog, prices, stock, order, token...
    Column("key", String(255), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

scheduler_jobs = Table(
    # APScheduler 3's SQLAlchemyJobStore table, which hub.daemon.scheduler hands to APScheduler. A migration
    # makes it (APScheduler would make it itself, but two daemons starting at once raced to do so).
    "scheduler_jobs", metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)

guest_profiles = Table(
    # One matched guest's running figures (hub.guests), updated as each order lands. Money is kept as the
    # Decimal's text: SQLite has no exact decimal type.
    "guest_profiles", metadata,
    Column("guest", String(255), primary_key=True),  # the 1C counterparty, or anon:… once forgotten
    Column("first_order_at", UtcDateTime, nullable=False),
    Column("last_order_at", UtcDateTime, nullable=False),
    Column("orders", Integer, nullable=False),
    Column("spend", String(32), nullable=False),
    Column("channels", Text, nullable=False),  # JSON: channel → {orders, spend}
    Column("goods", Text, nullable=False),  # JSON: good's name → times ordered, the most ordered kept
    Column("consent", Boolean),  # to marketing; None: no channel has said
    Column("consent_at", UtcDateTime),
    Column("segments", Text, nullable=False),  # JSON list: the segments the guest is in now
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_guest_profiles_last_order", "last_order_at"),
)

segment_events = Table(
    "segment_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("guest", String(255), nullable=False),
    Column("segment", String(64), nullable=False),
    Column("entered", Boolean, nullable=False),  # false: left it
    Column("at", UtcDateTime, nullable=False),
    Index("ix_segment_events_at", "at"),
    Index("ix_segment_events_guest", "guest", "id"),
)
