"""Yandex Eda order bodies: parsing, checking and the order mapping, on Yandex's own published examples.

The samples are the partner API documentation's examples, transcribed unchanged
(``../shared/samples/yandex-eda/SOURCES.md`` says where each one comes from);
they are read from there, never copied into the repository.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.yandex_eda.orders import (
    STATUS_WORDS,
    WORDS,
    Cancel,
    moves_forward,
    parse_cancel,
    parse_order,
    parse_status_update,
)
from hub.errors import InvalidRecord
from hub.mapping import CompiledMapping, load_mapping
from hub.model import DeliveryType, Order, OrderStatus
from hub.values import json_dumps, json_loads, zone
from tests._shared import SAMPLES as SHARED_SAMPLES

REPO = Path(__file__).resolve().parents[3]
SAMPLES = SHARED_SAMPLES / "yandex-eda"
MAPPING = REPO / "mappings" / "yandex_eda" / "orders.in.yaml"
RECEIVED = "2026-05-01T12:00:00.123456+03:00"


def sample(name: str) -> bytes:
    """A sample body as Yandex sends it."""
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> dict[str, Any]:
    """A sample as a dict, to build variants from."""
    data: dict[str, Any] = json_loads(sample(name))
    return data


def body(data: Any) -> bytes:
    """JSON bytes of ``data`` (Decimals as exact numbers)."""
    return json_dumps(data).encode()


@pytest.fixture(scope="module")
def mapping() -> CompiledMapping:
    return load_mapping(MAPPING, timezone=zone("Europe/Moscow"), config={})


def map_order(mapping: CompiledMapping, order: dict[str, Any], *, status: str = "new",
              cancel_comment: str | None = None) -> Order:
    """What the connector does with a checked order: add its own keys, apply the mapping."""
    result = mapping.apply({**order, "channel": "yandex", "receivedAt": RECEIVED, "hubStatus": status,
                            "cancelComment": cancel_comment})
    assert isinstance(result, Order)
    return result


def minimal(**changes: Any) -> dict[str, Any]:
    """The smallest order parse_order accepts, with ``changes`` applied."""
    order: dict[str, Any] = {"eatsId": "260501-0000001", "restaurantId": "r1", "discriminator": "yandex",
                             "items": [{"id": "p1", "quantity": 1, "price": 10}]}
    order.update(changes)
    return order


def no_floats(value: Any) -> bool:
    """True when no float hides anywhere in ``value`` (dicts, lists, pydantic dumps)."""
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(no_floats(item) for item in value.values())
    if isinstance(value, list):
        return all(no_floats(item) for item in value)
    return True


# --- the create samples --------------------------------------------------------------------------------


@pytest.mark.samples
def test_restaurant_create_sample_maps_with_exact_quantity_and_phone(mapping: CompiledMapping) -> None:
    order = parse_order(sample("restaurant/order-create-request.yandex.v2.json"))

    assert order["eatsId"] == "190330-12345678"
    assert order["items"][0]["quantity"] == Decimal("3.5")
    # Yandex's example holds [null] and [{}]: they are dropped, the rest of the body is kept.
    assert order["deliveryInfo"]["additionalPhoneNumbers"] == []
    assert order["items"][0]["modifications"] == [] and order["items"][0]["promos"] == [] and order["promos"] == []
    assert order["items"][0]["comboInfo"]["componentId"] == "937c57f6-4508-4858-be7f-20691a16fbb0"
    assert order["platform"] == "YE" and order["persons"] == 2

    mapped = map_order(mapping, order)
    assert (mapped.channel, mapped.external_id, mapped.number) == ("yandex", "190330-12345678", "190330-12345678")
    assert mapped.key == "yandex:190330-12345678"
    assert mapped.created_at == dt.datetime.fromisoformat(RECEIVED)
    assert mapped.status is OrderStatus.NEW
    assert mapped.customer is not None and mapped.customer.first_name == "Иванов Иван Иванович"
    # "+79031111111 доб. 4432" is Yandex's switchboard (shared by guests): only the real number is kept.
    assert mapped.customer.phones == ["+79031111111"]
    assert len(mapped.lines) == 1
    line = mapped.lines[0]
    assert (line.product, line.name) == ("937c57f6-4508-4858-be7f-20691a16fbb0", "Пицца Пепперони")
    assert line.quantity == Decimal("3.5") and type(line.quantity) is Decimal
    assert (line.unit_price, line.discount, line.sum) == (Decimal("100.00"), Decimal("0.00"), Decimal("350.00"))
    assert mapped.delivery is not None and mapped.delivery.type is DeliveryType.COURIER
    assert mapped.delivery.time == dt.datetime(1937, 1, 1, 12, 0, 27, 870000,
                                               tzinfo=dt.timezone(dt.timedelta(minutes=20)))
    assert mapped.delivery.address is None
    assert [(p.method, p.amount, p.paid) for p in mapped.payments] == [("online", Decimal("100.00"), True)]
    assert mapped.total == Decimal("100.00")
    assert mapped.comment == "Дополнительная информация о заказе: ..."
    assert no_floats(mapped.model_dump())


@pytest.mark.samples
def test_retail_create_sample_keeps_courier_code_and_both_phones(mapping: CompiledMapping) -> None:
    order = parse_order(sample("retail/order-create-request.yandex.v2.json"))

    assert order["eatsId"] == "230130-1234567"
    assert order["brand"] == "string" and order["items"][0]["originPrice"] == 70

    mapped = map_order(mapping, order)
    assert mapped.external_id == "230130-1234567"
    assert mapped.lines[0].quantity == Decimal("3.4")
    assert mapped.lines[0].sum == Decimal("285.60")              # 3.4 × 84: the sample's itemsCost is not
    assert mapped.total == Decimal("1570.00")                    # Yandex's figure is kept as sent
    assert mapped.customer is not None
    # the real number only: "+74732006745 ext. 12099" is a switchboard many guests share
    assert mapped.customer.phones == ["+79998887766"]
    assert mapped.comment is not None and mapped.comment.startswith("Courier code: 4563.")


@pytest.mark.samples
def test_item_with_modifications_and_promos(mapping: CompiledMapping) -> None:
    data = sample_json("restaurant/order-create-request.yandex.v2.json")
    data["items"][0] = sample_json("restaurant/order-item-modifications-and-promos.fragment.json")
    data["eatsId"] = "190330-87654321"

    order = parse_order(body(data))
    modifier, promo = order["items"][0]["modifications"][0], order["items"][0]["promos"][0]
    assert (modifier["id"], modifier["group_id"]) == ("937c57f6-4508-4858-be7f-20691a16fbb0",
                                                      "937c57f6-4508-4858-be7f-20691a16fbb1")
    assert modifier["quantity"] == 3 and modifier["price"] == Decimal(100)
    assert promo["type"] == "GIFT"
    assert promo["discount"] == promo["partner_discount"] + promo["yandex_discount"] == 200

    line = map_order(mapping, order).lines[0]
    assert [(m.product, m.name, m.quantity, m.unit_price) for m in line.modifiers] == [
        ("937c57f6-4508-4858-be7f-20691a16fbb0", "Европейские приборы", Decimal(3), Decimal("100.00"))]
    # the guest pays the price less the whole promo discount, partner's and Yandex's
    assert (line.discount, line.sum) == (Decimal("200.00"), Decimal("150.00"))


@pytest.mark.samples
def test_partial_marketplace_update_maps_with_delivery_fee_in_total(mapping: CompiledMapping) -> None:
    order = parse_order(sample("restaurant/order-update-request.marketplace.v2.PARTIAL.json"))

    assert order["discriminator"] == "marketplace"
    assert order["paymentInfo"]["deliveryFee"] == 100
    assert order["deliveryInfo"]["deliveryAddress"]["latitude"] == "55.756994"   # text stays text
    assert "comment" not in order                                  # the sample is cut before it

    mapped = map_order(mapping, order)
    assert mapped.total == Decimal("200.00")                       # itemsCost 100 + deliveryFee 100
    assert [(p.method, p.amount, p.paid) for p in mapped.payments] == [("online", Decimal("200.00"), True)]
    assert mapped.delivery is not None and mapped.delivery.type is DeliveryType.COURIER
    assert mapped.delivery.address is not None and mapped.delivery.address.startswith("Москва, улица Тверская")
    assert mapped.delivery.time is not None and mapped.delivery.time.utcoffset() == dt.timedelta(minutes=20)
    assert mapped.customer is not None and mapped.customer.phones == []  # only a switchboard number
    assert mapped.comment is None


# --- the mapping's other choices -----------------------------------------------------------------------


@pytest.mark.parametrize(("discriminator", "expected"), [
    ("yandex", DeliveryType.COURIER), ("marketplace", DeliveryType.COURIER), ("pickup", DeliveryType.PICKUP),
    ("drone", DeliveryType.COURIER),
])
def test_discriminator_gives_delivery_type(mapping: CompiledMapping, discriminator: str,
                                           expected: DeliveryType) -> None:
    mapped = map_order(mapping, parse_order(body(minimal(discriminator=discriminator,
                                                         paymentInfo={"itemsCost": 10}))))
    assert mapped.delivery is not None and mapped.delivery.type is expected


def test_cash_is_collected_on_hand_over(mapping: CompiledMapping) -> None:
    mapped = map_order(mapping, parse_order(body(minimal(paymentInfo={"itemsCost": 10, "paymentType": "CASH"}))))
    assert [(p.method, p.amount, p.paid) for p in mapped.payments] == [("cash", Decimal("10.00"), False)]


def test_order_without_payment_type_has_no_payment(mapping: CompiledMapping) -> None:
    mapped = map_order(mapping, parse_order(body(minimal(paymentInfo={"itemsCost": 10}))))
    assert mapped.payments == [] and mapped.total == Decimal("10.00")


def test_order_without_payment_info_cannot_be_mapped(mapping: CompiledMapping) -> None:
    with pytest.raises(InvalidRecord, match=r"^total: required"):
        map_order(mapping, parse_order(body(minimal())))


def test_order_level_promos_become_the_order_discount(mapping: CompiledMapping) -> None:
    order = parse_order(body(minimal(paymentInfo={"itemsCost": 10},
                                     promos=[None, {"type": "DISCOUNT", "discount": Decimal("2.5")}, {}])))
    assert map_order(mapping, order).discount == Decimal("2.50")


def test_cancel_comment_joins_the_guest_comment_only_when_cancelled(mapping: CompiledMapping) -> None:
    order = parse_order(body(minimal(paymentInfo={"itemsCost": 10}, comment="Без лука")))
    cancelled = map_order(mapping, order, status="cancelled", cancel_comment="Отказ клиента")
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.comment == "Без лука | Cancelled: Отказ клиента"
    assert map_order(mapping, order, status="in_delivery", cancel_comment="Отказ клиента").comment == "Без лука"
    assert map_order(mapping, order, status="cancelled", cancel_comment="").comment == "Без лука"


def test_additional_phone_is_read_once(mapping: CompiledMapping) -> None:
    delivery = {"phoneNumber": "+7 (903) 111-11-11", "additionalPhoneNumbers": [None, "8 916 555-12-34 доб. 7"]}
    order = parse_order(body(minimal(paymentInfo={"itemsCost": 10}, deliveryInfo=delivery)))
    assert order["deliveryInfo"]["additionalPhoneNumbers"] == ["8 916 555-12-34 доб. 7"]
    customer = map_order(mapping, order).customer
    assert customer is not None and customer.phones == ["+79031111111"]  # the other is an extension


# --- tolerance and refusals ---------------------------------------------------------------------------


def test_null_and_empty_elements_are_dropped_and_unknown_fields_kept() -> None:
    item = {"id": "p1", "quantity": 2, "price": 10, "modifications": [{}, None, {"id": "m1", "price": 5}],
            "promos": [None], "future": {"x": [None]}}
    order = parse_order(body(minimal(items=[None, {}, item], deliveryInfo={"batches": [None, "b1"]},
                                     shiny="new", promos=[{}])))
    assert order["items"] == [{**item, "modifications": [{"id": "m1", "price": 5}], "promos": []}]
    assert order["items"][0]["future"] == {"x": [None]}             # unknown content is not touched
    assert order["deliveryInfo"]["batches"] == ["b1"]
    assert order["shiny"] == "new" and order["promos"] == []


def test_position_in_a_message_is_the_one_yandex_sent() -> None:
    bad = {"id": "p2", "quantity": "abc", "price": 10}
    with pytest.raises(InvalidRecord) as caught:
        parse_order(body(minimal(items=[None, bad])))
    assert caught.value.message == "items[1].quantity: expected a positive number, got 'abc'"


MALFORMED: list[tuple[bytes, str]] = [
    (b"{not json",
     "body is not JSON: Expecting property name enclosed in double quotes or '}': line 1 column 2 (char 1)"),
    (b"", "body is not JSON: Expecting value: line 1 column 1 (char 0)"),
    (b"\xff\xfe", "body is not JSON: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    (b"[1, 2]", "body: expected a JSON object, got an array"),
    (b'"order"', "body: expected a JSON object, got 'order'"),
    (body(minimal(eatsId=None)), "eatsId: expected a non-empty string, got null"),
    (body(minimal(eatsId="")), "eatsId: expected a non-empty string, got ''"),
    (body(minimal(eatsId=190330)), "eatsId: expected a non-empty string, got 190330"),
    (body({k: v for k, v in minimal().items() if k != "restaurantId"}),
     "restaurantId: expected a non-empty string, got nothing"),
    (body({k: v for k, v in minimal().items() if k != "discriminator"}),
     "discriminator: expected a non-empty string, got nothing"),
    (body({k: v for k, v in minimal().items() if k != "items"}), "items: expected a non-empty array, got nothing"),
    (body(minimal(items={"id": "p1"})), "items: expected a non-empty array, got an object"),
    (body(minimal(items=[])), "items: expected at least one item, got none"),
    (body(minimal(items=[None, {}])), "items: expected at least one item, got none"),
    (body(minimal(items=["p1"])), "items[0]: expected an object, got 'p1'"),
    (body(minimal(items=[{"quantity": 1, "price": 10}])), "items[0].id: expected a non-empty string, got nothing"),
    (body(minimal(items=[{"id": "p1", "price": 10}])), "items[0].quantity: expected a positive number, got nothing"),
    (body(minimal(items=[{"id": "p1", "quantity": 0, "price": 10}])),
     "items[0].quantity: expected a positive number, got 0"),
    (body(minimal(items=[{"id": "p1", "quantity": Decimal("-0.5"), "price": 10}])),
     "items[0].quantity: expected a positive number, got -0.5"),
    (body(minimal(items=[{"id": "p1", "quantity": True, "price": 10}])),
     "items[0].quantity: expected a positive number, got true"),
    (body(minimal(items=[{"id": "p1", "quantity": 1, "price": "100"}])),
     "items[0].price: expected a non-negative number, got '100'"),
    (body(minimal(items=[{"id": "p1", "quantity": 1}])), "items[0].price: expected a non-negative number, got nothing"),
    (body(minimal(items=[{"id": "p1", "quantity": 1, "price": -1}])),
     "items[0].price: expected a non-negative number, got -1"),
    (body(minimal(items=[{"id": "p1", "quantity": 1, "price": 1, "modifications": "none"}])),
     "items[0].modifications: expected an array, got 'none'"),
    (body(minimal(items=[{"id": "p1", "quantity": 1, "price": 1, "modifications": [None, {"price": "5"}]}])),
     "items[0].modifications[1].price: expected a non-negative number, got '5'"),
    (body(minimal(items=[{"id": "p1", "quantity": 1, "price": 1, "promos": [{"discount": False}]}])),
     "items[0].promos[0].discount: expected a non-negative number, got false"),
    (body(minimal(paymentInfo=[])), "paymentInfo: expected an object, got an empty array"),
    (body(minimal(paymentInfo={"itemsCost": "100"})),
     "paymentInfo.itemsCost: expected a non-negative number, got '100'"),
    (body(minimal(paymentInfo={"itemsCost": 100, "total": None, "deliveryFee": "x"})),
     "paymentInfo.deliveryFee: expected a non-negative number, got 'x'"),
    (body(minimal(deliveryInfo="Москва")), "deliveryInfo: expected an object, got 'Москва'"),
    (body(minimal(deliveryInfo={"phoneNumber": 79031111111})),
     "deliveryInfo.phoneNumber: expected a string, got 79031111111"),
    (body(minimal(deliveryInfo={"additionalPhoneNumbers": [None, 7]})),
     "deliveryInfo.additionalPhoneNumbers[1]: expected a string, got 7"),
    (body(minimal(deliveryInfo={"deliveryDate": "2026-05-01T12:00:00"})),
     "deliveryInfo.deliveryDate: expected an RFC 3339 date-time with an offset, got '2026-05-01T12:00:00'"),
    (body(minimal(deliveryInfo={"deliveryAddress": "Москва"})),
     "deliveryInfo.deliveryAddress: expected an object, got 'Москва'"),
    (body(minimal(comment="x" * 50, platform=["YE"])), "platform: expected a string, got an array"),
    (body(minimal(eatsId="y" * 60, restaurantId=None)), "restaurantId: expected a non-empty string, got null"),
    (body(minimal(items=[{"id": "p1", "quantity": 1, "price": 1, "name": "z" * 60}, 5])),
     "items[1]: expected an object, got 5"),
]


@pytest.mark.parametrize(("raw", "message"), MALFORMED)
def test_malformed_order_is_refused_with_a_precise_description(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_order(raw)
    assert caught.value.message == message


def test_long_wrong_value_is_cut_in_the_message() -> None:
    # 40 characters of the quoted text, then an ellipsis: a message must not carry a whole address or name
    with pytest.raises(InvalidRecord) as caught:
        parse_order(body(minimal(items=[{"id": "p1", "quantity": "9" * 30 + "x" * 30, "price": 1}])))
    assert caught.value.message == "items[0].quantity: expected a positive number, got '" + "9" * 30 + "x" * 9 + "…"


# --- status updates and cancellations ------------------------------------------------------------------


@pytest.mark.samples
def test_restaurant_status_update_sample() -> None:
    update = parse_status_update(sample("restaurant/order-status-put-request.json"))
    assert (update.status, update.reason, update.comment, update.attributes, update.platform) == (
        "CANCELLED", "place.unable_to_call", "test", ["paid"], None)
    assert update.updated_at == dt.datetime(1937, 1, 1, 12, 0, 27, 870000,
                                            tzinfo=dt.timezone(dt.timedelta(minutes=20)))


@pytest.mark.samples
def test_retail_status_sample_with_its_placeholder_status_is_refused() -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_status_update(sample("retail/order-status-put-request.status-v1.json"))
    assert caught.value.message == "status: expected one of CANCELLED, DELIVERED, TAKEN_BY_COURIER, got 'string'"


@pytest.mark.samples
def test_retail_status_sample_with_a_real_status_keeps_platform() -> None:
    data = sample_json("retail/order-status-put-request.status-v1.json")
    update = parse_status_update(body({**data, "status": "CANCELLED"}))
    assert (update.status, update.platform, update.attributes) == ("CANCELLED", "YE", ["paid"])
    assert update.updated_at is not None and update.updated_at.utcoffset() == dt.timedelta(minutes=20)


@pytest.mark.parametrize("status", ["TAKEN_BY_COURIER", "DELIVERED"])
def test_courier_statuses_need_nothing_else(status: str) -> None:
    update = parse_status_update(body({"status": status, "attributes": [None]}))
    assert (update.status, update.reason, update.comment, update.attributes, update.updated_at) == (
        status, None, None, [], None)


@pytest.mark.parametrize(("data", "message"), [
    ({}, "status: expected one of CANCELLED, DELIVERED, TAKEN_BY_COURIER, got nothing"),
    ({"status": "READY"}, "status: expected one of CANCELLED, DELIVERED, TAKEN_BY_COURIER, got 'READY'"),
    ({"status": ["CANCELLED"]}, "status: expected one of CANCELLED, DELIVERED, TAKEN_BY_COURIER, got an array"),
    ({"status": "CANCELLED", "comment": "x" * 501}, "comment: expected at most 500 characters, got 501"),
    ({"status": "CANCELLED", "attributes": "paid"}, "attributes: expected an array, got 'paid'"),
    ({"status": "CANCELLED", "attributes": ["paid", 1]}, "attributes[1]: expected a string, got 1"),
    ({"status": "CANCELLED", "reason": 3}, "reason: expected a string, got 3"),
    ({"status": "CANCELLED", "updatedAt": "yesterday"},
     "updatedAt: expected an RFC 3339 date-time with an offset, got 'yesterday'"),
    ({"status": "CANCELLED", "updatedAt": "2026-05-01T12:00:00.5"},
     "updatedAt: expected an RFC 3339 date-time with an offset, got '2026-05-01T12:00:00.5'"),
])
def test_malformed_status_update_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_status_update(body(data))
    assert caught.value.message == message


def test_status_comment_of_500_characters_is_accepted() -> None:
    assert parse_status_update(body({"status": "DELIVERED", "comment": "я" * 500})).comment == "я" * 500


@pytest.mark.samples
def test_cancel_body_sample() -> None:
    assert parse_cancel(sample("restaurant/order-cancel-request.DELETE-body.json")) == Cancel(
        eats_id="190330-12345678", comment="Отказ клиента")


@pytest.mark.parametrize("data", [{"eatsId": "1"}, {"eatsId": "1", "comment": ""}, {"eatsId": "1", "comment": None}])
def test_cancel_comment_may_be_empty(data: dict[str, Any]) -> None:
    assert parse_cancel(body(data)) == Cancel(eats_id="1", comment="")


@pytest.mark.parametrize(("raw", "message"), [
    (body({"comment": "x"}), "eatsId: expected a non-empty string, got nothing"),
    (body({"eatsId": "1", "comment": 5}), "comment: expected a string, got 5"),
    (b"null", "body: expected a JSON object, got null"),
])
def test_malformed_cancel_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_cancel(raw)
    assert caught.value.message == message


# --- status words --------------------------------------------------------------------------------------


def test_every_hub_status_has_exactly_one_yandex_word() -> None:
    assert set(STATUS_WORDS.values()) == set(OrderStatus)
    assert {status: STATUS_WORDS[word] for status, word in WORDS.items()} == {s: s for s in OrderStatus}
    assert WORDS[OrderStatus.IN_DELIVERY] == "TAKEN_BY_COURIER"


@pytest.mark.parametrize(("current", "new", "expected"), [
    ("NEW", "ACCEPTED_BY_RESTAURANT", True),
    ("ACCEPTED_BY_RESTAURANT", "COOKING", True),
    ("COOKING", "READY", True),
    ("READY", "TAKEN_BY_COURIER", True),
    ("TAKEN_BY_COURIER", "DELIVERED", True),
    ("NEW", "DELIVERED", True),                      # steps may be skipped
    ("ACCEPTED_BY_RESTAURANT", "TAKEN_BY_COURIER", True),
    ("READY", "COOKING", False),                     # never backwards
    ("TAKEN_BY_COURIER", "NEW", False),
    ("READY", "READY", False),                       # a repeat is no news
    ("NEW", "CANCELLED", True),                      # cancelled from any state still open
    ("COOKING", "CANCELLED", True),
    ("TAKEN_BY_COURIER", "CANCELLED", True),
    ("CANCELLED", "CANCELLED", False),               # Yandex's echo of hub's own cancellation
    ("CANCELLED", "DELIVERED", False),               # nothing leaves a final state
    ("CANCELLED", "NEW", False),
    ("DELIVERED", "CANCELLED", False),
    ("DELIVERED", "DELIVERED", False),
])
def test_moves_forward(current: str, new: str, expected: bool) -> None:
    assert moves_forward(current, new) is expected


def test_moves_forward_refuses_unknown_words() -> None:
    with pytest.raises(ValueError, match="not a Yandex Eda order status: 'string'"):
        moves_forward("NEW", "string")


# --- properties ------------------------------------------------------------------------------------------

ORDER_KEYS = ["eatsId", "restaurantId", "discriminator", "items", "id", "quantity", "price", "paymentInfo",
              "itemsCost", "total", "deliveryInfo", "phoneNumber", "additionalPhoneNumbers", "modifications",
              "promos", "discount", "comment", "deliveryDate", "deliveryAddress"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(ORDER_KEYS) | st.text(max_size=6), children, max_size=5),
    max_leaves=30,
)
amounts = st.decimals(min_value=0, max_value=Decimal("100000"), places=2)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000"), places=3)
phones = st.sampled_from(["+79031111111 доб. 4432", "79998887766", "+74732006745 ext. 12099", "8 916 555-12-34"])
items = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=8).filter(str.strip), "quantity": quantities, "price": amounts},
    optional={"name": st.text(max_size=8),
              "modifications": st.lists(st.none() | st.just({}) | st.fixed_dictionaries(
                  {"id": st.text(max_size=4), "quantity": st.integers(1, 5), "price": amounts}), max_size=3),
              "promos": st.lists(st.none() | st.fixed_dictionaries({"discount": amounts}), max_size=2)})
orders = st.fixed_dictionaries(
    {"eatsId": st.from_regex(r"\A\d{6}-\d{7,8}\Z"), "restaurantId": st.just("r1"),
     "discriminator": st.sampled_from(["yandex", "marketplace", "pickup", "other"]),
     "items": st.lists(items, min_size=1, max_size=4),
     "paymentInfo": st.fixed_dictionaries(
         {"itemsCost": amounts}, optional={"total": amounts, "paymentType": st.sampled_from(["CARD", "CASH"])})},
    optional={"deliveryInfo": st.fixed_dictionaries({}, optional={
        "phoneNumber": phones, "realPhoneNumber": phones, "additionalPhoneNumbers": st.lists(st.none() | phones),
        "clientName": st.text(max_size=10)}), "comment": st.text(max_size=10)})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_give_invalid_record(raw: bytes) -> None:
    try:
        parsed = parse_order(raw)
    except InvalidRecord as exc:
        assert exc.message
    else:
        assert no_floats(parsed)


@settings(max_examples=300, deadline=None)
@given(json_values | st.builds(lambda key, value: {**minimal(), key: value}, st.sampled_from(ORDER_KEYS), json_values))
def test_arbitrary_json_parses_or_gives_invalid_record(value: Any) -> None:
    try:
        parsed = parse_order(body(value))
    except InvalidRecord as exc:
        assert exc.message
    else:
        assert no_floats(parsed)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=orders)
def test_a_checked_order_always_maps_with_exact_money(mapping: CompiledMapping, order: dict[str, Any]) -> None:
    mapped = map_order(mapping, parse_order(body(order)))
    assert no_floats(mapped.model_dump())
    assert len(mapped.lines) == len(order["items"])
    expected = [item["quantity"] * item["price"] - sum(p["discount"] for p in item.get("promos", []) if p)
                for item in order["items"]]
    assert [line.sum for line in mapped.lines] == [e.quantize(Decimal("0.01"), ROUND_HALF_UP) for e in expected]
    assert mapped.total == order["paymentInfo"].get("total", order["paymentInfo"]["itemsCost"])
