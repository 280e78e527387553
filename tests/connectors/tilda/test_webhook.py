"""Tilda's cart webhook: every sample body read into the order it stands for, in each of Tilda's three shapes."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from werkzeug.wrappers import Response

from connectors.tilda.connector import DEFAULT_FORM_FIELDS
from connectors.tilda.sandbox import SHAPES, encode
from connectors.tilda.webhook import cart_record, is_ping, order_key, read_body, read_cart
from hub.errors import InvalidRecord
from hub.inbound import BodyToken, blank, shared
from hub.mapping import CompiledMapping, DictLinks, load_mapping
from hub.model import DeliveryType, Order
from hub.values import json_dumps, json_loads, zone
from tests._shared import SAMPLES as SHARED_SAMPLES
from tests._shared import require_samples

REPO = Path(__file__).resolve().parents[3]
SAMPLES = SHARED_SAMPLES / "tilda"
MAPPING = REPO / "mappings" / "tilda" / "orders.in.yaml"
RECEIVED = "2026-05-01T12:00:00+03:00"
PROJECT = "7000001"


@pytest.fixture(scope="module")
def mapping() -> CompiledMapping:
    return load_mapping(MAPPING, timezone=zone("Europe/Moscow"))


def order_of(mapping: CompiledMapping, body: bytes, mimetype: str) -> Order:
    cart = read_cart(read_body(body, mimetype))
    record = {**cart_record(cart, DEFAULT_FORM_FIELDS), "channel": "tilda", "key": order_key(PROJECT, cart),
              "receivedAt": RECEIVED}
    order = mapping.apply(record, links=DictLinks({}))
    assert isinstance(order, Order)
    return order


def node_dump(text: str) -> dict[str, Any]:
    """A body as a handler's console.log (or an annotated copy) printed it, as the JSON object it was."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    text = re.sub(r"(?m)(?<=,)\s+//.*$", "", "\n".join(lines))
    text = re.sub(r"'((?:[^'\\]|\\.)*)'", lambda m: json_dumps(m.group(1)), text, flags=re.S)
    text = re.sub(r"(?m)^(\s*)([A-Za-z_]\w*):", r'\1"\2":', text)
    text = text.replace("[Object]", '{"name": "elided by console.log", "quantity": 1, "price": "50600", '
                                    '"amount": "50600"}')
    found = json_loads(text)
    assert isinstance(found, dict)
    return found


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.mark.samples
def test_the_pickup_order_links_its_good_by_external_id_and_keeps_the_delivery(mapping: CompiledMapping) -> None:
    require_samples()
    order = order_of(mapping, sample("tilda-cart-webhook-json-pickup-externalid-sku.json"), "application/json")

    assert order.external_id == f"{PROJECT}:1173042542" and order.number == "1173042542"
    [line] = order.lines
    assert line.product == "k9gjeIlUdA36PVIfCbbt" and line.quantity == 3 and line.sum == 0
    assert order.delivery is not None and order.delivery.type is DeliveryType.PICKUP
    assert order.delivery.address is not None and "Таганрог" in order.delivery.address
    assert order.customer is not None and order.customer.phones == ["+79998887766"]
    assert order.customer.emails == ["test@test.ru"] and order.customer.first_name == "Тест Тестов"
    assert order.comment is not None and "86597" in order.comment and "тестовый комментарий" in order.comment
    assert order.payments[0].paid is False  # robokassa's systranid "0": no money taken


@pytest.mark.samples
def test_options_and_a_sku_and_the_delivery_price_folded_into_the_total(mapping: CompiledMapping) -> None:
    require_samples()
    order = order_of(mapping, sample("tilda-cart-webhook-json-options-sku.json"), "application/json")

    assert order.total == Decimal("1622.30")
    assert sum(line.sum for line in order.lines) == Decimal("1517")
    first = order.lines[0]
    assert first.product == "tno" and first.quantity == 2 and first.unit_price == 590
    assert [m.name for m in first.modifiers] == ["Pojemność: 100"] and first.modifiers[0].unit_price == 0
    assert order.lines[1].product == "Gorący peeling 129zl"  # no externalid, no sku: its name, for the lookup
    assert order.customer is not None and order.customer.phones == ["+48881719668"]
    assert order.comment is not None and "105.3" in order.comment


@pytest.mark.samples
def test_a_paid_order_says_so(mapping: CompiledMapping) -> None:
    require_samples()
    order = order_of(mapping, sample("tilda-cart-webhook-json-paid-tinkoff.json"), "application/json")

    assert order.payments[0].paid and order.payments[0].method == "online" and order.total == 11
    assert "4471888162" in (order.comment or "")
    assert [(line.quantity, line.unit_price, line.sum) for line in order.lines] == [
        (Decimal(3), Decimal(2), Decimal(6)), (Decimal(5), Decimal(1), Decimal(5))]


@pytest.mark.samples
def test_payment_as_json_text_with_name_price_products_and_a_promocode(mapping: CompiledMapping) -> None:
    require_samples()
    data = node_dump((SAMPLES / "tilda-cart-webhook-payment-as-string-promocode.txt").read_text())
    assert isinstance(data["payment"], str)
    body = urlencode(data).encode()  # a form post, as the handler received it

    order = order_of(mapping, body, "application/x-www-form-urlencoded")

    [line] = order.lines
    assert (line.name, line.unit_price, line.quantity) == ("Участие ЮС Байкал 2026", Decimal(1000), Decimal(1))
    assert order.discount == 500 and order.total == 500
    assert "МХЛ50" in (order.comment or "") and "50%" in (order.comment or "")
    assert order.customer is not None and order.customer.emails == ["jimivom891@hh7f.com"]


@pytest.mark.samples
def test_the_cloudpayments_payment_strings(mapping: CompiledMapping) -> None:
    require_samples()
    values = json_loads(sample("tilda-cart-webhook-payment-string-cloudpayments.json"))["payment_field_values"]
    orders = [order_of(mapping, json_dumps({"payment": value}).encode(), "application/json") for value in values]

    assert [o.lines[0].name for o in orders] == ["5 км Весна 2027 (Vesna5b-2027)", "5 км Весна 2027 (test)"]
    assert [o.total for o in orders] == [Decimal("4.90"), 490]
    assert orders[0].discount == Decimal("485.10") and orders[0].payments[0].paid


@pytest.mark.samples
def test_cyrillic_form_fields_and_cookies(mapping: CompiledMapping) -> None:
    require_samples()
    data = node_dump((SAMPLES / "tilda-cart-webhook-console-dump-cookies.txt").read_text())
    cart = read_cart(data)
    record = cart_record(cart, DEFAULT_FORM_FIELDS)

    assert record["customer"]["last_name"] == "DAMASCHIN"
    assert record["customer"]["address"] == "Moldova, Tiraspol, Odesa 145, 10"
    assert "COOKIES" not in record["form"] and record["form"]["Город"] == "Tiraspol"
    order = order_of(mapping, json_dumps(data).encode(), "application/json")
    assert order.external_id == f"{PROJECT}:1445725799" and order.total == 50600


@pytest.mark.samples
def test_the_production_shape(mapping: CompiledMapping) -> None:
    require_samples()
    data = node_dump((SAMPLES / "tilda-cart-webhook-production-shape.txt").read_text())

    order = order_of(mapping, json_dumps(data).encode(), "application/json")

    assert order.customer is not None and order.customer.first_name == "Евгения"
    assert order.customer.phones == ["+79037335471"] and order.total == 5000 and order.payments[0].paid
    assert order.lines[0].name == "Игра в клубе ЗарницаКлаб"


@pytest.mark.samples
def test_the_connect_time_test_is_a_ping() -> None:
    require_samples()
    text = (SAMPLES / "tilda-webhook-connect-test-request.txt").read_text()
    body = text.strip().splitlines()[-1].encode()

    assert is_ping(read_body(body, "application/x-www-form-urlencoded"))


@pytest.mark.samples
def test_an_integration_template_lead_is_keyed_by_its_tranid() -> None:
    require_samples()
    text = (SAMPLES / "tilda-integration-template-request-apikey.txt").read_text()
    bodies = [json_loads(block) for block in re.findall(r"(?ms)^\{.*?^\}", text)]

    assert [order_key(PROJECT, read_cart(body)) for body in bodies] == ["1111111:6161583731"] * 2
    assert bodies[1]["X-API-Key"] == "user-api-key"


def test_a_body_with_no_order_id_is_refused() -> None:
    with pytest.raises(InvalidRecord, match="orderid"):
        order_key(PROJECT, read_cart({"Name": "x"}))
    with pytest.raises(InvalidRecord, match="Name=Price"):
        read_cart({"payment": {"products": ["no price"]}})


money = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)
name = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda text: text.strip() == text and "=" not in text)
product = st.fixed_dictionaries({"name": name, "quantity": st.integers(1, 9).map(Decimal), "price": money,
                                 "sku": st.text("abc123", min_size=1, max_size=6)},
                                optional={"externalid": st.text("XYZ789", min_size=1, max_size=8),
                                          "options": st.lists(st.fixed_dictionaries(
                                              {"option": name, "variant": name}), max_size=2)})
cart = st.fixed_dictionaries({
    "Name": name, "Phone": st.just("+7 (916) 555-01-01"),
    "payment": st.fixed_dictionaries({"orderid": st.integers(1, 10**10).map(str), "products": st.lists(product,
                                                                                                       min_size=1,
                                                                                                       max_size=4),
                                      "amount": money, "sys": st.sampled_from(["none", "tinkoff"]),
                                      "systranid": st.sampled_from(["0", "123"])},
                                     optional={"promocode": name, "discount": money}),
    "formid": st.just("form1"), "formname": st.just("Cart")})


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(cart)
def test_the_three_shapes_give_the_same_order(mapping: CompiledMapping, data: dict[str, Any]) -> None:
    for item in data["payment"]["products"]:
        item["amount"] = item["quantity"] * item["price"]
    orders = []
    for shape in SHAPES:
        body, content_type = encode(data, shape)
        orders.append(order_of(mapping, body, content_type))

    assert orders[0] == orders[1] == orders[2]
    assert orders[0].external_id == f"{PROJECT}:{data['payment']['orderid']}"
    assert len(orders[0].lines) == len(data["payment"]["products"])


@settings(max_examples=40, deadline=None)
@given(cart, st.text("abcdefXYZ0123456789-_", min_size=12, max_size=32))
def test_an_api_key_sent_as_a_field_is_kept_as_stars_and_the_kept_body_reads_as_the_same_cart(
        data: dict[str, Any], key: str) -> None:
    """Whatever shape Tilda posts, what hub keeps of it holds no API key and reads as the cart Tilda sent."""
    for item in data["payment"]["products"]:
        item["amount"] = item["quantity"] * item["price"]
    check = BodyToken(shared(key), lambda reason: Response(reason, 401), "X-API-Key", header="X-API-Key")
    assume(all(key.encode() not in encode(data, shape)[0] for shape in SHAPES))  # the cart alone does not spell it
    for shape in SHAPES:
        body, content_type = encode({**data, "X-API-Key": key}, shape)
        kept = blank(body, check.secrets)
        read = read_body(kept, content_type)

        assert key.encode() not in kept
        assert read.pop("X-API-Key") == "***"
        assert read_cart(read) == read_cart(read_body(*encode(data, shape)))
