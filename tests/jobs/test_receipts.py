"""The Done test of issue 21: an online order with a weighed good, from payment through 1C's weight correction to
both receipts at ATOL Online and at OrangeData, each printed exactly once under a 5xx, a lost answer and a killed
process.

Everything runs over real HTTP on 127.0.0.1 (OrangeData over mutual TLS): a shop, 1C, the service, and real
``hub sync`` processes (the killed one included) on a real state database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from connectors.atol import AtolSandbox
from connectors.onec_odata import OneCSandbox, service_root
from connectors.onec_odata._schema import GOODS, ORGANIZATIONS
from connectors.orangedata import OrangeDataSandbox
from connectors.testchannel import TestChannelSandbox
from hub.sandbox import SeenRequest
from hub.testing.crash import KILLED, HubProcess, on_nth
from hub.testing.postgres import create_database
from hub.values import json_dumps, json_loads

pytestmark = pytest.mark.slow

ENV = {"ONEC_PASSWORD": "sandbox-secret", "SHOP_TOKEN": "shop-secret", "ATOL_PASSWORD": "atol-secret"}
INN = "5544332219"
"""The 1C sandbox's organization's INN: each service's sandbox takes receipts of that company only."""
TVERSKAYA = {"inn": INN, "sno": "osn", "payment_address": "https://tverskaya.example.ru",
             "email": "cheki@tverskaya.example.ru"}
"""The company as 1C's organization card holds it (ATOL's words), not as the cash register's settings or file do."""


@dataclass
class Stage:
    onec: OneCSandbox
    shop: TestChannelSandbox
    fiscal: AtolSandbox | OrangeDataSandbox
    config: Path

    def hub(self, *args: str) -> HubProcess:
        return HubProcess(args, self.config, env=ENV)

    def sync(self, *jobs: str) -> str:
        code, output = self.hub("sync", *(word for job in jobs for word in ("--job", job))).run()
        assert code == 0, output
        return output

    def article(self, *, weighed: bool) -> str:
        """The article (the shop's SKU) of a good 1C sells by weight, or by the piece."""
        return next(str(row["Артикул"]) for row in self.onec.rows(GOODS)
                    if not row["IsFolder"] and row["Весовой"] is weighed and row["Артикул"])

    def receipt_findings(self) -> list[tuple[str, str, Any]]:
        """What ``hub reconcile`` says of the receipts: (key, kind, reason or detail)."""
        _, output = self.hub("reconcile", "--entity", "orders", "--format", "json").run()
        findings = json_loads(output[output.index("{"):])["findings"]
        return [(f["key"], f["kind"], f["detail"].get("reason", f["detail"])) for f in findings
                if f["kind"].startswith("receipt_")]

    def set_inn(self, inn: str) -> None:
        """An accountant types ``inn`` on the card of the organization hub writes orders under, in 1C."""
        settings = self.onec.source_settings()
        answer = requests.patch(f"{service_root(settings['url'])}{ORGANIZATIONS}(guid'"
                                f"{settings['values']['organization']}')?$format=json", json={"ИНН": inn},
                                auth=(settings["username"], settings["password"]), timeout=10)
        assert answer.status_code == 200, answer.text

    def order(self) -> dict[str, Any]:
        """A guest pays online for 300 g of a weighed good (149.50 a kg) and a piece of another."""
        lines = [{"sku": self.article(weighed=True), "title": "Бананы, вес", "qty": "0.300", "price": "149.50",
                  "discount": "0.00", "total": "44.85", "options": []},
                 {"sku": self.article(weighed=False), "title": "Круассан миндальный", "qty": "1", "price": "145.00",
                  "discount": "0.00", "total": "145.00", "options": []}]
        return self.shop.place_order(items=lines, total="189.85",
                                     payment={"method": "card", "amount": "189.85", "paid": True})


@pytest.fixture(params=["atol", "orangedata"])
def stage(request: pytest.FixtureRequest, tmp_path: Path, state_url: str) -> Iterator[Stage]:
    service = request.param
    fiscal = AtolSandbox(inn=INN) if service == "atol" else OrangeDataSandbox(inn=INN)
    with OneCSandbox() as onec, TestChannelSandbox(token=ENV["SHOP_TOKEN"], seed=3) as shop, fiscal:
        settings = fiscal.source_settings()
        # The company comes from 1C's organization card: it wins over a company file and the cash register's own
        # fields, left here with another INN, tax system, site and email to show that.
        company = tmp_path / "company.yaml"
        company.write_text('fields:\n  inn: {value: "7701234567"}\n  tax_system: {value: patent}\n')
        settings["company"] = company.name  # found from hub.yaml's folder
        if service == "atol":
            settings["password"] = "${ATOL_PASSWORD}"
        config = {
            "state": {"url": state_url}, "system_of_record": "onec", "log": {"level": "WARNING"},
            "sources": {"onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}"},
                        "shop": {"type": "testchannel", "url": shop.url, "token": "${SHOP_TOKEN}"},
                        "kkt": {"type": service, **settings,
                                "retry": {"attempts": 3, "backoff": 0.01, "max_backoff": 0.02}}},
            "jobs": {"shop-catalog": {"type": "catalog", "from": "onec", "to": "shop"},
                     "shop-orders": {"type": "orders", "from": "shop", "to": "onec"},
                     "receipts": {"type": "receipts", "from": "onec", "to": "kkt",
                                  "options": {"channels": ["shop"]}}},
        }
        path = tmp_path / "hub.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        staged = Stage(onec, shop, fiscal, path)
        staged.sync("shop-catalog")
        yield staged


def is_sell(request: SeenRequest) -> bool:
    """A receipt sent: ATOL's sell or sell_refund, OrangeData's document POST."""
    return request.method == "POST" and request.path.endswith(("/sell", "/sell_refund", "/api/v2/documents/"))


def test_a_weighed_online_order_gets_its_two_receipts_once_under_failures_and_a_kill(stage: Stage) -> None:
    placed = stage.order()
    key = f"shop:{placed['id']}"
    stage.sync("shop-orders")

    # Paid online: the prepayment receipt. The service's first answer is a 503; hub tries again under the same id.
    stage.fiscal.faults.on_request = on_nth(is_sell, 1, lambda: stage.fiscal.faults.fail_next(1, status=503))
    stage.sync("receipts")
    assert sum(map(is_sell, stage.fiscal.requests)) == 2
    assert [body.get("external_id", body.get("id")) for body in stage.fiscal.sent()] == [f"{key}:prepayment"]
    stage.fiscal.faults.reset()
    stage.sync("receipts")  # still waiting: asked for its report, not sent again
    assert len(stage.fiscal.sent()) == 1
    # Not printed yet: reconcile reports it waiting, with the service's word for it.
    assert [(k, kind) for k, kind, _ in stage.receipt_findings()] == [(f"{key}:prepayment", "receipt_wait")]
    stage.fiscal.process()
    stage.sync("receipts")

    # 1C weighs the apples at 312 g and closes the order (handed over).
    stage.onec.pick(key, stage.article(weighed=True), Decimal("0.312"))
    stage.onec.actions()[0].run({"number": key, "status": "Закрыт"})

    # Handed over with no full-payment receipt yet: reconcile says it is missing.
    assert stage.receipt_findings() == [(key, "receipt_missing", {"receipt": "full"})]

    # The full-payment receipt: the service commits it and the process dies before the answer.
    first = stage.hub("sync", "--job", "receipts")
    stage.fiscal.faults.on_commit = on_nth(is_sell, 1, first.kill)
    code, output = first.run()
    assert code == KILLED, output
    stage.fiscal.faults.reset()
    # The rerun registers it again under its id and loses that answer too: the duplicate answer finds it.
    stage.fiscal.faults.drop_after_commit(1)
    stage.sync("receipts")
    stage.fiscal.process()
    stage.sync("receipts")
    stage.sync("receipts")  # nothing left to do: nothing more is sent

    prepaid, full = stage.fiscal.sent()
    assert len(stage.fiscal.sent()) == 2
    assert all(document["status"] == "done" for document in stage.fiscal.documents.values())
    # Both receipts' fiscal attributes are on the 1C order.
    document, = (row for row in stage.onec.rows("Document_ЗаказКлиента") if row["НомерПоДаннымКлиента"] == key)
    assert all(document[f"Чек{word}{what}"] for word in ("Предоплаты", "Расчета") for what in ("Номер", "ФП", "Дата"))
    assert document["ЧекПредоплатыНомер"] != document["ЧекРасчетаНомер"]
    assert stage.receipt_findings() == []  # both printed, and the full one agrees with 1C's total
    if os.environ.get("HUB_PRINT_RECEIPTS"):
        print("\nprepayment:", json_dumps(prepaid, indent=2), "\nfull payment:", json_dumps(full, indent=2))
    # 0.312 kg × 149.50 = 46.64: the prepayment is offset and the 1.79 more is paid by card.
    if isinstance(stage.fiscal, AtolSandbox):
        assert_atol(key, prepaid, full)
    else:
        assert_orangedata(key, prepaid, full)


def assert_atol(key: str, prepaid: dict[str, Any], full: dict[str, Any]) -> None:
    assert (prepaid["external_id"], full["external_id"]) == (f"{key}:prepayment", f"{key}:full")
    apples = [item for item in prepaid["receipt"]["items"] if item["measure"] == 11]
    assert [(a["quantity"], a["sum"], a["payment_method"]) for a in apples] == [
        (Decimal("0.300"), Decimal("44.85"), "full_prepayment")]
    assert prepaid["receipt"]["payments"] == [{"type": 1, "sum": Decimal("189.85")}]
    apples = [item for item in full["receipt"]["items"] if item["measure"] == 11]
    assert [(a["quantity"], a["sum"], a["payment_method"]) for a in apples] == [
        (Decimal("0.312"), Decimal("46.64"), "full_payment")]
    assert full["receipt"]["total"] == Decimal("191.64")
    assert prepaid["receipt"]["company"] == full["receipt"]["company"] == TVERSKAYA
    assert full["receipt"]["payments"] == [{"type": 2, "sum": Decimal("189.85")}, {"type": 1, "sum": Decimal("1.79")}]
    # VAT per good is 1C's СтавкаНДС through the catalog mapping, not the cash register's vat_default (none):
    # the seeded 1C puts the weighed groceries under 10 % and the piece good under 20 %.
    assert [(item["measure"], item["vat"]) for item in full["receipt"]["items"]] == [
        (11, {"type": "vat10"}), (0, {"type": "vat20"})]


def assert_orangedata(key: str, prepaid: dict[str, Any], full: dict[str, Any]) -> None:
    assert (prepaid["id"], full["id"]) == (f"{key}:prepayment", f"{key}:full")
    for receipt in (prepaid, full):  # 1C's company: osn is taxationSystem 0
        assert (receipt["inn"], receipt["content"]["checkClose"]["taxationSystem"],
                receipt["content"]["settlementAddress"]) == (INN, 0, TVERSKAYA["payment_address"])
    apples = [p for p in prepaid["content"]["positions"] if p["quantityMeasurementUnit"] == 11]
    assert [(a["quantity"], a["paymentMethodType"]) for a in apples] == [(Decimal("0.300"), 1)]
    assert prepaid["content"]["checkClose"]["payments"] == [{"type": 2, "amount": Decimal("189.85")}]
    apples = [p for p in full["content"]["positions"] if p["quantityMeasurementUnit"] == 11]
    assert [(a["quantity"], a["paymentMethodType"]) for a in apples] == [(Decimal("0.312"), 4)]
    assert full["content"]["checkClose"]["payments"] == [{"type": 14, "amount": Decimal("189.85")},
                                                         {"type": 2, "amount": Decimal("1.79")}]
    # 1C's СтавкаНДС through the catalog mapping: tax 2 is VAT 10 %, tax 1 VAT 20 % (not 6, no VAT, the default).
    assert [(p["quantityMeasurementUnit"], p["tax"]) for p in full["content"]["positions"]] == [(11, 2), (0, 1)]


@pytest.mark.parametrize("stage", ["atol"], indirect=True)
def test_a_lighter_pick_refunds_the_overpaid_part_with_sell_refund(stage: Stage) -> None:
    key = f"shop:{stage.order()['id']}"
    stage.sync("shop-orders")
    stage.sync("receipts")
    stage.fiscal.process()
    stage.onec.pick(key, stage.article(weighed=True), Decimal("0.288"))
    stage.onec.actions()[0].run({"number": key, "status": "Закрыт"})
    stage.sync("receipts")
    stage.fiscal.process()
    stage.sync("receipts")

    assert isinstance(stage.fiscal, AtolSandbox)
    full, = stage.fiscal.sent("sell")[1:]
    refund, = stage.fiscal.sent("sell_refund")
    # 0.288 kg × 149.50 = 43.06: the full receipt offsets 188.06 of the 189.85 prepaid, 1.79 goes back.
    assert full["receipt"]["payments"] == [{"type": 2, "sum": Decimal("188.06")}]
    assert (refund["external_id"], refund["receipt"]["total"]) == (f"{key}:refund", Decimal("1.79"))
    item, = refund["receipt"]["items"]
    assert (item["quantity"], item["measure"], item["payment_method"]) == (Decimal("0.012"), 11, "full_prepayment")
    assert stage.receipt_findings() == []


def sent_ids(stage: Stage) -> list[str]:
    """The ids of the receipts the service holds, in the order they were registered."""
    return [str(body.get("external_id", body.get("id"))) for body in stage.fiscal.sent()]


def fail_waiting(stage: Stage) -> None:
    """The service does not print what waits: ATOL's register fails it, OrangeData lets it expire (524)."""
    if isinstance(stage.fiscal, AtolSandbox):
        stage.fiscal.process(fail="Ошибка ФН: нет связи с фискальным накопителем")
    else:
        stage.fiscal.process(expire=True)


def lose_state(stage: Stage, request: pytest.FixtureRequest, state_url: str) -> None:
    """hub's state database is lost: hub.yaml now names an empty one (the services and 1C keep what they hold)."""
    fresh = (state_url.replace("state.db", "state-after-loss.db") if state_url.startswith("sqlite")
             else create_database(request.getfixturevalue("postgres_url")))
    config = yaml.safe_load(stage.config.read_text())
    stage.config.write_text(yaml.safe_dump({**config, "state": {"url": fresh}}, allow_unicode=True))


def test_a_receipt_the_service_failed_is_printed_once_under_its_next_id_also_after_hubs_state_is_lost(
        stage: Stage, request: pytest.FixtureRequest, state_url: str) -> None:
    key = f"shop:{stage.order()['id']}"
    stage.sync("shop-orders")
    stage.sync("receipts")
    fail_waiting(stage)

    stage.sync("receipts")  # the fail is seen: sent again under the next id
    assert sent_ids(stage) == [f"{key}:prepayment", f"{key}:prepayment:2"]
    stage.sync("receipts")  # the second attempt waits: asked, not sent again
    assert len(stage.fiscal.sent()) == 2
    _, trail = stage.hub("trace", key).run()
    assert f"sent again as {key}:prepayment:2" in trail
    stage.fiscal.process()

    lose_state(stage, request, state_url)
    stage.sync("shop-catalog", "shop-orders")  # the goods and the order are found again in 1C, not created again
    stage.sync("receipts")  # each attempt is registered again under its id and found: the first failed, the second done
    stage.sync("receipts")
    assert sent_ids(stage) == [f"{key}:prepayment", f"{key}:prepayment:2"]
    assert [d["status"] for d in stage.fiscal.documents.values()] == (
        ["fail", "done"] if isinstance(stage.fiscal, AtolSandbox) else ["expired", "done"])
    document, = (row for row in stage.onec.rows("Document_ЗаказКлиента") if row["НомерПоДаннымКлиента"] == key)
    assert document["ЧекПредоплатыНомер"]  # the second attempt's fiscal attributes are on the 1C order
    assert stage.receipt_findings() == []  # the failed first attempt is no finding: it was printed at the second


@pytest.mark.parametrize("stage", ["atol"], indirect=True)
def test_resends_stop_at_the_bound_and_a_receipt_refused_for_what_it_holds_is_not_resent(
        stage: Stage, request: pytest.FixtureRequest, state_url: str) -> None:
    config = yaml.safe_load(stage.config.read_text())
    config["jobs"]["receipts"]["options"]["attempts"] = 2
    stage.config.write_text(yaml.safe_dump(config, allow_unicode=True))
    key = f"shop:{stage.order()['id']}"
    stage.sync("shop-orders")
    stage.sync("receipts")
    fail_waiting(stage)
    stage.sync("receipts")
    fail_waiting(stage)
    code, output = stage.hub("sync", "--job", "receipts").run()
    assert code != 0 and f"{key}:prepayment:2: code 1: Ошибка ФН" in output  # the last attempt failed: said so
    stage.sync("receipts")
    assert sent_ids(stage) == [f"{key}:prepayment", f"{key}:prepayment:2"]  # two attempts in all, as set
    (found, kind, reason), = stage.receipt_findings()
    assert (found, kind) == (f"{key}:prepayment:2", "receipt_fail") and "нет связи" in reason

    # Another order, refused at registration (code 32: 1C's organization card names an INN the group is not
    # registered with): never sent again by itself.
    stage.set_inn("7707083893")
    other = f"shop:{stage.order()['id']}"
    stage.sync("shop-orders")
    code, output = stage.hub("sync", "--job", "receipts").run()
    assert code != 0 and "code 32: Ошибка валидации" in output
    stage.sync("receipts")
    assert [i for i in sent_ids(stage) if i.startswith(other)] == []
    assert sum(map(is_sell, stage.fiscal.requests)) == 3  # two attempts of the first order, the refused one once
    refused = [(kind, reason) for found, kind, reason in stage.receipt_findings() if found == f"{other}:prepayment"]
    assert [kind for kind, _ in refused] == ["receipt_fail"] and "code 32" in refused[0][1]

    # The accountant fixes the card in 1C, and the integrator has the receipt sent again: with the INN as it is now.
    stage.set_inn("5544332219")
    code, output = stage.hub("receipts", "resend", "shop:404", "--kind", "full").run()
    assert code != 0 and "order shop:404 has no failed receipt of full" in output and "Traceback" not in output
    code, output = stage.hub("receipts", "resend", other).run()
    assert code == 0 and f"{other}:prepayment: sent again" in output, output
    stage.sync("receipts")
    stage.fiscal.process()
    stage.sync("receipts")
    # Under its own id: ATOL held nothing under it, and a later id would leave it free to be printed anew.
    assert [i for i in sent_ids(stage) if i.startswith(other)] == [f"{other}:prepayment"]
    assert stage.fiscal.documents[f"{other}:prepayment"]["status"] == "done"

    lose_state(stage, request, state_url)
    stage.sync("shop-catalog", "shop-orders")
    # The prepayment is built anew, registered under its id, and found printed. (The run still fails: the first
    # order's two attempts are found failed, as they are.)
    stage.hub("sync", "--job", "receipts").run()
    assert [i for i in sent_ids(stage) if i.startswith(other)] == [f"{other}:prepayment"]
    assert [f for f in stage.receipt_findings() if f[0].startswith(other)] == []


def test_an_order_1c_cancels_after_its_prepayment_gets_one_refund_of_it(stage: Stage) -> None:
    key = f"shop:{stage.order()['id']}"
    stage.sync("shop-orders")
    stage.sync("receipts")
    stage.fiscal.process()
    stage.sync("receipts")

    stage.onec.cancel(key)
    assert stage.receipt_findings() == [(key, "receipt_missing", {"receipt": "cancel"})]  # no full receipt wanted
    stage.sync("receipts")
    stage.sync("receipts")  # waiting: not sent again
    stage.fiscal.process()
    stage.sync("receipts")
    stage.sync("receipts")

    assert sent_ids(stage) == [f"{key}:prepayment", f"{key}:cancel"]
    prepaid, refund = stage.fiscal.sent()
    if isinstance(stage.fiscal, AtolSandbox):
        assert [body["external_id"] for body in stage.fiscal.sent("sell_refund")] == [f"{key}:cancel"]
        assert refund["receipt"]["items"] == prepaid["receipt"]["items"]  # the prepayment's lines, full_prepayment
        assert refund["receipt"]["payments"] == [{"type": 1, "sum": Decimal("189.85")}]
    else:
        assert (refund["content"]["type"], refund["content"]["positions"]) == (2, prepaid["content"]["positions"])
        assert refund["content"]["checkClose"]["payments"] == [{"type": 2, "amount": Decimal("189.85")}]
    document, = (row for row in stage.onec.rows("Document_ЗаказКлиента") if row["НомерПоДаннымКлиента"] == key)
    assert document["ЧекВозвратаНомер"] and document["ЧекВозвратаФП"]  # written back like the others
    assert stage.receipt_findings() == []


@pytest.mark.parametrize("stage", ["atol"], indirect=True)
def test_a_company_card_1c_cannot_give_sends_no_receipt_rather_than_the_company_files(stage: Stage) -> None:
    # The company file names another INN and tax system: printing with them would be another company's receipt.
    stage.set_inn("12345")
    stage.order()
    stage.sync("shop-orders")
    code, output = stage.hub("sync", "--job", "receipts").run()
    assert code != 0 and "company cannot be read" in output
    assert not any(map(is_sell, stage.fiscal.requests))
    stage.set_inn("5544332219")  # the accountant fixes the card: the next run prints with it
    stage.sync("receipts")
    assert [body["receipt"]["company"]["inn"] for body in stage.fiscal.sent()] == ["5544332219"]
