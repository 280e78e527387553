"""The writers: output valid against the published XSDs, in UTF-8 and windows-1251, and read back unchanged."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import cache
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from connectors.commerceml.items import (
    Group,
    Item,
    Offer,
    OrderDocument,
    Owner,
    PriceType,
    Property,
    Section,
    SectionKind,
    Warehouse,
)
from connectors.commerceml.parser import parse
from connectors.commerceml.writer import write_import, write_offers, write_orders
from hub.model import (
    Customer,
    Delivery,
    DeliveryType,
    Modifier,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PriceEntry,
    Product,
    StockLevel,
)

from .conftest import MOSCOW, NS, SAMPLES, XSDS, read

T = TypeVar("T")
OWNER = Owner("owner-1", "ООО «Кофейня»")
CATALOG = Section(SectionKind.CATALOG, "cat-1", "Меню", "cls-1", only_changes=True)
PACKAGE = Section(SectionKind.OFFERS, "pkg-1", "Цены и остатки", "cls-1", "cat-1")
STAMP = dt.datetime(2024, 3, 1, 7, 0, tzinfo=dt.UTC)
ENCODINGS = ["UTF-8", "windows-1251"]


@cache
def schema(version: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSDS[version])))


def of_type(found: Sequence[object], kind: type[T]) -> list[T]:
    return [item for item in found if isinstance(item, kind)]


def sample(name: str) -> list[Item]:
    return list(parse(SAMPLES / name, timezone=MOSCOW))


def assert_valid(data: bytes, version: str) -> None:
    """``data`` is valid against the XSD of ``version``; a 2.05 file (no namespace) against 2.08's, namespaced."""
    root = etree.fromstring(data)
    if version not in XSDS:
        assert etree.QName(root).namespace is None
        for element in root.iter():
            element.tag = f"{{{NS}}}{element.tag}"
        version = "2.08"
    checker = schema(version)
    assert checker.validate(root), checker.error_log


def orders() -> list[Order]:
    moment = dt.datetime(2024, 3, 1, 15, 30, 5, tzinfo=dt.UTC)
    anna = Customer(first_name="Анна", last_name="Смирнова", phones=["+79161234567"], emails=["anna@example.ru"],
                    ids={"shop": "u-17"})
    return [
        Order(channel="shop", external_id="A-1", number="1", created_at=moment, updated_at=moment, customer=anna,
              lines=[OrderLine(product="latte", name="Латте 😀", quantity=Decimal(2), unit_price=Decimal(180),
                               discount=Decimal(10), sum=Decimal(350)),
                     OrderLine(product="cake", name="Торт", quantity=Decimal("0.305"), unit_price=Decimal(1000),
                               sum=Decimal("305.00"))],
              payments=[Payment(method="card", amount=Decimal("645.00"), paid=True)],
              discount=Decimal(10), total=Decimal("645.00"), comment="Без сахара, <горячий> & быстро"),
        Order(channel="shop", external_id="A-2", number="2", created_at=moment, status=OrderStatus.CANCELLED,
              total=Decimal(0)),
        Order(channel="shop", external_id="A-3", number="3", created_at=moment, status=OrderStatus.DELIVERED,
              customer=Customer(phones=["+79990000000"]),
              lines=[OrderLine(product="tea", name="Чай", quantity=Decimal(1), unit_price=Decimal(100),
                               sum=Decimal(100))],
              total=Decimal(100)),
    ]


def write(writer: Callable[[io.BytesIO], object]) -> bytes:
    out = io.BytesIO()
    writer(out)
    return out.getvalue()


# --- validity -------------------------------------------------------------------------------------------------


@pytest.mark.samples
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("version", ["2.05", *XSDS])
def test_order_documents_are_valid(version: str, encoding: str) -> None:
    documents: list[Order | OrderDocument] = [*orders()]
    for name in ("dobromyslov_bitrix-query-response-full_2.05_cp1251.xml", "carono_orders.xml",
                 "irpsv_off-doc-1c_orders.xml", "argentcrusade_documents-example.xml"):
        documents.extend(of_type(sample(name), OrderDocument))
    data = write(lambda out: write_orders(out, documents, timezone=MOSCOW, version=version, encoding=encoding))
    assert data.startswith(f"<?xml version='1.0' encoding='{encoding}'?>".encode())
    assert_valid(data, version)


@pytest.mark.samples
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("version", ["2.05", *XSDS])
def test_import_files_are_valid(version: str, encoding: str) -> None:
    found = sample("dobromyslov_import0_1_with_nested_groups_1.2MB.xml") + sample("argentcrusade_products-example.xml")
    data = write(lambda out: write_import(out, of_type(found, Product), catalog=CATALOG, owner=OWNER,
                                          groups=of_type(found, Group), properties=of_type(found, Property),
                                          timezone=MOSCOW, version=version, encoding=encoding))
    assert_valid(data, version)


@pytest.mark.samples
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("version", ["2.05", *XSDS])
def test_offers_files_are_valid(version: str, encoding: str) -> None:
    found = sample("dobromyslov_offers0_1_2.07.xml") + sample("carono_offers.xml") + sample("bigperson_offers.xml")
    data = write(lambda out: write_offers(out, of_type(found, Offer), package=PACKAGE, owner=OWNER,
                                          price_types=of_type(found, PriceType), warehouses=of_type(found, Warehouse),
                                          timezone=MOSCOW, version=version, encoding=encoding))
    assert_valid(data, version)


@pytest.mark.samples
def test_the_schema_check_bites() -> None:
    data = write(lambda out: write_orders(out, orders(), timezone=MOSCOW))
    root = etree.fromstring(data)
    total = root.find(f"{{{NS}}}Документ/{{{NS}}}Сумма")
    assert total is not None
    total.text = "12.345"  # three decimals: СуммаТип allows two
    assert not schema("2.10").validate(root)


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match=r"3\.1"):
        write_orders(io.BytesIO(), [], timezone=MOSCOW, version="3.1")


# --- orders read back -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_canonical_orders_read_back(encoding: str) -> None:
    data = write(lambda out: write_orders(out, orders(), timezone=MOSCOW, version="2.05", encoding=encoding,
                                          generated_at=STAMP))
    found, report = read(data, channel="shop")
    assert report.clean
    back = of_type(found, OrderDocument)
    written = orders()
    assert back[0].order == written[0]
    assert back[1].order == written[1] and back[1].cancelled is True
    assert back[2].order == written[2] and back[2].order.status is OrderStatus.DELIVERED
    assert back[0].order.lines[0].name == "Латте 😀"  # a character reference in windows-1251
    assert back[0].requisites["Статус заказа"] == ["new"]


def test_a_delivery_and_modifiers() -> None:
    moment = dt.datetime(2024, 3, 1, 12, 0, tzinfo=MOSCOW)
    order = Order(channel="shop", external_id="B-1", created_at=moment, total=Decimal(230),
                  delivery=Delivery(type=DeliveryType.COURIER, address="Москва, Тверская 1"),
                  lines=[OrderLine(product="latte", name="Латте", quantity=Decimal(1), unit_price=Decimal(180),
                                   sum=Decimal(180),
                                   modifiers=[Modifier(product="syrup", name="Сироп", quantity=Decimal(2),
                                                       unit_price=Decimal(25))])])
    found, _ = read(write(lambda out: write_orders(out, [order], timezone=MOSCOW)), channel="shop")
    (document,) = of_type(found, OrderDocument)
    assert [(line.product, line.sum) for line in document.order.lines] == [("latte", Decimal(180)),
                                                                           ("syrup", Decimal(50))]
    assert sum(line.sum for line in document.order.lines) == order.total
    assert document.line_requisites[1]["Модификатор для"] == ["latte"]
    assert document.delivery_method == "courier"
    assert document.counterparties[0].address == "Москва, Тверская 1"


@pytest.mark.samples
def test_a_bitrix_answer_reads_back_the_same() -> None:
    original = of_type(sample("dobromyslov_bitrix-query-response-full_2.05_cp1251.xml"), OrderDocument)
    data = write(lambda out: write_orders(out, original, timezone=MOSCOW, version="2.05", encoding="windows-1251"))
    found, report = read(data)
    back = of_type(found, OrderDocument)
    assert report.clean
    assert [document.order for document in back] == [document.order for document in original]
    assert [document.requisites for document in back] == [document.requisites for document in original]
    assert [document.line_requisites for document in back] == [document.line_requisites for document in original]


# --- catalog read back ----------------------------------------------------------------------------------------


@pytest.mark.samples
def test_goods_and_the_classifier_read_back() -> None:
    found = sample("dobromyslov_import0_1_2.07.xml")
    goods, groups, properties = of_type(found, Product), of_type(found, Group), of_type(found, Property)
    data = write(lambda out: write_import(out, goods, catalog=CATALOG, owner=OWNER, groups=groups,
                                          properties=properties, timezone=MOSCOW, encoding="windows-1251"))
    back, report = read(data)
    assert report.clean
    assert of_type(back, Group) == groups and of_type(back, Property) == properties
    assert of_type(back, Section)[1] == CATALOG
    unwritten = {"manufacturer", "version"}  # CommerceML's Товар has no place for them
    assert [good.model_copy(update={"barcodes": good.barcodes[:1], "attributes": {
        key: value for key, value in good.attributes.items() if key not in unwritten}}) for good in goods] == \
        of_type(back, Product)


# --- offers read back, generated ------------------------------------------------------------------------------

# XML text that survives a trip: no control characters, no blanks at the ends (the parser strips them).
TEXT = st.text(st.characters(whitelist_categories=("L", "N", "P", "S"), whitelist_characters=" "),
               min_size=1, max_size=30).map(str.strip).filter(bool)
IDS = st.from_regex(r"[0-9a-f]{8}-[0-9a-f]{4}", fullmatch=True)
MONEY = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
QUANTITY = st.decimals(min_value=-10**6, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def offers(draw: st.DrawFn) -> list[Offer]:
    made: dict[str, Offer] = {}
    for _ in range(draw(st.integers(1, 4))):
        offer_id = draw(IDS) + draw(st.sampled_from(["", "#" + draw(IDS)]))
        prices = [PriceEntry(product=offer_id, price_type=type_id, amount=draw(MONEY),
                             currency=draw(st.sampled_from(["RUB", "USD", "EUR"])))
                  for type_id in draw(st.lists(st.sampled_from(["retail", "wholesale", "delivery"]), min_size=1,
                                               max_size=3, unique=True))]
        stock = [StockLevel(product=offer_id, warehouse=warehouse, quantity=draw(QUANTITY), as_of=STAMP)
                 for warehouse in draw(st.lists(st.sampled_from(["w1", "w2"]), max_size=2, unique=True))]
        quantity = sum((level.quantity for level in stock), Decimal(0)) if stock else draw(st.none() | QUANTITY)
        made[offer_id] = Offer(
            offer_id, draw(TEXT), draw(st.none() | TEXT), draw(st.lists(st.from_regex(r"[0-9]{13}", fullmatch=True),
                                                                         max_size=1)),
            draw(st.sampled_from([None, "шт", "кг"])), draw(st.dictionaries(TEXT, TEXT, max_size=2)),
            draw(st.dictionaries(IDS, st.lists(TEXT, min_size=1, max_size=2), max_size=2)), prices, quantity, stock,
            draw(st.booleans()))
    return list(made.values())


@pytest.mark.samples
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offers(), st.sampled_from(["2.05", "2.08", "2.10"]), st.sampled_from(ENCODINGS))
def test_generated_offers_read_back_exactly(written: list[Offer], version: str, encoding: str) -> None:
    types = [PriceType(type_id, type_id.title(), "RUB") for type_id in ("retail", "wholesale", "delivery")]
    data = write(lambda out: write_offers(out, written, package=PACKAGE, owner=OWNER, price_types=types,
                                          warehouses=[Warehouse("w1", "Склад 1"), Warehouse("w2", "Склад 2")],
                                          timezone=MOSCOW, version=version, encoding=encoding, generated_at=STAMP))
    found, report = read(data)
    assert report.clean
    assert of_type(found, Offer) == written
    assert of_type(found, PriceType) == types
    assert_valid(data, version)
