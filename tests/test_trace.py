"""The operator's view from the command line: hub trace of one order, hub status per job, hub runs show, and
the log lines a refused record or a failed credential check leaves."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner, Result

import cli
from hub.operations import dead_letters
from hub.sandbox import SeenRequest
from hub.state import Event, StateStore, open_store
from hub.trace import trace
from hub.values import json_loads
from tests.conftest import OneCStage
from tests.connectors.onec_odata.conftest import connect
from tests.connectors.yandex_eda import test_e2e
from tests.connectors.yandex_eda.test_e2e import DOCUMENTS, Stage
from tests.daemon.conftest import wait_for
from tests.test_onec_flows import jobs as onec_jobs

stage = test_e2e.stage  # hub serving Yandex, with the 1C sandbox behind it


def hub(stage: Stage, *args: str) -> Result:
    return CliRunner().invoke(cli.main, ["--config", str(stage.config), *args])


def stages_of(stage: Stage, wanted: str) -> list[str]:
    [journey] = trace(stage.daemon.runtime.store, wanted, personal=False)
    return [step.stage for step in journey.steps]


def test_events_are_found_by_key_channel_id_or_number_and_run_lines_by_run(store: StateStore) -> None:
    at = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)

    def step(key: str, stage: str, detail: str, minutes: int) -> Event:
        return Event(at=at + dt.timedelta(minutes=minutes), source=key.partition(":")[0], entity="orders", key=key,
                     stage=stage, detail=detail, run_id=1)

    with store.transaction() as state:
        state.events.add(step("shop:1001", "created", "onec № 0000-42_%, ref r1", 2),
                         step("shop:1001", "decoded", "1 line(s)", 1), step("shop:21001", "decoded", "2 line(s)", 1),
                         step("yandex:1001", "queued", "for onec", 3))
        state.run_log.add(1, [(at, "INFO", "one"), (at, "WARNING", "two")])
    with store.reading() as state:
        assert state.events.keys("1001") == [("orders", "shop:1001"), ("orders", "yandex:1001")]
        assert state.events.keys("shop:1001") == [("orders", "shop:1001")]
        assert state.events.keys("0000-42_%", written_as=["created"]) == [("orders", "shop:1001")]
        assert state.events.keys("0000-42", written_as=[]) == []
        assert [e.stage for e in state.events.of("orders", "shop:1001")] == ["decoded", "created"]
        assert state.run_log.of(1) == [(at, "INFO", "one"), (at, "WARNING", "two")] and state.run_log.of(2) == []


@pytest.mark.slow
def test_a_yandex_order_is_traced_from_received_to_posted_and_its_status_sent_back(stage: Stage) -> None:
    order = stage.order_from_menu(weighed=False)
    eats_id = order["eatsId"]
    stage.yandex.place_order(order)
    [document] = wait_for(lambda: [d for d in stage.documents(eats_id) if d["Posted"]], what="the posted 1C order")
    connect(stage.onec).update(DOCUMENTS, document["Ref_Key"], {"Статус": "КОтгрузке"},
                               data_version=document["DataVersion"])
    stage.run("yandex-statuses")  # sends 1C's status back

    shown = hub(stage, "trace", eats_id)

    assert shown.exit_code == 0, shown.output
    assert stages_of(stage, eats_id) == ["received", "decoded", "queued", "created", "posted", "status_sent"]
    number = document["Number"].strip()
    assert f"onec № {number}, ref {document['Ref_Key']}" in shown.output
    assert f"orders yandex:{eats_id}" in shown.output and "ready to yandex" in shown.output
    # 1C's number and the key name the same journey; its times are in the configured zone (Moscow, +03:00).
    assert stages_of(stage, number) == stages_of(stage, f"yandex:{eats_id}") == stages_of(stage, eats_id)
    [journey] = json_loads(hub(stage, "trace", number, "--json", "--body").output)
    assert journey["key"] == f"yandex:{eats_id}" and all(s["at"].endswith("+03:00") for s in journey["steps"])
    [(inbox_id, body)] = [(r["inbox_id"], json_loads(r["body"])) for r in journey["received"]]
    assert body["eatsId"] == eats_id and f"inbox {inbox_id}" in shown.output


@pytest.mark.slow
def test_a_failing_order_is_traced_to_its_dead_letter_and_logged_with_the_reason(
        stage: Stage, caplog: pytest.LogCaptureFixture) -> None:
    order = stage.yandex.make_order([("no-such-dish", "Борщ", Decimal(1), Decimal(350))], restaurant_id="main")
    caplog.set_level(logging.WARNING, logger="hub")
    stage.yandex.place_order(order)
    [letter] = wait_for(lambda: dead_letters(stage.daemon.runtime.store), what="the dead letter")

    [journey] = trace(stage.daemon.runtime.store, order["eatsId"], personal=False)

    assert [step.stage for step in journey.steps] == ["received", "decoded", "queued", "dead_letter"]
    assert "no-such-dish" in journey.steps[-1].detail and journey.steps[-1].run_id == letter.run_id
    refused = [r.getMessage() for r in caplog.records if "kept as a dead letter" in r.getMessage()]
    assert len(refused) == 1 and f"yandex:{order['eatsId']}" in refused[0] and "no-such-dish" in refused[0]


@pytest.mark.slow
def test_trace_of_a_record_hub_never_saw_says_so_in_one_line(stage: Stage) -> None:
    shown = hub(stage, "trace", "NOPE-404")

    assert shown.exit_code == 2 and "hub has no record 'NOPE-404'" in shown.output and "Traceback" not in shown.output


@pytest.mark.slow
def run_finished(stage: Stage, run_id: int | None) -> bool:
    assert run_id is not None
    with stage.daemon.runtime.store.transaction() as state:
        run = state.runs.get(run_id)
    return run is not None and run.finished_at is not None


def test_status_has_a_line_per_job_and_runs_show_prints_a_runs_own_lines(stage: Stage) -> None:
    order = stage.yandex.make_order([("no-such-dish", "Борщ", Decimal(1), Decimal(350))], restaurant_id="main")
    stage.yandex.place_order(order)
    [letter] = wait_for(lambda: dead_letters(stage.daemon.runtime.store), what="the dead letter")
    # The letter is kept inside its run, which writes its own ending a moment later: status reads that ending.
    wait_for(lambda: run_finished(stage, letter.run_id), what="the dead letter's run to end")

    every = json_loads(hub(stage, "status", "--json").output)["jobs"]
    failing = json_loads(hub(stage, "status", "--failed", "--json").output)
    one = hub(stage, "status", "--job", "yandex-catalog")
    lines = hub(stage, "runs", "show", str(letter.run_id))

    assert sorted(j["job"] for j in every) == ["customers", "yandex-catalog", "yandex-orders", "yandex-prices",
                                               "yandex-statuses", "yandex-stock"]
    [orders] = failing["jobs"]
    assert orders["job"] == "yandex-orders" and orders["last_run"]["status"] == "partial"
    assert orders["last_run"]["failed"] == 1 and orders["last_success"] is None
    assert orders["schedule"] == "every 1h" and orders["next_run"].endswith("+03:00")
    assert "no-such-dish" in orders["last_error"]["error"]
    assert [r["job"] for r in failing["runs"]] == ["yandex-orders"]
    assert one.exit_code == 0 and "yandex-catalog" in one.output and "yandex-orders" not in one.output
    assert "on demand" in one.output
    assert lines.exit_code == 0, lines.output
    assert "kept as a dead letter" in lines.output and "no-such-dish" in lines.output
    assert hub(stage, "status", "--job", "yandex-ordres").exit_code == 2


@pytest.mark.slow
def test_a_refused_order_and_a_wrong_token_are_logged_without_the_credential(
        stage: Stage, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="hub")
    order = {**stage.order_from_menu(weighed=False), "restaurantId": "someone-elses"}

    assert stage.yandex.place_order(order).status_code == 400
    forged = requests.get(f"{stage.yandex.partner_url}/restaurants", timeout=10,
                          headers={"Authorization": "Bearer forged-token-123"})

    assert forged.status_code == 401
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"refused yandex orders {order['eatsId']}" in m and "someone-elses" in m for m in messages), messages
    [unauthorized] = [m for m in messages if "refused 401" in m]
    assert "/restaurants" in unauthorized and "forged-token-123" not in unauthorized
    assert stages_of(stage, order["eatsId"]) == ["refused"]


@pytest.mark.slow
def test_a_pulled_order_shows_its_guest_matched_and_its_body_unmasked_only_when_asked(
        onec_stage: Callable[..., OneCStage]) -> None:
    def jobs(_: Any, channels: list[str]) -> dict[str, Any]:
        return {"customers": {"type": "customers", "from": "onec"},
                "shop-catalog": {"type": "catalog", "from": "onec", "to": "shop"},
                "shop-orders": {"type": "orders", "from": "shop", "to": "onec"}}

    stage = onec_stage(jobs, channels=("shop",))
    assert stage.hub("sync", "--source", "onec").exit_code == 0
    anna = next(r for r in stage.onec.rows("Catalog_Контрагенты") if r["Description"].startswith("Смирнова"))
    order = stage.shop.place_order(customer={"id": "g1", "name": "Анна", "phone": "8 916 555 12 34"})
    assert stage.hub("sync", "--source", "shop").exit_code == 0

    shown = stage.hub("trace", f"shop:{order['id']}", "--body")
    as_json = stage.hub("trace", str(order["id"]), "--json")
    as_json_with_bodies = stage.hub("trace", str(order["id"]), "--json", "--body")
    store = open_store(stage.state_url)
    try:
        [masked] = trace(store, str(order["id"]), personal=False)
    finally:
        store.close()

    assert shown.exit_code == 0, shown.output
    assert f"customer     matched to counterparty {anna['Ref_Key']}" in shown.output
    assert "8 916 555 12 34" in shown.output  # the administrator's view
    assert [step.stage for step in masked.steps] == ["received", "decoded", "queued", "customer", "created",
                                                     "posted"]
    [body] = masked.bodies.values()
    assert "8 916 555 12 34" not in body and "8******1234" in body
    for personal in ("Анна", "Москва", "Тверская"):  # the guest's name and delivery address, as decoded
        assert personal not in body, body
    assert as_json.exit_code == 0, as_json.output
    [journey] = json_loads(as_json.output)
    assert "received" not in journey and "555 12 34" not in as_json.output and "Тверская" not in as_json.output
    [received] = json_loads(as_json_with_bodies.output)[0]["received"]
    assert "8 916 555 12 34" in received["body"] and "Тверская" in received["body"]


def test_lines_logged_by_parallel_writers_reach_the_runs_own_log(onec_stage: Callable[..., OneCStage]) -> None:
    stage = onec_stage(onec_jobs, channels=("shop",))
    config = yaml.safe_load(stage.config.read_text(encoding="utf-8"))
    config["sources"]["onec"]["write_concurrency"] = 2
    stage.config.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert stage.hub("sync", "--source", "onec").exit_code == 0
    for _ in range(2):
        stage.shop.place_order()
    refused: list[SeenRequest] = []

    def refuse_the_first_posting(seen: SeenRequest) -> None:
        if seen.method == "POST" and seen.path.endswith("/Post") and not refused:
            refused.append(seen)
            stage.onec.faults.fail_next(1)   # taken by this very request, which a writer thread retries

    stage.onec.faults.on_request = refuse_the_first_posting
    synced = stage.hub("sync", "--source", "shop")

    store = open_store(stage.state_url)
    try:
        with store.reading() as state:
            run = state.runs.latest("shop-orders")
            assert run is not None
            lines = [message for _, _, message in state.run_log.of(run.id)]
    finally:
        store.close()
    assert synced.exit_code == 0, synced.output
    assert refused and any("503" in line for line in lines), lines
