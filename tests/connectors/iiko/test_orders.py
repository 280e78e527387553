"""iiko deliveries and hall orders read into canonical orders: examples, quirks and properties of the sums."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.iiko import decode_order, is_closed, order_kind, product_key
from hub.errors import InvalidRecord
from hub.model import DeliveryType, OrderStatus
from hub.values import json_dumps, json_loads, money
from tests.connectors.iiko.conftest import MOSCOW, sample

ORG = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
PIZZA, LARGE = "6f2c1a3e-0000-4000-8000-000000000001", "6f2c1a3e-0000-4000-8000-0000000000a2"
CHEESE = "6f2c1a3e-0000-4000-8000-000000000002"
PARMESAN = "6f2c1a3e-0000-4000-8000-000000000003"
DELIVERY_FEE = "6f2c1a3e-0000-4000-8000-000000000004"


def decode(info: dict[str, Any], **options: Any) -> Any:
    return decode_order(info, channel="iiko", timezone=MOSCOW, **options)


def item(product: str, name: str, amount: str, price: str, result: str | None = None, *,
         size: tuple[str, str] | None = None, modifiers: list[dict[str, Any]] | None = None,
         deleted: bool = False) -> dict[str, Any]:
    total = Decimal(amount) * Decimal(price)
    return {"type": "Product", "status": "Served", "amount": Decimal(amount), "product": {"id": product, "name": name},
            "price": Decimal(price), "cost": total, "resultSum": Decimal(result) if result else total,
            "pricePredefined": False, "size": {"id": size[0], "name": size[1]} if size else None,
            "modifiers": modifiers or [],
            "deleted": {"deletionMethod": {"id": "x", "removalType": {"id": "y", "name": "z"}}} if deleted else None}


def modifier(product: str, name: str, amount: str, price: str) -> dict[str, Any]:
    total = Decimal(amount) * Decimal(price)
    return {"product": {"id": product, "name": name}, "amount": Decimal(amount),
            "amountIndependentOfParentAmount": False, "price": Decimal(price), "pricePredefined": False,
            "resultSum": total}


def payment(kind: str, amount: str, *, external: bool = False) -> dict[str, Any]:
    return {"paymentType": {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "name": kind, "kind": kind},
            "sum": Decimal(amount), "isPreliminary": False, "isExternal": external,
            "isProcessedExternally": external, "isPrepay": external}


def closed_delivery() -> dict[str, Any]:
    return {"id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "organizationId": ORG, "timestamp": 1740820500,
            "creationStatus": "Success", "errorInfo": None, "order": {
                "status": "Closed", "number": 42, "phone": "8 (916) 123-45-67", "sum": Decimal("1100.00"),
                "whenCreated": "2025-03-01 12:15:00.000", "completeBefore": "2025-03-01 13:00:00.000",
                "customer": {"type": "regular", "id": "c0ffee00-0000-4000-8000-000000000001", "name": "Анна",
                             "surname": "Смирнова", "birthdate": "1990-05-01 00:00:00.000"},
                "orderType": {"id": "t", "name": "Доставка курьером", "orderServiceType": "DeliveryByCourier"},
                "deliveryPoint": {"address": {"street": {"id": "s", "name": "Тверская", "city": {"id": "c",
                                                                                                "name": "Москва"}},
                                              "house": "1", "flat": "12", "region": None}},
                "comment": "Домофон не работает",
                "items": [
                    item(PIZZA, "Пицца Маргарита", "1", "590", "560", size=(LARGE, "30 см"),
                         modifiers=[modifier(CHEESE, "Двойной сыр", "2", "60")]),
                    item(PARMESAN, "Пармезан", "250", "2.4", "600"),
                    item(PIZZA, "Пицца Маргарита", "1", "450", deleted=True),
                    {"type": "Service", "status": "Added", "amount": Decimal(1),
                     "service": {"id": DELIVERY_FEE, "name": "Доставка"}, "cost": Decimal(0)},
                ],
                "payments": [payment("External", "500", external=True), payment("Cash", "600")],
                "discounts": [{"discountType": {"id": "d", "name": "Скидка 5%"}, "sum": Decimal(30)}]}}


def test_a_closed_delivery_becomes_a_canonical_order() -> None:
    order = decode(closed_delivery(), units={PARMESAN: "г"})
    assert (order.external_id, order.number, order.status, order.total) == (
        "497f6eca-6276-4993-bfeb-53cbbbba6f08", "42", OrderStatus.DELIVERED, Decimal("1100.00"))
    assert order.created_at == dt.datetime(2025, 3, 1, 12, 15, tzinfo=MOSCOW)
    assert order.updated_at == dt.datetime(2025, 3, 1, 9, 15, tzinfo=dt.UTC)
    pizza, parmesan, fee = order.lines
    assert (pizza.product, pizza.name) == (product_key(PIZZA, LARGE), "Пицца Маргарита (30 см)")
    assert (pizza.unit_price, pizza.discount, pizza.sum) == (Decimal("590.00"), Decimal("30.00"), Decimal("560.00"))
    assert [(m.product, m.quantity, m.unit_price) for m in pizza.modifiers] == [(CHEESE, Decimal(2), Decimal("60.00"))]
    # weighed in grams at the POS, kilograms for hub
    assert (parmesan.quantity, parmesan.unit_price, parmesan.sum) == (Decimal("0.25"), Decimal("2400.00"),
                                                                      Decimal("600.00"))
    assert (fee.product, fee.sum) == (DELIVERY_FEE, Decimal("0.00"))
    assert order.discount == Decimal("180.00")  # 560 + 120 + 600 - 1100: beyond the lines' own discounts
    assert [(p.method, p.amount, p.paid) for p in order.payments] == [("online", Decimal("500.00"), True),
                                                                      ("cash", Decimal("600.00"), True)]
    assert order.delivery is not None
    assert (order.delivery.type, order.delivery.address) == (DeliveryType.COURIER, "Москва, Тверская, 1, кв. 12")
    assert order.delivery.time == dt.datetime(2025, 3, 1, 13, 0, tzinfo=MOSCOW)
    assert order.customer is not None
    assert (order.customer.phones, order.customer.ids, order.customer.birthday) == (
        ["+79161234567"], {"iiko": "c0ffee00-0000-4000-8000-000000000001"}, dt.date(1990, 5, 1))
    assert is_closed(closed_delivery())


def test_money_survives_the_json_round_trip_exactly() -> None:
    info = json_loads(json_dumps(closed_delivery()))
    order = decode(info)
    assert all(isinstance(line.sum, Decimal) for line in order.lines)
    assert order.lines[1].quantity == Decimal(250)  # no units given: left as the POS counted


def test_cash_is_due_until_the_order_closes() -> None:
    info = closed_delivery()
    info["order"]["status"] = "OnWay"
    order = decode(info)
    assert order.status is OrderStatus.IN_DELIVERY
    assert [p.paid for p in order.payments] == [True, False]
    assert not is_closed(info)


def test_a_hall_order_is_dine_in() -> None:
    info = {"id": "a1", "organizationId": ORG, "timestamp": 0, "creationStatus": "Success", "order": {
        "tableIds": ["t1"], "status": "Bill", "sum": Decimal(360), "number": 7, "phone": None,
        "whenCreated": "2025-03-01 09:00:00.000", "items": [item("cap", "Капучино", "2", "180")],
        "payments": [payment("Card", "360")], "waiter": {"id": "w", "name": "Ольга"}}}
    assert order_kind(info) == "table"
    order = decode(info)
    assert (order.status, order.customer, order.delivery) == (OrderStatus.READY, None, order.delivery)
    assert order.delivery is not None and order.delivery.type is DeliveryType.DINE_IN
    assert [(p.method, p.paid) for p in order.payments] == [("card", False)]


def test_half_and_half_pizza_is_a_line_per_half() -> None:
    info = closed_delivery()
    half = {"product": {"id": "h1", "name": "Пепперони"}, "price": Decimal(300), "cost": Decimal(300),
            "resultSum": Decimal(300), "pricePredefined": False}
    other = {"product": {"id": "h2", "name": "Четыре сыра"}, "price": Decimal(320), "cost": Decimal(320),
             "resultSum": Decimal(320), "pricePredefined": False}
    info["order"]["items"] = [{"type": "Compound", "status": "Added", "amount": Decimal(1), "primaryComponent": half,
                               "secondaryComponent": other, "commonModifiers": [modifier(CHEESE, "Сыр", "1", "60")]}]
    info["order"]["sum"] = Decimal(680)
    order = decode(info)
    assert [(line.product, line.quantity, line.sum) for line in order.lines] == [
        ("h1", Decimal("0.5"), Decimal("300.00")), ("h2", Decimal("0.5"), Decimal("320.00"))]
    assert [m.product for m in order.lines[0].modifiers] == [CHEESE]
    assert order.discount == Decimal(0)


@pytest.mark.samples
def test_iikos_published_example_reads_despite_its_placeholders() -> None:
    (info,) = sample("iikocloud-redoc-fixtures/Deliveries/RetrieveDeliveryByIdResponse.json")["orders"]
    order = decode(info)
    assert order.status is OrderStatus.NEW
    assert order.lines == []                          # its only item is marked deleted
    assert order.customer is not None and order.customer.phones == []   # "string" is no phone


@pytest.mark.samples
def test_an_order_the_pos_never_took_is_not_an_order() -> None:
    fragment = sample("issue-and-test-payloads/order-by-id-creation-timeout-fragment_front-api-sdk-issue-567.json")
    with pytest.raises(InvalidRecord, match="Creation timeout expired"):
        decode({"id": "c8a28337-f323-901e-0194-40e53e770107", **fragment})


@pytest.mark.samples
def test_a_webhook_order_without_its_body_is_invalid() -> None:
    event = sample("issue-and-test-payloads/webhook-event-deliveryorderupdate-envelope_kebrick-readme.json")
    with pytest.raises(InvalidRecord, match="unknown status"):
        decode(event["eventInfo"])


@pytest.mark.parametrize("broken", [
    lambda o: o["order"].pop("sum"),
    lambda o: o["order"].pop("whenCreated"),
    lambda o: o["order"].update(status="Teleported"),
    lambda o: o["order"]["items"][0].pop("product"),
    lambda o: o.pop("id"),
])
def test_missing_essentials_are_invalid_records(broken: Any) -> None:
    info = closed_delivery()
    broken(info)
    with pytest.raises(InvalidRecord):
        decode(info)


# --- properties ---------------------------------------------------------------------------------

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2)
amounts = st.one_of(st.integers(min_value=1, max_value=20).map(Decimal),
                    st.decimals(min_value=Decimal("0.001"), max_value=Decimal("5"), places=3))


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    items, goods = [], Decimal(0)
    for index in range(draw(st.integers(min_value=1, max_value=8))):
        amount, price = draw(amounts), draw(prices)
        full = money(amount * price)
        paid = full - draw(st.decimals(min_value=Decimal(0), max_value=full, places=2))
        mods = [modifier(f"m{index}{n}", "mod", str(draw(st.integers(1, 3))), str(draw(prices)))
                for n in range(draw(st.integers(0, 2)))]
        goods += paid + sum((money(m["amount"] * m["price"]) for m in mods), Decimal(0))
        items.append(item(f"p{index}", f"Блюдо {index}", str(amount), str(price), str(paid), modifiers=mods))
    order_discount = draw(st.decimals(min_value=Decimal(0), max_value=goods, places=2))
    return {"id": "o", "organizationId": ORG, "timestamp": 1, "creationStatus": "Success", "order": {
        "status": "Closed", "number": 1, "phone": "+79161234567", "sum": goods - order_discount,
        "whenCreated": "2025-03-01 12:00:00.000", "completeBefore": "2025-03-01 13:00:00.000", "items": items,
        "payments": [payment("Cash", str(goods - order_discount))]}}


@settings(max_examples=150, deadline=None)
@given(orders())
def test_lines_modifiers_and_discount_add_up_to_the_total(info: dict[str, Any]) -> None:
    order = decode(json_loads(json_dumps(info)))
    lines = sum((line.sum for line in order.lines), Decimal(0))
    extras = sum((money(m.quantity * m.unit_price) for line in order.lines for m in line.modifiers), Decimal(0))
    assert lines + extras - order.discount == order.total
    assert order.discount >= 0
    for line in order.lines:
        assert line.sum + line.discount == money(line.quantity * line.unit_price)
        assert line.discount >= 0
    assert sum((p.amount for p in order.payments), Decimal(0)) == order.total


@settings(max_examples=100, deadline=None)
@given(st.decimals(min_value=Decimal("0.1"), max_value=Decimal("5000"), places=1),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2))
def test_grams_become_kilograms_without_changing_the_money(grams: Decimal, per_gram: Decimal) -> None:
    info = closed_delivery()
    info["order"]["items"] = [item(PARMESAN, "Пармезан", str(grams), str(per_gram))]
    info["order"]["sum"] = money(grams * per_gram)
    (line,) = decode(info, units={PARMESAN: "гр"}).lines
    assert line.quantity == grams / 1000
    assert line.sum == money(grams * per_gram)
    assert line.unit_price == money(per_gram * 1000)
