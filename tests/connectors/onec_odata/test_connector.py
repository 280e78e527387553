"""The 1C connector over real HTTP against the sandbox: presets, reads, posted orders, idempotent writes."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connectors.onec_odata import OneCSandbox
from connectors.onec_odata.connector import OneCConnector, OneCSettings
from hub.connector import ConnectorContext
from hub.errors import ConfigError, InvalidRecord, NetworkError, UnresolvedReference
from hub.mapping import DictLinks
from hub.model import Customer, Entity, Order, OrderLine, OrderStatus, PriceEntry, Product, RawRecord, StockLevel
from hub.sandbox import Sandbox
from hub.testing.acceptance import ConnectorAcceptance, MemoryState, RecordingClock
from hub.values import zone

GOODS = "Catalog_Номенклатура"
ORDERS = "Document_ЗаказКлиента"


def settings_for(sandbox: OneCSandbox, **overrides: Any) -> dict[str, Any]:
    return {"type": "onec_odata", **sandbox.source_settings(), "timeout": 1.0,
            "retry": {"attempts": 3, "backoff": 0.01, "max_backoff": 0.05}, **overrides}


def connect(settings: dict[str, Any], links: dict[str, str] | None = None, *,
            state: MemoryState | None = None) -> OneCConnector:
    context = ConnectorContext(source="onec", timezone=zone("Europe/Moscow"), log=logging.getLogger("test"),
                               links=DictLinks(links or {}), clock=RecordingClock(), state=state)
    return OneCConnector(OneCSettings.model_validate(settings), context)


class TestOneCAcceptance(ConnectorAcceptance):
    connector_type = "onec_odata"
    entity = Entity.CUSTOMERS
    incremental = False

    def seed(self, sandbox: Sandbox, count: int) -> list[str]:
        connector = connect(self.settings(sandbox))
        refs = [connector.write(Entity.CUSTOMERS, self.make_record(n), key=f"seed:{n}", ref=None).ref
                for n in range(count)]
        connector.close()
        return refs

    def make_record(self, number: int) -> Customer:
        return Customer(last_name="Петров", first_name=f"Гость{number}", phones=[f"+7916000{number:04d}"])

    def count_written(self, sandbox: Sandbox, key: str) -> int:
        assert isinstance(sandbox, OneCSandbox)
        return sum(1 for row in sandbox.rows("Catalog_Контрагенты") if row["Комментарий"] == key)


@pytest.fixture
def onec() -> Iterator[OneCSandbox]:
    with OneCSandbox() as sandbox:
        yield sandbox


def read_all(connector: OneCConnector, entity: Entity) -> list[Any]:
    return [connector.decode(entity, raw) for page in connector.read(entity, cursor=None) for raw in page.records]


def test_check_lists_exactly_what_the_preset_misses() -> None:
    missing = ("AccumulationRegister_ТоварыНаСкладах", "InformationRegister_ШтрихкодыНоменклатуры")
    with OneCSandbox(unpublished=missing) as sandbox:
        connector = connect(settings_for(sandbox))
        with pytest.raises(ConfigError) as raised:
            connector.check()
    assert raised.value.problems == [
        "1C does not publish 2 object(s) preset 'ut11' needs: AccumulationRegister_ТоварыНаСкладах, "
        "InformationRegister_ШтрихкодыНоменклатуры"]
    assert raised.value.hint is not None and "Настройка стандартного интерфейса OData" in raised.value.hint


def test_every_preset_loads_and_names_its_objects() -> None:
    expected = {"ut11": "Document_ЗаказКлиента", "unf": "Document_ЗаказПокупателя", "retail": "Document_ЧекККМ"}
    for preset, order_document in expected.items():
        with OneCSandbox(presets=(preset,)) as sandbox:
            connector = connect(settings_for(sandbox, preset=preset))
            assert order_document in connector.required_objects()
            assert "Catalog_УпаковкиЕдиницыИзмерения" in connector.required_objects()
            assert connector.check().startswith("1C publishes all")


def test_catalog_reads_goods_with_barcodes_and_weighed_flags(onec: OneCSandbox) -> None:
    products = read_all(connect(settings_for(onec)), Entity.CATALOG)
    goods = [r for r in onec.rows(GOODS) if not r["IsFolder"]]
    assert len(products) == len(goods)
    assert all(isinstance(p, Product) for p in products)
    weighed = [p for p in products if p.weighed]
    assert weighed and all(p.unit == "kg" for p in weighed)
    assert {p.unit for p in products if not p.weighed} == {"pcs"}, "units come from 1C's unit catalog"
    groups = {g["Ref_Key"]: g["Description"] for g in onec.rows(GOODS) if g["IsFolder"]}
    assert all(p.group in groups and p.attributes["group_name"] == groups[p.group] for p in products)
    assert sum(len(p.barcodes) for p in products) == len(onec.rows("InformationRegister_ШтрихкодыНоменклатуры"))
    assert all(p.name == p.name.strip() for p in products)


def test_stock_and_prices_are_decimal_snapshots(onec: OneCSandbox) -> None:
    connector = connect(settings_for(onec))
    stock = read_all(connector, Entity.STOCK)
    assert stock and all(isinstance(s, StockLevel) and isinstance(s.quantity, Decimal) for s in stock)
    assert all(s.as_of.tzinfo is not None for s in stock)
    assert len({(s.product, s.warehouse) for s in stock}) == len(stock), "Balance groups by good and warehouse"
    prices = read_all(connector, Entity.PRICES)
    assert prices and all(isinstance(p, PriceEntry) and p.amount == p.amount.quantize(Decimal("0.01"))
                          for p in prices)
    assert len({(p.product, p.price_type) for p in prices}) == len(prices), "SliceLast: one price per pair"


def test_customers_come_with_normalised_contacts(onec: OneCSandbox) -> None:
    customers = read_all(connect(settings_for(onec)), Entity.CUSTOMERS)
    anna = next(c for c in customers if c.first_name == "Анна")
    assert (anna.last_name, anna.middle_name) == ("Смирнова", "Сергеевна")
    assert anna.phones == ["+79165551234"]
    assert anna.emails == ["anna.smirnova@example.ru"]
    assert anna.ids["onec"]


def order(onec: OneCSandbox, status: OrderStatus = OrderStatus.ACCEPTED) -> tuple[Order, dict[str, str]]:
    goods = [r for r in onec.rows(GOODS) if not r["IsFolder"]][:2]
    links = {f"shop:catalog:SKU-{n}": g["Ref_Key"] for n, g in enumerate(goods)}
    lines = [OrderLine(product="SKU-0", name="Сыр", quantity=Decimal("0.305"), unit_price=Decimal("899.90"),
                       sum=Decimal("274.47")),
             OrderLine(product="SKU-1", name="Латте", quantity=Decimal(2), unit_price=Decimal("210.00"),
                       discount=Decimal("21.00"), sum=Decimal("399.00"))]
    return Order(channel="shop", external_id="1001", number="A-1001", status=status, lines=lines,
                 created_at=dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC), total=Decimal("673.47")), links


def test_an_order_becomes_a_posted_document_with_its_lines(onec: OneCSandbox) -> None:
    record, links = order(onec)
    connector = connect(settings_for(onec), links)
    assert connector.find(Entity.ORDERS, "shop:1001") is None
    result = connector.write(Entity.ORDERS, record, key="shop:1001", ref=None)
    assert result.action == "created"
    [document] = onec.rows(ORDERS)
    assert document["Ref_Key"] == result.ref and document["Posted"] is True
    assert document["НомерПоДаннымКлиента"] == "shop:1001"
    assert document["Date"] == dt.datetime(2026, 11, 20, 12, 30)  # noqa: DTZ001 - 1C stores Moscow wall time
    assert Decimal(str(document["СуммаДокумента"])) == Decimal("673.47")
    assert [(row["LineNumber"], Decimal(str(row["Количество"])), Decimal(str(row["Сумма"])))
            for row in document["Товары"]] == [(1, Decimal("0.305"), Decimal("274.47")),
                                               (2, Decimal(2), Decimal("399.00"))]
    assert connector.find(Entity.ORDERS, "shop:1001") == result.ref


def test_a_later_change_updates_the_same_document(onec: OneCSandbox) -> None:
    record, links = order(onec)
    connector = connect(settings_for(onec), links)
    ref = connector.write(Entity.ORDERS, record, key="shop:1001", ref=None).ref
    version = onec.rows(ORDERS)[0]["DataVersion"]
    weighed = record.lines[0].model_copy(update={"quantity": Decimal("0.312"), "sum": Decimal("280.77")})
    cancelled = record.model_copy(update={"status": OrderStatus.CANCELLED, "lines": [weighed, record.lines[1]],
                                          "total": Decimal("679.77")})
    assert connector.write(Entity.ORDERS, cancelled, key="shop:1001", ref=ref).action == "updated"
    [document] = onec.rows(ORDERS)
    assert document["DataVersion"] != version
    assert document["Статус"] == "Закрыт"
    assert all(row["Отменено"] for row in document["Товары"])
    assert Decimal(str(document["Товары"][0]["Количество"])) == Decimal("0.312")


def test_an_update_sends_only_what_the_channel_changed_so_1c_keeps_its_weighing(onec: OneCSandbox) -> None:
    record, links = order(onec)
    connector = connect(settings_for(onec), links, state=MemoryState())
    ref = connector.write(Entity.ORDERS, record, key="shop:1001", ref=None).ref
    [document] = onec.rows(ORDERS)
    picked = [{**row, "Количество": Decimal("0.312"), "Сумма": Decimal("280.77")} if row["LineNumber"] == 1 else row
              for row in document["Товары"]]
    connector.client.update(ORDERS, ref, {"Товары": picked}, data_version=document["DataVersion"])  # 1C weighed it
    version = onec.rows(ORDERS)[0]["DataVersion"]

    assert connector.write(Entity.ORDERS, record, key="shop:1001", ref=ref).action == "unchanged"
    assert onec.rows(ORDERS)[0]["DataVersion"] == version, "nothing the channel changed: 1C is not written"

    assert connector.write(Entity.ORDERS, record.model_copy(update={"comment": "Позвонить у двери"}),
                           key="shop:1001", ref=ref).action == "updated"
    [document] = onec.rows(ORDERS)
    assert "Позвонить у двери" in document["Комментарий"]
    assert Decimal(str(document["Товары"][0]["Количество"])) == Decimal("0.312"), "1C's weighing stays"
    assert document["Posted"] is True

    fewer = record.model_copy(update={"lines": record.lines[1:], "total": Decimal("399.00")})
    connector.write(Entity.ORDERS, fewer, key="shop:1001", ref=ref)
    assert [Decimal(str(row["Количество"])) for row in onec.rows(ORDERS)[0]["Товары"]] == [Decimal(2)], \
        "the guest's own change to the lines lands whole"


def test_a_change_1c_took_without_hub_hearing_so_is_sent_again_even_when_changed_back(onec: OneCSandbox) -> None:
    record, links = order(onec)
    connector = connect(settings_for(onec), links, state=MemoryState())
    ref = connector.write(Entity.ORDERS, record, key="shop:1001", ref=None).ref
    onec.faults.drop_after_commit(1)
    with pytest.raises(NetworkError):
        connector.write(Entity.ORDERS, record.model_copy(update={"comment": "Позвонить"}), key="shop:1001", ref=ref)
    assert "Позвонить" in onec.rows(ORDERS)[0]["Комментарий"]  # 1C took it; hub never heard
    connector.write(Entity.ORDERS, record, key="shop:1001", ref=ref)  # the guest takes the comment back
    assert "Позвонить" not in onec.rows(ORDERS)[0]["Комментарий"]


def test_without_what_was_sent_an_update_sends_the_whole_order(onec: OneCSandbox) -> None:
    record, links = order(onec)
    ref = connect(settings_for(onec), links, state=MemoryState()).write(Entity.ORDERS, record, key="shop:1001",
                                                                          ref=None).ref
    lost = connect(settings_for(onec), links, state=MemoryState())  # hub's state lost: nothing kept of the write
    [document] = onec.rows(ORDERS)
    lost.client.update(ORDERS, ref, {"Комментарий": "edited in 1C"}, data_version=document["DataVersion"])
    assert lost.write(Entity.ORDERS, record, key="shop:1001", ref=ref).action == "updated"
    assert "edited in 1C" not in onec.rows(ORDERS)[0]["Комментарий"]


def test_a_lost_answer_is_found_on_the_retry_not_repeated(onec: OneCSandbox) -> None:
    record, links = order(onec)
    connector = connect(settings_for(onec), links)
    onec.faults.drop_after_commit(1)
    with pytest.raises(NetworkError):
        connector.write(Entity.ORDERS, record, key="shop:1001", ref=connector.find(Entity.ORDERS, "shop:1001"))
    ref = connector.find(Entity.ORDERS, "shop:1001")
    assert ref is not None
    connector.write(Entity.ORDERS, record, key="shop:1001", ref=ref)
    assert len(onec.rows(ORDERS)) == 1
    assert onec.rows(ORDERS)[0]["Posted"] is True


def test_a_document_1c_refuses_to_post_is_a_record_error_for_dead_letters(onec: OneCSandbox) -> None:
    record, links = order(onec)
    connector = connect(settings_for(onec), links)
    ref = connector.write(Entity.ORDERS, record, key="shop:1001", ref=None).ref
    version = onec.rows(ORDERS)[0]["DataVersion"]
    connector.client.update(ORDERS, ref, {"DeletionMark": True}, data_version=version)  # someone in 1C did
    changed = record.model_copy(update={"comment": "Без лука"})
    with pytest.raises(InvalidRecord, match="Помеченный на удаление документ не может быть проведен") as refused:
        connector.write(Entity.ORDERS, changed, key="shop:1001", ref=ref)
    assert "posting code" in (refused.value.hint or "")


def test_an_unknown_product_is_a_record_error_and_writes_nothing(onec: OneCSandbox) -> None:
    record, _ = order(onec)
    connector = connect(settings_for(onec), links={})
    with pytest.raises(UnresolvedReference, match=r"Товары\[0\]\.Номенклатура_Key"):
        connector.write(Entity.ORDERS, record, key="shop:1001", ref=None)
    assert onec.rows(ORDERS) == []


def test_a_broken_row_is_a_record_error(onec: OneCSandbox) -> None:
    connector = connect(settings_for(onec))
    from hub.errors import InvalidRecord

    with pytest.raises(InvalidRecord):
        connector.decode(Entity.STOCK, RawRecord(external_id="x", body=b'{"Number": 1}'))
