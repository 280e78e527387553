"""``hub mappings check``: every problem at once, word for word, with file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.mapping import check_paths, load_mapping

from .conftest import REPO, Problems, write_mapping

TYPICAL_MISTAKES = """\
system: iiko
tables:
  status:
    values: {NEW: new, COOKING: in_progress}
  kinds:
    values: {Cash: cash}
    on_missing: defualt
fields:
  channel: {value: iiko}
  external_id: {from: id, defualt: x}
  totl: {from: sum, transform: money}
  created_at: {from: whenCreated, transform: [trim, kopeks]}
  status: {from: status, transform: {table: statuses}}
  number: {from: number, expr: "string(number)"}
  comment: {}
  customer:
    fields:
      phones: {from: phone, transform: {phone: {contry: '7'}}}
      first_name: {from: name, when: "name.strip() != ''"}
  lines:
    each: items
    fields:
      product: {from: product.id, transform: {lookup: {entity: products, system: iiko, on_missing: drop}}}
      quantity: {from: amount, transform: {unit: {from: g, to: l}}}
      sum: {from: sum, transform: round}
  delivery.type: {value: courrier}
"""


def test_typical_mistakes_are_all_reported_at_once_word_for_word(problems: Problems) -> None:
    assert problems(TYPICAL_MISTAKES) == [
        "orders.in.yaml:3:3: tables.status: table 'status' needs on_missing: what to do when nothing matches "
        "(dead_letter, drop, default, keep)",
        "orders.in.yaml:7:17: tables.kinds.on_missing: unknown on_missing 'defualt' (did you mean 'default'?)",
        "orders.in.yaml:8:1: fields: required canonical field 'total' of Order is not mapped",
        "orders.in.yaml:10:27: fields.external_id.defualt: unknown key 'defualt' (did you mean 'default'?)",
        "orders.in.yaml:11:3: fields.totl: unknown canonical field 'totl' of Order (did you mean 'total'?)",
        "orders.in.yaml:12:53: fields.created_at.transform[1]: unknown transform 'kopeks' "
        "(did you mean 'kopecks'?)",
        "orders.in.yaml:13:45: fields.status.transform.table: unknown table 'statuses' (did you mean 'status'?)",
        "orders.in.yaml:14:3: fields.number: give one source, not from and expr: from, value, config, expr "
        "or each",
        "orders.in.yaml:15:3: fields.comment: no source: give one of from, value, config, expr or each",
        "orders.in.yaml:18:49: fields.customer.fields.phones.transform.phone.contry: unknown option 'contry' "
        "of phone (did you mean 'country'?)",
        "orders.in.yaml:19:38: fields.customer.fields.first_name.when: methods such as .strip() cannot be "
        "called; call a function instead (use trim(...)) (at character 1)",
        "orders.in.yaml:22:5: fields.lines.fields: required canonical field 'name' of OrderLine is not mapped",
        "orders.in.yaml:22:5: fields.lines.fields: required canonical field 'unit_price' of OrderLine is not "
        "mapped",
        "orders.in.yaml:23:64: fields.lines.fields.product.transform.lookup.entity: unknown entity 'products' "
        "(known: catalog, company, customers, orders, prices, stock)",
        "orders.in.yaml:24:64: fields.lines.fields.quantity.transform.unit.to: cannot convert g (mass) "
        "to l (volume)",
        "orders.in.yaml:25:35: fields.lines.fields.sum.transform: round needs options, such as round: 3",
        "orders.in.yaml:26:26: fields.delivery.type.value: value 'courrier' is not a valid DeliveryType "
        "(expected one of: courier, pickup, dine_in)",
    ]


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("orders.in.yaml", "system: x\nfields:\n  channel: {value: x\n",
     ["orders.in.yaml:4:1: invalid YAML: expected ',' or '}', but got '<stream end>'"]),
    ("orders.in.yaml", "system: x\nfields:\n  total: {from: items[0].price}\n",
     ["orders.in.yaml:3:22: invalid YAML: expected ',' or '}', but got '[' (inside {...} write an index with "
      "a dot, {from: items.0.price}, or quote the path)"]),
    ("orders.out.yaml", "system: x\nsystem: y\nfields: {A: number}\n",
     ["orders.out.yaml:2:1: duplicate key 'system' (first defined at line 1)"]),
    ("orders.yaml", "system: x\nfields: {id: a}\n",
     ["orders.yaml:1:1: the file name 'orders.yaml' must be <entity>.<in|out>.yaml, such as orders.in.yaml"]),
    ("order.in.yaml", "system: x\nfields: {id: a}\n",
     ["order.in.yaml:1:1: the file name 'order.in.yaml' names unknown entity 'order' (did you mean 'orders'?)"]),
    ("orders.out.yaml", "system: x\ndirection: in\nfields: {Number: number}\n",
     ["orders.out.yaml:2:12: direction: direction 'in' does not match the file name 'orders.out.yaml'"]),
    ("orders.out.yaml", "fields:\n  Number: numbr\n",
     ["orders.out.yaml:1:1: missing key 'system': The system this file maps, as a source name or connector "
      "family: iiko, yandex_eda, onec.",
      "orders.out.yaml:2:11: fields.Number.from: unknown canonical field 'numbr' of Order (did you mean "
      "'number'?)"]),
    ("orders.out.yaml", "system: onec\nfields:\n  Телефон: customer.phone\n  Товары: {each: line, fields: {a: b}}\n",
     ["orders.out.yaml:3:12: fields.Телефон.from: unknown canonical field 'phone' of Customer (at customer) "
      "(did you mean 'phones'?)",
      "orders.out.yaml:4:18: fields.Товары.each: unknown canonical field 'line' of Order (did you mean 'lines'?)"]),
    ("orders.out.yaml", "system: onec\nfields:\n  Сумма: {from: lines.sum}\n",
     ["orders.out.yaml:3:17: fields.Сумма.from: lines is a list of object (OrderLine); read one item with "
      "lines[0].sum or map every item with each"]),
    ("orders.in.yaml", "system: x\nfields:\n  channel: {value: x}\n  external_id: id\n  created_at: at\n"
                       "  total: {from: sum}\n  customer.phones: p\n  customer: {fields: {first_name: n}}\n",
     ["orders.in.yaml:8:3: fields.customer: customer is mapped twice: here and at line 7"]),
    ("orders.in.yaml", "system: x\ntables: {s: {values: {A: cooking}, on_missing: dead_letter}}\nfields:\n"
                       "  channel: {value: x}\n  external_id: id\n  created_at: at\n  total: {from: sum}\n"
                       "  status: {from: st, transform: {table: s}}\n",
     ["orders.in.yaml:2:26: tables.s.values.A: table 's' maps 'A' to 'cooking', which is not a valid "
      "OrderStatus (expected one of: new, accepted, in_progress, ready, in_delivery, delivered, cancelled)"]),
    ("orders.out.yaml", "system: onec\nfields:\n  X: {from: total, transform: {money: 2}}\n"
                        "  Y: {from: total, transform: {datetime: {timezone: Europe/Mosow}}}\n",
     ["orders.out.yaml:3:32: fields.X.transform.money: money takes no options; write it as a plain name: - money",
      "orders.out.yaml:4:53: fields.Y.transform.datetime.timezone: unknown time zone 'Europe/Mosow' (use an "
      "IANA name such as Europe/Moscow)"]),
])
def test_single_mistakes_word_for_word(problems: Problems, name: str, text: str, expected: list[str]) -> None:
    assert problems(text, name) == expected


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("orders.in.yaml", "system: x\ntarget: Document_X\nfields: {channel: a, external_id: b, created_at: c, total: d}\n",
     ["orders.in.yaml:2:9: target: target names the object an out mapping writes to; remove it here"]),
    ("orders.out.yaml", "system: x\nfields:\n  A: {from: total, skip_when: total == 0}\n",
     ["orders.out.yaml:3:31: fields.A.skip_when: skip_when filters the items of a list: use it with each; for a "
      "condition on this field use when"]),
    ("orders.out.yaml", "system: x\nfields:\n  A: {from: total, when: [total > 0, total < 9]}\n",
     ["orders.out.yaml:3:26: fields.A.when: when takes one expression; join conditions with and / or"]),
    ("orders.out.yaml", "system: x\nfields:\n  A: {each: lines}\n",
     ["orders.out.yaml:3:13: fields.A.each: each needs fields: what to map from every item"]),
])
def test_misplaced_keys_word_for_word(problems: Problems, name: str, text: str, expected: list[str]) -> None:
    assert problems(text, name) == expected


def test_check_walks_folders_and_skips_other_files(tmp_path: Path) -> None:
    write_mapping(tmp_path, "system: a\nfields: {Number: number}\n", "orders.out.yaml")
    write_mapping(tmp_path, "system: a\nfields: {Number: numbr}\n", "sub/orders.out.yaml")
    (tmp_path / "test" / "schema.json").write_text("{}")
    (tmp_path / "test" / "README.md").write_text("# notes")
    found = check_paths([tmp_path, tmp_path / "nothing-here"])
    assert found == [
        f"{tmp_path / 'nothing-here'}: no such file or directory",
        f"{tmp_path / 'test' / 'sub' / 'orders.out.yaml'}:2:18: fields.Number.from: unknown canonical field "
        "'numbr' of Order (did you mean 'number'?)",
    ]


def test_load_mapping_raises_config_error_with_every_problem(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "system: a\nfields: {A: numbr, B: totl}\n", "orders.out.yaml")
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    assert len(caught.value.problems) == 2
    assert caught.value.hint == "run `hub mappings check` after fixing the file"


def test_every_shipped_mapping_passes_check() -> None:
    assert check_paths([REPO / "mappings"]) == []


def test_config_values_are_not_judged_before_they_are_bound(problems: Problems, tmp_path: Path) -> None:
    text = ("system: x\nfields:\n  channel: {value: x}\n  external_id: id\n  created_at: at\n  total: sum\n"
            "  status: {config: default_status}\n")
    assert problems(text) == []
    path = write_mapping(tmp_path / "bound", text, "orders.in.yaml")
    with pytest.raises(ConfigError) as caught:
        load_mapping(path, config={})
    assert caught.value.problems == [f"{path}:7:20: fields.status.config: config value 'default_status' is not set"]


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("stock.out.yaml", "system: x\nsource: AccumulationRegister_X\nfields: {A: quantity}\n",
     ["stock.out.yaml:2:9: source: source names the object an in mapping reads from; remove it here"]),
    ("stock.in.yaml", "system: x\nmatch_by: Code\nfields: {product: a, warehouse: b, quantity: c, as_of: d}\n",
     ["stock.in.yaml:2:11: match_by: match_by names the field of an out mapping's result that carries the key; "
      "remove it here"]),
    ("stock.in.yaml", "system: x\noptions: [Balance]\nfields: {product: a, warehouse: b, quantity: c, as_of: d}\n",
     ["stock.in.yaml:2:10: options: options is a mapping of settings the connector reads, such as {filter: …}"]),
])
def test_connector_keys_in_the_wrong_direction_word_for_word(tmp_path: Path, name: str, text: str,
                                                             expected: list[str]) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert [p.replace(f"{tmp_path}/", "") for p in check_paths([path])] == expected
