"""The 1C web-service connector: the acceptance suite, paged reads, and what ``hub check`` tells of the WSDL."""

from __future__ import annotations

import functools
import itertools
import logging
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.onec_soap import OneCSoapSandbox
from connectors.onec_soap.connector import READ_AT, OneCSoapConnector, OneCSoapSettings
from connectors.onec_soap.sandbox import OPERATIONS
from hub.config import bundled_mappings
from hub.connector import Connector, ConnectorContext
from hub.errors import ConfigError, HubError, ProtocolError
from hub.mapping import DictLinks
from hub.model import Entity, Modifier, Order, OrderLine, PriceEntry, RawRecord, StockLevel
from hub.sandbox import Sandbox
from hub.testing.acceptance import ConnectorAcceptance, MemoryState, RecordingClock
from hub.values import json_dumps, utcnow, zone

PRODUCT = "CAP-300"
"""A channel's product, linked in these tests to the first good of the sandbox's base."""
GOOD, SYRUP = (next(g.ref for g in OneCSoapSandbox().goods.values() if g.sku == sku) for sku in ("CAP-300", "SYR-1"))


def order(number: int, *, product: str = PRODUCT) -> Order:
    line = OrderLine(product=product, name="Капучино 300 мл", quantity=Decimal(2), unit_price=Decimal("210.00"),
                     sum=Decimal("420.00"))
    return Order(channel="shop", external_id=str(number), created_at=utcnow(), lines=[line], total=line.sum)


def connect(settings: dict[str, Any], *, clock: RecordingClock | None = None, state: MemoryState | None = None,
            mappings: Path | None = None) -> OneCSoapConnector:
    model = OneCSoapSettings.model_validate({"type": "onec_soap", **settings})
    context = ConnectorContext(source="erp", timezone=zone("Europe/Moscow"), log=logging.getLogger("test.soap"),
                               mappings=mappings, links=DictLinks({PRODUCT: GOOD, "SYR-1": SYRUP}), clock=clock,
                               state=state)
    return OneCSoapConnector(model, context)


@functools.cache
def offline() -> OneCSoapConnector:
    """A connector to a base nobody serves: decoding needs no call."""
    return connect({"url": "http://127.0.0.1:9/trade", "username": "hub", "password": "-",
                    "values": {"warehouse": SYRUP}})


class TestOneCSoapAcceptance(ConnectorAcceptance):
    connector_type = "onec_soap"
    entity = Entity.ORDERS
    incremental = False

    def connect(self, settings: dict[str, Any], clock: RecordingClock) -> Connector:
        return connect(settings, clock=clock)

    def make_record(self, number: int) -> Order:
        return order(number)

    def count_written(self, sandbox: Sandbox, key: str) -> int:
        assert isinstance(sandbox, OneCSoapSandbox)
        return sandbox.orders_with(key)


class TestOneCSoapStockAcceptance(TestOneCSoapAcceptance):
    """The suite again for a read entity: balances, read as a snapshot over pages."""

    entity = Entity.STOCK

    def settings(self, sandbox: Sandbox) -> dict[str, Any]:
        return {**super().settings(sandbox), "page_size": 10}

    def seed(self, sandbox: Sandbox, count: int) -> list[str]:
        assert isinstance(sandbox, OneCSoapSandbox)
        warehouse = sandbox.warehouses[-1]
        fresh = [good for good in sandbox.goods if (good, warehouse) not in sandbox.stock][:count]
        for n, good in enumerate(fresh, start=1):
            sandbox.stock[good, warehouse] = Decimal(n)
        return [f"{good}:{warehouse}" for good in fresh]


@pytest.fixture
def onec() -> Iterator[OneCSoapSandbox]:
    with OneCSoapSandbox() as sandbox:
        yield sandbox


def test_paged_reads_take_every_page_until_the_service_says_no_more(onec: OneCSoapSandbox) -> None:
    connector = connect({**onec.source_settings(), "page_size": 40})
    pages = list(connector.read(Entity.STOCK, cursor=None))
    levels = [connector.decode(Entity.STOCK, raw) for page in pages for raw in page.records]
    assert len(pages) == -(-len(onec.stock) // 40)
    assert all(isinstance(level, StockLevel) for level in levels)
    assert {(lv.product, lv.warehouse): lv.quantity for lv in levels if isinstance(lv, StockLevel)} == onec.stock
    prices = [connector.decode(Entity.PRICES, raw) for page in connector.read(Entity.PRICES, cursor=None)
              for raw in page.records]
    assert {(p.product, p.price_type): p.amount for p in prices if isinstance(p, PriceEntry)} == onec.prices


def test_the_wsdl_is_kept_so_a_later_run_does_not_read_it_again(onec: OneCSoapSandbox) -> None:
    state = MemoryState()
    first = connect(onec.source_settings(), state=state)
    first.read(Entity.CATALOG, cursor=None).__next__()
    assert onec.count("GET") == 1
    later = connect(onec.source_settings(), state=state)
    assert later.find(Entity.ORDERS, "shop:404") is None
    assert onec.count("GET") == 1


def test_a_refused_order_is_a_dead_letter_with_1cs_text(onec: OneCSoapSandbox) -> None:
    from hub.errors import InvalidRecord

    connector = connect({**onec.source_settings(), "values": {"warehouse": "00000000-0000-0000-0000-000000000404"}})
    with pytest.raises(InvalidRecord, match="Не найден склад"):
        connector.write(Entity.ORDERS, order(1), key="shop:1", ref=None)
    assert onec.orders == {}


def test_check_tells_a_changed_wsdl_and_each_name_the_mappings_use_that_it_lacks(onec: OneCSoapSandbox) -> None:
    state = MemoryState()
    assert connect(onec.source_settings(), state=state).check().startswith("5 operations at ")
    del onec.operations["ПолучитьЦены"]
    onec.types["СтрокаОстатков"] = [("Номенклатура", "string"), ("Склад", "string"), ("Остаток", "decimal")]
    with pytest.raises(ConfigError) as raised:
        connect(onec.source_settings(), state=state).check()
    folder = bundled_mappings() / "onec_soap" / "trade"
    prices, stock = folder / "prices.in.yaml", folder / "stock.in.yaml"
    assert set(raised.value.problems[:2]) == {
        f"{prices}:{_line(prices, 'source:')}:9: mapping names operation 'ПолучитьЦены', which the WSDL lacks; "
        "did you mean 'ПолучитьТовары'?",
        f"{stock}:{_line(stock, 'quantity:')}:20: mapping names Количество, which СтрокаОстатков lacks in the "
        "WSDL; known: ДатаЧтения, Номенклатура, Остаток, Склад"}
    assert raised.value.problems[2].startswith("the WSDL changed since ")
    assert "operation ПолучитьЦены removed" in raised.value.problems[2]
    assert "type СтрокаОстатков: −Количество: value, +Остаток: value" in raised.value.problems[2]


def test_check_names_a_missing_find_operation_and_parameter_with_its_line(onec: OneCSoapSandbox,
                                                                           tmp_path: Path) -> None:
    trade = copied_preset(tmp_path)
    orders = trade / "orders.out.yaml"
    orders.write_text(orders.read_text().replace("operation: НайтиЗаказ", "operation: НайтиЗаказы")
                      .replace("  Склад: {config", "  Склад1: {config"))
    with pytest.raises(ConfigError) as raised:
        connect(onec.source_settings(), mappings=tmp_path).check()
    assert raised.value.problems == [
        f"{orders}:{_line(orders, 'operation: НайтиЗаказы')}:16: mapping names operation 'НайтиЗаказы', which the "
        "WSDL lacks; did you mean 'НайтиЗаказ'?",
        f"{orders}:{_line(orders, 'Склад1:')}:3: mapping names Склад1, which Заказ lacks in the WSDL; did you mean "
        "'Склад'?"]


def test_a_wrong_option_is_one_line_at_its_place(onec: OneCSoapSandbox, tmp_path: Path) -> None:
    trade = copied_preset(tmp_path)
    stock = trade / "stock.in.yaml"
    stock.write_text(stock.read_text().replace("  list: Строка", "  lists: Строка"))
    with pytest.raises(ConfigError) as raised:
        connect(onec.source_settings(), mappings=tmp_path)
    assert [p.split(": ", 1)[1] for p in raised.value.problems] == [
        "options.list: Field required", "options.lists: Extra inputs are not permitted"]
    assert all(p.startswith(f"{stock}:") for p in raised.value.problems)


def copied_preset(folder: Path) -> Path:
    """The trade preset copied under ``folder`` (a mappings folder a test edits), its own folder returned."""
    shutil.copytree(bundled_mappings() / "onec_soap", folder / "onec_soap")
    return folder / "onec_soap" / "trade"


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def test_check_tells_a_change_the_mappings_survive_and_keeps_the_new_wsdl(onec: OneCSoapSandbox) -> None:
    state = MemoryState()
    connect(onec.source_settings(), state=state).check()
    onec.operations["ОтменитьЗаказ"] = ([("Ссылка", "string")], "tns:РезультатЗаписи")
    detail = connect(onec.source_settings(), state=state).check()
    assert detail.startswith("6 operations at ")
    assert detail.endswith(": operation ОтменитьЗаказ added")
    assert "the WSDL changed since " in detail
    assert connect(onec.source_settings(), state=state).check().startswith("6 operations at ")
    assert "changed" not in connect(onec.source_settings(), state=state).check()


def test_a_paid_option_that_is_a_good_of_the_base_goes_as_a_line_of_its_own(onec: OneCSoapSandbox) -> None:
    line = OrderLine(product=PRODUCT, name="Капучино 300 мл", quantity=Decimal(1), unit_price=Decimal("210.00"),
                     sum=Decimal("210.00"), modifiers=[Modifier(product="SYR-1", name="Сироп", unit_price=Decimal(40)),
                                                       Modifier(name="Без сахара")])
    record = Order(channel="shop", external_id="7", created_at=utcnow(), lines=[line], total=Decimal("250.00"))
    connect(onec.source_settings()).write(Entity.ORDERS, record, key="shop:7", ref=None)
    [written] = onec.orders.values()
    assert [(row["Номенклатура"], row["Сумма"]) for row in written["Товары"]] == [(GOOD, "210.00"), (SYRUP, "40.00")]
    assert written["СуммаДокумента"] == "250.00"  # the lines add up to what the guest pays


@given(st.decimals(min_value=Decimal("-100000"), max_value=Decimal("100000"), places=3),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2))
def test_balances_and_prices_read_from_the_service_keep_every_digit(quantity: Decimal, price: Decimal) -> None:
    connector = offline()
    stock = {"Номенклатура": GOOD, "Склад": SYRUP, "Количество": quantity, READ_AT: "2026-12-01T09:00:00+00:00"}
    level = connector.decode(Entity.STOCK, RawRecord(external_id="1", body=json_dumps(stock).encode()))
    assert isinstance(level, StockLevel) and level.quantity == quantity
    entry = connector.decode(Entity.PRICES, RawRecord(external_id="2", body=json_dumps(
        {"Номенклатура": GOOD, "ВидЦены": SYRUP, "Цена": price}).encode()))
    assert isinstance(entry, PriceEntry) and entry.amount == price


def test_an_out_mapping_that_cannot_find_an_order_again_is_refused(onec: OneCSoapSandbox, tmp_path: Path) -> None:
    # Neither a find operation nor a key the write operation looks up: an order whose answer was lost would be
    # written a second time by the next run.
    trade = copied_preset(tmp_path)
    orders = trade / "orders.out.yaml"
    kept = [line for line in orders.read_text().splitlines()
            if not line.startswith(("match_by:", "  find:", "    operation:", "    argument:", "    not_found:"))
            and "nothing: not found" not in line]
    orders.write_text("\n".join(kept) + "\n")
    assert "find:" not in orders.read_text() and "match_by" not in orders.read_text()
    with pytest.raises(ConfigError) as raised:
        connect(onec.source_settings(), mappings=tmp_path)
    [problem] = raised.value.problems
    assert problem.startswith(f"{orders}:{_line(orders, 'target:')}:")
    assert "options.find" in problem and "match_by" in problem


def test_check_names_the_id_and_result_fields_the_wsdl_lacks(onec: OneCSoapSandbox, tmp_path: Path) -> None:
    # A misspelt id gives every row the same id (they collapse into one); a misspelt result or find field makes
    # every order written in 1C look failed to hub. check must name them before a run meets them.
    trade = copied_preset(tmp_path)
    stock = trade / "stock.in.yaml"
    stock.write_text(stock.read_text().replace("id: [Номенклатура, Склад]", "id: [Номенклатура, Склады]"))
    orders = trade / "orders.out.yaml"
    orders.write_text(orders.read_text().replace("number: Номер  ", "number: Номерр ")
                      .replace("ref: Ссылка                             #   answering",
                               "ref: Ссылко                             #   answering"))
    with pytest.raises(ConfigError) as raised:
        connect(onec.source_settings(), mappings=tmp_path).check()
    assert sorted(raised.value.problems) == sorted([
        f"{stock}:{_line(stock, 'id: [')}:22: mapping names field 'Склады', which the WSDL lacks; "
        "did you mean 'Склад'?",
        f"{orders}:{_line(orders, 'number: Номерр')}:13: mapping names field 'Номерр', which the WSDL lacks; "
        "did you mean 'Номер'?",
        f"{orders}:{_line(orders, 'ref: Ссылко')}:10: mapping names field 'Ссылко', which the WSDL lacks; "
        "did you mean 'Ссылка'?"])


def test_a_paged_read_stops_on_an_empty_page_though_the_service_says_more(onec: OneCSoapSandbox) -> None:
    onec._handlers["ПолучитьОстатки"] = lambda arguments: {"Строка": [], "ЕстьЕще": True}
    pages = list(itertools.islice(connect(onec.source_settings()).read(Entity.STOCK, cursor=None), 5))
    assert [page.records for page in pages] == [[]]


def test_a_service_that_ignores_the_page_asked_is_told_not_read_forever(onec: OneCSoapSandbox) -> None:
    rows = [{"Номенклатура": GOOD, "Склад": SYRUP, "Количество": Decimal(1)}]
    onec._handlers["ПолучитьОстатки"] = lambda arguments: {"Строка": rows, "ЕстьЕще": True}
    read = itertools.islice(connect(onec.source_settings()).read(Entity.STOCK, cursor=None), 5)
    assert len(next(read).records) == 1
    with pytest.raises(ProtocolError, match="page 2 repeats page 1"):
        next(read)


def test_an_order_found_again_is_not_sent_to_a_write_operation_that_is_not_told_its_key(
        onec: OneCSoapSandbox, tmp_path: Path) -> None:
    # The key reaches 1C only as a field the mapping fills itself, so ЗаписатьЗаказ cannot tell a repeat from a
    # new order: an order find found (its first answer lost) must not be written again, or 1C holds it twice.
    trade = copied_preset(tmp_path)
    orders = trade / "orders.out.yaml"
    orders.write_text(orders.read_text().replace("match_by: НомерПоДаннымКлиента", "").replace(
        "fields:\n", "fields:\n  НомерПоДаннымКлиента: {expr: \"f'{channel}:{external_id}'\"}\n", 1))
    connector = connect(onec.source_settings(), mappings=tmp_path)
    first = connector.write(Entity.ORDERS, order(1), key="shop:1", ref=None)
    found = connector.find(Entity.ORDERS, "shop:1")
    assert found == first.ref
    again = connector.write(Entity.ORDERS, order(1), key="shop:1", ref=found)
    assert (again.ref, again.action) == (first.ref, "unchanged")
    assert onec.calls("ЗаписатьЗаказ", "shop:1") == 1


def test_a_find_that_faults_not_found_is_not_found_and_any_other_fault_stops(onec: OneCSoapSandbox) -> None:
    # Many services' modules raise «Заказ не найден» instead of answering an empty result.
    onec.missing_order_faults = True
    connector = connect(onec.source_settings())
    assert connector.find(Entity.ORDERS, "shop:404") is None
    written = connector.write(Entity.ORDERS, order(1), key="shop:1", ref=connector.find(Entity.ORDERS, "shop:1"))
    assert connector.find(Entity.ORDERS, "shop:1") == written.ref
    onec.operations["НайтиЗаказ"] = ([("Номер", "string")], "tns:РезультатЗаписи?")  # a 1C developer renamed it
    with pytest.raises(HubError) as stopped:
        connect(onec.source_settings()).find(Entity.ORDERS, "shop:2")
    assert "не найден" not in str(stopped.value).casefold(), "guessing «not found» would write shop:2 twice"
    # The module itself breaks on an order whose customer is gone: 1C's own «Объект не найден» is no "not found".
    onec.operations["НайтиЗаказ"] = OPERATIONS["НайтиЗаказ"]
    onec.find_fault = "Объект не найден (12:bd5a0050568c0ae911ea3a8b2c4f6ab1)"
    with pytest.raises(HubError, match="Объект не найден"):
        connector.find(Entity.ORDERS, "shop:1")


def test_a_running_connector_calls_by_the_wsdl_hub_check_kept_since(onec: OneCSoapSandbox) -> None:
    # hub daemon keeps its connectors; `hub check` in another process keeps the WSDL a 1C developer changed.
    state = MemoryState()
    running = connect(onec.source_settings(), state=state)
    assert running.find(Entity.ORDERS, "shop:404") is None
    onec.operations["НайтиЗаказ"] = ([("НомерПоДаннымКлиента", "string"), ("Канал", "string?")],
                                     "tns:РезультатЗаписи?")
    assert "НайтиЗаказ" in connect(onec.source_settings(), state=state).check()
    answer = running.client.call("НайтиЗаказ", {"НомерПоДаннымКлиента": "shop:404", "Канал": "shop"}, reads=True)
    assert answer == {"Ссылка": None, "Номер": None}


def test_an_in_mapping_without_id_fields_is_refused(onec: OneCSoapSandbox, tmp_path: Path) -> None:
    # Rows without an id would all be one record to hub: every balance but one lost.
    trade = copied_preset(tmp_path)
    stock = trade / "stock.in.yaml"
    stock.write_text(stock.read_text().replace("id: [Номенклатура, Склад]", "id: []"))
    with pytest.raises(ConfigError) as raised:
        connect(onec.source_settings(), mappings=tmp_path)
    [problem] = raised.value.problems
    assert problem.startswith(f"{stock}:{_line(stock, 'id: []')}:")
    assert "options.id" in problem


def test_a_list_field_that_does_not_repeat_is_told_by_check_and_by_a_read(onec: OneCSoapSandbox) -> None:
    # A service answering its rows inside one wrapper element: options.list must name the repeated one.
    onec.types["Остатки"] = [("Строка", "tns:СтрокаОстатков"), ("ЕстьЕще", "boolean")]
    connector = connect(onec.source_settings())
    with pytest.raises(ConfigError) as raised:
        connector.check()
    stock = bundled_mappings() / "onec_soap" / "trade" / "stock.in.yaml"
    assert raised.value.problems == [f"{stock}:{_line(stock, '  list:')}:9: mapping names field 'Строка' as the list "
                                     "of rows, which does not repeat in the WSDL; name the field that repeats"]
    with pytest.raises(ProtocolError, match="Строка is not a list of rows"):
        list(connector.read(Entity.STOCK, cursor=None))
