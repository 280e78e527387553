"""A 1C base integrated through its web service as the system of record, end to end over real HTTP.

The SOAP sandbox stands in for 1C, a testchannel shop for the channel; ``hub sync`` runs as an integrator runs
it, on SQLite and on PostgreSQL: goods go out and are linked, orders come in exactly once (also after 1C
committed one and its answer was lost), and stock and prices go out to the shop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

import cli
from connectors.onec_soap import OneCSoapSandbox
from connectors.testchannel import TestChannelSandbox
from hub import pipeline
from hub.demo import run_demo
from hub.state import open_store
from hub.values import utcnow

pytestmark = pytest.mark.slow
ORDERS = 12


@dataclass
class Stage:
    onec: OneCSoapSandbox
    shop: TestChannelSandbox
    config: Path
    state_url: str

    def hub(self, *args: str) -> Result:
        return CliRunner().invoke(cli.main, ["--config", str(self.config), *args])

    def order_keys(self) -> list[str]:
        return [f"shop:{order_id}" for order_id in self.shop.orders]


@pytest.fixture
def stage(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    monkeypatch.setenv("ONEC_PASSWORD", "sandbox-secret")
    monkeypatch.setenv("SHOP_TOKEN", "shop-secret")
    with OneCSoapSandbox() as onec, TestChannelSandbox(token="shop-secret", seed=5) as shop:
        config = {
            "state": {"url": state_url}, "system_of_record": "onec", "log": {"level": "WARNING"},
            "sources": {"onec": {"type": "onec_soap", **onec.source_settings(), "password": "${ONEC_PASSWORD}",
                                 "page_size": 50},
                        "shop": {"type": "testchannel", "url": shop.url, "token": "${SHOP_TOKEN}"}},
            "jobs": {"shop-catalog": {"type": "catalog", "from": "onec", "to": "shop"},
                     "shop-orders": {"type": "orders", "from": "shop", "to": "onec"},
                     "shop-stock": {"type": "stock", "from": "onec", "to": "shop",
                                    "options": onec.job_options("stock")},
                     "shop-prices": {"type": "prices", "from": "onec", "to": "shop",
                                     "options": onec.job_options("prices")}},
        }
        path = tmp_path / "hub.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        staged = Stage(onec, shop, path, state_url)
        result = staged.hub("sync", "--job", "shop-catalog")  # the shop sells goods hub has linked to 1C's
        assert result.exit_code == 0, result.output
        yield staged


def test_orders_land_in_1c_through_the_service_exactly_once_after_a_lost_answer(
        stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    # An order whose answer was lost is due again at once, not in half a minute: the next sync delivers it.
    monkeypatch.setattr(pipeline, "_retry_at", lambda attempts: utcnow())
    for _ in range(ORDERS):
        stage.shop.place_order()
    stage.onec.faults.drop_after_commit(1)  # 1C writes the first order, and its answer never arrives
    first = stage.hub("sync", "--job", "shop-orders")
    assert len(stage.onec.orders) >= 1, first.output
    second = stage.hub("sync", "--job", "shop-orders")
    assert second.exit_code == 0, second.output
    assert stage.hub("sync", "--job", "shop-orders").exit_code == 0  # nothing new: nothing written again
    assert {key: stage.onec.orders_with(key) for key in stage.order_keys()} == dict.fromkeys(stage.order_keys(), 1)
    # Each order looked up before its create; the lost one looked up again and found, so what followed was the
    # engine's update of the order 1C holds (ЗаписатьЗаказ changes the order with that number), not a new one.
    lost, *others = stage.order_keys()
    assert stage.onec.calls("НайтиЗаказ", lost) == 2
    assert stage.onec.calls("ЗаписатьЗаказ", lost) == 2
    assert {key: stage.onec.calls("ЗаписатьЗаказ", key) for key in others} == dict.fromkeys(others, 1)
    store = open_store(stage.state_url)
    try:
        with store.reading() as state:
            assert state.outbox.depth() == {}
            assert len(state.links.get_many("shop", "orders", list(stage.shop.orders))) == ORDERS
    finally:
        store.close()
    for written in stage.onec.orders.values():
        assert written["Склад"] == stage.onec.warehouses[0]
        assert all(line["Номенклатура"] in stage.onec.goods for line in written["Товары"])
        # Paid options go as lines of their own: the document's lines add up to what the guest pays.
        assert sum(Decimal(line["Сумма"]) for line in written["Товары"]) == Decimal(written["СуммаДокумента"])



def ordered(sku: str, price: str) -> dict[str, Any]:
    """An order of one good, as the shop places it."""
    line = {"sku": sku, "title": sku, "qty": "2", "price": price, "discount": "0.00",
            "total": str(Decimal(price) * 2), "options": []}
    return {"items": [line], "total": line["total"]}


def test_an_order_1c_refuses_is_a_dead_letter_and_one_met_by_locks_is_written_later(
        stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_retry_at", lambda attempts: utcnow())
    gone = next(good for good in stage.onec.goods.values() if good.sku == "CAP-300")
    taken = stage.shop.place_order(**ordered("ESP-200", "120.00"))
    refused = stage.shop.place_order(**ordered("CAP-300", "180.00"))
    del stage.onec.goods[gone.ref]  # the good was deleted in 1C after the shop had it
    stage.onec.locked_writes = 1  # the first write (the order taken) meets another session's locks
    assert stage.hub("sync", "--job", "shop-orders").exit_code == 1
    assert stage.onec.orders_with(f"shop:{taken['id']}") == 0
    later = stage.hub("sync", "--job", "shop-orders")
    assert later.exit_code == 0, later.output
    assert stage.onec.orders_with(f"shop:{taken['id']}") == 1
    assert stage.onec.calls("ЗаписатьЗаказ", f"shop:{taken['id']}") == 2  # met the locks, then written
    assert stage.onec.orders_with(f"shop:{refused['id']}") == 0
    store = open_store(stage.state_url)
    try:
        with store.reading() as state:
            [letter] = state.dead_letters.list()
            assert state.outbox.depth() == {}
    finally:
        store.close()
    assert (letter.external_id, letter.stage) == (refused["id"], "deliver")
    assert "Не найдена номенклатура" in letter.reason

def test_stock_and_prices_go_from_the_service_to_the_shop(stage: Stage) -> None:
    result = stage.hub("sync", "--job", "shop-stock", "--job", "shop-prices")
    assert result.exit_code == 0, result.output
    by_article = {good.sku: good for good in stage.onec.goods.values()}
    warehouse, price_type = stage.onec.warehouses[0], stage.onec.price_types[0]
    for (venue, sku), level in stage.shop.stock.items():
        assert venue == "main"
        held = stage.onec.stock.get((by_article[sku].ref, warehouse), Decimal(0))
        assert Decimal(str(level["quantity"])) == held, sku
    assert len(stage.shop.stock) == len(by_article)
    assert {sku: Decimal(str(p["price"])) for sku, p in stage.shop.prices.items()} == {
        sku: stage.onec.prices[good.ref, price_type] for sku, good in by_article.items()
        if (good.ref, price_type) in stage.onec.prices}
    weighed = next(good for good in by_article.values() if good.weighed)  # sold by the kilo
    stage.onec.stock[weighed.ref, warehouse] = Decimal("0.305")
    assert stage.hub("sync", "--job", "shop-stock").exit_code == 0
    assert Decimal(str(stage.shop.stock["main", weighed.sku]["quantity"])) == Decimal("0.305")


def test_the_demo_runs_with_1c_reached_through_its_web_service(tmp_path: Path) -> None:
    report = run_demo(workdir=tmp_path, cycles=1, onec="soap")
    assert report.went_through, [(info.job, info.status) for info in report.unsuccessful]
    assert [(check.type, check.ok) for check in report.checks if check.source == "erp"] == [("onec_soap", True)]
    _, runs = report.cycles[-1]
    delivered = Counter[str]()
    for info, ctx in runs:
        delivered[info.job] += ctx.counts.created
    # the guests' three orders, written through the service and to the CRM that gathers every channel's orders
    assert delivered["testchannel-orders"] == 6, delivered
    sources = yaml.safe_load((tmp_path / "hub.yaml").read_text(encoding="utf-8"))["sources"]
    types = {source["type"] for source in sources.values()}
    assert "onec_soap" in types and "onec_odata" not in types


def test_hub_check_reaches_the_service_and_names_what_a_mapping_lacks(stage: Stage) -> None:
    checked = stage.hub("check")
    assert checked.exit_code == 0, checked.output
    assert "5 operations at" in checked.output
    del stage.onec.operations["ПолучитьЦены"]  # the base's 1C developer dropped an operation hub uses
    failed = stage.hub("check")
    assert failed.exit_code == 1, failed.output
    assert "ПолучитьЦены" in failed.output
    assert "prices.in.yaml" in " ".join(failed.output.split())
