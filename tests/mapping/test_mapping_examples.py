"""The example mappings shipped under mappings/examples: an iiko order in, a 1C УТ 11 order out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from hub.errors import UnresolvedReference
from hub.mapping import CompiledMapping, DictLinks, load_mapping
from hub.model import DeliveryType, Order, OrderStatus
from hub.values import json_loads
from tests._shared import SAMPLES

from .conftest import REPO

IIKO = REPO / "mappings" / "examples" / "iiko" / "orders.in.yaml"
UT11 = REPO / "mappings" / "examples" / "onec" / "ut11" / "orders.out.yaml"
CONFIG = {"organization": "org", "partner": "partner", "retail_customer": "retail", "agreement": "agr",
          "currency": "rub", "price_type": "retail-price", "venues": {"main": {"warehouse": "wh-main"}}}


def iiko_order(**changes: Any) -> dict[str, Any]:
    """A delivery order as iikoCloud's deliveries/by_id returns one item of ``orders``."""
    order: dict[str, Any] = {
        "status": "CookingStarted", "whenCreated": "2024-05-01 12:30:15.250", "number": 1042, "sum": 1340,
        "phone": "+7 (916) 555-12-34", "comment": "Домофон не работает", "isDeleted": False,
        "completeBefore": "2024-05-01 13:30:00.000",
        "customer": {"id": "c-1", "name": "Анна ", "surname": "Смирнова", "birthdate": "1990-03-09 00:00:00.000"},
        "orderType": {"orderServiceType": "DeliveryByCourier"},
        "deliveryPoint": {"address": {"street": {"name": "Тверская", "city": {"name": "Москва"}}, "house": "7",
                                      "flat": "12"}},
        "items": [
            {"product": {"id": "pizza", "name": "Пицца Маргарита"}, "amount": 2, "price": 450, "cost": 900,
             "resultSum": 810, "modifiers": [{"product": {"id": "cheese", "name": "Сыр"}, "amount": 1,
                                              "price": 50}]},
            {"product": {"id": "cola", "name": "Кола 0,5"}, "amount": 1, "price": 130, "cost": 130,
             "deleted": {"deletionMethod": {"id": "x"}}},
            {"product": {"id": "tea", "name": "Чай"}, "amount": Decimal("1.5"), "price": Decimal("353.33"),
             "cost": Decimal("530.00")},
        ],
        "payments": [{"paymentType": {"kind": "Card"}, "sum": 1340, "isProcessedExternally": True}],
    }
    order.update(changes)
    return {"id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "creationStatus": "Success", "order": order}


@pytest.fixture(scope="module")
def iiko() -> CompiledMapping:
    return load_mapping(IIKO)


@pytest.fixture(scope="module")
def ut11() -> CompiledMapping:
    return load_mapping(UT11, config=CONFIG)


def test_iiko_order_becomes_a_canonical_order(iiko: CompiledMapping) -> None:
    order = iiko.apply(iiko_order())
    assert isinstance(order, Order)
    assert (order.channel, order.external_id, order.number, order.status) == (
        "iiko", "497f6eca-6276-4993-bfeb-53cbbbba6f08", "1042", OrderStatus.IN_PROGRESS)
    assert order.created_at == dt.datetime(2024, 5, 1, 9, 30, 15, 250000, tzinfo=dt.UTC)
    assert order.customer is not None and order.delivery is not None
    assert (order.customer.first_name, order.customer.phones, order.customer.ids) == (
        "Анна", ["+79165551234"], {"iiko": "c-1"})
    assert order.customer.birthday == dt.date(1990, 3, 9)
    assert (order.delivery.type, order.delivery.address) == (DeliveryType.COURIER, "Москва, Тверская, 7, кв. 12")
    assert [(line.product, line.quantity, line.unit_price, line.sum, line.discount) for line in order.lines] == [
        ("pizza", Decimal(2), Decimal("450.00"), Decimal("810.00"), Decimal("90.00")),
        ("tea", Decimal("1.5"), Decimal("353.33"), Decimal("530.00"), Decimal("-0.01")),
    ]
    assert [(m.product, m.name, m.unit_price) for m in order.lines[0].modifiers] == [("cheese", "Сыр", Decimal(50))]
    assert [(p.method, p.amount, p.paid) for p in order.payments] == [("card", Decimal("1340.00"), True)]
    assert (order.total, order.comment) == (Decimal("1340.00"), "Домофон не работает")


@pytest.mark.parametrize("changes", [{"isDeleted": True}, {"comment": "ТЕСТ, не готовить"}])
def test_iiko_deleted_and_test_orders_are_skipped(iiko: CompiledMapping, changes: dict[str, Any]) -> None:
    assert iiko.apply(iiko_order(**changes)) is None


@pytest.mark.samples
def test_iiko_sample_from_the_api_documentation(iiko: CompiledMapping) -> None:
    sample = json_loads((SAMPLES / "iiko" / "iikocloud-redoc-fixtures" / "Deliveries" /
                         "RetrieveDeliveryByIdResponse.json").read_bytes())["orders"][0]
    assert iiko.apply(sample) is None  # the documentation's example is marked isDeleted
    sample["order"]["isDeleted"] = False
    trial = iiko.trial(sample)
    assert [(f.where(), f.reason) for f in trial.failures] == [
        ("customer.phones", "phone: not a phone number: 0 digits")]  # its phone is the word "string"


def test_canonical_order_becomes_a_1c_ut11_customer_order(iiko: CompiledMapping, ut11: CompiledMapping) -> None:
    order = iiko.apply(iiko_order())
    links = DictLinks({"iiko:catalog:pizza": "ref-pizza", "iiko:catalog:tea": "ref-tea",
                       "phone:customers:+79165551234": "ref-anna"})
    document = ut11.apply(order, links=links)
    assert ut11.target == "Document_ЗаказКлиента"
    lines = document.pop("Товары")
    assert document == {
        "Date": "2024-05-01T12:30:15", "Организация_Key": "org", "Партнер_Key": "partner",
        "Контрагент_Key": "ref-anna", "Соглашение_Key": "agr", "Валюта_Key": "rub", "Склад_Key": "wh-main",
        "ХозяйственнаяОперация": "РеализацияКлиенту", "Статус": "КОбеспечению", "ЦенаВключаетНДС": True,
        "ФормаОплаты": "ПлатежнаяКарта", "СуммаДокумента": Decimal("1340.00"),
        "НомерПоДаннымКлиента": "iiko:497f6eca-6276-4993-bfeb-53cbbbba6f08",
        "ДатаПоДаннымКлиента": "2024-05-01T12:30:15", "ЖелаемаяДатаОтгрузки": "2024-05-01T13:30:00",
        "АдресДоставки": "Москва, Тверская, 7, кв. 12", "Комментарий": "iiko №1042 | Домофон не работает",
    }
    assert lines[1] == {
        "LineNumber": "2", "Номенклатура_Key": "ref-tea", "Количество": Decimal("1.500"),
        "КоличествоУпаковок": Decimal("1.500"), "Цена": Decimal("353.33"), "СуммаРучнойСкидки": Decimal("-0.01"),
        "Сумма": Decimal("530.00"), "Склад_Key": "wh-main", "ВидЦены_Key": "retail-price", "Отменено": False,
    }


def test_unknown_products_send_the_order_to_dead_letters(iiko: CompiledMapping, ut11: CompiledMapping) -> None:
    order = iiko.apply(iiko_order())
    with pytest.raises(UnresolvedReference) as caught:
        ut11.apply(order, links=DictLinks({"iiko:catalog:pizza": "ref-pizza"}))
    assert str(caught.value) == "Товары[1].Номенклатура_Key: no id link for catalog 'tea' from iiko"


def test_walk_in_guests_go_to_the_retail_customer(iiko: CompiledMapping, ut11: CompiledMapping) -> None:
    order = iiko.apply(iiko_order(phone=None))
    document = ut11.apply(order, links=DictLinks({"pizza": "ref", "tea": "ref"}))
    assert document["Контрагент_Key"] == "retail"
