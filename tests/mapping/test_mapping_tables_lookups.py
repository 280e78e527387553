"""Value tables and id-link lookups, with every on_missing policy."""

from __future__ import annotations

from typing import Any

import pytest

from hub.errors import ConfigError, InvalidRecord, UnresolvedReference
from hub.mapping import DictLinks
from hub.model import OrderStatus

from .conftest import Compile, OrderIn

STATUS_TABLE = """
tables:
  status:
    values: {NEW: new, COOKING: in_progress, 1: accepted}
    on_missing: %s
"""


@pytest.mark.parametrize(("policy", "word", "expected"), [
    ("dead_letter", "COOKING", OrderStatus.IN_PROGRESS),
    ("dead_letter", 1, OrderStatus.ACCEPTED),          # keys are compared as text
    ("default\n    default: cancelled", "GONE", OrderStatus.CANCELLED),
    ("keep", "ready", OrderStatus.READY),
])
def test_status_table_with_its_fallback(order_in: OrderIn, base_order: dict[str, Any], policy: str, word: Any,
                                        expected: OrderStatus) -> None:
    mapping = order_in("status: {from: state, transform: {table: status}}", top=STATUS_TABLE % policy)
    assert mapping.apply({**base_order, "state": word}).status is expected


def test_table_dead_letter_names_the_value_and_the_table(order_in: OrderIn, base_order: dict[str, Any]) -> None:
    mapping = order_in("status: {from: state, transform: {table: status}}", top=STATUS_TABLE % "dead_letter")
    with pytest.raises(InvalidRecord) as caught:
        mapping.apply({**base_order, "state": "LOST"})
    assert str(caught.value) == "status: 'LOST' is not in table 'status'"


def test_channel_status_to_canonical_to_1c_enum(compile_mapping: Compile) -> None:
    mapping = compile_mapping("""
        system: onec
        tables:
          status:
            values: {new: НеСогласован, delivered: Закрыт}
            on_missing: default
            default: КОбеспечению
        fields:
          Статус: {from: status, transform: {table: status}}
        """, "orders.out.yaml")
    assert mapping.apply({"status": OrderStatus.DELIVERED}) == {"Статус": "Закрыт"}
    assert mapping.apply({"status": OrderStatus.READY}) == {"Статус": "КОбеспечению"}


LINES = """
system: onec
fields:
  Товары:
    each: lines
    fields:
      Номенклатура_Key:
        from: product
        transform: {lookup: {entity: catalog, system_from: root.channel, on_missing: %s}}
      Количество: quantity
"""
ORDER = {"channel": "shop", "lines": [{"product": "p1", "quantity": 1}, {"product": "p2", "quantity": 2}]}
LINKS = DictLinks({"shop:catalog:p1": "ref-1"})


def test_lookup_found_links(compile_mapping: Compile) -> None:
    mapping = compile_mapping(LINES % "dead_letter", "orders.out.yaml")
    both = DictLinks({"shop:catalog:p1": "ref-1", "shop:catalog:p2": "ref-2"})
    assert mapping.apply(ORDER, links=both)["Товары"] == [
        {"Номенклатура_Key": "ref-1", "Количество": 1}, {"Номенклатура_Key": "ref-2", "Количество": 2}]


def test_lookup_dead_letter_is_an_unresolved_reference_with_the_reason(compile_mapping: Compile) -> None:
    mapping = compile_mapping(LINES % "dead_letter", "orders.out.yaml")
    with pytest.raises(UnresolvedReference) as caught:
        mapping.apply(ORDER, links=LINKS)
    assert str(caught.value) == "Товары[1].Номенклатура_Key: no id link for catalog 'p2' from shop"


def test_lookup_drop_leaves_the_line_out(compile_mapping: Compile) -> None:
    mapping = compile_mapping(LINES % "drop", "orders.out.yaml")
    assert mapping.apply(ORDER, links=LINKS)["Товары"] == [{"Номенклатура_Key": "ref-1", "Количество": 1}]


def test_lookup_default_from_config(compile_mapping: Compile) -> None:
    mapping = compile_mapping(LINES % "default, default: {config: unknown_product}", "orders.out.yaml",
                              config={"unknown_product": "ref-other"})
    assert [line["Номенклатура_Key"] for line in mapping.apply(ORDER, links=LINKS)["Товары"]] == [
        "ref-1", "ref-other"]


def test_customer_phone_to_counterparty_with_a_fixed_system(compile_mapping: Compile) -> None:
    mapping = compile_mapping("""
        system: onec
        fields:
          Контрагент_Key:
            from: customer.phones[0]
            transform: {lookup: {entity: customers, system: phone, on_missing: default, default: retail}}
        """, "orders.out.yaml")
    links = DictLinks({"phone:customers:+79991234567": "cp-1"})
    assert mapping.apply({"customer": {"phones": ["+79991234567"]}}, links=links) == {"Контрагент_Key": "cp-1"}
    assert mapping.apply({"customer": {"phones": ["+70000000000"]}}, links=links) == {"Контрагент_Key": "retail"}


def test_a_bare_id_in_preview_links_matches_any_system() -> None:
    assert DictLinks({"p1": "ref-1"}).resolve("iiko", "catalog", "p1") == "ref-1"
    assert DictLinks({"p1": "ref-1"}).resolve("iiko", "catalog", "p2") is None


def test_drop_outside_a_list_is_refused_when_loading(compile_mapping: Compile) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_mapping("""
            system: onec
            fields:
              Склад_Key: {from: channel, transform: {lookup: {entity: stock, system: x, on_missing: drop}}}
            """, "orders.out.yaml")
    assert caught.value.problems == [
        f"{caught.value.problems[0].split(': ')[0]}: fields.Склад_Key.transform.lookup: this lookup has "
        "on_missing: drop, which leaves out a list item, but this field is not inside each; use dead_letter "
        "or default here"]


def test_table_drop_leaves_the_line_out(compile_mapping: Compile) -> None:
    mapping = compile_mapping("""
        system: onec
        tables:
          kinds: {values: {Пицца: Блюдо, Кола: Напиток}, on_missing: drop}
        fields:
          Товары:
            each: lines
            fields:
              Вид: {from: name, transform: {table: kinds}}
        """, "orders.out.yaml")
    order = {"lines": [{"name": "Кола"}, {"name": "Пакет"}, {"name": "Пицца"}]}
    assert mapping.apply(order)["Товары"] == [{"Вид": "Напиток"}, {"Вид": "Блюдо"}]
