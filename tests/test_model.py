"""The canonical model and hub.values: Decimal money, aware datetimes, normalised contacts, exact JSON."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.model import CANONICAL_TYPES, Customer, Entity, Modifier, Order, OrderLine, StockLevel
from hub.values import (
    from_local_naive,
    json_dumps,
    json_loads,
    money,
    normalize_email,
    normalize_phone,
    to_decimal,
    to_local_naive,
    zone,
)

MSK = zone("Europe/Moscow")


def order(**overrides: object) -> Order:
    fields: dict[str, object] = {
        "channel": "shop", "external_id": "42", "created_at": dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC),
        "total": Decimal("274.47"),
        "lines": [OrderLine(product="CHE", name="Сыр", quantity=Decimal("0.305"), unit_price=Decimal("899.90"),
                            sum=Decimal("274.47"))]}
    return Order.model_validate(fields | overrides)


def test_every_field_of_every_canonical_type_is_documented() -> None:
    for model in CANONICAL_TYPES.values():
        undocumented = [name for name, info in model.model_fields.items() if not info.description]
        assert not undocumented, f"{model.__name__}: {undocumented}"


def test_money_refuses_floats() -> None:
    with pytest.raises(ValidationError, match="must not be floats"):
        order(total=274.47)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        order(created_at=dt.datetime(2026, 11, 20, 9))  # noqa: DTZ001 - the point of the test


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        order(colour="red")


def test_json_round_trip_keeps_decimals_exact() -> None:
    original = order()
    again = Order.model_validate_json(original.model_dump_json())
    assert again == original
    assert again.lines[0].quantity == Decimal("0.305")
    assert original.key == "shop:42"


def test_json_with_a_byte_order_mark_is_read() -> None:
    # iiko answers with one; RFC 8259 lets a reader skip it.
    assert json_loads(b"\xef\xbb\xbf" + b'{"sum": 2.50}') == {"sum": Decimal("2.50")}


def test_customer_contacts_are_normalised_and_hidden_from_repr() -> None:
    customer = Customer(first_name="Анна", phones=["8 (916) 555-12-34 доб. 12"], emails=[" Anna@Example.RU "])
    assert customer.phones == ["+79165551234"]
    assert customer.emails == ["anna@example.ru"]
    assert "Анна" not in repr(customer) and "5551234" not in repr(customer)


@pytest.mark.parametrize(("raw", "e164"), [
    ("+7 (999) 123-45-67", "+79991234567"),
    ("89991234567", "+79991234567"),
    ("9991234567", "+79991234567"),
    ("7 999 123 45 67 ext. 5", "+79991234567"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_phone_normalisation(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "12345", "+0123456789", "not a phone"])
def test_unreadable_phones_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="not a phone number"):
        normalize_phone(raw)


@given(st.text(alphabet="0123456789 +-()", min_size=1, max_size=20))
def test_phone_normalisation_is_idempotent(raw: str) -> None:
    try:
        once = normalize_phone(raw)
    except ValueError:
        return
    assert normalize_phone(once) == once


def test_email_normalisation() -> None:
    assert normalize_email("  Ivan.Petrov@Mail.RU ") == "ivan.petrov@mail.ru"
    with pytest.raises(ValueError, match="not an email"):
        normalize_email("ivan at mail")


@given(st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**9, max_value=10**9))
def test_decimals_survive_json(value: Decimal) -> None:
    text = json_dumps({"v": value})
    assert json_loads(text)["v"] == value
    assert '"' not in text.split(":", 1)[1], "money is written as a JSON number, not a string"


def test_floats_never_reach_json() -> None:
    with pytest.raises(ValueError, match="float"):
        json_dumps({"lines": [{"price": 1.5}]})
    with pytest.raises(ValueError, match="NaN"):
        json_loads('{"price": NaN}')


@pytest.mark.parametrize(("raw", "expected"), [
    ("1 234,50", Decimal("1234.50")), ("0.305", Decimal("0.305")), (7, Decimal(7)), (Decimal("1.1"), Decimal("1.1"))])
def test_to_decimal_reads_what_channels_send(raw: object, expected: Decimal) -> None:
    assert to_decimal(raw) == expected


@pytest.mark.parametrize("raw", [0.1, True, "abc", "NaN", None])
def test_to_decimal_refuses_what_is_not_a_number(raw: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        to_decimal(raw)


def test_money_rounds_half_up_to_kopecks() -> None:
    assert money("274.465") == Decimal("274.47")
    assert money(Decimal("0.305") * Decimal("899.90")) == Decimal("274.47")


def test_1c_local_time_round_trip() -> None:
    naive = dt.datetime(2026, 11, 20, 12, 0)  # noqa: DTZ001 - 1C's offset-less local time
    aware = from_local_naive(naive, MSK)
    assert aware.utcoffset() == dt.timedelta(hours=3)
    assert to_local_naive(aware.astimezone(dt.UTC), MSK) == naive
    with pytest.raises(ValueError, match="naive"):
        to_local_naive(naive, MSK)


def test_stock_as_of_must_be_aware() -> None:
    with pytest.raises(ValidationError):
        StockLevel(product="p", warehouse="w", quantity=Decimal(1), as_of=dt.datetime(2026, 1, 1))  # noqa: DTZ001


def test_entities_map_to_their_canonical_types() -> None:
    assert CANONICAL_TYPES[Entity.ORDERS] is Order
    assert set(CANONICAL_TYPES) == set(Entity)


def test_paid_modifiers_that_are_goods_become_lines_of_their_own() -> None:
    syrup = Modifier(product="SYR", name="Сироп", quantity=Decimal(2), unit_price=Decimal("30.00"))
    no_sugar = Modifier(product="NOSUGAR", name="Без сахара")
    extra = Modifier(name="Побольше пенки", unit_price=Decimal("10.00"))  # paid, but no good to put on a line
    stranger = Modifier(product="UNKNOWN", name="Посыпка", unit_price=Decimal("5.00"))  # paid, not a good there
    order = Order(channel="yandex", external_id="1", created_at=dt.datetime(2026, 11, 22, tzinfo=dt.UTC),
                  total=Decimal("440.00"), lines=[
                      OrderLine(product="CAP", name="Капучино", quantity=Decimal(2), unit_price=Decimal(180),
                                sum=Decimal(360), modifiers=[syrup, no_sugar, extra, stranger]),
                      OrderLine(product="CRO", name="Круассан", quantity=Decimal("0.5"), unit_price=Decimal(40),
                                sum=Decimal(20))])

    flat = order.paid_modifiers_as_lines(lambda product: product != "UNKNOWN")

    assert [(line.product, line.quantity, line.sum) for line in flat.lines] == [
        ("CAP", Decimal(2), Decimal(360)), ("SYR", Decimal(2), Decimal("60.00")), ("CRO", Decimal("0.5"), Decimal(20))]
    assert flat.lines[0].modifiers == [no_sugar, extra, stranger]
    assert flat.total == order.total and order.lines[0].modifiers == [syrup, no_sugar, extra, stranger]  # unchanged
