"""Dead letters an operator can work with: stable ids, dismissal with a reason, retry of many, a readable payload;
and ``hub sync --job`` / ``--all``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import select

import cli
from hub import operations
from hub.config import load_config
from hub.daemon import ui_view
from hub.daemon.metrics import Metrics
from hub.errors import InvalidRecord
from hub.model import Order, Record
from hub.operations import readable_payload
from hub.plausibility import OrderRules
from hub.state import LetterStatus, StateStore, open_store
from hub.state import schema as t
from hub.trace import trace
from hub.values import json_loads, utcnow
from tests.conftest import ChannelPair, OneCStage
from tests.test_onec_flows import jobs as onec_jobs

pytestmark = pytest.mark.slow


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli.main, ["--config", str(config), *args])


def repair(pair: ChannelPair, wrong: str, right: str) -> None:
    """The fix an operator makes before a retry: here, the kept bodies corrected in place."""
    store = open_store(pair.state_url)
    with store.transaction() as state:
        state.conn.exec_driver_sql("UPDATE inbox SET body = replace(body, ?, ?)", (wrong, right))
    store.close()


def open_letters(pair: ChannelPair) -> int:
    return int(json_loads(run(pair.config_file, "status", "--json").output)["dead_letters_open"])


# --- the store ---------------------------------------------------------------------------------


def test_a_record_failing_again_keeps_its_letter_and_counts_the_attempt(store: StateStore) -> None:
    letter: dict[str, Any] = {"source": "shop", "entity": "order", "external_id": "7", "stage": "decode"}
    with store.transaction() as state:
        first = state.dead_letters.add(**letter, reason="unknown status", payload=b"{}", inbox_id=1)
        state.dead_letters.mark(first, LetterStatus.RETRIED)
        again = state.dead_letters.add(**letter, reason="unknown status, still", payload=b"{ }", inbox_id=2)
        other = state.dead_letters.add(**letter | {"external_id": "8"}, reason="x", payload=b"{}", inbox_id=3)
    with store.transaction() as state:
        kept = state.dead_letters.get(first)
        assert again == first and other != first
        assert kept is not None
        assert (kept.status, kept.attempts, kept.reason, kept.inbox_id) == ("open", 2, "unknown status, still", 2)
        state.dead_letters.dismiss(first, by="cli:anna", note="entered in 1C by hand")
    with store.transaction() as state:
        assert state.dead_letters.count() == 1
        # Once dismissed, a new failure of the record is news: a letter of its own.
        assert state.dead_letters.add(**letter, reason="y", payload=b"{}", inbox_id=4) not in (first, other)
        dismissed = state.dead_letters.get(first)
        assert dismissed is not None and (dismissed.closed_by, dismissed.note) == ("cli:anna", "entered in 1C by hand")


def test_the_open_dead_letters_metric_drops_when_one_is_dismissed(store: StateStore) -> None:
    with store.transaction() as state:
        letter = state.dead_letters.add(source="shop", entity="order", external_id="7", stage="decode",
                                        reason="r", payload=b"{}")
    metrics = Metrics(store)
    assert "hub_dead_letters_open 1.0" in metrics.exposition().decode()
    with store.transaction() as state:
        state.dead_letters.dismiss(letter, by="cli", note="a test order")
    assert "hub_dead_letters_open 0.0" in metrics.exposition().decode()


def test_every_open_letter_is_listed_when_no_limit_is_asked_for(store: StateStore) -> None:
    with store.transaction() as state:
        for n in range(150):
            state.dead_letters.add(source="shop", entity="order", external_id=str(n), stage="decode", reason="r",
                                   payload=b"{}")
    assert len(operations.dead_letters(store)) == 100   # a page for a person to read
    assert len(operations.dead_letters(store, limit=None)) == 150   # what `retry --all` takes


# --- the payload, as a person reads it ------------------------------------------------------------


def test_a_json_payload_is_indented_with_its_numbers_exactly_as_sent() -> None:
    escaped_name = b'"\\u0410\\u043d\\u043d\\u0430"'  # Анна, as a channel may escape it
    shown = readable_payload(b'{"total":100.50,"items":[{"sku":"A","qty":0.305}],"name":' + escaped_name + b"}")
    assert shown.splitlines()[:3] == ["{", '  "items": [', "    {"]
    assert '      "qty": 0.305,' in shown and '  "name": "Анна",' in shown and '  "total": 100.50' in shown


def test_an_xml_payload_is_indented() -> None:
    body = '<?xml version="1.0" encoding="windows-1251"?><Документ><Номер>17</Номер><Сумма>10.00</Сумма></Документ>'
    assert readable_payload(body.encode("cp1251")).splitlines() == [
        "<Документ>", "  <Номер>17</Номер>", "  <Сумма>10.00</Сумма>", "</Документ>"]


def test_a_form_body_is_decoded_one_field_a_line() -> None:
    assert readable_payload(b"Phone=%2B7%20916%20555&Name=%D0%90%D0%BD%D0%BD%D0%B0&Note=") == \
        "Phone: +7 916 555\nName: Анна\nNote: "


def test_anything_else_is_shown_as_text() -> None:
    assert readable_payload(b"{not json") == "{not json"
    assert readable_payload("просто текст".encode()) == "просто текст"


# --- the commands --------------------------------------------------------------------------------


def test_a_retried_letter_that_fails_again_keeps_its_id_then_goes_through(pair: ChannelPair) -> None:
    bad = pair.shop.place_order(status="teleported")
    assert run(pair.config_file, "sync", "--source", "shop").exit_code == 1

    again = run(pair.config_file, "deadletters", "retry", "1")   # nothing fixed yet
    assert again.exit_code == 1, again.output
    listed = run(pair.config_file, "deadletters", "list", "--all")
    assert "1 dead letter(s)." in listed.output
    shown = run(pair.config_file, "deadletters", "show", "1")
    assert " attempts: 2" in shown.output and "   status: open" in shown.output
    assert '  "status": "teleported",' in shown.output   # the payload, indented

    repair(pair, "teleported", "paid")
    assert run(pair.config_file, "deadletters", "retry", "1").exit_code == 0
    assert f"shop:{bad['id']}" in {o["client_ref"] for o in pair.erp.orders.values()}
    assert "retried" in run(pair.config_file, "deadletters", "list", "--all").output


def test_dismissed_letters_close_with_who_and_why_and_stop_counting_as_open(pair: ChannelPair) -> None:
    for _ in range(3):
        pair.shop.place_order(status="teleported")
    assert run(pair.config_file, "sync", "--source", "shop").exit_code == 1
    assert open_letters(pair) == 3

    done = run(pair.config_file, "deadletters", "dismiss", "1", "3", "--reason", "test orders, entered by hand")
    assert done.exit_code == 0, done.output
    assert "dismissed 2 dead letter(s): 1, 3." in done.output
    assert open_letters(pair) == 1
    shown = run(pair.config_file, "deadletters", "show", "3").output
    assert "closed by: cli" in shown and "     note: test orders, entered by hand" in shown

    twice = run(pair.config_file, "deadletters", "dismiss", "3", "--reason", "again")
    assert twice.exit_code == 2 and "dead letter 3 is dismissed, not open" in twice.output
    retried = run(pair.config_file, "deadletters", "retry", "1")
    assert retried.exit_code == 2 and "dead letter 1 is dismissed, not open" in retried.output
    assert run(pair.config_file, "deadletters", "dismiss", "2", "--reason", " ").exit_code == 2
    assert open_letters(pair) == 1


def test_retry_all_puts_every_open_letter_of_a_source_back_in_one_run(pair: ChannelPair) -> None:
    bad = [pair.shop.place_order(status="teleported") for _ in range(3)]
    assert run(pair.config_file, "sync", "--source", "shop").exit_code == 1
    repair(pair, "teleported", "paid")

    assert run(pair.config_file, "deadletters", "retry", "--all", "--source", "erp").output.strip() == \
        "no open dead letters to retry."
    retried = run(pair.config_file, "deadletters", "retry", "--all", "--source", "shop", "--stage", "decode")
    assert retried.exit_code == 0, retried.output
    assert "1 run(s); all went through." in retried.output
    assert {f"shop:{order['id']}" for order in bad} <= {o["client_ref"] for o in pair.erp.orders.values()}
    assert open_letters(pair) == 0
    assert run(pair.config_file, "deadletters", "retry").exit_code == 2   # neither ids nor --all


def test_a_delivery_failing_again_after_a_retry_keeps_its_letter(
        onec_stage: Callable[..., OneCStage]) -> None:
    stage = onec_stage(onec_jobs, channels=("shop",))
    synced = stage.hub("sync", "--source", "onec")
    assert synced.exit_code == 0, synced.output
    line = {"sku": "NEW-1", "title": "Новинка", "qty": "1", "price": "150.00", "discount": "0", "total": "150.00"}
    stage.shop.place_order(items=[line], total="150.00")
    assert stage.hub("sync", "--source", "shop").exit_code == 1

    assert stage.hub("deadletters", "retry", "1").exit_code == 1   # the good is still unknown to 1C
    listed = stage.hub("deadletters", "list")
    assert "1 dead letter(s)." in listed.output
    assert " attempts: 2" in stage.hub("deadletters", "show", "1").output


def test_a_decode_error_quoting_the_guest_is_stored_masked_wherever_it_is_kept(
        pair: ChannelPair, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: OrderRules, record: Record) -> None:
        assert isinstance(record, Order) and record.customer is not None
        guest = record.customer
        raise InvalidRecord(f"refused {guest.first_name} {guest.last_name}, phone {guest.phones[0]}, "
                            f"email {guest.emails[0]}")

    monkeypatch.setattr(OrderRules, "check", refuse)
    pair.shop.place_order()
    assert run(pair.config_file, "sync", "--source", "shop").exit_code == 1

    store = open_store(pair.state_url)
    with store.transaction() as state:
        letter = state.dead_letters.get(1)
        [run_info] = state.runs.recent()
        kept = [letter.reason if letter else None, run_info.error_summary,
                *state.conn.execute(select(t.inbox.c.error)).scalars(),
                *state.conn.execute(select(t.events.c.detail).where(t.events.c.stage == "dead_letter")).scalars()]
    store.close()

    assert len(kept) == 4
    for text in kept:
        assert text is not None and "refused " in text
        for personal in ("Анна", "Смирнова", "916", "Anna.Smirnova", "anna.smirnova"):
            assert personal not in text, text


def test_an_order_1c_refused_counts_as_failed_on_the_ui_and_its_letter_leads_to_its_trace(
        onec_stage: Callable[..., OneCStage]) -> None:
    stage = onec_stage(onec_jobs, channels=("shop",))
    synced = stage.hub("sync", "--source", "onec")
    assert synced.exit_code == 0, synced.output
    line = {"sku": "NEW-1", "title": "Новинка", "qty": "1", "price": "150.00", "discount": "0", "total": "150.00"}
    order = stage.shop.place_order(items=[line], total="150.00")
    assert stage.hub("sync", "--source", "shop").exit_code == 1  # decoded and queued; 1C knows no NEW-1

    config = load_config(stage.config)
    store = open_store(stage.state_url)
    with store.transaction() as state:
        [letter] = state.dead_letters.list()
        day = ui_view.today(state, config, utcnow())
    journeys = trace(store, f"{letter.source}:{letter.external_id}", personal=False)  # the /ui link's order=
    store.close()

    assert (letter.stage, letter.external_id) == ("deliver", str(order["id"]))
    [shop] = [c for c in day.channels if c.source == "shop"]
    assert (shop.received, shop.in_onec, shop.waiting, shop.failed) == (1, 0, 0, 1)
    assert [j.key for j in journeys] == [f"shop:{order['id']}"]
    assert "dead_letter" in [step.stage for step in journeys[0].steps]


# --- hub sync --job / --all ----------------------------------------------------------------------


def with_jobs(pair: ChannelPair, jobs: dict[str, Any]) -> Path:
    config = yaml.safe_load(pair.config_file.read_text())
    config["jobs"] = jobs
    pair.config_file.write_text(yaml.safe_dump(config))
    return pair.config_file


def test_sync_job_runs_that_job_and_all_runs_every_job(pair: ChannelPair) -> None:
    config = with_jobs(pair, {"shop-orders": {"type": "orders", "from": "shop", "to": "erp"},
                              "erp-orders": {"type": "orders", "from": "erp", "to": "shop"}})
    pair.shop.place_order()

    one = run(config, "sync", "--job", "shop-orders")
    assert one.exit_code == 0, one.output
    assert "1 run(s); all went through." in one.output and "erp-orders" not in one.output
    assert len(pair.erp.orders) == 1

    every = run(config, "sync", "--all")
    assert every.exit_code == 0, every.output
    assert "2 run(s); all went through." in every.output
    assert "shop-orders" in every.output and "erp-orders" in every.output


def test_sync_says_which_jobs_when_told_none_or_a_wrong_one(pair: ChannelPair) -> None:
    nothing = run(pair.config_file, "sync")
    assert nothing.exit_code == 2 and "--source NAME, --job NAME or --all" in nothing.output
    assert run(pair.config_file, "sync", "--all", "--source", "shop").exit_code == 2
    wrong = run(pair.config_file, "sync", "--job", "shop-ordres")
    assert wrong.exit_code == 2 and "did you mean 'shop-orders'?" in wrong.output
    assert run(pair.config_file, "sync", "--job", "shop-orders", "--entity", "order").exit_code == 2
