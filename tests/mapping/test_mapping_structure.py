"""Nested objects and lists, conditions and filters, constants and configuration, compile-once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.errors import ConfigError, InvalidRecord
from hub.mapping import load_mapping
from hub.model import Order

from .conftest import Compile, OrderIn, write_mapping

LINES = """
lines:
  each: items
  skip_when: [deleted, quantity == 0]
  fields:
    product: id
    name: {expr: "f'{name} ({parent.id})' if root.label else name"}
    quantity: {from: quantity, transform: decimal}
    unit_price: {from: price, transform: money}
    sum: {expr: "money(quantity * decimal(price))"}
    modifiers:
      each: options
      fields:
        name: {expr: "f'{index + 1}. {title}'"}
        unit_price: {from: price, transform: money, default: 0}
"""
ITEMS = [
    {"id": "p1", "name": "Пицца", "quantity": 2, "price": "450", "options": [{"title": "сыр", "price": 50},
                                                                              {"title": "без лука"}]},
    {"id": "p2", "name": "Удалено", "quantity": 1, "price": "1", "deleted": True},
    {"id": "p3", "name": "Ноль", "quantity": 0, "price": "1"},
    {"id": "p4", "name": "Кола", "quantity": Decimal("1.5"), "price": "100.10"},
]


def test_nested_lists_with_item_filters_index_parent_and_root(order_in: OrderIn, base_order: dict[str, Any]) -> None:
    order = order_in(LINES).apply({**base_order, "items": ITEMS, "label": True})
    assert [(line.product, line.name, line.sum) for line in order.lines] == [
        ("p1", "Пицца (A1)", Decimal("900.00")), ("p4", "Кола (A1)", Decimal("150.15"))]
    assert [(m.name, m.unit_price) for m in order.lines[0].modifiers] == [
        ("1. сыр", Decimal(50)), ("2. без лука", Decimal(0))]


def test_failures_inside_lists_name_the_item(order_in: OrderIn, base_order: dict[str, Any]) -> None:
    items = [ITEMS[0], {"id": "p9", "name": "x", "quantity": 1, "price": "abc"}]
    with pytest.raises(InvalidRecord) as caught:
        order_in(LINES).apply({**base_order, "items": items})
    assert str(caught.value) == "lines[1].unit_price: money: not a number: 'abc'"


def test_object_blocks_dotted_targets_and_lists_of_values(order_in: OrderIn, base_order: dict[str, Any]) -> None:
    mapping = order_in("""
        customer:
          from: guest
          fields:
            first_name: {from: name, transform: trim}
            phones: {expr: "[phone, extra_phone]", transform: phone}
            emails: {from: email, transform: email}
            ids.shop: {from: parent.id}
        delivery.type: {value: pickup}
        delivery.address: {from: address, when: "address != ''"}
        """)
    guest = {"name": " Анна ", "phone": "8 999 123-45-67", "extra_phone": None, "email": "A@B.RU"}
    order = mapping.apply({**base_order, "guest": guest, "address": ""})
    assert order.customer is not None and order.delivery is not None
    assert (order.customer.first_name, order.customer.phones, order.customer.emails) == (
        "Анна", ["+79991234567"], ["a@b.ru"])
    assert order.customer.ids == {"shop": "A1"}
    assert (order.delivery.type.value, order.delivery.address) == ("pickup", None)
    assert order_in("customer: {from: guest, fields: {first_name: name}}").apply(base_order).customer is None


def test_record_filters_skip_records(order_in: OrderIn, base_order: dict[str, Any]) -> None:
    mapping = order_in("comment: note", top="""
        skip_when:
          - "'test' in lower(coalesce(note, ''))"
          - status == 'DELETED'
        """)
    assert mapping.apply({**base_order, "note": "TEST order"}) is None
    assert mapping.apply({**base_order, "status": "DELETED"}) is None
    assert isinstance(mapping.apply({**base_order, "note": "позвонить"}), Order)


def test_when_maps_a_field_only_when_true(order_in: OrderIn, base_order: dict[str, Any]) -> None:
    mapping = order_in("discount: {from: promo.amount, transform: money, when: promo.active}")
    assert mapping.apply({**base_order, "promo": {"active": True, "amount": "10"}}).discount == Decimal("10.00")
    assert mapping.apply({**base_order, "promo": {"active": False, "amount": "10"}}).discount == Decimal(0)


def test_constants_and_config_values(compile_mapping: Compile) -> None:
    mapping = compile_mapping("""
        system: onec
        constants:
          vat: 20
          operation: РеализацияКлиенту
        fields:
          Склад_Key: {config: venues.main.warehouse}
          ХозяйственнаяОперация: {expr: const.operation}
          СтавкаНДС: {expr: "f'НДС{const.vat}'"}
          Валюта: {value: RUB}
          Организация_Key: {expr: config.organization}
        """, "orders.out.yaml", config={"venues": {"main": {"warehouse": "wh-1"}}, "organization": "org-1"})
    assert mapping.apply({}) == {"Склад_Key": "wh-1", "ХозяйственнаяОперация": "РеализацияКлиенту",
                                 "СтавкаНДС": "НДС20", "Валюта": "RUB", "Организация_Key": "org-1"}


def test_a_missing_config_value_stops_loading(compile_mapping: Compile) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_mapping("""
            system: onec
            fields:
              Склад_Key: {config: venues.main.warehous}
            """, "orders.out.yaml", config={"venues": {"main": {"warehouse": "wh-1"}}})
    assert caught.value.problems[0].endswith(
        ":3:23: fields.Склад_Key.config: config value 'venues.main.warehous' is not set "
        "(did you mean 'warehouse'?)")


def test_mapping_is_compiled_once_the_yaml_is_never_read_again(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, """
        system: onec
        fields:
          Сумма: {from: total, transform: money}
        """, "orders.out.yaml")
    mapping = load_mapping(path)
    path.unlink()
    assert [mapping.apply({"total": n}) for n in (1, 2)] == [{"Сумма": Decimal("1.00")}, {"Сумма": Decimal("2.00")}]
    assert (mapping.system, mapping.entity.value, mapping.direction) == ("onec", "orders", "out")


def test_in_mappings_build_canonical_models_and_report_validation(order_in: OrderIn,
                                                                  base_order: dict[str, Any]) -> None:
    mapping = order_in("status: state")
    assert isinstance(mapping.apply({**base_order, "state": "new"}), Order)
    with pytest.raises(InvalidRecord) as caught:
        mapping.apply({**base_order, "state": "cooking"})
    assert str(caught.value) == ("status: Input should be 'new', 'accepted', 'in_progress', 'ready', "
                                 "'in_delivery', 'delivered' or 'cancelled'")


def test_required_lists_and_objects(order_in: OrderIn, base_order: dict[str, Any]) -> None:
    mapping = order_in("""
        lines:
          each: items
          required: true
          fields: {product: id, name: id, quantity: {value: 1}, unit_price: {value: 1}, sum: {value: 1}}
        customer: {from: guest, required: true, fields: {first_name: name}}
        """)
    with pytest.raises(InvalidRecord) as caught:
        mapping.apply({**base_order, "items": [], "guest": {"name": "A"}})
    assert str(caught.value) == "lines: required, but the input has no items in 'items'"
    with pytest.raises(InvalidRecord) as caught:
        mapping.apply({**base_order, "items": [{"id": "p"}]})
    assert str(caught.value) == "customer: required, but the input has no 'guest'"
