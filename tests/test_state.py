"""The state store on SQLite and on a real PostgreSQL server.

Every test here runs once per dialect (see the ``state_url`` fixture): migrations,
each repository's promises, transactions, and concurrent writers.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.exc import StatementError

import hub.state.store
from hub.errors import LinkConflict, StateSchemaError
from hub.model import RawRecord
from hub.state import InboxStatus, LetterStatus, RunCounts, RunStatus, StateStore, open_store
from hub.state.schema import metadata
from hub.state.store import Fingerprints, OutboxItem
from hub.values import json_loads, utcnow

HEAD = ScriptDirectory(str(Path(hub.state.store.__file__).parent / "migrations")).get_current_head()
MANY = 1201  # ids spread over three chunks of the 500 the store queries at a time


# --- migrations -------------------------------------------------------------------------


def test_migrations_build_every_table_and_a_second_run_changes_nothing(
        state_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(state_url)
    assert store.revision() == HEAD
    assert set(inspect(store.engine).get_table_names()) == {*metadata.tables, "alembic_version"}
    with store.transaction() as state:
        state.cursors.set("iiko", "orders", "42")
    store.close()

    def upgrade_again(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an up-to-date database was migrated again")

    monkeypatch.setattr(command, "upgrade", upgrade_again)
    again = open_store(state_url)
    assert again.revision() == HEAD
    with again.transaction() as state:
        assert state.cursors.get("iiko", "orders") == "42"
    again.close()


def test_migrated_database_matches_schema_py(store: StateStore) -> None:
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_stores_opened_at_once_on_a_fresh_database_migrate_it_once(state_url: str, tmp_path: Path) -> None:
    """Daemons starting together on a new database: all open it, and no migration fails."""
    # A race shows in some runs only: SQLite gets twenty fresh files (cheap), PostgreSQL the one database.
    urls = ([f"sqlite:///{tmp_path / f'fresh{n}.db'}" for n in range(20)] if state_url.startswith("sqlite")
            else [state_url])
    for url in urls:
        start = threading.Barrier(4)
        opened: list[StateStore] = []
        failures: list[BaseException] = []

        def open_one(url: str = url, start: threading.Barrier = start, opened: list[StateStore] = opened,
                     failures: list[BaseException] = failures) -> None:
            start.wait()
            try:
                opened.append(open_store(url))
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert failures == [], url
        assert [store.revision() for store in opened] == [HEAD] * 4
        assert "scheduler_jobs" in inspect(opened[0].engine).get_table_names()
        for store in opened:
            store.close()


def test_revision_0001_builds_its_tables_without_schema_py(
        state_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Frozen history: 0001 must build the same tables whatever schema.py says today.
    monkeypatch.setattr(metadata, "create_all", _refuse_create_all)
    store = StateStore(state_url)
    with store.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
    columns = {c["name"] for c in inspect(store.engine).get_columns("fingerprints")}
    assert columns == {"target", "entity", "key", "hash", "updated_at"}
    tables = inspect(store.engine).get_table_names()
    assert "leases" not in tables  # 0003's
    indexes = {i["name"] for table in tables for i in inspect(store.engine).get_indexes(table)}
    assert indexes >= {"ix_id_links_ref", "ix_inbox_pending", "ix_outbox_due", "ix_runs_job",
                       "ix_dead_letters_status", "ix_discrepancies_open"}
    store.close()


def test_upgrading_a_0001_database_keeps_its_fingerprints(state_url: str) -> None:
    store = StateStore(state_url)
    with store.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
        conn.execute(text("INSERT INTO fingerprints (target, entity, key, hash, updated_at) "
                          "VALUES ('shop', 'prices', 'SKU-1', :hash, :at)"),
                     {"hash": Fingerprints.of("old"), "at": utcnow()})
    assert store.revision() == "0001"
    store.migrate()
    assert store.revision() == HEAD
    with store.transaction() as state:
        assert state.fingerprints.get_many("shop", "prices", ["SKU-1"]) == {"SKU-1": Fingerprints.of("old")}
        assert state.fingerprints.payloads("shop", "prices", ["SKU-1"]) == {"SKU-1": None}
        state.fingerprints.put_many("shop", "prices", {"SKU-1": "new"})
        assert state.fingerprints.payloads("shop", "prices", ["SKU-1"]) == {"SKU-1": "new"}
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    store.close()


def test_upgrading_keeps_the_scheduler_table_an_earlier_hub_let_apscheduler_make(state_url: str) -> None:
    store = StateStore(state_url)
    with store.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0005")
    jobstore = SQLAlchemyJobStore(engine=store.engine, tablename="scheduler_jobs")
    jobstore.start(BackgroundScheduler(), "default")  # as a daemon before 0006 did
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO scheduler_jobs (id, next_run_time, job_state) VALUES ('orders', 1, :s)"),
                     {"s": b"kept"})

    store.migrate()

    assert store.revision() == HEAD
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM scheduler_jobs")).scalars().all() == ["orders"]
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    store.close()


def test_upgrading_a_0006_database_keeps_its_queued_writes_unclaimed(state_url: str) -> None:
    store = StateStore(state_url)
    with store.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
        conn.execute(text("INSERT INTO outbox (target, entity, key, source, payload, version, status, attempts, "
                          "next_attempt_at, created_at, updated_at, sent_at) VALUES ('1c', 'orders', 'shop:1', "
                          "'shop', '{}', 1, 'pending', 0, :at, :at, :at, :at)"), {"at": utcnow()})

    store.migrate()

    with store.transaction() as state:
        [item] = state.outbox.claim("1c", "host:1:a", utcnow() + dt.timedelta(minutes=1))
        assert (item.key, item.payload, item.claimed_by) == ("shop:1", "{}", "host:1:a")
    store.close()


def _alembic_config(conn: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(hub.state.store.__file__).parent / "migrations"))
    config.attributes["connection"] = conn
    return config


def _refuse_create_all(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("a migration built tables from schema.py")


def test_database_from_a_newer_hub_is_refused(store: StateStore) -> None:
    with store.transaction() as state:
        state.conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(StateSchemaError, match="9999_from_the_future") as refused:
        store.migrate()
    assert "newer" in str(refused.value)


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://somewhere/state", "mysql://hub@localhost/state"])
def test_url_hub_cannot_use_is_a_state_schema_error(url: str) -> None:
    with pytest.raises(StateSchemaError):
        open_store(url)


def test_unreachable_database_is_a_state_schema_error(tmp_path: Path) -> None:
    with pytest.raises(StateSchemaError, match="cannot open the state database"):
        open_store(f"sqlite:///{tmp_path / 'no such dir' / 'state.db'}")


# --- id links ---------------------------------------------------------------------------


def test_an_external_id_links_to_one_ref_only(store: StateStore) -> None:
    with store.transaction() as state:
        state.links.put("iiko", "product", "p-1", "ref-A")
        state.links.put("iiko", "product", "p-1", "ref-A")  # the same link again is fine
        state.links.put("tilda", "product", "t-9", "ref-A")
    with pytest.raises(LinkConflict, match="already linked"), store.transaction() as state:
        state.links.put("iiko", "product", "p-1", "ref-B")
    with store.transaction() as state:
        assert state.links.get("iiko", "product", "p-1") == "ref-A"
        assert state.links.get("iiko", "customer", "p-1") is None
        assert state.links.by_ref("product", "ref-A") == {"iiko": "p-1", "tilda": "t-9"}
        state.links.relink("iiko", "product", "p-1", "ref-B")
        assert state.links.get("iiko", "product", "p-1") == "ref-B"
        assert state.links.by_ref("product", "ref-A") == {"tilda": "t-9"}


def test_get_many_finds_links_across_chunks(store: StateStore) -> None:
    linked = {f"p-{n}": f"ref-{n}" for n in range(MANY)}
    with store.transaction() as state:
        for external_id, ref in linked.items():
            state.links.put("iiko", "product", external_id, ref)
        state.links.put("iiko", "customer", "p-0", "someone-else")
    wanted = [*linked, *(f"missing-{n}" for n in range(300)), "p-0"]
    with store.transaction() as state:
        assert state.links.get_many("iiko", "product", wanted) == linked
        assert state.links.get_many("iiko", "product", []) == {}


# --- cursors ----------------------------------------------------------------------------


def test_cursors_are_set_overwritten_and_reset(store: StateStore) -> None:
    before = utcnow()
    with store.transaction() as state:
        state.cursors.set("iiko", "orders", "1")
        state.cursors.set("iiko", "orders", "2")
        state.cursors.set("iiko", "stock", "s")
        state.cursors.set("tilda", "orders", "t")
    with store.transaction() as state:
        assert state.cursors.get("iiko", "orders") == "2"
        rows = state.cursors.all()
        assert [row[:3] for row in rows] == [("iiko", "orders", "2"), ("iiko", "stock", "s"),
                                             ("tilda", "orders", "t")]
        assert all(row[3] >= before and row[3].utcoffset() == dt.timedelta(0) for row in rows)
        state.cursors.reset("iiko", "orders")
        assert state.cursors.get("iiko", "orders") is None
        assert state.cursors.get("iiko", "stock") == "s"
        state.cursors.reset("iiko")
        assert [row[:2] for row in state.cursors.all()] == [("tilda", "orders")]


# --- inbox ------------------------------------------------------------------------------


def test_inbox_keeps_a_byte_identical_payload_once(store: StateStore) -> None:
    body = b'{"id": 7, "sum": "10.50"}'
    with store.transaction() as state:
        first, created = state.inbox.add("tilda", "order", body, external_id="7")
        assert created
        assert state.inbox.add("tilda", "order", body, external_id="7") == (first, False)
        others = [state.inbox.add("tilda", "order", body + b" ", external_id="7"),
                  state.inbox.add("tilda", "order", body, external_id="8"),
                  state.inbox.add("tilda", "customer", body, external_id="7"),
                  state.inbox.add("bitrix", "order", body, external_id="7")]
        assert all(created for _, created in others)
        assert len({first, *(item_id for item_id, _ in others)}) == 5
        assert state.inbox.count() == 5


def test_inbox_takes_a_pulled_page_in_one_go_and_skips_what_it_holds(store: StateStore) -> None:
    pushed = b'{"id": 1}'
    with store.transaction() as state:
        first, _ = state.inbox.add("shop", "order", pushed, external_id="1")
    # Pages longer than one IN (...) list, with a repeat inside the page and one the channel pushed before.
    page = [RawRecord("1", pushed), *(RawRecord(str(i), b'{"id": %d}' % i) for i in range(2, 1203)),
            RawRecord("2", b'{"id": 2}')]
    with store.transaction() as state:
        assert state.inbox.add_many("shop", "order", page) == 1201
        assert state.inbox.add_many("shop", "order", page) == 0
        pending = state.inbox.pending("shop", "order", limit=2000)
    assert [item.external_id for item in pending] == [str(i) for i in range(1, 1203)]
    assert pending[0].id == first
    assert pending[1].body == b'{"id": 2}' and pending[1].content_type == "application/json"


def test_inbox_keeps_every_rejected_payload(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two rejections of the same bytes within one clock tick must still be two rows.
    frozen = utcnow()
    monkeypatch.setattr(hub.state.store, "utcnow", lambda: frozen)
    with store.transaction() as state:
        added = [state.inbox.add("tilda", "order", b"not json", status=InboxStatus.REJECTED, error="bad JSON")
                 for _ in range(3)]
        assert all(created for _, created in added)
        assert len({item_id for item_id, _ in added}) == 3
        assert state.inbox.count(InboxStatus.REJECTED) == 3
        assert state.inbox.pending("tilda", "order") == []


def test_statuses_are_enums_stored_as_the_strings_older_hubs_wrote(store: StateStore) -> None:
    with store.transaction() as state:
        inbox_id, _ = state.inbox.add("shop", "orders", b"{}")
        state.inbox.mark(inbox_id, InboxStatus.DEAD, "refused")
        run_id = state.runs.start("orders", "shop")
        state.runs.finish(run_id, RunStatus.PARTIAL, RunCounts(read=1, failed=1))
        letter_id = state.dead_letters.add(source="shop", entity="orders", external_id="1", stage="decode",
                                           reason="refused", payload=b"{}", inbox_id=inbox_id)
        state.dead_letters.mark(letter_id, LetterStatus.RETRIED)
    with store.transaction() as state:
        stored = [state.conn.execute(select(metadata.tables[name].c.status).where(metadata.tables[name].c.id == row))
                  .scalar_one() for name, row in (("inbox", inbox_id), ("runs", run_id), ("dead_letters", letter_id))]
        item, run, letter = state.inbox.get(inbox_id), state.runs.get(run_id), state.dead_letters.get(letter_id)
    assert stored == ["dead", "partial", "retried"]  # what migrations 0001… hold: no migration needed
    assert item is not None and run is not None and letter is not None
    assert (item.status, run.status, letter.status) == (InboxStatus.DEAD, RunStatus.PARTIAL, LetterStatus.RETRIED)
    assert all(type(status) is not str for status in (item.status, run.status, letter.status))


def test_inbox_hands_out_pending_items_in_order_and_marks_them(store: StateStore) -> None:
    body = bytes(range(256))  # not UTF-8: the inbox keeps bytes, not text
    with store.transaction() as state:
        ids = [state.inbox.add("iiko", "order", body + bytes([n]), external_id=str(n),
                               content_type="application/octet-stream", headers={"X-Signature": "abc"})[0]
               for n in range(5)]
        state.inbox.add("iiko", "product", b"{}")
    with store.transaction() as state:
        pending = state.inbox.pending("iiko", "order", limit=3)
        assert [item.id for item in pending] == ids[:3]
        assert [item.id for item in state.inbox.pending("iiko", "order", after_id=ids[2])] == ids[3:]
        item = pending[0]
        assert (item.body, item.external_id, item.status) == (body + b"\0", "0", "pending")
        assert (item.content_type, json_loads(item.headers)) == ("application/octet-stream",
                                                                 {"X-Signature": "abc"})
        state.inbox.mark(ids[0], InboxStatus.DONE)
        state.inbox.mark(ids[1], InboxStatus.DEAD, error="no such product")
    with store.transaction() as state:
        assert [item.id for item in state.inbox.pending("iiko", "order")] == ids[2:]
        failed = state.inbox.get(ids[1])
        assert failed is not None
        assert (failed.status, failed.error) == (InboxStatus.DEAD, "no such product")
        assert state.inbox.get(-1) is None
        counts = state.inbox.count(), state.inbox.count(InboxStatus.PENDING), state.inbox.count(InboxStatus.DONE)
        assert counts == (6, 4, 1)


def test_concurrent_writers_of_the_same_payloads_store_each_once(store: StateStore) -> None:
    bodies = [b'{"order": %d}' % n for n in range(1000)]
    start = threading.Barrier(2)
    results: list[list[tuple[int, bool]]] = [[], []]
    errors: list[BaseException] = []

    def write(into: list[tuple[int, bool]]) -> None:
        try:
            start.wait()
            for body in bodies:
                with store.transaction() as state:
                    into.append(state.inbox.add("tilda", "order", body))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(result,)) for result in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.transaction() as state:
        assert state.inbox.count() == 1000
    assert [a[0] for a in results[0]] == [b[0] for b in results[1]]  # both writers got the same row ids
    assert sum(created for result in results for _, created in result) == 1000


# --- outbox -----------------------------------------------------------------------------


def test_outbox_keeps_the_newest_payload_and_refuses_a_stale_done(store: StateStore) -> None:
    with store.transaction() as state:
        state.outbox.enqueue("1c", "order", "o-1", '{"v": 1}', source="tilda", inbox_id=10)
        state.outbox.enqueue("1c", "order", "o-1", '{"v": 1}', source="tilda", inbox_id=10)
        [stale] = state.outbox.due("1c")
        assert (stale.version, stale.payload, stale.inbox_id) == (1, '{"v": 1}', 10)
        state.outbox.enqueue("1c", "order", "o-1", '{"v": 2}', source="tilda", inbox_id=11)
        assert state.outbox.done(stale, "ref-1") is False
        [fresh] = state.outbox.due("1c")
        assert (fresh.id, fresh.version, fresh.payload, fresh.status) == (stale.id, 2, '{"v": 2}', "pending")
        assert state.outbox.done(fresh, "ref-1") is True
        assert state.outbox.due("1c") == []
        done = state.outbox.get(fresh.id)
        assert done is not None
        assert (done.status, done.ref) == ("done", "ref-1")


def test_outbox_retries_gives_up_and_revives(store: StateStore) -> None:
    with store.transaction() as state:
        state.outbox.enqueue("1c", "order", "o-1", "{}", source="tilda")
        state.outbox.enqueue("1c", "product", "p-1", "{}", source="iiko")
        state.outbox.enqueue("bitrix", "deal", "d-1", "{}", source="tilda")
        now = utcnow()
        later = now + dt.timedelta(minutes=5)
        assert state.outbox.depth() == {"1c": 2, "bitrix": 1}
        [order] = state.outbox.due("1c", entity="order")
        state.outbox.retry_later(order, "503 from 1C", later)
        assert [item.key for item in state.outbox.due("1c", now=now)] == ["p-1"]
        [retried] = state.outbox.due("1c", entity="order", now=later)
        assert (retried.attempts, retried.last_error) == (1, "503 from 1C")
        state.outbox.give_up(retried, "still 503")
        dead = state.outbox.get(order.id)
        assert dead is not None
        assert (dead.status, dead.attempts) == ("dead", 2)
        assert state.outbox.depth() == {"1c": 1, "bitrix": 1}
        state.outbox.revive(order.id)
        revived = state.outbox.get(order.id)
        assert revived is not None
        assert (revived.status, revived.attempts, revived.last_error) == ("pending", 0, None)


def test_an_outbox_entry_is_claimed_by_one_run_until_released_or_its_claim_lapses(store: StateStore) -> None:
    soon = utcnow() + dt.timedelta(minutes=10)
    with store.transaction() as state:
        for n in range(3):
            state.outbox.enqueue("1c", "orders", f"o-{n}", "{}", source="shop")
        first = state.outbox.claim("1c", "host:1:a", soon, limit=2)
        assert [(i.key, i.claimed_by) for i in first] == [("o-0", "host:1:a"), ("o-1", "host:1:a")]
        assert [i.key for i in state.outbox.claim("1c", "host:2:b", soon)] == ["o-2"]  # not what a holds
        assert state.outbox.claim("1c", "host:3:c", soon) == []
        assert state.outbox.due("1c") == [] and state.outbox.due_streams() == set()
        assert state.outbox.hold(first[0], "host:1:a", soon) and not state.outbox.hold(first[0], "host:2:b", soon)

        state.outbox.release("host:1:a")
        lapsed = utcnow() - dt.timedelta(seconds=1)
        assert [i.key for i in state.outbox.claim("1c", "host:2:b", lapsed)] == ["o-0", "o-1"]
        assert not state.outbox.hold(first[0], "host:1:a", soon), "a released it: it must not write it"
        assert [i.key for i in state.outbox.claim("1c", "host:3:c", soon)] == ["o-0", "o-1"]
        assert not state.outbox.hold(first[0], "host:2:b", soon), "b's claim lapsed and c took it"


def test_entries_claimed_by_a_process_that_is_gone_are_claimed_again_at_once(store: StateStore) -> None:
    soon = utcnow() + dt.timedelta(minutes=10)
    with store.transaction() as state:
        state.outbox.enqueue("1c", "orders", "o-1", "{}", source="shop")
        state.outbox.claim("1c", "host:1:a", soon)
        assert state.outbox.claim("1c", "host:2:b", soon, dead=lambda holder: False) == []
        [item] = state.outbox.claim("1c", "host:2:b", soon, dead=lambda holder: holder == "host:1:a")
        assert item.claimed_by == "host:2:b"


def test_an_entry_written_retried_or_given_up_is_released(store: StateStore) -> None:
    soon = utcnow() + dt.timedelta(minutes=10)
    with store.transaction() as state:
        for key in ("done", "stale", "later", "dead"):
            state.outbox.enqueue("1c", "orders", key, "{}", source="shop")
        done, stale, later, dead = state.outbox.claim("1c", "host:1:a", soon)
        state.outbox.enqueue("1c", "orders", "stale", '{"v": 2}', source="shop")
        assert state.outbox.done(done, "ref-1") and not state.outbox.done(stale, "ref-2")
        state.outbox.retry_later(later, "503", utcnow())
        state.outbox.give_up(dead, "400")
        assert {i.key: i.claimed_by for i in map(state.outbox.get, (done.id, stale.id, later.id, dead.id))
                if i is not None} == dict.fromkeys(("done", "stale", "later", "dead"))
        [again, retried] = state.outbox.claim("1c", "host:2:b", soon)  # the newer payload and the retry are due
        assert (again.key, again.payload, retried.key) == ("stale", '{"v": 2}', "later")


def test_runs_claiming_at_once_never_get_the_same_entry(store: StateStore) -> None:
    entries = 120
    with store.transaction() as state:
        for n in range(entries):
            state.outbox.enqueue("1c", "orders", f"o-{n}", "{}", source="shop")
    runs, limit = 4, 7
    rounds = threading.Barrier(runs)  # every run claims in every round, at once with the others
    claimed: dict[str, list[int]] = {}

    def run(holder: str) -> None:
        got: list[int] = []
        while True:
            rounds.wait()
            got += [item.id for item in _claim(store, holder, limit=limit)]
            rounds.wait()  # nobody claims until every run has seen what is left
            with store.reading() as state:
                if not state.outbox.due("1c"):
                    break
        claimed[holder] = got

    threads = [threading.Thread(target=run, args=(f"host:{n}:x",)) for n in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [item_id for got in claimed.values() for item_id in got]
    assert len(ids) == len(set(ids)) == entries
    assert all(claimed.values()), "a run claimed nothing: the runs did not claim at once"


def _claim(store: StateStore, holder: str, *, limit: int) -> list[OutboxItem]:
    with store.transaction() as state:
        return state.outbox.claim("1c", holder, utcnow() + dt.timedelta(minutes=1), limit=limit)


# --- fingerprints -----------------------------------------------------------------------


def test_fingerprints_are_upserted_and_read_across_chunks(store: StateStore) -> None:
    payloads = {f"p-{n}": f"payload {n}" for n in range(MANY)}
    with store.transaction() as state:
        state.fingerprints.put_many("1c", "product", payloads)
        state.fingerprints.put_many("1c", "product", {})
        state.fingerprints.put_many("1c", "product", {"p-0": "changed"})
        state.fingerprints.put_many("bitrix", "product", {"p-1": "elsewhere"})
    with store.transaction() as state:
        found = state.fingerprints.get_many("1c", "product", [*payloads, "p-unknown"])
        kept = state.fingerprints.payloads("1c", "product", ["p-0", "p-1", f"p-{MANY - 1}", "p-unknown"])
    assert found == {key: Fingerprints.of(p) for key, p in {**payloads, "p-0": "changed"}.items()}
    assert kept == {"p-0": "changed", "p-1": "payload 1", f"p-{MANY - 1}": f"payload {MANY - 1}"}


# --- runs -------------------------------------------------------------------------------


def test_starting_a_job_interrupts_its_stale_running_run(store: StateStore) -> None:
    with store.transaction() as state:
        killed = state.runs.start("orders", "tilda")
        other = state.runs.start("stock", "iiko", dry_run=True)
        current = state.runs.start("orders", "tilda")
    with store.transaction() as state:
        stale = state.runs.get(killed)
        assert stale is not None
        assert stale.status == "interrupted"
        assert stale.finished_at is not None
        assert stale.error_summary is not None
        untouched = state.runs.get(other)
        assert untouched is not None
        assert (untouched.status, untouched.dry_run, untouched.finished_at) == ("running", True, None)
        state.runs.finish(current, RunStatus.PARTIAL, RunCounts(read=5, created=2, updated=1, unchanged=1, failed=1))
    with store.transaction() as state:
        assert [run.id for run in state.runs.recent()] == [current, other, killed]
        assert [run.id for run in state.runs.recent(limit=1)] == [current]
        finished = state.runs.get(current)
        assert finished is not None
        assert finished.status is RunStatus.PARTIAL
        assert finished.counts == RunCounts(read=5, created=2, updated=1, unchanged=1, failed=1)
        assert state.runs.get(-1) is None


# --- dead letters and discrepancies -------------------------------------------------------


def test_dead_letters_are_listed_until_resolved(store: StateStore) -> None:
    with store.transaction() as state:
        run_id = state.runs.start("orders", "tilda")
        first = state.dead_letters.add(source="tilda", entity="order", external_id="7", stage="map",
                                       reason="no such product", payload=b"\xff{}", inbox_id=3, run_id=run_id)
        second = state.dead_letters.add(source="iiko", entity="product", external_id=None, stage="push",
                                        reason="1C refused", payload=b"{}", outbox_id=4)
    with store.transaction() as state:
        assert [letter.id for letter in state.dead_letters.list()] == [first, second]
        letter = state.dead_letters.get(first)
        assert letter is not None
        assert (letter.payload, letter.inbox_id, letter.run_id) == (b"\xff{}", 3, run_id)
        assert letter.status == "open"
        state.dead_letters.mark(first, LetterStatus.DISMISSED)
    with store.transaction() as state:
        assert [letter.id for letter in state.dead_letters.list()] == [second]
        assert [letter.id for letter in state.dead_letters.list(status=None)] == [first, second]
        resolved = state.dead_letters.get(first)
        assert resolved is not None
        assert (resolved.status, resolved.attempts) == (LetterStatus.DISMISSED, 1)
        assert (state.dead_letters.count(), state.dead_letters.count(LetterStatus.DISMISSED)) == (1, 1)
        assert state.dead_letters.get(-1) is None


def test_discrepancies_stay_open_until_resolved(store: StateStore) -> None:
    with store.transaction() as state:
        first = state.discrepancies.add(source="iiko", entity="stock", key="p-1", kind="quantity",
                                        detail={"hub": Decimal("1.500"), "1c": Decimal("2")})
        second = state.discrepancies.add(source="tilda", entity="order", key="o-1", kind="missing",
                                         detail={}, run_id=9)
    with store.transaction() as state:
        assert [row["id"] for row in state.discrepancies.open()] == [first, second]
        [iiko] = state.discrepancies.open("iiko")
        assert json_loads(iiko["detail"]) == {"hub": Decimal("1.500"), "1c": Decimal("2")}
        assert iiko["found_at"].utcoffset() == dt.timedelta(0)
        state.discrepancies.resolve(first)
    with store.transaction() as state:
        assert [row["id"] for row in state.discrepancies.open()] == [second]


# --- datetimes and transactions ---------------------------------------------------------


def test_aware_datetimes_come_back_as_the_same_instant_in_utc(store: StateStore) -> None:
    moscow = dt.timezone(dt.timedelta(hours=3))  # neither UTC nor the test server's own zone
    at = dt.datetime(2024, 3, 31, 1, 30, 15, 123456, tzinfo=moscow)
    with store.transaction() as state:
        state.outbox.enqueue("1c", "order", "o-1", "{}", source="tilda")
        [item] = state.outbox.due("1c")
        state.outbox.retry_later(item, "later", at)
    with store.transaction() as state:
        stored = state.outbox.get(item.id)
    assert stored is not None
    assert stored.next_attempt_at == at
    assert stored.next_attempt_at.isoformat() == "2024-03-30T22:30:15.123456+00:00"


def test_naive_datetime_is_refused(store: StateStore) -> None:
    with store.transaction() as state:
        state.outbox.enqueue("1c", "order", "o-1", "{}", source="tilda")
        [item] = state.outbox.due("1c")
    naive = dt.datetime(2024, 3, 31, 1, 30)  # noqa: DTZ001 - the point of the test
    with pytest.raises(StatementError, match="aware datetimes only"), store.transaction() as state:
        state.outbox.retry_later(item, "later", naive)


def test_a_transaction_that_raises_leaves_nothing_behind(store: StateStore) -> None:
    with pytest.raises(RuntimeError, match="crash"), store.transaction() as state:
        state.cursors.set("tilda", "orders", "100")
        state.inbox.add("tilda", "order", b"{}")
        raise RuntimeError("crash after the writes")
    with store.transaction() as state:
        assert state.cursors.get("tilda", "orders") is None
        assert state.inbox.count() == 0


def test_channel_state_keeps_the_newest_payload_per_key(store: StateStore) -> None:
    with store.transaction() as state:
        state.channel_state.put_many("yandex", "prices", {"b": '{"price": 1}', "a": '{"price": 2}'})
        state.channel_state.put_many("yandex", "prices", {"b": '{"price": 3}'})
        state.channel_state.put_many("other", "prices", {"a": "{}"})
    with store.transaction() as state:
        assert list(state.channel_state.all("yandex", "prices")) == [("a", '{"price": 2}'), ("b", '{"price": 3}')]
        assert state.channel_state.get("yandex", "prices", "b") == '{"price": 3}'
        assert state.channel_state.get("yandex", "stock", "b") is None
        state.channel_state.delete("yandex", "prices", ["a"])
    with store.transaction() as state:
        assert [key for key, _ in state.channel_state.all("yandex", "prices")] == ["b"]
        assert [key for key, _ in state.channel_state.all("other", "prices")] == ["a"]


def test_a_new_run_marks_runs_of_dead_processes_interrupted_but_not_this_process_own(store: StateStore) -> None:
    with store.transaction() as state:
        dead = state.runs.start("orders", "shop", worker="host:1")
        pulling = state.runs.start("orders", "shop", worker="host:2")  # the same process, pulling unleased
        state.runs.start("orders", "shop", worker="host:2")
        statuses = {run.id: run.status for run in state.runs.recent()}
    assert (statuses[dead], statuses[pulling]) == ("interrupted", "running")


def test_fingerprints_are_walked_page_by_page_in_key_order(store: StateStore) -> None:
    with store.transaction() as state:
        state.fingerprints.put_many("onec", "customers_as_read", {f"ref-{n:03d}": f'{{"n": {n}}}' for n in range(7)})
        state.fingerprints.put_many("shop", "customers_as_read", {"ref-other": "{}"})
    walked, after = [], ""
    while True:
        with store.reading() as state:
            page = state.fingerprints.page("onec", "customers_as_read", after=after, limit=3)
        if not page:
            break
        assert len(page) <= 3
        walked += page
        after = page[-1][0]
    assert walked == [(f"ref-{n:03d}", f'{{"n": {n}}}') for n in range(7)]
