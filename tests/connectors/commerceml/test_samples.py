"""Every real CommerceML file of ``../shared/samples/1c/commerceml`` parses, and nothing in it is dropped silently.

The goods, offers and documents the parser yields plus the ones it reports as
problems must equal a plain lxml count of those elements in the file.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from connectors.commerceml.items import (
    FileHeader,
    Item,
    Offer,
    OrderDocument,
    PriceType,
    RecordKind,
    Section,
    SectionKind,
    Warehouse,
)
from connectors.commerceml.parser import parse
from hub.model import OrderLine, OrderStatus, PriceEntry, Product, StockLevel
from tests._shared import sample_files

from .conftest import MOSCOW, SAMPLES

pytestmark = pytest.mark.samples

FILES = sample_files(SAMPLES, "*.xml")


def items_of(name: str) -> list[Item]:
    return list(parse(SAMPLES / name, timezone=MOSCOW))


def xml_counts(path: Path) -> Counter[RecordKind]:
    """Goods of a catalog, offers and documents, counted by plain lxml (no code shared with the parser)."""
    tree = etree.parse(str(path))

    def count(path: str) -> int:
        found = tree.xpath(path)
        assert isinstance(found, list)
        return len(found)

    return Counter({
        RecordKind.PRODUCT: count("//*[local-name()='Каталог']/*[local-name()='Товары']/*[local-name()='Товар']"),
        RecordKind.OFFER: count("//*[local-name()='Предложение']"),
        RecordKind.DOCUMENT: count("//*[local-name()='Документ']"),
    })


def test_the_samples_are_there() -> None:
    assert len(FILES) >= 37  # the folder's index lists them; an empty glob would make the next test vacuous


@pytest.mark.parametrize("path", FILES)
def test_every_record_is_yielded_or_reported(path: Path) -> None:
    parsed = parse(path, timezone=MOSCOW)
    yielded: Counter[RecordKind] = Counter()
    for item in parsed:
        if isinstance(item, Product):
            yielded[RecordKind.PRODUCT] += 1
        elif isinstance(item, Offer):
            yielded[RecordKind.OFFER] += 1
        elif isinstance(item, OrderDocument):
            yielded[RecordKind.DOCUMENT] += 1
    report = parsed.report
    expected = xml_counts(path)
    for kind in (RecordKind.PRODUCT, RecordKind.OFFER, RecordKind.DOCUMENT):
        assert yielded[kind] + report.skipped[kind] == expected[kind], kind
        assert report.records[kind] == yielded[kind]
    assert not report.skipped, report.problems  # the samples are all readable


@pytest.mark.parametrize("path", FILES)
def test_records_built_without_validation_are_what_validation_builds(path: Path) -> None:
    for item in parse(path, timezone=MOSCOW):
        if isinstance(item, Product):
            assert Product.model_validate(item.model_dump()) == item
        elif isinstance(item, Offer):
            for price in item.prices:
                assert PriceEntry.model_validate(price.model_dump()) == price
            for level in item.stock:
                assert StockLevel.model_validate(level.model_dump()) == level


def test_a_bitrix_order_answer_in_windows_1251() -> None:
    found = items_of("dobromyslov_bitrix-query-response-full_2.05_cp1251.xml")
    header = found[0]
    assert isinstance(header, FileHeader)
    assert (header.schema_version, header.namespace) == ("2.05", None)
    assert header.generated_at == dt.datetime(2021, 2, 12, 17, 3, 19, tzinfo=MOSCOW)
    first = next(item for item in found if isinstance(item, OrderDocument))
    order = first.order
    assert (order.external_id, order.number, order.total) == ("132", "132", Decimal("231.74"))
    assert order.created_at == dt.datetime(2021, 2, 11, 18, 45, 21, tzinfo=MOSCOW)
    assert order.lines == [OrderLine(product="910e89e5-205e-4d95-872a-0a0255c42f02",
                                     name="Hello Kitty toothbrush for 3~6 years old,2pcs", quantity=Decimal(1),
                                     unit_price=Decimal("231.74"), sum=Decimal("231.74"))]
    assert (first.status, first.status_id, first.paid, first.cancelled) == ("[N] Принят, ожидается оплата", "N",
                                                                           False, False)
    assert first.payment_method == "При получении наличными или картой"
    assert order.payments[0].paid is False
    assert first.delivery_method == "Самовывоз"
    assert first.currency == "руб"
    assert order.comment == "Я повелитель порошочков"
    assert order.customer is not None and order.customer.ids == {"commerceml": "38#catalog_exchange#"}
    assert first.line_requisites[0]["НомерПозицииКорзины"] == ["437"]


def test_a_delivered_order_and_1c_status_documents() -> None:
    delivered = next(item for item in items_of("carono_orders.xml") if isinstance(item, OrderDocument))
    assert delivered.order.status is OrderStatus.DELIVERED
    assert delivered.paid is True
    assert delivered.order.lines[0].product == "ORDER_DELIVERY"
    assert delivered.order.customer is not None and delivered.order.customer.last_name == "Петров"
    documents = [item for item in items_of("irpsv_off-doc-1c_orders.xml") if isinstance(item, OrderDocument)]
    status_only = documents[1]
    assert (status_only.number_1c, status_only.posted, status_only.status) == ("MM92", True, "Открыт")
    assert status_only.order.lines == [] and status_only.order.total == 0


def test_documents_from_1c_spell_the_price_cena() -> None:
    document = next(item for item in items_of("argentcrusade_documents-example.xml")
                    if isinstance(item, OrderDocument))
    assert document.number_1c == "ТДЦУ-000001"
    assert document.posted is True
    assert [line.unit_price for line in document.order.lines] == [Decimal(3338), Decimal(3600)]
    variant = "bd72d913-55bc-11d9-848a-00112f43529a#b02e2814-720f-11df-b436-0015e92f2802"
    assert document.order.lines[1].product == variant


def test_stock_as_attributes_of_2_07() -> None:
    found = items_of("dobromyslov_offers0_1_2.07.xml")
    warehouses = [item for item in found if isinstance(item, Warehouse)]
    assert [w.name for w in warehouses] == ["Владивосток", "Новосибирск", "Москва"]
    offer = next(item for item in found if isinstance(item, Offer))
    assert offer.quantity == 377
    assert [(level.warehouse, level.quantity) for level in offer.stock] == [
        ("6abdb0b5-18fd-11e7-80c2-0cc47ab29cd1", Decimal(1)), ("d2a52d49-19c9-11e7-80c2-0cc47ab29cd1", Decimal(0)),
        ("dd306af1-19c9-11e7-80c2-0cc47ab29cd1", Decimal(376))]
    assert offer.stock[0].as_of == dt.datetime(2020, 4, 7, 12, 8, 44, tzinfo=MOSCOW)  # the file's ДатаФормирования
    assert offer.prices == [PriceEntry(product=offer.id, price_type="279b6812-740b-11e8-80c8-0cc47ab29cd1",
                                       amount=Decimal(100), currency="RUB")]


def test_the_split_files_of_2_09() -> None:
    rests = [item for item in items_of("gillbeits_rests___1af6e7b8-a026-4690-9752-1c9d64cb914d.xml")
             if isinstance(item, Offer)]
    assert rests[0].stock[0].warehouse == "5d1caeb1-44b2-11e4-a628-003048c64779"
    assert rests[0].stock[0].quantity == 1
    assert all(not offer.prices for offer in rests)
    prices = [item for item in items_of("gillbeits_prices___d66a6b51-ce9c-4e7a-8c7c-25079721107f.xml")
              if isinstance(item, Offer)]
    assert prices[0].prices[0].amount == 181 and not prices[0].stock
    names = [item for item in items_of("gillbeits_offers___7f304edc-2527-4d3d-b058-6e4ee53de2e0.xml")
             if isinstance(item, Offer)]
    assert names[0].name == "Дезодорант для мужчин Чистая линия Фито защита без белых следов 150мл"
    assert names[0].deleted is False


def test_variants_carry_the_product_and_the_characteristic() -> None:
    offer = next(item for item in items_of("bigperson_offers.xml") if isinstance(item, Offer))
    assert offer.product == "ffce323d-c133-11e8-8111-0050569b2b72"
    assert offer.variant == "8a4e5ea9-d129-11e8-8112-0050569b2b72"
    assert offer.characteristics == {"Цвет": "Бежевый"}
    assert [price.currency for price in offer.prices] == ["RUB"] * 3  # written as руб


def test_commerceml_3_1_files() -> None:
    found = items_of("argentcrusade_products-example.xml")
    header, section, product = found
    assert isinstance(header, FileHeader) and header.namespace == "urn:1C.ru:commerceml_3"
    assert isinstance(section, Section) and section.kind is SectionKind.CATALOG and section.only_changes
    assert isinstance(product, Product)
    assert (product.unit, product.vat_rate, len(product.attributes["images"])) == ("796", Decimal(18), 5)
    assert product.attributes["requisites"]["ОписаниеФайла"][0].endswith("#3 черный")
    rests = [item for item in items_of("argentcrusade_remainders-example.xml") if isinstance(item, Offer)]
    assert sum(level.quantity for level in rests[0].stock) == 13


def test_a_deleted_good_and_price_types() -> None:
    goods = [item for item in items_of("dobromyslov_import0_1_2.07.xml") if isinstance(item, Product)]
    assert [good.id for good in goods if good.deleted] == ["b631c9c1-49de-11e9-80c9-0cc47ab29cd1"]
    price_type = next(item for item in items_of("carono_offers.xml") if isinstance(item, PriceType))
    assert price_type.currency == "RUB" and price_type.tax_included is True
