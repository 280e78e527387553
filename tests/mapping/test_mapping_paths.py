"""Paths into JSON, canonical models and XML; defaults and required fields."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from hub.errors import InvalidRecord
from hub.mapping._paths import format_path, parse_path

from .conftest import Compile, OrderIn


@pytest.mark.parametrize(("text", "segments"), [
    ("order.items[0].price", ("order", "items", 0, "price")),
    ("items[-1]", ("items", -1)),
    ("items.0.price", ("items", 0, "price")),
    ('value[0]["odata.metadata"]', ("value", 0, "odata.metadata")),
    ("Товары.Товар[1].@Ид", ("Товары", "Товар", 1, "@Ид")),
    ("['a b'].c", ("a b", "c")),
])
def test_paths_parse_into_segments_and_print_back(text: str, segments: tuple[Any, ...]) -> None:
    assert parse_path(text) == segments
    assert parse_path(format_path(segments)) == segments


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty path: expected a name such as items or deliveryInfo.phoneNumber"),
    ("a..b", "invalid path 'a..b' at character 2: expected a name such as items, an index such as [0], "
             "or a key in quotes such as [\"odata.count\"]"),
    ("[0].a", "invalid path '[0].a': it must start with a name"),
])
def test_bad_paths_say_where(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_path(text)
    assert str(caught.value) == message


def test_nested_json_list_indexes_and_quoted_keys(order_in: OrderIn, base_order: dict[str, Any]) -> None:
    mapping = order_in("""
        number: meta["order.number"]
        comment: notes[-1].text
        customer.first_name: guest.names[0]
        """)
    record = {**base_order, "meta": {"order.number": "77"}, "notes": [{"text": "a"}, {"text": "last"}],
              "guest": {"names": ["Анна", "Anna"]}}
    order = mapping.apply(record)
    assert (order.number, order.comment, order.customer.first_name) == ("77", "last", "Анна")


def test_missing_values_take_the_default_or_are_left_out(order_in: OrderIn, base_order: dict[str, Any]) -> None:
    mapping = order_in("""
        number: {from: nothing.here, default: 'n/a'}
        comment: items[5].name
        """)
    order = mapping.apply(base_order)
    assert order.number == "n/a"
    assert order.comment is None


def test_required_field_missing_is_an_invalid_record(order_in: OrderIn, base_order: dict[str, Any]) -> None:
    mapping = order_in("number: {from: order.number, required: true}")
    with pytest.raises(InvalidRecord) as caught:
        mapping.apply(base_order)
    assert str(caught.value) == "number: required, but the input has no 'order.number'"


XML = """\
<Документ xmlns="urn:1C.ru:commerceml_2" Ид="D-1">
  <Номер>42</Номер>
  <Дата>2024-05-01</Дата>
  <Время>12:30:00</Время>
  <Сумма>1 250,50</Сумма>
  <Товары>
    <Товар Ид="p-1"><Наименование>Пицца</Наименование><Количество>2</Количество><Цена>450</Цена>
      <Сумма>900</Сумма></Товар>
    <!-- a comment between elements is not an item -->
    <Товар Ид="p-2"><Наименование>Кола</Наименование><Количество>1</Количество><Цена>350,50</Цена>
      <Сумма>350.50</Сумма></Товар>
  </Товары>
</Документ>
"""


def test_xml_records_child_tags_attributes_text_and_repeated_elements(compile_mapping: Compile) -> None:
    mapping = compile_mapping("""
        system: site
        fields:
          channel: {value: site}
          external_id: "@Ид"
          number: Номер
          created_at: {expr: "Дата + 'T' + Время", transform: datetime}
          total: {from: Сумма, transform: money}
          comment: Товары.Товар[1].@Ид
          lines:
            each: Товары.Товар
            fields:
              product: "@Ид"
              name: Наименование
              quantity: {from: Количество, transform: decimal}
              unit_price: {from: Цена, transform: money}
              sum: {from: Сумма, transform: money}
        """)
    order = mapping.apply(etree.fromstring(XML.encode()))
    assert (order.external_id, order.number, str(order.total), order.comment) == ("D-1", "42", "1250.50", "p-2")
    assert order.created_at.isoformat() == "2024-05-01T12:30:00+03:00"
    assert [(line.product, line.name, str(line.unit_price)) for line in order.lines] == [
        ("p-1", "Пицца", "450.00"), ("p-2", "Кола", "350.50")]


def test_xml_as_dicts_from_a_streaming_parser_single_item_is_a_list_of_one(compile_mapping: Compile) -> None:
    mapping = compile_mapping("""
        system: site
        fields:
          channel: {value: site}
          external_id: "@Ид"
          created_at: {value: '2024-05-01T12:00:00+03:00'}
          total: {from: Сумма, transform: money}
          lines:
            each: Товары.Товар
            fields: {product: "@Ид", name: Наименование, quantity: {value: 1}, unit_price: {value: 5}, sum: {value: 5}}
        """)
    record = {"@Ид": "D-2", "Сумма": "5", "Товары": {"Товар": {"@Ид": "p-9", "Наименование": "Чай"}}}
    order = mapping.apply(record)
    assert [line.product for line in order.lines] == ["p-9"]
