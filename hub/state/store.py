"""The state store's engine, migrations and repositories."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from hub.errors import LinkConflict, StateSchemaError
from hub.state import schema as t
from hub.values import json_dumps, utcnow

_MIGRATIONS = Path(__file__).parent / "migrations"
_SQLITE_BUSY_MS = 30_000  # how long a SQLite writer waits for another
_MIGRATION_LOCK = 0x6875620A  # "hub\n": the advisory lock id that serialises migrations on PostgreSQL
_URL_HINT = "use sqlite:///hub-state.db or postgresql+psycopg://user@host/db"


# --- statuses, stored as these very strings (so no migration) ----------------------------


class InboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"
    """It could not be decoded; a dead letter holds why."""
    REJECTED = "rejected"
    """Refused at the endpoint (a bad body); kept for inspection, never processed."""


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    """It ended, but some records failed."""
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class LetterStatus(StrEnum):
    OPEN = "open"
    RETRIED = "retried"
    DISMISSED = "dismissed"


# --- records handed out by the repositories ------------------------------------------


@dataclass
class RunCounts:
    """What a run did, record by record."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, other: RunCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class RunInfo:
    id: int
    job: str
    source: str
    dry_run: bool
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: RunStatus
    counts: RunCounts
    error_summary: str | None
    trigger: str = "manual"
    """What started it: ``manual`` (hub sync), ``schedule`` or ``inbound`` (records a channel pushed)."""
    scheduled_for: dt.datetime | None = None
    worker: str | None = None
    """The process that ran it, ``host:pid``."""


@dataclass(frozen=True)
class InboxItem:
    id: int
    source: str
    entity: str
    external_id: str | None
    body: bytes
    content_type: str
    headers: str
    received_at: dt.datetime
    status: InboxStatus
    error: str | None


class Payload(Protocol):
    """A payload as a channel sent it (:class:`hub.model.RawRecord` is one)."""

    @property
    def external_id(self) -> str | None: ...
    @property
    def body(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class OutboxItem:
    id: int
    target: str
    entity: str
    key: str
    source: str
    payload: str
    inbox_id: int | None
    version: int
    status: OutboxStatus
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    ref: str | None
    claimed_by: str | None = None
    """The run writing it now (:meth:`Outbox.claim`); None when no run holds it."""


@dataclass(frozen=True)
class Event:
    """One step of a record's journey (see :class:`Events`)."""

    at: dt.datetime
    source: str
    entity: str
    key: str
    stage: str
    detail: str
    run_id: int | None = None
    inbox_id: int | None = None
    outbox_id: int | None = None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    source: str
    entity: str
    external_id: str | None
    stage: str
    reason: str
    payload: bytes
    inbox_id: int | None
    outbox_id: int | None
    run_id: int | None
    status: LetterStatus
    """``open`` until a person acts: ``retried`` (back where it failed; open again, same id, if it fails again)
    or ``dismissed`` (closed without a retry, by ``closed_by`` for the reason in ``note``)."""
    attempts: int
    """How many times the record failed: a retried one that fails again counts up here, under the same id."""
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    closed_by: str | None = None
    note: str | None = None


# --- the store ------------------------------------------------------------------------


class StateStore:
    """A state database: an engine plus migrations. Use :func:`open_store` to get a migrated one."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StateSchemaError(f"state URL {url!r} is not a database URL", hint=_URL_HINT) from exc
        shown = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise StateSchemaError(f"state URL {shown} is neither SQLite nor PostgreSQL", hint=_URL_HINT)
        try:
            self.engine: Engine = create_engine(parsed, pool_pre_ping=True, future=True)
        except (ArgumentError, ImportError) as exc:  # an unknown or missing driver
            raise StateSchemaError(f"cannot open state URL {shown}: {exc}", hint=_URL_HINT) from exc
        self.url = parsed
        if self.engine.dialect.name == "sqlite":
            _tune_sqlite(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to this hub's newest revision; refuse a database from a newer hub."""
        script = ScriptDirectory(str(_MIGRATIONS))
        head = script.get_current_head()
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})
                current = MigrationContext.configure(conn).get_current_revision()
                if current is not None:
                    try:
                        script.get_revision(current)
                    except CommandError:
                        raise StateSchemaError(
                            f"the state database {self.url.render_as_string(hide_password=True)} is at schema "
                            f"revision {current}, which this hub does not know (its newest is {head})",
                            hint="it was written by a newer hub: upgrade hub, or point state.url at another "
                                 "database") from None
                if current != head:
                    config = AlembicConfig()
                    config.set_main_option("script_location", str(_MIGRATIONS))
                    config.attributes["connection"] = conn
                    command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StateSchemaError(f"cannot open the state database: {exc.__class__.__name__}: "
                                   f"{str(exc).splitlines()[0]}") from exc

    def ping(self) -> str | None:
        """None when the database answers; else what went wrong, in one line."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return f"unreachable: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        return None

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def transaction(self) -> Iterator[State]:
        """One transaction; commits when the block ends, rolls back if it raises."""
        with self.engine.begin() as conn:
            yield State(conn)

    @contextmanager
    def reading(self) -> Iterator[State]:
        """A transaction that only reads. On SQLite it takes no write lock, so it never waits for writers."""
        with self.engine.connect() as plain:
            conn = plain.execution_options(hub_read_only=True)
            with conn.begin():
                yield State(conn)

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str) -> StateStore:
    """Open the state database at ``url`` and apply pending migrations."""
    store = StateStore(url)
    store.migrate()
    return store


def _tune_sqlite(engine: Engine) -> None:
    # pysqlite opens transactions lazily and as readers; two processes upgrading to writers
    # at once fail with "database is locked" without waiting. BEGIN IMMEDIATE takes the
    # write lock up front so the busy timeout applies; WAL lets readers go on meanwhile, and a
    # transaction that only reads (StateStore.reading) begins without taking the lock.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get("hub_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    # Two processes opening a new database at once both switch it to WAL; the loser is told
    # "database is locked" at once, without the busy handler, so it waits here instead.
    deadline = time.monotonic() + _SQLITE_BUSY_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# --- repositories -----------------------------------------------------------------------


class State:
    """The repositories, all writing in one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.links = IdLinks(conn)
        self.cursors = Cursors(conn)
        self.inbox = Inbox(conn)
        self.outbox = Outbox(conn)
        self.fingerprints = Fingerprints(conn)
        self.runs = Runs(conn)
        self.dead_letters = DeadLetters(conn)
        self.discrepancies = Discrepancies(conn)
        self.leases = Leases(conn)
        self.channel_state = ChannelStates(conn)
        self.audit = AuditLog(conn)
        self.events = Events(conn)
        self.run_log = RunLog(conn)
        self.guests = GuestProfiles(conn)


def _dedupe_key(entity: str, external_id: str | None, body: bytes) -> str:
    return hashlib.sha256(b"%s\0%s\0" % (entity.encode(), (external_id or "").encode()) + body).hexdigest()


def _insert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT on both SQLite and PostgreSQL."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    """``items`` in slices small enough for one ``IN (...)`` list on every driver."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Repo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn


class IdLinks(_Repo):
    """(system, entity, external id) ↔ 1C reference: each channel id maps to exactly one 1C object."""

    def get(self, system: str, entity: str, external_id: str) -> str | None:
        row = self.conn.execute(select(t.id_links.c.ref).where(
            t.id_links.c.system == system, t.id_links.c.entity == entity,
            t.id_links.c.external_id == external_id)).first()
        return None if row is None else str(row.ref)

    def get_many(self, system: str, entity: str, external_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(external_ids))
        found: dict[str, str] = {}
        for chunk in _chunks(ids):
            rows = self.conn.execute(select(t.id_links.c.external_id, t.id_links.c.ref).where(
                t.id_links.c.system == system, t.id_links.c.entity == entity,
                t.id_links.c.external_id.in_(chunk)))
            found.update({r.external_id: r.ref for r in rows})
        return found

    def all(self, system: str, entity: str) -> dict[str, str]:
        """Every link of ``system``'s ``entity``: external id → ref."""
        rows = self.conn.execute(select(t.id_links.c.external_id, t.id_links.c.ref).where(
            t.id_links.c.system == system, t.id_links.c.entity == entity))
        return {r.external_id: r.ref for r in rows}

    def put(self, system: str, entity: str, external_id: str, ref: str) -> None:
        """Link ``external_id`` to ``ref``; an existing link to another object is an error, never overwritten."""
        stmt = _insert(self.conn, t.id_links).values(
            system=system, entity=entity, external_id=external_id, ref=ref, created_at=utcnow())
        self.conn.execute(stmt.on_conflict_do_nothing(index_elements=["system", "entity", "external_id"]))
        existing = self.get(system, entity, external_id)
        if existing != ref:
            raise LinkConflict(f"{system} {entity} {external_id!r} is already linked to {existing!r}, "
                                   f"not {ref!r}", hint="relink it explicitly if the 1C object changed")

    def relink(self, system: str, entity: str, external_id: str, ref: str) -> None:
        """Point an existing link at another object (after a fix by a person)."""
        self.conn.execute(update(t.id_links).where(
            t.id_links.c.system == system, t.id_links.c.entity == entity,
            t.id_links.c.external_id == external_id).values(ref=ref))

    def unlink(self, system: str, entity: str, external_id: str) -> None:
        """Drop a link (a guest forgotten: their phone no longer leads anywhere)."""
        self.conn.execute(delete(t.id_links).where(
            t.id_links.c.system == system, t.id_links.c.entity == entity, t.id_links.c.external_id == external_id))

    def by_ref(self, entity: str, ref: str) -> dict[str, str]:
        """Every system's id linked to 1C object ``ref``: system → external id."""
        rows = self.conn.execute(select(t.id_links.c.system, t.id_links.c.external_id).where(
            t.id_links.c.entity == entity, t.id_links.c.ref == ref))
        return {r.system: r.external_id for r in rows}

    def linked_to(self, entity: str, ref: str) -> list[tuple[str, str]]:
        """Every (system, external id) linked to ``ref``, several per system included, oldest first."""
        rows = self.conn.execute(select(t.id_links.c.system, t.id_links.c.external_id).where(
            t.id_links.c.entity == entity, t.id_links.c.ref == ref).order_by(t.id_links.c.id))
        return [(r.system, r.external_id) for r in rows]


class Cursors(_Repo):
    """A watermark per (source, stream); set it in the transaction that stores what it covers."""

    def get(self, source: str, stream: str) -> str | None:
        row = self.conn.execute(select(t.cursors.c.value).where(
            t.cursors.c.source == source, t.cursors.c.stream == stream)).first()
        return None if row is None else str(row.value)

    def set(self, source: str, stream: str, value: str) -> None:
        stmt = _insert(self.conn, t.cursors).values(source=source, stream=stream, value=value, updated_at=utcnow())
        self.conn.execute(stmt.on_conflict_do_update(
            index_elements=["source", "stream"], set_={"value": value, "updated_at": utcnow()}))

    def reset(self, source: str, stream: str | None = None) -> None:
        query = t.cursors.delete().where(t.cursors.c.source == source)
        if stream is not None:
            query = query.where(t.cursors.c.stream == stream)
        self.conn.execute(query)

    def all(self) -> list[tuple[str, str, str, dt.datetime]]:
        rows = self.conn.execute(select(t.cursors).order_by(t.cursors.c.source, t.cursors.c.stream))
        return [(r.source, r.stream, r.value, r.updated_at) for r in rows]


class Inbox(_Repo):
    """Every payload a channel pushed or we pulled, byte for byte, stored before we answer or go on."""

    def add(self, source: str, entity: str, body: bytes, *, external_id: str | None = None,
            content_type: str = "application/json", headers: Mapping[str, str] | None = None,
            status: InboxStatus = InboxStatus.PENDING, error: str | None = None) -> tuple[int, bool]:
        """Store a payload; returns (id, True) or, for a byte-identical repeat, (the first id, False)."""
        digest = _dedupe_key(entity, external_id, body)
        if status is not InboxStatus.PENDING:  # rejected input is kept every time it arrives, for inspection
            digest = secrets.token_hex(32)  # unique even for repeats within one clock tick
        stmt = _insert(self.conn, t.inbox).values(
            source=source, entity=entity, external_id=external_id, dedupe_key=digest, body=body,
            content_type=content_type, headers=json_dumps(dict(headers or {})), received_at=utcnow(),
            status=status, error=error)
        result = self.conn.execute(stmt.on_conflict_do_nothing(index_elements=["source", "dedupe_key"])
                                   .returning(t.inbox.c.id))
        row = result.first()
        if row is not None:
            return int(row.id), True
        existing = self.conn.execute(select(t.inbox.c.id).where(
            t.inbox.c.source == source, t.inbox.c.dedupe_key == digest)).scalar_one()
        return int(existing), False

    def add_many(self, source: str, entity: str, payloads: Iterable[Payload]) -> int:
        """Store a page of pulled payloads, skipping byte-identical repeats; returns how many were new.

        A pull mostly re-reads what the channel already pushed: one look-up for the whole page and one insert of
        what is new keep the write lock short, where a statement per record held it for the length of the page.
        """
        fresh: dict[str, Payload] = {}
        for payload in payloads:
            fresh.setdefault(_dedupe_key(entity, payload.external_id, payload.body), payload)
        for chunk in _chunks(list(fresh)):
            for known in self.conn.execute(select(t.inbox.c.dedupe_key).where(
                    t.inbox.c.source == source, t.inbox.c.dedupe_key.in_(chunk))).scalars():
                del fresh[known]
        if fresh:
            now = utcnow()
            self.conn.execute(_insert(self.conn, t.inbox).on_conflict_do_nothing(
                index_elements=["source", "dedupe_key"]), [
                dict(source=source, entity=entity, external_id=p.external_id, dedupe_key=key, body=p.body,
                     content_type=p.content_type, headers=json_dumps(dict(p.headers)), received_at=now,
                     status=InboxStatus.PENDING, error=None) for key, p in fresh.items()])
        return len(fresh)

    def pending(self, source: str, entity: str, *, limit: int = 500, after_id: int = 0) -> list[InboxItem]:
        rows = self.conn.execute(select(t.inbox).where(
            t.inbox.c.status == InboxStatus.PENDING, t.inbox.c.source == source, t.inbox.c.entity == entity,
            t.inbox.c.id > after_id).order_by(t.inbox.c.id).limit(limit))
        return [_inbox_item(r) for r in rows]

    def pending_streams(self) -> set[tuple[str, str]]:
        """(source, entity) pairs with records waiting to be processed."""
        rows = self.conn.execute(select(t.inbox.c.source, t.inbox.c.entity).where(
            t.inbox.c.status == InboxStatus.PENDING).distinct())
        return {(r.source, r.entity) for r in rows}

    def get(self, item_id: int) -> InboxItem | None:
        r = self.conn.execute(select(t.inbox).where(t.inbox.c.id == item_id)).first()
        return None if r is None else _inbox_item(r)

    def named(self, external_id: str, source: str | None = None) -> list[InboxItem]:
        """Every payload received under ``external_id`` (from ``source``), oldest first."""
        query = select(t.inbox).where(t.inbox.c.external_id == external_id)
        if source is not None:
            query = query.where(t.inbox.c.source == source)
        rows = self.conn.execute(query.order_by(t.inbox.c.id))
        return [_inbox_item(r) for r in rows]

    def mark(self, item_id: int, status: InboxStatus, error: str | None = None) -> None:
        self.conn.execute(update(t.inbox).where(t.inbox.c.id == item_id).values(
            status=status, error=error, processed_at=utcnow()))

    def scrub(self, item_id: int, body: bytes) -> None:
        """Replace a received body (personal data taken out of it); what it was about stays."""
        self.conn.execute(update(t.inbox).where(t.inbox.c.id == item_id).values(body=body))

    def count(self, status: InboxStatus | None = None) -> int:
        query = select(func.count()).select_from(t.inbox)
        if status is not None:
            query = query.where(t.inbox.c.status == status)
        return int(self.conn.execute(query).scalar_one())

    def forget(self, source: str, entity: str, *, before: dt.datetime) -> int:
        """Delete ``source``'s records of ``entity`` received before ``before`` (a retention limit); how many."""
        return int(self.conn.execute(delete(t.inbox).where(
            t.inbox.c.source == source, t.inbox.c.entity == entity, t.inbox.c.received_at < before)).rowcount)


def _inbox_item(r: Any) -> InboxItem:
    item = InboxItem(**{f.name: getattr(r, f.name) for f in fields(InboxItem)})
    return replace(item, status=InboxStatus(item.status))


class Outbox(_Repo):
    """Pending writes to a target, one row per (target, entity, idempotency key), newest payload wins."""

    def enqueue(self, target: str, entity: str, key: str, payload: str, *, source: str,
                inbox_id: int | None = None) -> None:
        now = utcnow()
        stmt = _insert(self.conn, t.outbox).values(
            target=target, entity=entity, key=key, source=source, payload=payload, inbox_id=inbox_id, version=1,
            status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now, updated_at=now)
        self.conn.execute(stmt.on_conflict_do_update(
            index_elements=["target", "entity", "key"],
            set_={"payload": payload, "inbox_id": inbox_id, "version": t.outbox.c.version + 1,
                  "status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": now, "last_error": None,
                  "updated_at": now},
            where=t.outbox.c.payload != payload))

    def due_streams(self) -> set[tuple[str, str]]:
        """(source, entity) pairs with writes due now, to any target, that no run is writing."""
        now = utcnow()
        rows = self.conn.execute(select(t.outbox.c.source, t.outbox.c.entity).where(
            t.outbox.c.status == OutboxStatus.PENDING, t.outbox.c.next_attempt_at <= now, _unclaimed(now)).distinct())
        return {(r.source, r.entity) for r in rows}

    def due(self, target: str, *, entity: str | None = None, limit: int = 200,
            now: dt.datetime | None = None, after_id: int = 0) -> list[OutboxItem]:
        """Entries of ``target`` due by ``now`` that no run is writing, oldest first."""
        now = now or utcnow()
        query = select(t.outbox).where(*_due(target, entity, now), _unclaimed(now), t.outbox.c.id > after_id)
        rows = self.conn.execute(query.order_by(t.outbox.c.id).limit(limit))
        return [_outbox_item(r) for r in rows]

    def claim(self, target: str, holder: str, until: dt.datetime, *, entity: str | None = None, limit: int = 200,
              dead: Callable[[str], bool] = lambda _: False) -> list[OutboxItem]:
        """Claim up to ``limit`` due entries of ``target`` for ``holder`` until ``until``; the entries it got.

        Only the holder of an entry's claim may write it. Each entry is taken by an UPDATE that matches only while
        nobody holds it (never claimed, released, lapsed, or held by a holder ``dead`` says is gone), checked by
        its row count: of runs claiming at once, on SQLite or PostgreSQL alike, exactly one gets each entry.
        """
        now = utcnow()
        holders = self.conn.execute(select(t.outbox.c.claimed_by).where(
            *_due(target, entity, now), t.outbox.c.claimed_until >= now).distinct()).scalars()
        free = or_(_unclaimed(now), t.outbox.c.claimed_by.in_([h for h in holders if dead(h)]))
        ids = self.conn.execute(select(t.outbox.c.id).where(*_due(target, entity, now), free)
                                .order_by(t.outbox.c.id).limit(limit)).scalars().all()
        taken = [item_id for item_id in ids if self.conn.execute(update(t.outbox).where(
            t.outbox.c.id == item_id, *_due(target, entity, now), free).values(
            claimed_by=holder, claimed_until=until)).rowcount == 1]
        rows = self.conn.execute(select(t.outbox).where(t.outbox.c.id.in_(taken)).order_by(t.outbox.c.id))
        return [_outbox_item(r) for r in rows]

    def hold(self, item: OutboxItem, holder: str, until: dt.datetime) -> bool:
        """Extend ``holder``'s claim on ``item`` to ``until``, just before writing it; False when the claim was
        lost (it lapsed, and another run took the entry or wrote it): then it must not be written."""
        return self.conn.execute(update(t.outbox).where(
            t.outbox.c.id == item.id, t.outbox.c.claimed_by == holder,
            t.outbox.c.status == OutboxStatus.PENDING).values(
            claimed_until=until)).rowcount == 1

    def release(self, holder: str) -> None:
        """Let go of every entry ``holder`` still claims: its run ends, and what it did not write is due again."""
        self.conn.execute(update(t.outbox).where(t.outbox.c.claimed_by == holder).values(**_NO_CLAIM))

    def get(self, item_id: int) -> OutboxItem | None:
        r = self.conn.execute(select(t.outbox).where(t.outbox.c.id == item_id)).first()
        return None if r is None else _outbox_item(r)

    def payload_of(self, target: str, entity: str, key: str) -> str | None:
        """The newest payload queued for (``target``, ``entity``, ``key``), delivered or not; None if never queued."""
        return self.conn.execute(select(t.outbox.c.payload).where(
            t.outbox.c.target == target, t.outbox.c.entity == entity, t.outbox.c.key == key)).scalar_one_or_none()

    def restate(self, target: str, entity: str, key: str, payload: str) -> None:
        """Let ``payload`` be what was queued for ``key``, without writing it again: ``target`` holds it already (a
        status it set, which its flow-back told the channel), so the channel showing it back is no news for it."""
        self.conn.execute(update(t.outbox).where(t.outbox.c.target == target, t.outbox.c.entity == entity,
                                                 t.outbox.c.key == key).values(payload=payload))

    def payloads(self, entity: str, key: str) -> list[str]:
        """The newest payload queued for ``key`` to each target, delivered or not."""
        return list(self.conn.execute(select(t.outbox.c.payload).where(
            t.outbox.c.entity == entity, t.outbox.c.key == key).order_by(t.outbox.c.id)).scalars())

    def rewrite(self, entity: str, key: str, payload: str) -> None:
        """Replace ``key``'s payload to every target in place, as delivered or due as it was (personal data
        taken out of it): not a change to send."""
        self.conn.execute(update(t.outbox).where(t.outbox.c.entity == entity, t.outbox.c.key == key)
                          .values(payload=payload))

    def done(self, item: OutboxItem, ref: str) -> bool:
        """Mark delivered and release it, unless a newer payload arrived meanwhile (then it stays pending, due)."""
        self.conn.execute(update(t.outbox).where(t.outbox.c.id == item.id).values(**_NO_CLAIM))
        result = self.conn.execute(update(t.outbox).where(
            t.outbox.c.id == item.id, t.outbox.c.version == item.version).values(
            status=OutboxStatus.DONE, ref=ref, last_error=None, updated_at=utcnow()))
        return result.rowcount == 1

    def retry_later(self, item: OutboxItem, error: str, at: dt.datetime) -> None:
        self.conn.execute(update(t.outbox).where(t.outbox.c.id == item.id).values(
            attempts=t.outbox.c.attempts + 1, next_attempt_at=at, last_error=error, updated_at=utcnow(),
            **_NO_CLAIM))

    def give_up(self, item: OutboxItem, error: str) -> None:
        self.conn.execute(update(t.outbox).where(t.outbox.c.id == item.id).values(
            status=OutboxStatus.DEAD, attempts=t.outbox.c.attempts + 1, last_error=error, updated_at=utcnow(),
            **_NO_CLAIM))

    def revive(self, item_id: int) -> None:
        self.conn.execute(update(t.outbox).where(t.outbox.c.id == item_id).values(
            status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow(), last_error=None, updated_at=utcnow()))

    def last_sent(self, target: str, entity: str, source: str, *,
                  since: dt.datetime) -> Iterator[tuple[str, str]]:
        """(key, payload) of every record ``source`` has queued for ``target`` since ``since``, delivered or not."""
        rows = self.conn.execute(select(t.outbox.c.key, t.outbox.c.payload).where(
            t.outbox.c.target == target, t.outbox.c.entity == entity, t.outbox.c.source == source,
            t.outbox.c.created_at >= since))
        for row in rows:
            yield str(row.key), str(row.payload)

    def depth(self) -> dict[str, int]:
        """Pending writes per target."""
        rows = self.conn.execute(select(t.outbox.c.target, func.count()).where(
            t.outbox.c.status == OutboxStatus.PENDING).group_by(t.outbox.c.target))
        return {r[0]: int(r[1]) for r in rows}


_NO_CLAIM: dict[str, Any] = {"claimed_by": None, "claimed_until": None}


def _due(target: str, entity: str | None, now: dt.datetime) -> list[ColumnElement[bool]]:
    """Conditions of an outbox entry of ``target`` (and ``entity``, if given) waiting to be written by ``now``."""
    due = [t.outbox.c.status == OutboxStatus.PENDING, t.outbox.c.target == target, t.outbox.c.next_attempt_at <= now]
    return due if entity is None else [*due, t.outbox.c.entity == entity]


def _unclaimed(now: dt.datetime) -> ColumnElement[bool]:
    """An outbox entry no run holds: never claimed, released, or its claim lapsed."""
    return or_(t.outbox.c.claimed_until.is_(None), t.outbox.c.claimed_until < now)


def _outbox_item(r: Any) -> OutboxItem:
    item = OutboxItem(**{f.name: getattr(r, f.name) for f in fields(OutboxItem)})
    return replace(item, status=OutboxStatus(item.status))


class Fingerprints(_Repo):
    """What was last pushed per (target, entity, key): unchanged data is never sent again.

    Each row holds the payload's hash, compared on every push, and the payload
    itself, read only by a dry run to show what changed field by field.
    """

    @staticmethod
    def of(payload: str) -> str:
        return hashlib.sha256(payload.encode()).hexdigest()

    def forget(self, target: str, entity: str) -> None:
        """Drop what was pushed to ``target``: its next push sends everything again (reconcile --fix)."""
        self.conn.execute(t.fingerprints.delete().where(
            t.fingerprints.c.target == target, t.fingerprints.c.entity == entity))

    def drop(self, target: str, entity: str, keys: Iterable[str]) -> None:
        """Drop what was pushed under ``keys`` only (a forgotten guest's payloads)."""
        for chunk in _chunks(list(keys)):
            self.conn.execute(t.fingerprints.delete().where(
                t.fingerprints.c.target == target, t.fingerprints.c.entity == entity, t.fingerprints.c.key.in_(chunk)))

    def get_many(self, target: str, entity: str, keys: Iterable[str]) -> dict[str, str]:
        """Key → hash of its last pushed payload, for the keys pushed before."""
        return self._column(t.fingerprints.c.hash, target, entity, keys)

    def payloads(self, target: str, entity: str, keys: Iterable[str]) -> dict[str, str | None]:
        """Key → its last pushed payload, for the keys pushed before (None: pushed before payloads were kept)."""
        return self._column(t.fingerprints.c.payload, target, entity, keys)

    def page(self, target: str, entity: str, *, after: str = "", limit: int = 500) -> list[tuple[str, str]]:
        """(key, payload) of the records kept with a payload, in key order from after ``after``: a walk through
        all of them that holds one page at a time."""
        rows = self.conn.execute(select(t.fingerprints.c.key, t.fingerprints.c.payload).where(
            t.fingerprints.c.target == target, t.fingerprints.c.entity == entity, t.fingerprints.c.key > after,
            t.fingerprints.c.payload.is_not(None)).order_by(t.fingerprints.c.key).limit(limit))
        return [(str(r.key), str(r.payload)) for r in rows]

    def _column(self, column: Any, target: str, entity: str, keys: Iterable[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for chunk in _chunks(sorted(set(keys))):
            rows = self.conn.execute(select(t.fingerprints.c.key, column).where(
                t.fingerprints.c.target == target, t.fingerprints.c.entity == entity,
                t.fingerprints.c.key.in_(chunk)))
            found.update({row[0]: row[1] for row in rows})
        return found

    def put_many(self, target: str, entity: str, payloads: Mapping[str, str]) -> None:
        """Record ``payloads`` (key → payload) as pushed."""
        if not payloads:
            return
        now = utcnow()
        stmt = _insert(self.conn, t.fingerprints)
        stmt = stmt.on_conflict_do_update(
            index_elements=["target", "entity", "key"],
            set_={"hash": stmt.excluded.hash, "payload": stmt.excluded.payload, "updated_at": now})
        self.conn.execute(stmt, [{"target": target, "entity": entity, "key": k, "hash": self.of(p), "payload": p,
                                  "updated_at": now} for k, p in payloads.items()])


class Runs(_Repo):
    """Every job or sync run: when, how it ended, and what it did."""

    def start(self, job: str, source: str, *, dry_run: bool = False, trigger: str = "manual",
              scheduled_for: dt.datetime | None = None, worker: str | None = None) -> int:
        """Record a run as started. Only the holder of the job's lease may call this for a real run."""
        if not dry_run:
            # A run still marked running was killed: its process is gone, or the caller would not hold the lease.
            # Not one of this process's own, which may be pulling without the lease (RunContext.unleased).
            others = t.runs.c.worker.is_distinct_from(worker) if worker is not None else true()
            self.conn.execute(update(t.runs).where(t.runs.c.job == job, t.runs.c.status == RunStatus.RUNNING,
                                                   t.runs.c.dry_run.is_(False), others).values(
                status=RunStatus.INTERRUPTED, finished_at=utcnow(),
                error_summary="the process stopped before the run ended"))
        row = self.conn.execute(t.runs.insert().values(
            job=job, source=source, dry_run=dry_run, started_at=utcnow(), status=RunStatus.RUNNING, trigger=trigger,
            scheduled_for=scheduled_for, worker=worker,
            read=0, created=0, updated=0, unchanged=0, failed=0).returning(t.runs.c.id)).one()
        return int(row.id)

    def ran(self, job: str, scheduled_for: dt.datetime) -> bool:
        """Whether a run for this fire time of ``job`` was already started, here or by another daemon."""
        return self.conn.execute(select(t.runs.c.id).where(
            t.runs.c.job == job, t.runs.c.scheduled_for == scheduled_for)).first() is not None

    def last_success(self) -> dict[str, dt.datetime]:
        """When each job last finished a run that succeeded."""
        rows = self.conn.execute(select(t.runs.c.job, func.max(t.runs.c.finished_at)).where(
            t.runs.c.status == RunStatus.SUCCEEDED, t.runs.c.dry_run.is_(False)).group_by(t.runs.c.job))
        return {job: when for job, when in rows if when is not None}

    def finish(self, run_id: int, status: RunStatus, counts: RunCounts, error_summary: str | None = None) -> None:
        self.conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(
            status=status, finished_at=utcnow(), error_summary=error_summary, **counts.as_dict()))

    def recent(self, limit: int = 20, *, job: str | None = None, failed: bool = False) -> list[RunInfo]:
        """The newest runs (of ``job``; with ``failed``, only those that did not succeed)."""
        query = select(t.runs)
        if job is not None:
            query = query.where(t.runs.c.job == job)
        if failed:
            query = query.where(t.runs.c.status.in_(_UNSUCCESSFUL))
        return [_run_info(r) for r in self.conn.execute(query.order_by(t.runs.c.id.desc()).limit(limit))]

    def latest(self, job: str, *, failed: bool = False) -> RunInfo | None:
        """``job``'s newest real run, or with ``failed`` its newest that did not succeed."""
        query = select(t.runs).where(t.runs.c.job == job, t.runs.c.dry_run.is_(False))
        if failed:
            query = query.where(t.runs.c.status.in_(_UNSUCCESSFUL))
        r = self.conn.execute(query.order_by(t.runs.c.id.desc()).limit(1)).first()
        return None if r is None else _run_info(r)

    def get(self, run_id: int) -> RunInfo | None:
        r = self.conn.execute(select(t.runs).where(t.runs.c.id == run_id)).first()
        return None if r is None else _run_info(r)


_UNSUCCESSFUL = (RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.INTERRUPTED)


def _run_info(r: Any) -> RunInfo:
    counts = RunCounts(read=r.read, created=r.created, updated=r.updated, unchanged=r.unchanged, failed=r.failed)
    return RunInfo(id=r.id, job=r.job, source=r.source, dry_run=r.dry_run, started_at=r.started_at,
                   finished_at=r.finished_at, status=RunStatus(r.status), counts=counts, error_summary=r.error_summary,
                   trigger=r.trigger, scheduled_for=r.scheduled_for, worker=r.worker)


class DeadLetters(_Repo):
    """Records that could not be processed, kept with the reason until a fix lets them through."""

    def add(self, *, source: str, entity: str, external_id: str | None, stage: str, reason: str,
            payload: bytes, inbox_id: int | None = None, outbox_id: int | None = None,
            run_id: int | None = None) -> int:
        """Keep a failed record; one that already has a letter not dismissed (it was retried, or the channel sent
        it again) fails under that letter's id, counting the attempt, so an operator follows one id throughout."""
        now = utcnow()
        same = self._letter_of(source=source, entity=entity, external_id=external_id, stage=stage,
                               inbox_id=inbox_id, outbox_id=outbox_id)
        values = {"reason": reason, "payload": payload, "inbox_id": inbox_id, "outbox_id": outbox_id,
                  "run_id": run_id, "status": LetterStatus.OPEN, "updated_at": now}
        if same is not None:
            self.conn.execute(update(t.dead_letters).where(t.dead_letters.c.id == same).values(
                attempts=t.dead_letters.c.attempts + 1, **values))
            return same
        row = self.conn.execute(t.dead_letters.insert().values(
            source=source, entity=entity, external_id=external_id, stage=stage, attempts=1, created_at=now,
            **values).returning(t.dead_letters.c.id)).one()
        return int(row.id)

    def _letter_of(self, *, source: str, entity: str, external_id: str | None, stage: str, inbox_id: int | None,
                   outbox_id: int | None) -> int | None:
        c = t.dead_letters.c
        if external_id is not None:
            record = c.external_id == external_id
        elif inbox_id is not None or outbox_id is not None:
            record = (c.inbox_id == inbox_id) if inbox_id is not None else (c.outbox_id == outbox_id)
        else:
            return None
        return self.conn.execute(select(c.id).where(
            c.source == source, c.entity == entity, c.stage == stage, record,
            c.status.in_((LetterStatus.OPEN, LetterStatus.RETRIED))
        ).order_by(c.id.desc()).limit(1)).scalar()

    def list(self, status: LetterStatus | None = LetterStatus.OPEN, limit: int | None = 100, *,
             source: str | None = None, stage: str | None = None) -> list[DeadLetter]:
        """The letters by id, the first ``limit`` of them (None: all)."""
        query = select(t.dead_letters).order_by(t.dead_letters.c.id).limit(limit)
        if status is not None:
            query = query.where(t.dead_letters.c.status == status)
        if source is not None:
            query = query.where(t.dead_letters.c.source == source)
        if stage is not None:
            query = query.where(t.dead_letters.c.stage == stage)
        return [_dead_letter(r) for r in self.conn.execute(query)]

    def get(self, letter_id: int) -> DeadLetter | None:
        r = self.conn.execute(select(t.dead_letters).where(t.dead_letters.c.id == letter_id)).first()
        return None if r is None else _dead_letter(r)

    def mark(self, letter_id: int, status: LetterStatus) -> None:
        self.conn.execute(update(t.dead_letters).where(t.dead_letters.c.id == letter_id).values(
            status=status, updated_at=utcnow()))

    def dismiss(self, letter_id: int, *, by: str, note: str) -> None:
        """Close it without a retry (the record is not wanted, or was entered in 1C by hand)."""
        self.conn.execute(update(t.dead_letters).where(t.dead_letters.c.id == letter_id).values(
            status=LetterStatus.DISMISSED, closed_by=by, note=note, updated_at=utcnow()))

    def scrub(self, source: str, external_id: str, payload: bytes) -> None:
        """Replace the payload of ``source``'s letters about ``external_id`` (personal data taken out of it)."""
        self.conn.execute(update(t.dead_letters).where(
            t.dead_letters.c.source == source, t.dead_letters.c.external_id == external_id).values(payload=payload))

    def count(self, status: LetterStatus = LetterStatus.OPEN) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.dead_letters).where(
            t.dead_letters.c.status == status)).scalar_one())


def _dead_letter(r: Any) -> DeadLetter:
    letter = DeadLetter(**{f.name: getattr(r, f.name) for f in fields(DeadLetter)})
    return replace(letter, status=LetterStatus(letter.status))


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    user: str
    role: str
    action: str
    subject: str
    client: str | None


class AuditLog(_Repo):
    """Who saw a guest's personal data or acted on hub's records, and when: kept, never changed."""

    def add(self, *, user: str, role: str, action: str, subject: str, client: str | None = None) -> None:
        self.conn.execute(t.audit_log.insert().values(at=utcnow(), user=user, role=role, action=action,
                                                      subject=subject, client=client))

    def recent(self, limit: int = 100) -> list[AuditEntry]:
        rows = self.conn.execute(select(t.audit_log).order_by(t.audit_log.c.id.desc()).limit(limit))
        return [AuditEntry(**{f.name: getattr(r, f.name) for f in fields(AuditEntry)}) for r in rows]


class Discrepancies(_Repo):
    """Reconciliation findings."""

    def add(self, *, source: str, entity: str, key: str, kind: str, detail: Mapping[str, Any],
            run_id: int | None = None) -> int:
        row = self.conn.execute(t.discrepancies.insert().values(
            run_id=run_id, source=source, entity=entity, key=key, kind=kind, detail=json_dumps(dict(detail)),
            found_at=utcnow()).returning(t.discrepancies.c.id)).one()
        return int(row.id)

    def open(self, source: str | None = None) -> list[dict[str, Any]]:
        query = select(t.discrepancies).where(t.discrepancies.c.resolved_at.is_(None))
        if source is not None:
            query = query.where(t.discrepancies.c.source == source)
        return [dict(r._mapping) for r in self.conn.execute(query.order_by(t.discrepancies.c.id))]

    def forget(self, entity: str, keys: Iterable[str]) -> None:
        """Drop ``entity``'s discrepancies about ``keys`` (a forgotten guest's: they quote names and phones)."""
        for chunk in _chunks(list(keys)):
            self.conn.execute(delete(t.discrepancies).where(t.discrepancies.c.entity == entity,
                                                            t.discrepancies.c.key.in_(chunk)))

    def resolve(self, discrepancy_id: int) -> None:
        self.conn.execute(update(t.discrepancies).where(t.discrepancies.c.id == discrepancy_id).values(
            resolved_at=utcnow()))


@dataclass(frozen=True)
class LeaseInfo:
    name: str
    holder: str
    acquired_at: dt.datetime
    expires_at: dt.datetime


class Leases(_Repo):
    """Named leases: which process does something (runs a job) now, until when unless renewed.

    A lease that was not renewed in time is free, so a killed process blocks others
    for one time-to-live at most; the caller may also declare a holder dead sooner.
    """

    def acquire(self, name: str, holder: str, ttl: dt.timedelta, *,
                dead: Callable[[str], bool] = lambda _: False) -> LeaseInfo | None:
        """Take the lease for ``holder``; None when taken, else who holds it."""
        now = utcnow()
        inserted = self.conn.execute(_insert(self.conn, t.leases).values(
            name=name, holder=holder, acquired_at=now, expires_at=now + ttl).on_conflict_do_nothing()
            .returning(t.leases.c.name)).first()
        if inserted is not None:
            return None
        row = self.conn.execute(select(t.leases).where(t.leases.c.name == name).with_for_update()).one()
        current = LeaseInfo(row.name, row.holder, row.acquired_at, row.expires_at)
        if current.holder != holder and current.expires_at > now and not dead(current.holder):
            return current
        self.conn.execute(update(t.leases).where(t.leases.c.name == name).values(
            holder=holder, acquired_at=now, expires_at=now + ttl))
        return None

    def renew(self, name: str, holder: str, ttl: dt.timedelta) -> bool:
        """Extend ``holder``'s lease; False when it was lost (expired and taken by another)."""
        result = self.conn.execute(update(t.leases).where(t.leases.c.name == name, t.leases.c.holder == holder)
                                   .values(expires_at=utcnow() + ttl))
        return bool(result.rowcount)

    def release(self, name: str, holder: str) -> None:
        self.conn.execute(delete(t.leases).where(t.leases.c.name == name, t.leases.c.holder == holder))

    def all(self) -> list[LeaseInfo]:
        return [LeaseInfo(r.name, r.holder, r.acquired_at, r.expires_at)
                for r in self.conn.execute(select(t.leases).order_by(t.leases.c.name))]


class ChannelStates(_Repo):
    """What hub keeps per channel that pulls from it, by (source, kind, key): JSON payloads, newest wins."""

    def put_many(self, source: str, kind: str, payloads: Mapping[str, str]) -> None:
        if not payloads:
            return
        now = utcnow()
        stmt = _insert(self.conn, t.channel_state)
        self.conn.execute(stmt.on_conflict_do_update(
            index_elements=["source", "kind", "key"],
            set_={"payload": stmt.excluded.payload, "updated_at": stmt.excluded.updated_at}),
            [{"source": source, "kind": kind, "key": key, "payload": payload, "updated_at": now}
             for key, payload in payloads.items()])

    def get(self, source: str, kind: str, key: str) -> str | None:
        return self.conn.execute(select(t.channel_state.c.payload).where(
            t.channel_state.c.source == source, t.channel_state.c.kind == kind,
            t.channel_state.c.key == key)).scalar_one_or_none()

    def all(self, source: str, kind: str) -> Iterator[tuple[str, str]]:
        """Every (key, payload) of one kind, in key order."""
        rows = self.conn.execute(select(t.channel_state.c.key, t.channel_state.c.payload).where(
            t.channel_state.c.source == source, t.channel_state.c.kind == kind).order_by(t.channel_state.c.key))
        for row in rows:
            yield str(row.key), str(row.payload)

    def delete(self, source: str, kind: str, keys: Iterable[str]) -> None:
        for chunk in _chunks(list(keys)):
            self.conn.execute(delete(t.channel_state).where(
                t.channel_state.c.source == source, t.channel_state.c.kind == kind, t.channel_state.c.key.in_(chunk)))

    def forget(self, source: str, kind: str, *, before: dt.datetime) -> int:
        """Delete ``source``'s rows of ``kind`` last written before ``before`` (a retention limit); how many."""
        c = t.channel_state.c
        return int(self.conn.execute(delete(t.channel_state).where(
            c.source == source, c.kind == kind, c.updated_at < before)).rowcount)


class Events(_Repo):
    """Each step of a record's journey, written in the transaction of the step itself, so a trace never shows a
    step that was rolled back nor misses one that was committed."""

    def add(self, *events: Event) -> None:
        if events:
            self.conn.execute(t.events.insert(), [vars(event) for event in events])

    def of(self, entity: str, key: str) -> list[Event]:
        """The journey of ``key``, oldest step first."""
        rows = self.conn.execute(select(t.events).where(t.events.c.entity == entity, t.events.c.key == key)
                                 .order_by(t.events.c.at, t.events.c.id))
        return [Event(**{f.name: getattr(r, f.name) for f in fields(Event)}) for r in rows]

    def keys(self, wanted: str, *, written_as: Sequence[str] = ()) -> list[tuple[str, str]]:
        """(entity, key) of the records ``wanted`` names: their key (``shop:1001``), their channel's id
        (``1001``), or, in the detail of a step in ``written_as``, what the target numbered them (1C's number)."""
        c = t.events.c
        named = or_(c.key == wanted, c.key.endswith(f":{wanted}", autoescape=True),
                    (c.stage.in_(written_as) & c.detail.contains(wanted, autoescape=True)))
        rows = self.conn.execute(select(c.entity, c.key).where(named).group_by(c.entity, c.key)
                                 .order_by(func.min(c.id)))
        return [(str(r.entity), str(r.key)) for r in rows]


class RunLog(_Repo):
    """The log lines each run wrote, as its log shows them."""

    def add(self, run_id: int, lines: Iterable[tuple[dt.datetime, str, str]]) -> None:
        """Keep ``lines`` (when, level, message) for ``run_id``."""
        rows = [{"run_id": run_id, "at": at, "level": level, "message": message} for at, level, message in lines]
        if rows:
            self.conn.execute(t.run_log.insert(), rows)

    def of(self, run_id: int) -> list[tuple[dt.datetime, str, str]]:
        rows = self.conn.execute(select(t.run_log.c.at, t.run_log.c.level, t.run_log.c.message).where(
            t.run_log.c.run_id == run_id).order_by(t.run_log.c.id))
        return [(r.at, str(r.level), str(r.message)) for r in rows]


class GuestProfiles(_Repo):
    """Each matched guest's running figures (the rows of ``guest_profiles``, as hub.guests reads and writes
    them) and the record of guests entering and leaving segments."""

    def get(self, guest: str) -> dict[str, Any] | None:
        row = self.conn.execute(select(t.guest_profiles).where(t.guest_profiles.c.guest == guest)).first()
        return None if row is None else dict(row._mapping)

    def put(self, row: Mapping[str, Any]) -> None:
        """Insert or replace a whole profile row (every column but ``updated_at``, which is set here)."""
        self.conn.execute(_profile_upsert(self.conn.dialect.name), [{**row, "updated_at": utcnow()}])

    def page(self, *, after: str = "", limit: int = 500) -> list[dict[str, Any]]:
        """Profiles in guest order after ``after``: a whole pass reads the table once, a page at a time."""
        rows = self.conn.execute(select(t.guest_profiles).where(t.guest_profiles.c.guest > after)
                                 .order_by(t.guest_profiles.c.guest).limit(limit))
        return [dict(row._mapping) for row in rows]

    def rename(self, guest: str, to: str) -> None:
        """Keep ``guest``'s figures under ``to`` (an anonymous id once the guest is forgotten)."""
        self.conn.execute(update(t.guest_profiles).where(t.guest_profiles.c.guest == guest).values(guest=to))
        self.conn.execute(update(t.segment_events).where(t.segment_events.c.guest == guest).values(guest=to))

    def clear(self) -> None:
        """Every profile gone, before a rebuild from the order history."""
        self.conn.execute(delete(t.guest_profiles))

    def moved(self, guest: str, segment: str, *, entered: bool, at: dt.datetime) -> None:
        self.conn.execute(t.segment_events.insert(), [{"guest": guest, "segment": segment, "entered": entered,
                                                       "at": at}])

    def movements(self, since: dt.datetime) -> list[tuple[str, str, bool, dt.datetime]]:
        """(guest, segment, entered, at) since ``since``, oldest first."""
        rows = self.conn.execute(select(t.segment_events).where(t.segment_events.c.at >= since)
                                 .order_by(t.segment_events.c.id))
        return [(row.guest, row.segment, row.entered, row.at) for row in rows]


@functools.cache
def _profile_upsert(dialect: str) -> Any:
    # Made once per dialect: building ``excluded`` anew took most of the time of counting an order in.
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(t.guest_profiles)
    return stmt.on_conflict_do_update(index_elements=["guest"], set_={
        column.name: stmt.excluded[column.name] for column in t.guest_profiles.c if column.name != "guest"})
