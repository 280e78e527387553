"""Yandex Eda end to end: the simulator plays Yandex against hub daemon, with the 1C sandbox behind it."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from connectors.onec_odata import OneCSandbox
from connectors.yandex_eda import YandexEdaSimulator
from hub.config import load_config
from hub.daemon import Daemon
from hub.jobrun import run_job
from hub.model import Entity
from hub.operations import dead_letters
from hub.reconcile import reconcile
from hub.runtime import Runtime
from hub.values import json_dumps, json_loads, to_decimal
from tests._shared import SAMPLES as SHARED_SAMPLES
from tests.daemon.conftest import wait_for

pytestmark = pytest.mark.slow
DOCUMENTS = "Document_ЗаказКлиента"
MAX_BODY = 65536
ORDER_MEDIA = "application/vnd.eats.order.v2+json"
SAMPLES = SHARED_SAMPLES / "yandex-eda"


@dataclass
class Stage:
    onec: OneCSandbox
    yandex: YandexEdaSimulator
    daemon: Daemon
    config: Path

    def run(self, job: str) -> None:
        with Runtime(load_config(self.config)) as runtime:
            info, _ = run_job(runtime, job)
        assert info.status in ("succeeded", "partial"), info

    def documents(self, eats_id: str) -> list[dict[str, Any]]:
        return [d for d in self.onec.rows(DOCUMENTS) if d["НомерПоДаннымКлиента"] == f"yandex:{eats_id}"]

    def order_from_menu(self, *, weighed: bool) -> dict[str, Any]:
        menu = self.yandex.pull_menu("main")
        stopped = {entry["itemId"] for entry in menu["availability"]["items"]}
        items = [item for item in menu["composition"]["items"] if item["id"] not in stopped]
        chosen = [item for item in items if bool(item.get("isCatchweight")) == weighed][:1] + [
            item for item in items if not item.get("isCatchweight")][1:3]
        lines = [(item["id"], item["name"], Decimal("0.305") if item.get("isCatchweight") else Decimal(2),
                  to_decimal(item["price"])) for item in chosen]
        return self.yandex.make_order(lines, restaurant_id="main")


@pytest.fixture
def stage(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """hub serving a restaurant's partner API, or a shop's when parametrized indirectly with ``"retail"``."""
    monkeypatch.setenv("ONEC_PASSWORD", "sandbox-secret")
    with OneCSandbox() as onec, YandexEdaSimulator(seed=4) as yandex:
        settings = {**yandex.source_settings(), "variant": getattr(request, "param", "restaurant")}
        monkeypatch.setenv("YANDEX_SECRET", settings["clients"][0]["client_secret"])
        monkeypatch.setenv("VENDOR_SECRET", settings["vendor"]["client_secret"])
        settings["clients"][0]["client_secret"] = "${YANDEX_SECRET}"
        settings["vendor"]["client_secret"] = "${VENDOR_SECRET}"
        if SAMPLES.is_dir():  # Yandex's documented example client, so its example token request is ours
            example = json_loads((SAMPLES / "restaurant/auth-token-request.form-fields.json").read_bytes())
            monkeypatch.setenv("EXAMPLE_SECRET", example["client_secret"])
            settings["clients"].append({"client_id": example["client_id"], "client_secret": "${EXAMPLE_SECRET}"})
            ordered = json_loads((SAMPLES / "restaurant/order-create-request.yandex.v2.json").read_bytes())
            settings["venues"][ordered["restaurantId"]] = {"title": "The venue of Yandex's example orders"}
        config = {
            "state": {"url": f"sqlite:///{tmp_path / 'state.db'}"}, "system_of_record": "onec",
            "log": {"level": "INFO"}, "daemon": {"listen": "127.0.0.1:0", "poll": "1s"},
            "sources": {"onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}"},
                        "yandex": {"type": "yandex_eda", **settings,
                                   "inbound": {"path": "/yandex", "max_body": MAX_BODY}}},
            "jobs": {
                "customers": {"type": "customers", "from": "onec"},
                "yandex-catalog": {"type": "catalog", "from": "onec", "to": "yandex"},
                "yandex-stock": {"type": "stock", "from": "onec", "to": "yandex", "options": onec.job_options("stock")},
                "yandex-prices": {"type": "prices", "from": "onec", "to": "yandex",
                                  "options": onec.job_options("prices")},
                "yandex-orders": {"type": "orders", "from": "yandex", "to": "onec", "schedule": {"every": "1h"}},
                "yandex-statuses": {"type": "statuses", "from": "onec", "to": "yandex", "schedule": {"every": "1h"}},
            },
        }
        path = tmp_path / "hub.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        with Runtime(load_config(path)) as runtime:
            for job in ("customers", "yandex-catalog", "yandex-stock", "yandex-prices"):
                assert run_job(runtime, job)[0].status == "succeeded"
        daemon = Daemon(load_config(path))
        yandex.attach(daemon.start() + "/yandex")
        try:
            yield Stage(onec, yandex, daemon, path)
        finally:
            daemon.stop()


def test_yandex_pulls_a_menu_built_from_1c_goods_prices_and_stock(stage: Stage) -> None:
    menu = stage.yandex.pull_menu("main")

    items = menu["composition"]["items"]
    assert items, "no dish on the menu"
    assert all(isinstance(item["price"], Decimal) and item["price"] > 0 for item in items)
    assert stage.yandex.media_types["GET /menu/main/composition"] == "application/vnd.eats.menu.composition.v2+json"
    assert stage.yandex.media_types["GET /menu/main/availability"] == "application/vnd.eats.menu.availability.v2+json"
    assert all(entry["stock"] == 0 for entry in menu["availability"]["items"])
    unknown = stage.yandex.authorized("GET", "/menu/elsewhere/composition")
    assert unknown.status_code == 404 and [set(e) for e in json_loads(unknown.content)] == [{"code", "description"}]


def test_an_order_from_yandex_becomes_a_posted_1c_order_and_1c_status_flows_back(stage: Stage) -> None:
    order = stage.order_from_menu(weighed=True)

    answer = stage.yandex.place_order(order)
    again = stage.yandex.repeat_last_post()  # Yandex did not see the first answer

    assert answer.status_code == 200 and json_loads(answer.content) == {"result": "OK", "orderId": order["eatsId"]}
    assert again.status_code == 200 and json_loads(again.content)["orderId"] == order["eatsId"]
    [document] = wait_for(lambda: [d for d in stage.documents(order["eatsId"]) if d["Posted"]],
                          what="the posted 1C order")
    quantities = sorted(to_decimal(line["Количество"]) for line in document["Товары"])
    assert quantities == sorted(line["quantity"] for line in order["items"])
    assert to_decimal(document["СуммаДокумента"]) == order["paymentInfo"]["itemsCost"]
    assert stage.yandex.order_status(order["eatsId"])["status"] == "NEW"

    from tests.connectors.onec_odata.conftest import connect

    connect(stage.onec).update(DOCUMENTS, document["Ref_Key"], {"Статус": "КОтгрузке"},
                               data_version=document["DataVersion"])  # the kitchen is done: ready to ship
    stage.run("yandex-statuses")  # its scheduled run sends 1C's statuses back

    status = stage.yandex.order_status(order["eatsId"])
    assert status["status"] == "READY"
    assert len(stage.documents(order["eatsId"])) == 1


def test_yandex_cancelling_an_order_cancels_it_in_1c(stage: Stage) -> None:
    order = stage.order_from_menu(weighed=False)
    stage.yandex.place_order(order)
    wait_for(lambda: [d for d in stage.documents(order["eatsId"]) if d["Posted"]], what="the posted 1C order")

    cancelled = stage.yandex.cancel(order["eatsId"], order["eatsId"], "Отказ клиента")
    echoed = stage.yandex.set_status(order["eatsId"], "CANCELLED", reason="client.does_not_want_to_wait")

    assert cancelled.status_code == 200 and echoed.status_code == 204
    [document] = wait_for(lambda: [d for d in stage.documents(order["eatsId"]) if d["Статус"] == "Закрыт"],
                          what="the 1C order closed")
    assert all(line["Отменено"] for line in document["Товары"])
    status = stage.yandex.order_status(order["eatsId"])
    assert status["status"] == "CANCELLED" and status["comment"] == "Отказ клиента"


def test_goods_1c_does_not_know_go_to_dead_letters_not_into_a_half_made_document(stage: Stage) -> None:
    order = stage.yandex.make_order([("no-such-dish", "Борщ", Decimal(1), Decimal(350))], restaurant_id="main")

    assert stage.yandex.place_order(order).status_code == 200
    [letter] = wait_for(lambda: dead_letters(stage.daemon.runtime.store), what="the dead letter")

    assert letter.external_id == order["eatsId"] and "no-such-dish" in letter.reason
    assert stage.documents(order["eatsId"]) == []


def test_a_quantity_1c_would_hold_as_zero_goes_to_dead_letters_not_into_1c(stage: Stage) -> None:
    order = stage.order_from_menu(weighed=False)
    order["items"][0]["quantity"] = Decimal("1e-400")

    assert stage.yandex.place_order(order).status_code == 200
    [letter] = wait_for(lambda: dead_letters(stage.daemon.runtime.store), what="the dead letter")

    assert letter.external_id == order["eatsId"] and "quantity 1E-400, 0.000 in 1C" in letter.reason
    assert stage.documents(order["eatsId"]) == []


def test_an_order_for_a_venue_hub_does_not_serve_is_refused_in_yandexs_shape(stage: Stage) -> None:
    order = {**stage.order_from_menu(weighed=False), "restaurantId": "someone-elses"}

    answer = stage.yandex.place_order(order)

    assert answer.status_code == 400
    [error] = json_loads(answer.content)
    assert set(error) == {"code", "description"} and "restaurantId: 'someone-elses'" in error["description"]
    with stage.daemon.runtime.store.reading() as state:
        kept = state.conn.exec_driver_sql("SELECT external_id FROM inbox WHERE status = 'rejected'").all()
    assert [row[0] for row in kept] == [order["eatsId"]]
    assert stage.documents(order["eatsId"]) == []


@pytest.mark.parametrize("stage", ["retail"], indirect=True)
def test_a_shops_order_status_says_how_many_packages(stage: Stage) -> None:
    good = stage.yandex.pull_nomenclature("main")["composition"]["items"][0]
    order = stage.yandex.make_order([(good["id"], good["name"], Decimal(1), Decimal(100))], restaurant_id="main",
                                    brand="Кофейня на Тверской")
    assert stage.yandex.place_order(order).status_code == 200

    status = stage.yandex.order_status(order["eatsId"])  # the simulator refuses a shop's status without it

    assert (status["status"], status["packagesCount"]) == ("NEW", 1)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.mark.samples
def test_the_real_request_examples_get_the_documented_answers(stage: Stage) -> None:
    base = stage.yandex.partner_url
    issued = requests.post(f"{base}/security/oauth/token", data=json_loads(sample(
        "restaurant/auth-token-request.form-fields.json")), timeout=10)
    assert issued.status_code == 200
    token = json_loads(issued.content)
    assert set(json_loads(sample("restaurant/auth-token-response.json"))) <= set(token)

    def call(method: str, path: str, body: bytes | None = None, media: str = ORDER_MEDIA) -> requests.Response:
        return requests.request(method, f"{base}{path}", data=body, timeout=10, headers={
            "Authorization": f"Bearer {token['access_token']}", "Content-Type": media})

    created = call("POST", "/order", sample("restaurant/order-create-request.yandex.v2.json"))
    assert created.status_code == 200 and json_loads(created.content) == {"result": "OK", "orderId": "190330-12345678"}
    assert call("GET", "/order/190330-12345678").status_code == 200
    partial = sample("restaurant/order-update-request.marketplace.v2.PARTIAL.json")
    updated = call("PUT", "/order/190330-12345678", partial)
    assert updated.status_code == 200, updated.text
    status = call("GET", "/order/190330-12345678/status")
    assert set(json_loads(status.content)) == set(json_loads(sample("restaurant/order-status-get-response.json")))
    assert call("PUT", "/order/190330-12345678/status", sample("restaurant/order-status-put-request.json"),
                "application/json").status_code == 204
    assert json_loads(call("GET", "/order/190330-12345678/status").content)["status"] == "CANCELLED"
    assert call("DELETE", "/order/190330-12345678", sample("restaurant/order-cancel-request.DELETE-body.json"),
                "application/json").status_code == 200
    assert call("GET", "/order/nobody/status").status_code == 404
    status_put = sample("restaurant/order-status-put-request.json")
    unknown = call("PUT", "/order/nobody/status", status_put, "application/json")
    assert unknown.status_code == 404 and set(json_loads(unknown.content)[0]) == {"code", "description"}
    with stage.daemon.runtime.store.reading() as state:
        kept = state.conn.exec_driver_sql("SELECT external_id, error FROM inbox WHERE status = 'rejected'").all()
    assert [tuple(row) for row in kept] == [("nobody", "no order 'nobody'")]

    retail = sample("retail/order-create-request.yandex.v2.json")
    assert call("POST", "/order", retail).status_code == 200
    bad = call("PUT", f"/order/{json_loads(retail)['eatsId']}/status",
               sample("retail/order-status-put-request.status-v1.json"), "application/vnd.eats.order.status.v1+json")
    assert bad.status_code == 400 and "expected one of" in json_loads(bad.content)[0]["description"]
    [error] = json_loads(bad.content)
    assert set(error) == set(json_loads(sample("restaurant/error-items-400-404-500.json"))[0])


def test_a_wrong_or_expired_token_gets_401_with_a_reason(stage: Stage) -> None:
    token = stage.yandex.get_token()
    with stage.daemon.runtime.store.transaction() as state:
        state.channel_state.put_many("yandex", "token", {hashlib.sha256(token.encode()).hexdigest(): json_dumps(
            {"client_id": "yandex-eda", "expires_at": "2026-01-01T00:00:00+00:00"})})

    expired = requests.get(f"{stage.yandex.partner_url}/restaurants", timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
    forged = requests.get(f"{stage.yandex.partner_url}/restaurants", timeout=10,
                          headers={"Authorization": "Bearer forged"})

    assert expired.status_code == 401 and forged.status_code == 401
    if SAMPLES.is_dir():
        assert json_loads(expired.content) == json_loads(sample("restaurant/error-401.json"))
    assert set(json_loads(forged.content)) == {"reason"}
    assert stage.yandex.pull_menu("main")["composition"]["items"]  # Yandex takes a new token and goes on


def test_bad_requests_get_a_4xx_and_are_kept(stage: Stage) -> None:
    good = stage.order_from_menu(weighed=False)
    cases = {
        "broken json": (b'{"eatsId": "1", "items": [', ORDER_MEDIA, 400),
        "no eatsId": (json_dumps({**good, "eatsId": None}).encode(), ORDER_MEDIA, 400),
        "wrong types": (json_dumps({**good, "eatsId": "x-1", "items": "two"}).encode(), "application/json", 400),
        "media type": (json_dumps(good).encode(), "text/plain", 415),
        "oversized": (json_dumps({**good, "comment": "x" * MAX_BODY}).encode(), ORDER_MEDIA, 413),
    }
    for what, (body, media_type, status) in cases.items():
        answer = stage.yandex.authorized("POST", "/order", data=body, headers={"Content-Type": media_type})
        assert answer.status_code == status, what
        [error] = json_loads(answer.content)
        assert set(error) == {"code", "description"} and error["description"], what
    no_token = requests.post(f"{stage.yandex.partner_url}/order", data=json_dumps(good).encode(), timeout=10,
                             headers={"Content-Type": "application/json", "Authorization": "Bearer forged"})
    assert no_token.status_code == 401 and set(json_loads(no_token.content)) == {"reason"}

    with stage.daemon.runtime.store.transaction() as state:
        rejected = state.conn.exec_driver_sql("SELECT body FROM inbox WHERE status = 'rejected' ORDER BY id").all()
    assert [row[0] for row in rejected] == [body[:MAX_BODY] for body, _, _ in cases.values()]


def test_a_stock_change_asks_yandex_to_pull_the_menu_again_when_configured(stage: Stage) -> None:
    config = yaml.safe_load(stage.config.read_text())
    config["sources"]["yandex"]["vendor"]["on_stock_change"] = True
    stage.config.write_text(yaml.safe_dump(config, allow_unicode=True))
    stage.run("yandex-stock")
    assert stage.yandex.import_requests == []  # nothing changed: nothing to ask

    dish = stage.yandex.pull_menu("main")["composition"]["items"][0]["id"]  # Yandex's item id is 1C's Ref_Key
    options = stage.onec.job_options("stock")
    assert options is not None
    stage.onec.receive(dish, options["venues"]["main"], Decimal(7))
    stage.run("yandex-stock")

    assert stage.yandex.import_requests == [{"restaurantId": "main", "operationType": "menu"}]


def test_a_change_hub_cannot_map_is_taken_then_kept_as_a_dead_letter_leaving_1c_as_it_was(stage: Stage) -> None:
    """The endpoint checks the envelope only (the mapping may need what only the worker reads): a well-formed
    change is taken, and the worker, which maps it, keeps it as a dead letter with the reason."""
    order = stage.order_from_menu(weighed=False)
    stage.yandex.place_order(order)
    [before] = wait_for(lambda: [d for d in stage.documents(order["eatsId"]) if d["Posted"]], what="the 1C order")
    unpriced = {key: value for key, value in order.items() if key != "paymentInfo"}  # well formed, cannot be mapped

    changed = stage.yandex.authorized("PUT", f"/order/{order['eatsId']}", data=json_dumps(unpriced).encode(),
                                      headers={"Content-Type": ORDER_MEDIA})

    assert changed.status_code == 200
    [letter] = wait_for(lambda: dead_letters(stage.daemon.runtime.store), what="the dead letter")
    assert letter.external_id == order["eatsId"] and "total" in letter.reason
    assert stage.documents(order["eatsId"]) == [before]


def test_orders_in_yandex_history_that_1c_lacks_are_reported_when_configured(stage: Stage) -> None:
    config = yaml.safe_load(stage.config.read_text())
    config["sources"]["yandex"]["vendor"]["history"] = True
    stage.config.write_text(yaml.safe_dump(config, allow_unicode=True))
    placed, lost, cancelled = (stage.order_from_menu(weighed=False) for _ in range(3))
    stage.yandex.place_order(placed)
    stage.yandex.keep_unsent(lost)  # every POST of it was lost on the way
    stage.yandex.keep_unsent(cancelled)
    stage.yandex.history[cancelled["eatsId"]].status = "CANCELLED"  # cancelled before it reached hub: no loss
    for order in (placed, lost, cancelled):  # placed an hour ago: no longer on its way to 1C
        stage.yandex.history[order["eatsId"]].placed_at -= dt.timedelta(hours=1)
    wait_for(lambda: stage.documents(placed["eatsId"]), what="the 1C order of the order hub received")

    stage.run("yandex-orders")  # what `hub sync --source yandex` runs

    expected = [("yandex", "orders", f"yandex:{lost['eatsId']}", "missing_in_system_of_record")]
    with Runtime(load_config(stage.config)) as runtime:
        with runtime.store.reading() as state:
            found = [(d["source"], d["entity"], d["key"], d["kind"]) for d in state.discrepancies.open()]
        assert found == expected
        report = reconcile(runtime, source="yandex", entity=Entity.ORDERS)
    assert [(f.source, f.entity, f.key, f.kind) for f in report.findings] == expected
    assert report.compared["yandex orders"] == 2
    assert [r for r in stage.yandex.requests if r.path == "/v1/orders-history"]


def test_without_history_configured_yandex_is_not_asked(stage: Stage) -> None:
    stage.yandex.keep_unsent(stage.order_from_menu(weighed=False))
    stage.run("yandex-orders")
    with Runtime(load_config(stage.config)) as runtime:
        report = reconcile(runtime, source="yandex", entity=Entity.ORDERS)
    assert report.findings == [] and "yandex orders" not in report.compared
    assert not [r for r in stage.yandex.requests if r.path == "/v1/orders-history"]


def test_a_paid_modification_is_a_line_of_the_1c_order_so_the_lines_add_up_to_its_total(stage: Stage) -> None:
    menu = stage.yandex.pull_menu("main")
    stopped = {entry["itemId"] for entry in menu["availability"]["items"]}
    dish, extra = [item for item in menu["composition"]["items"]
                   if item["id"] not in stopped and not item.get("isCatchweight")][:2]
    order = stage.yandex.make_order(
        [(dish["id"], dish["name"], Decimal(2), to_decimal(dish["price"]))], restaurant_id="main",
        modifications={dish["id"]: [{"id": extra["id"], "group_id": "extras", "name": extra["name"],
                                     "quantity": Decimal(1), "price": to_decimal(extra["price"])},
                                    {"id": "no-sugar", "group_id": "options", "name": "Без сахара", "quantity": 1,
                                     "price": Decimal(0)}]})
    assert stage.yandex.place_order(order).status_code == 200

    [document] = wait_for(lambda: [d for d in stage.documents(order["eatsId"]) if d["Posted"]],
                          what="the posted 1C order")
    lines = sorted((line["Номенклатура_Key"], to_decimal(line["Количество"]), to_decimal(line["Сумма"]))
                   for line in document["Товары"])
    assert lines == sorted([(dish["id"], Decimal(2), 2 * to_decimal(dish["price"])),
                            (extra["id"], Decimal(1), to_decimal(extra["price"]))])
    assert sum(total for *_, total in lines) == to_decimal(document["СуммаДокумента"]) \
        == order["paymentInfo"]["itemsCost"]
