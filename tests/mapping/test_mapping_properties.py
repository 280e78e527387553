"""Properties: money never passes through float, phones normalise idempotently, reversible mappings round-trip."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import InvalidRecord
from hub.mapping import CompiledMapping, load_mapping
from hub.model import Order, OrderStatus
from hub.values import json_dumps, json_loads

from .conftest import write_mapping

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
amounts = st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=4,
                      allow_nan=False, allow_infinity=False)
# Moscow's clocks have not moved since 2014-10-26. Before that, the hour repeated when clocks went back
# reads the same twice on 1C's offset-less wall clock, so no mapping can round-trip it.
EARLIEST = dt.datetime(2015, 1, 1)  # noqa: DTZ001 - hypothesis takes naive bounds and adds the zones itself
LATEST = dt.datetime(2100, 1, 1)  # noqa: DTZ001
money_amounts = st.decimals(min_value=0, max_value=Decimal("1000000"), places=2, allow_nan=False,
                            allow_infinity=False)


@pytest.fixture(scope="module")
def values(tmp_path_factory: pytest.TempPathFactory) -> CompiledMapping:
    """One out mapping with a field per transform under test, each reading its own attribute."""
    root = tmp_path_factory.mktemp("values")
    return load_mapping(write_mapping(root, """
        system: test
        fields:
          money: {from: attributes.money, transform: money}
          computed: {expr: "attributes.money * 1.1 + 0.01 if attributes.money is not null else null"}
          phone: {from: attributes.phone, transform: phone}
          kopecks: {from: attributes.kopecks, transform: [to_kopecks, kopecks]}
          grams: {from: attributes.grams, transform: [{unit: {from: kg, to: g}}, {unit: {from: g, to: kg}}]}
          when: {from: attributes.when, transform: [local_datetime, datetime]}
        """, "catalog.out.yaml"))


def run(mapping: CompiledMapping, field: str, value: Any) -> Any:
    """The field mapped from ``value`` (the other fields see nothing and stay empty)."""
    return mapping.apply({"attributes": {field: value}}).get(field)


@SETTINGS
@given(amount=amounts)
def test_money_read_from_json_text_is_exact(values: CompiledMapping, amount: Decimal) -> None:
    parsed = json_loads(f'{{"money": {amount}}}')["money"]
    result = values.apply({"attributes": {"money": parsed}})
    assert result["money"] == amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert result["computed"] == Decimal(parsed) * Decimal("1.1") + Decimal("0.01")
    assert type(result["money"]) is Decimal and type(result["computed"]) is Decimal


@SETTINGS
@given(number=st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_refused_never_rounded_into_money(values: CompiledMapping, number: float) -> None:
    with pytest.raises(InvalidRecord) as caught:
        run(values, "money", number)
    assert "must not be floats" in str(caught.value)


subscriber = st.from_regex(r"9[0-9]{9}", fullmatch=True)


@st.composite
def written_phones(draw: st.DrawFn) -> str:
    digits = draw(subscriber)
    prefix = draw(st.sampled_from(["+7", "8", "7", "", "+7 "]))
    a, b, c, d = digits[:3], digits[3:6], digits[6:8], digits[8:]
    body = draw(st.sampled_from([f"{a}{b}{c}{d}", f" ({a}) {b}-{c}-{d}", f" {a} {b} {c} {d}", f"-{a}-{b}-{c}{d}"]))
    extension = draw(st.sampled_from(["", " доб. 12", " ext. 7", " #3"]))
    return f"{prefix}{body}{extension}" if prefix or body[0] != " " else f"{body.strip()}{extension}"


@SETTINGS
@given(raw=written_phones())
def test_phone_normalisation_is_idempotent(values: CompiledMapping, raw: str) -> None:
    once = run(values, "phone", raw)
    assert once.startswith("+79") and len(once) == 12
    assert run(values, "phone", once) == once


@SETTINGS
@given(amount=money_amounts, kilograms=amounts.filter(lambda d: d >= 0),
       moment=st.datetimes(min_value=EARLIEST, max_value=LATEST,
                           timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5))])))
def test_reversible_transforms_round_trip(values: CompiledMapping, amount: Decimal, kilograms: Decimal,
                                          moment: dt.datetime) -> None:
    assert run(values, "kopecks", amount) == amount
    assert run(values, "grams", kilograms) == kilograms
    whole_seconds = moment.replace(microsecond=0)
    assert run(values, "when", whole_seconds) == whole_seconds


# --- a pair of mappings, canonical → 1C → canonical -------------------------------------------------------

STATUS_WORDS = {"new": "НеСогласован", "accepted": "КОбеспечению", "in_progress": "ВРаботе",
                "ready": "КОтгрузке", "in_delivery": "ВДоставке", "delivered": "Закрыт", "cancelled": "Отменен"}
OUT = """
system: onec
tables:
  status: {values: %s, on_missing: dead_letter}
fields:
  Date: {from: created_at, transform: local_datetime}
  Канал: channel
  НомерПоДаннымКлиента: external_id
  Статус: {from: status, transform: {table: status}}
  СуммаДокумента: {from: total, transform: to_kopecks}
  Товары:
    each: lines
    fields:
      LineNumber: {expr: "string(index + 1)"}
      Номенклатура_Key: product
      Содержание: name
      Количество: quantity
      Цена: unit_price
      СуммаРучнойСкидки: discount
      Сумма: sum
"""
IN = """
system: onec
tables:
  status: {values: %s, on_missing: dead_letter}
fields:
  channel: Канал
  external_id: НомерПоДаннымКлиента
  created_at: {from: Date, transform: datetime}
  status: {from: Статус, transform: {table: status}}
  total: {from: СуммаДокумента, transform: kopecks}
  lines:
    each: Товары
    fields:
      product: Номенклатура_Key
      name: Содержание
      quantity: Количество
      unit_price: Цена
      discount: СуммаРучнойСкидки
      sum: Сумма
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[CompiledMapping, CompiledMapping]:
    """Canonical → 1C and back, the second with the status table reversed."""
    root: Path = tmp_path_factory.mktemp("pair")
    back = {word: canonical for canonical, word in STATUS_WORDS.items()}
    return (load_mapping(write_mapping(root, OUT % json_dumps(STATUS_WORDS), "orders.out.yaml")),
            load_mapping(write_mapping(root, IN % json_dumps(back), "orders.in.yaml")))


text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=20)
lines = st.lists(st.fixed_dictionaries({
    "product": text, "name": text,
    "quantity": st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3),
    "unit_price": money_amounts, "discount": money_amounts, "sum": money_amounts,
}), max_size=5)
orders = st.builds(
    lambda external_id, created_at, status, total, order_lines: Order.model_validate({
        "channel": "shop", "external_id": external_id, "created_at": created_at, "status": status,
        "total": total, "lines": order_lines}),
    text, st.datetimes(min_value=EARLIEST, max_value=LATEST,
                       timezones=st.just(dt.UTC)).map(lambda moment: moment.replace(microsecond=0)),
    st.sampled_from(list(OrderStatus)), money_amounts, lines)


@SETTINGS
@given(order=orders)
def test_an_order_written_to_1c_and_read_back_is_the_same(pair: tuple[CompiledMapping, CompiledMapping],
                                                          order: Order) -> None:
    out, back = pair
    document = json_loads(json_dumps(out.apply(order)))  # through the wire, as the connector sends it
    assert back.apply(document) == order
