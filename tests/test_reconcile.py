"""hub reconcile against the 1C and shop sandboxes: agreement, missing orders fixed, edits in 1C found."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from connectors.onec_odata import OneCSandbox
from connectors.testchannel.connector import OrdersStream, TestChannelConnector
from hub.errors import AuthError, HubError
from hub.reconcile import SETTLING
from hub.state import open_store
from hub.streams import DailySales
from hub.values import json_loads, to_decimal, utcnow, zone
from tests.conftest import OneCStage
from tests.connectors.onec_odata.conftest import connect

pytestmark = pytest.mark.slow
ORDERS = "Document_ЗаказКлиента"


def jobs(onec: OneCSandbox, channels: list[str]) -> dict[str, Any]:
    return {"shop-catalog": {"type": "catalog", "from": "onec", "to": "shop"},
            "shop-stock": {"type": "stock", "from": "onec", "to": "shop", "options": onec.job_options("stock")},
            "shop-prices": {"type": "prices", "from": "onec", "to": "shop", "options": onec.job_options("prices")},
            "shop-orders": {"type": "orders", "from": "shop", "to": "onec"}}


@pytest.fixture
def stage(onec_stage: Callable[..., OneCStage]) -> OneCStage:
    staged = onec_stage(jobs)
    assert staged.hub("sync", "--source", "shop").exit_code == 0   # the shop's menu comes from 1C
    for _ in range(4):
        staged.shop.place_order()
    assert staged.hub("sync", "--source", "shop").exit_code == 0
    return staged


def test_agreeing_sides_have_no_discrepancies(stage: OneCStage) -> None:
    result = stage.hub("reconcile", "--entity", "orders")
    assert result.exit_code == 0, result.output
    assert "compared 4 shop orders" in result.output
    assert "0 discrepancy(ies) open." in result.output


def test_an_order_missing_in_1c_is_found_and_fixed(stage: OneCStage) -> None:
    late = stage.shop.place_order()
    found = stage.hub("reconcile", "--entity", "orders", "--format", "json")
    assert found.exit_code == 1
    report = json_loads(found.output)
    kinds = {(f["kind"], f["key"]) for f in report["findings"]}
    assert ("missing_in_system_of_record", f"shop:{late['id']}") in kinds
    assert any(kind == "daily_total_mismatch" for kind, _ in kinds)

    fixed = stage.hub("reconcile", "--entity", "orders", "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert "created 1 document(s)" in fixed.output
    assert len(stage.onec.rows(ORDERS)) == 5
    store = open_store(stage.state_url)
    with store.transaction() as state:
        assert state.discrepancies.open() == [], "findings of the earlier run are resolved"
    store.close()


def test_a_total_edited_in_1c_is_a_discrepancy_until_it_agrees(stage: OneCStage) -> None:
    document = stage.onec.rows(ORDERS)[0]
    client = connect(stage.onec)
    client.update(ORDERS, document["Ref_Key"], {"СуммаДокумента": 1}, data_version=document["DataVersion"])
    result = stage.hub("reconcile", "--format", "csv")
    assert result.exit_code == 1
    rows = list(csv.DictReader(io.StringIO(result.output)))
    [mismatch] = [r for r in rows if r["kind"] == "total_mismatch"]
    assert mismatch["key"] == document["НомерПоДаннымКлиента"]
    assert json_loads(mismatch["detail"])["1c"] == 1


def test_a_second_1c_document_of_one_order_is_a_duplicate_and_counts_in_1cs_daily_total(stage: OneCStage) -> None:
    client = connect(stage.onec)
    original = client.get(ORDERS, stage.onec.rows(ORDERS)[0]["Ref_Key"])
    assert original is not None
    copy = {name: value for name, value in original.items()
            if value is not None and name not in ("Ref_Key", "DataVersion", "Posted")}
    client.create(ORDERS, {**copy, "Number": "ДУБЛЬ-1"})  # posted twice, e.g. after hub lost its state
    held = sum((to_decimal(d["СуммаДокумента"]) for d in stage.onec.rows(ORDERS)), Decimal(0))

    result = stage.hub("reconcile", "--entity", "orders", "--format", "json")

    assert result.exit_code == 1
    findings = json_loads(result.output)["findings"]
    [duplicate] = [f for f in findings if f["kind"] == "duplicate_in_system_of_record"]
    assert duplicate["key"] == original["НомерПоДаннымКлиента"]
    assert duplicate["detail"]["documents"] == 2
    assert sorted(duplicate["detail"]["numbers"]) == sorted([original["Number"].strip(), "ДУБЛЬ-1"])
    [day] = [f for f in findings if f["kind"] == "daily_total_mismatch"]
    assert to_decimal(day["detail"]["1c"]) == held, "1C's total is every document it holds, the copy included"
    assert to_decimal(day["detail"]["1c"]) - to_decimal(day["detail"]["channel"]) == to_decimal(
        original["СуммаДокумента"])
    assert not [f for f in findings if f["kind"] in ("total_mismatch", "line_mismatch", "missing_in_channel")]


def test_lines_that_differ_are_named_by_good(stage: OneCStage) -> None:
    document = stage.onec.rows(ORDERS)[0]
    lines = [{**line, "Количество": 99} if n == 0 else line for n, line in enumerate(document["Товары"])]
    connect(stage.onec).update(ORDERS, document["Ref_Key"], {"Товары": lines},
                               data_version=document["DataVersion"])
    report = json_loads(stage.hub("reconcile", "--entity", "orders", "--format", "json").output)
    [mismatch] = [f for f in report["findings"] if f["kind"] == "line_mismatch"]
    [(good, sides)] = mismatch["detail"]["goods"].items()
    assert good == document["Товары"][0]["Номенклатура_Key"]
    assert sides["1c"] == 99


def test_customers_sharing_a_phone_in_1c_are_duplicates(stage: OneCStage) -> None:
    anna = next(r for r in stage.onec.rows("Catalog_Контрагенты") if r["Description"].startswith("Смирнова"))
    body = {"Description": "Смирнова Анна", "КонтактнаяИнформация": [
        {"LineNumber": "1", "Тип": "Телефон", "Представление": "+7 916 555-12-34", "НомерТелефона": "+79165551234"}]}
    twin = connect(stage.onec).create("Catalog_Контрагенты", body)
    result = stage.hub("reconcile", "--entity", "customers", "--format", "json")
    assert result.exit_code == 1
    duplicates = {f["key"]: f for f in json_loads(result.output)["findings"]}
    assert duplicates["+79165551234"]["kind"] == "duplicate_customer"
    assert set(duplicates["+79165551234"]["detail"]["customers"]) == {anna["Ref_Key"], twin["Ref_Key"]}
    assert "+79031112233" in duplicates, "the seeded base has one couple sharing a phone already"


def test_stock_and_prices_that_drifted_in_the_channel_are_found_and_pushed_again(stage: OneCStage) -> None:
    assert stage.hub("reconcile", "--entity", "stock").exit_code == 0
    (venue, sku), level = next(iter(stage.shop.stock.items()))
    level["quantity"] = "999"                       # someone edited the shop by hand
    sku_priced, price = next(iter(stage.shop.prices.items()))
    price["price"] = "1.00"
    found = json_loads(stage.hub("reconcile", "--format", "json").output)["findings"]
    kinds = {(f["kind"], f["key"]) for f in found}
    assert ("stock_mismatch", f"{venue}:{sku}") in kinds
    assert ("prices_mismatch", sku_priced) in kinds

    fixed = stage.hub("reconcile", "--entity", "stock", "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert "stock differed from 1C: pushed again in full" in fixed.output
    assert stage.shop.stock[(venue, sku)]["quantity"] != "999"
    assert stage.hub("reconcile", "--entity", "prices", "--fix").exit_code == 0
    assert stage.shop.prices[sku_priced]["price"] != "1.00"


def test_a_channel_whose_orders_no_job_takes_to_1c_is_not_compared(onec_stage: Callable[..., OneCStage]) -> None:
    staged = onec_stage(lambda onec, channels: {name: job for name, job in jobs(onec, channels).items()
                                                if name != "shop-orders"})
    staged.shop.place_order()  # 1C is not meant to hold it: no orders job takes the shop's orders there

    result = staged.hub("reconcile", "--entity", "orders")

    assert result.exit_code == 0, result.output
    assert "shop orders" not in result.output


class Books:
    """A channel's own books, standing in for a POS back office: what it says per day, and what it was asked."""

    def __init__(self, sold: dict[dt.date, Decimal] | None = None, failure: HubError | None = None) -> None:
        self.sold = sold or {}
        self.failure = failure
        self.asked: list[tuple[dt.date, dt.date]] = []

    def __call__(self, first: dt.date, last: dt.date) -> dict[dt.date, Decimal]:
        self.asked.append((first, last))
        if self.failure is not None:
            raise self.failure
        return self.sold

    def kept_by_the_shop(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Give the shop's orders stream these books (a DailySales kind), as iiko's has iikoServer's."""
        books = self

        class BookedOrders(OrdersStream, DailySales[TestChannelConnector]):
            def daily_sales(self, first: dt.date, last: dt.date) -> dict[dt.date, Decimal]:
                return books(first, last)

        streams = tuple(BookedOrders if stream is OrdersStream else stream for stream in TestChannelConnector.streams)
        monkeypatch.setattr(TestChannelConnector, "streams", streams)


def test_a_channels_books_are_held_against_1c_per_settled_day(stage: OneCStage,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    tz = zone("Europe/Moscow")
    yesterday = (utcnow() - SETTLING).astimezone(tz).date() - dt.timedelta(days=1)
    earlier = yesterday - dt.timedelta(days=1)
    # One of the shop's orders was taken two days ago, as 1C dates it (local time, no offset).
    document = stage.onec.rows(ORDERS)[0]
    taken = f"{earlier:%Y-%m-%d}T12:00:00"
    connect(stage.onec).update(ORDERS, document["Ref_Key"], {"Date": taken, "ДатаПоДаннымКлиента": taken},
                               data_version=document["DataVersion"])
    total = to_decimal(document["СуммаДокумента"])
    # The books agree with 1C on every day but the one moved back. The shop's other orders are a couple of hours
    # old, so shortly after midnight in Moscow they fall on yesterday: the books hold them there too.
    held: defaultdict[dt.date, Decimal] = defaultdict(Decimal)
    for row in stage.onec.rows(ORDERS):
        if str(row["НомерПоДаннымКлиента"]).startswith("shop:"):
            held[dt.date.fromisoformat(str(row["Date"])[:10])] += to_decimal(row["СуммаДокумента"])
    books = Books({**held, earlier: held[earlier] + Decimal("10.00")})
    books.kept_by_the_shop(monkeypatch)

    since = earlier - dt.timedelta(days=3)
    result = stage.hub("reconcile", "--entity", "orders", "--since", f"{since:%Y-%m-%d}", "--format", "json")
    report = json_loads(result.output)

    assert books.asked == [(since, yesterday)]  # today left out: its sales go on
    assert report["compared"]["shop sales days"] == 5
    [found] = [f for f in report["findings"] if f["kind"] == "books_total_mismatch"]
    assert (found["key"], found["detail"]) == (f"shop:books:{earlier}", {
        "day": f"{earlier}", "books": total + Decimal("10.00"), "1c": total})
    assert held[earlier] == total  # the moved order is the only one 1C holds on that day

    books.asked.clear()
    stage.hub("reconcile", "--entity", "orders")  # without --since: from the first day 1C holds a shop order
    assert books.asked == [(earlier, yesterday)]


def test_books_that_cannot_be_read_leave_the_rest_of_reconcile_going(stage: OneCStage,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    books = Books(failure=AuthError("iikoServer: no free licence seat"))
    books.kept_by_the_shop(monkeypatch)
    result = stage.hub("reconcile", "--since", "2026-01-01")

    assert books.asked
    assert "unreadable: shop sales books: iikoServer: no free licence seat" in result.output
    assert "compared 4 shop orders" in result.output and "shop stock" in result.output
    assert result.exit_code == 1
