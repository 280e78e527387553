"""Sandboxes an integrator drives: each action over real HTTP, its effect seen through the system's real protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner

import cli
from connectors.commerceml.sandbox import EXCHANGE_PATH, OneCDriver, SiteSandbox
from connectors.iiko.sandbox import IikoSandbox
from connectors.onec_odata import OneCSandbox
from connectors.orangedata import OrangeDataSandbox
from connectors.testchannel.sandbox import TestChannelSandbox
from connectors.yandex_eda import YandexEdaSimulator
from hub.config import load_config
from hub.daemon import Daemon
from hub.jobrun import run_job
from hub.runtime import Runtime
from hub.sandbox import Sandbox
from hub.termination import Termination
from hub.testing.sandboxes import available_sandboxes
from tests.connectors.onec_odata.conftest import connect
from tests.daemon.conftest import wait_for

DOCUMENTS = "Document_ЗаказКлиента"


def act(sandbox: Sandbox, path: str, **params: Any) -> requests.Response:
    """Run an action the way an integrator's script does: a POST to the sandbox's control endpoint."""
    return requests.post(f"{sandbox.url}/_sandbox/{path}", json=params, timeout=30)


def done(answer: requests.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


def shop_api(shop: TestChannelSandbox, path: str) -> Any:
    answer = requests.get(f"{shop.url}/api/v1/{path}", headers={"Authorization": f"Bearer {shop.token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- the printout and the control endpoint itself ---------------------------------------------------------


def test_hub_sandbox_prints_every_action_of_every_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    sandboxes = available_sandboxes()
    for sandbox in sandboxes.values():
        monkeypatch.setattr(type(sandbox), "port", 0)  # ephemeral ports: other sessions may hold the fixed ones
    monkeypatch.setattr(Termination, "arm", lambda self: None)
    monkeypatch.setattr(Termination, "wait", lambda self: None)  # as if Ctrl-C came once all was printed

    shown = CliRunner().invoke(cli.main, ["sandbox"])

    assert shown.exit_code == 0, shown.output
    assert {"onec_odata", "testchannel", "yandex_eda", "iiko", "commerceml_site", "commerceml_1c"} <= set(sandboxes)
    for name, sandbox in sandboxes.items():
        assert sandbox.actions(), f"{name} declares nothing an integrator can make it do"
        for action in sandbox.actions():
            assert f"hub sandbox do {name} {action.usage()}\n" in shown.output
            assert f"POST /_sandbox/{action.path}: {action.summary}\n" in shown.output
            for param in action.params:
                assert f"    {param.name}: {param.help}\n" in shown.output


def test_the_control_endpoint_lists_its_actions_and_leaves_the_real_protocol_alone() -> None:
    with TestChannelSandbox() as shop:
        listed = requests.get(f"{shop.url}/_sandbox/", timeout=10).json()
        assert [a["name"] for a in listed["actions"]] == [a.name for a in shop.actions()]
        assert listed["actions"][0]["path"] == "/_sandbox/orders"

        shop.faults.fail_next(1, status=503)
        placed = done(act(shop, "orders"))  # neither faulted nor counted: tests of the protocol see nothing

        assert shop.count() == 0
        refused = requests.get(f"{shop.url}/api/v1/orders", headers={"Authorization": f"Bearer {shop.token}"},
                               timeout=10)
        assert refused.status_code == 503
        assert [o["id"] for o in shop_api(shop, "orders")["orders"]] == [placed["id"]]


@pytest.mark.parametrize(("method", "path", "params", "status", "says"), [
    ("POST", "orders", {"itemz": "CAP-300"}, 400, "takes no itemz"),
    ("POST", "orders/1001/status", {}, 400, "needs status"),
    ("POST", "orders", {"items": "CAP-300:lots"}, 400, "'lots' is not a number"),
    ("POST", "refunds", {}, 404, "no action at /_sandbox/refunds"),
    ("GET", "orders", {}, 405, "POST /_sandbox/orders"),
])
def test_a_wrong_call_is_refused_with_what_to_do(method: str, path: str, params: dict[str, str], status: int,
                                                 says: str) -> None:
    with TestChannelSandbox() as shop:
        answer = requests.request(method, f"{shop.url}/_sandbox/{path}", json=params, timeout=10)
        assert answer.status_code == status
        assert says in answer.json()["message"]
        assert shop.orders == {}


def test_hub_sandbox_do_calls_the_running_sandbox() -> None:
    with TestChannelSandbox() as shop:
        port = shop.url.rsplit(":", 1)[1]
        ran = CliRunner().invoke(cli.main, ["sandbox", "do", "--port", port, "test", "place-order",
                                            "items=CAP-300:2,LAT-400"])
        assert ran.exit_code == 0, ran.output
        [order] = shop_api(shop, "orders")["orders"]
        assert [(i["sku"], i["qty"]) for i in order["items"]] == [("CAP-300", "2"), ("LAT-400", "1")]
        assert f'"number": "{order["number"]}"' in ran.output

        wrong = CliRunner().invoke(cli.main, ["sandbox", "do", "--port", port, "testchannel", "set-status",
                                              "id=404"])
        assert wrong.exit_code == 2
        assert "set-status needs status=…" in wrong.output
        assert "usage: hub sandbox do testchannel set-status id=… status=…" in wrong.output
        missing = CliRunner().invoke(cli.main, ["sandbox", "do", "--port", port, "testchannel", "set-status",
                                                "id=404", "status=done"])
        assert missing.exit_code == 1
        assert "order 404 does not exist" in missing.output


def test_hub_sandbox_do_says_when_no_sandbox_answers() -> None:
    with TestChannelSandbox() as shop:
        port = shop.url.rsplit(":", 1)[1]
    ran = CliRunner().invoke(cli.main, ["sandbox", "do", "--port", port, "testchannel", "place-order"])
    assert ran.exit_code == 1
    assert f"no testchannel sandbox answers at 127.0.0.1:{port}" in ran.output
    assert "hub sandbox testchannel" in ran.output


# --- each system's actions, without hub ----------------------------------------------------------------------


def test_the_shop_places_orders_and_moves_them_on() -> None:
    with TestChannelSandbox() as shop:
        chosen = done(act(shop, "orders", items="CAP-300:2,NOPE-404"))
        guessed = done(act(shop, "orders"))

        orders = {o["id"]: o for o in shop_api(shop, "orders")["orders"]}
        assert set(orders) == {chosen["id"], guessed["id"]}
        assert [(i["sku"], i["qty"], i["total"]) for i in orders[chosen["id"]]["items"]] == [
            ("CAP-300", "2", "360.00"), ("NOPE-404", "1", "100.00")]
        assert orders[chosen["id"]]["total"] == "460.00"
        assert orders[guessed["id"]]["items"]
        guest = done(act(shop, "orders", phone="+79165550123", name="Ольга Петрова"))["customer"]
        assert (guest["phone"], guest["name"]) == ("+79165550123", "Ольга Петрова"), "a guest named, for the demo"

        done(act(shop, f"orders/{chosen['id']}/status", status="done"))
        assert shop_api(shop, f"orders/{chosen['id']}")["status"] == "done"
        assert act(shop, f"orders/{chosen['id']}/status", status="teleported").status_code == 400


def test_1c_receives_goods_as_its_balance_shows() -> None:
    with OneCSandbox() as onec:
        reader = connect(onec)
        good = next(row for row in onec.rows("Catalog_Номенклатура") if row["Артикул"] == "CAP-300")

        def held() -> Decimal:
            return sum((r["ВНаличииBalance"] for r in reader.balance("AccumulationRegister_ТоварыНаСкладах",
                                                                     orderby="Номенклатура_Key,Склад_Key")
                        if r["Номенклатура_Key"] == good["Ref_Key"]), Decimal(0))

        before = held()
        done(act(onec, "stock", article="CAP-300", quantity="12"))
        assert held() == before + 12
        assert act(onec, "stock", article="NOPE-404", quantity="1").status_code == 404


def test_1c_without_order_statuses_says_so() -> None:
    with OneCSandbox(presets=("unf",)) as onec:
        refused = act(onec, "orders/КФ00-000001/status", status="Закрыт")
        assert refused.status_code == 409
        assert "only УТ 11's orders have one" in refused.json()["message"]


def test_iiko_closes_a_sale_and_moves_a_delivery_as_its_api_shows() -> None:
    with IikoSandbox() as iiko:
        sale = done(act(iiko, "sales", items="CAP-300:2", table="3", payment="card"))
        delivery = done(act(iiko, "deliveries", items="cappuccino,CHE-03:0.25"))
        done(act(iiko, f"orders/{delivery['id']}/status", status="OnWay"))

        token = requests.post(f"{iiko.url}/api/1/access_token", json={"apiLogin": iiko.api_login},
                              timeout=10).json()["token"]
        settings = iiko.source_settings()

        def read(path: str, organization: dict[str, Any], order_id: str) -> dict[str, Any]:
            answer = requests.post(f"{iiko.url}/api/1/{path}", timeout=10,
                                   headers={"Authorization": f"Bearer {token}"},
                                   json={**organization, "orderIds": [order_id]})
            assert answer.status_code == 200, answer.text
            [found] = answer.json()["orders"]
            return found["order"]  # type: ignore[no-any-return]

        hall = read("order/by_id", {"organizationIds": [settings["organization_id"]]}, sale["id"])
        assert hall["status"] == "Closed"
        assert [p["paymentType"]["kind"] for p in hall["payments"]] == ["Card"]
        assert read("deliveries/by_id", {"organizationId": settings["organization_id"]},
                    delivery["id"])["status"] == "OnWay"
        assert act(iiko, "sales", items="PIZZA-XXL").status_code == 404
        assert act(iiko, f"orders/{delivery['id']}/status", status="Teleported").status_code == 400


def test_1c_exchanges_with_a_site_and_takes_the_guests_order() -> None:
    """The driver plays 1C's «Обмен с сайтом» against a Bitrix site, the same protocol hub's endpoint speaks."""
    with SiteSandbox(username="site-exchange", password="sandbox-1c-secret") as site, OneCDriver() as driver:
        assert act(site, "orders").status_code == 409  # nothing imported yet: nothing to order
        assert act(driver, "exchange").json()["message"].startswith("not attached to hub yet")
        done(act(driver, "attach", url=site.url + EXCHANGE_PATH))

        done(act(driver, "exchange", article="LAT-400", quantity="7"))
        latte = next(good for good in site.goods.values() if good.article == "LAT-400")
        assert site.stock[latte.id] == 7

        placed = done(act(site, "orders", items="LAT-400:2"))
        taken = done(act(driver, "orders"))["taken"]
        assert list(taken) == [placed["id"]]
        assert site.orders[placed["id"]].exported
        [change] = site.status_changes
        assert change.order.external_id == placed["id"]


# --- the routes through hub: a daemon between the systems ------------------------------------------------------


@dataclass
class Stage:
    onec: OneCSandbox
    shop: TestChannelSandbox
    yandex: YandexEdaSimulator
    iiko: IikoSandbox
    hub: str


@pytest.fixture
def stage(tmp_path: Path) -> Iterator[Stage]:
    with OneCSandbox() as onec, TestChannelSandbox() as shop, YandexEdaSimulator(seed=3) as yandex, \
            IikoSandbox() as iiko:
        config = {
            "state": {"url": f"sqlite:///{tmp_path / 'state.db'}"}, "system_of_record": "onec",
            "daemon": {"listen": "127.0.0.1:0"},
            "sources": {"onec": {"type": "onec_odata", **onec.source_settings()},
                        "shop": {"type": "testchannel", **shop.source_settings()},
                        "yandex": {"type": "yandex_eda", **yandex.source_settings()},
                        "iiko": {"type": "iiko", **iiko.source_settings()}},
            "jobs": {"shop-catalog": {"type": "catalog", "from": "onec", "to": "shop"},
                     "yandex-catalog": {"type": "catalog", "from": "onec", "to": "yandex"},
                     "yandex-prices": {"type": "prices", "from": "onec", "to": "yandex",
                                       "options": onec.job_options("prices")},
                     **{f"{channel}-orders": {"type": "orders", "from": channel, "to": "onec",
                                              "schedule": {"every": "1h"}} for channel in ("shop", "yandex", "iiko")}},
        }
        path = tmp_path / "hub.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        with Runtime(load_config(path)) as runtime:
            for job in ("shop-catalog", "yandex-catalog", "yandex-prices"):
                assert run_job(runtime, job)[0].status == "succeeded"
        daemon = Daemon(load_config(path))
        try:
            yield Stage(onec, shop, yandex, iiko, daemon.start())
        finally:
            daemon.stop()


def test_a_shop_order_reaches_1c_and_1c_changes_its_status(stage: Stage) -> None:
    done(act(stage.shop, "attach", url=stage.hub + "/shop"))
    placed = done(act(stage.shop, "orders"))  # goods from the menu hub pushed, so 1C knows them
    reader = connect(stage.onec)

    def document() -> dict[str, Any] | None:
        found = reader.find(DOCUMENTS, "НомерПоДаннымКлиента", f"shop:{placed['id']}")
        return found[0] if found else None

    number = wait_for(document, what="the shop's webhook order as a 1C document")["Number"].strip()
    changed = done(act(stage.onec, f"orders/{number}/status", status="КОтгрузке"))
    assert changed["Статус"] == "КОтгрузке"
    assert document() is not None and document()["Статус"] == "КОтгрузке"  # type: ignore[index]
    done(act(stage.onec, f"orders/shop:{placed['id']}/status", status="Закрыт"))  # by the channel's key too
    assert document()["Статус"] == "Закрыт"  # type: ignore[index]
    assert act(stage.onec, "orders/КФ00-999999/status", status="Закрыт").status_code == 404
    assert act(stage.onec, f"orders/{number}/status", status="Teleported").status_code == 400


def test_yandex_places_an_order_to_hub_pushes_and_polls_its_status(stage: Stage) -> None:
    assert act(stage.yandex, "orders").status_code == 409  # not attached: it does not know where hub is
    done(act(stage.yandex, "attach", url=stage.hub + "/yandex"))

    placed = done(act(stage.yandex, "orders"))

    assert placed["hub_answered"] == 200
    order_id = placed["answer"]["orderId"]
    assert stage.yandex.get_order(order_id)["eatsId"] == placed["eatsId"]  # hub's partner API has it
    polled = done(act(stage.yandex, f"orders/{placed['eatsId']}/poll"))
    assert polled["status"]
    named = done(act(stage.yandex, "orders", phone="+7 916 555-01-23", name="Ольга Петрова"))
    delivery = stage.yandex.get_order(named["answer"]["orderId"])["deliveryInfo"]
    assert (delivery["realPhoneNumber"], delivery["clientName"]) == ("79165550123", "Ольга Петрова")
    cancelled = done(act(stage.yandex, f"orders/{placed['eatsId']}/status", status="CANCELLED",
                         reason="CLIENT_CANCELLED"))
    assert cancelled["hub_answered"] == 204
    assert stage.yandex.history[placed["eatsId"]].status == "CANCELLED"


def test_iiko_tells_hub_of_a_closed_sale(stage: Stage) -> None:
    done(act(stage.iiko, "attach", url=stage.hub + "/iiko"))
    done(act(stage.iiko, "sales"))
    assert wait_for(lambda: stage.iiko.webhook_answers, what="iiko's webhook to hub")[-1] == 200


def test_every_sandbox_has_a_fixed_port_of_its_own() -> None:
    # `hub sandbox` with no names starts them all at once: two on one port would fail the second
    ports = {name: sandbox.port for name, sandbox in available_sandboxes().items()}
    taken: dict[int, list[str]] = {}
    for name, port in ports.items():
        taken.setdefault(port, []).append(name)
    assert {port: names for port, names in taken.items() if len(names) > 1} == {}


def test_hub_sandbox_do_reaches_a_sandbox_that_serves_https_through_its_own_ca() -> None:
    with OrangeDataSandbox() as orangedata:
        with orangedata._data:  # as if a document POST had queued it
            orangedata.documents["shop:1001:prepayment"] = {"body": {"content": {}}, "status": "wait"}
            orangedata.processing.queue("shop:1001:prepayment")
        port = orangedata.url.rsplit(":", 1)[1]
        ran = CliRunner().invoke(cli.main, ["sandbox", "do", "--port", port, "orangedata", "process"])
        assert ran.exit_code == 0, ran.output
        assert '"shop:1001:prepayment"' in ran.output
        assert orangedata.documents["shop:1001:prepayment"]["status"] == "done"
    gone = CliRunner().invoke(cli.main, ["sandbox", "do", "--port", port, "orangedata", "process"])
    assert gone.exit_code == 1
    assert f"no orangedata sandbox answers at 127.0.0.1:{port}" in gone.output
