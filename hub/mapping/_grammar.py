"""The words of a mapping file, each with its meaning.

One list serves the compiler (unknown keys, 'did you mean'), the JSON Schema
in ``mappings/schema.json`` and the reference in ``docs/mappings.md``, so the
three cannot drift apart.
"""

from __future__ import annotations

import re

DIRECTIONS = ("in", "out")
FILE_NAME = re.compile(r"^(?P<entity>[a-z_]+)\.(?P<direction>in|out)\.ya?ml$")

TOP_KEYS: dict[str, str] = {
    "system": "The system this file maps, as a source name or connector family: iiko, yandex_eda, onec.",
    "entity": "What is mapped: orders, stock, prices, catalog, customers or company (the organization receipts are "
              "issued by). Optional: the file name says it.",
    "direction": "in: the system's record → a canonical record; out: a canonical record → the system's record. "
                 "Optional: the file name says it.",
    "description": "Free text for people.",
    "target": "out only: the object the result is written to, e.g. Document_ЗаказКлиента.",
    "source": "in only: the object records are read from, e.g. Catalog_Номенклатура.",
    "match_by": "out only: the result field that carries hub's idempotency key; the connector looks an object "
                "up by it before creating one, e.g. НомерПоДаннымКлиента.",
    "options": "Settings for the connector that reads or writes this object (its documentation lists them), "
               "e.g. {virtual_table: Balance}.",
    "constants": "Named values for expressions: const.vat_rate.",
    "tables": "Value tables, used by the table transform.",
    "skip_when": "Record filters: expressions; the record is skipped when any is true.",
    "fields": "What to map: target field → a source path, or a field block.",
}

SOURCE_KEYS = ("from", "value", "config", "expr", "each")

FIELD_KEYS: dict[str, str] = {
    "from": "A path into the record: deliveryInfo.phoneNumber, items[0].price, Товар.@Ид, root.channel.",
    "value": "A constant value.",
    "config": "A value from the configuration the engine passes, as a dotted path: venues.main.warehouse.",
    "expr": "An expression computed from the record: quantity * price.",
    "each": "A path to a list; every item is mapped with fields into a list (order lines, 1C tabular sections).",
    "fields": "Fields of a nested object (with from: read from that path) or of each list item (with each).",
    "transform": "Transforms applied in order: a name, or {name: options}, or a list of them.",
    "default": "Used when the value is empty; taken as written, not transformed. {config: path} reads config.",
    "required": "true: an empty value sends the record to dead letters with the reason.",
    "when": "An expression; the field is mapped only when it is true.",
    "skip_when": "With each: expressions; an item is left out when any is true.",
}

TABLE_KEYS: dict[str, str] = {
    "values": "The table: input value → output value. Keys are compared as text.",
    "on_missing": "What to do with a value not in the table: dead_letter, drop, default or keep.",
    "default": "The output for values not in the table (with on_missing: default).",
}

RESERVED_NAMES: dict[str, str] = {
    "root": "The whole record being mapped (from inside a list item, the order itself).",
    "parent": "The enclosing object: inside an order line, the order; parent.parent goes further.",
    "item": "The current object, explicitly (item.sum when sum is also a function name).",
    "index": "The position of the current list item, from 0.",
    "const": "The constants of this file.",
    "config": "The configuration the engine passes: config.venues.main.warehouse.",
}
