"""The JSON Schema of mapping files, published as ``mappings/schema.json`` for editors.

Generated from the same vocabularies the compiler uses; a test keeps the
published file in step. Regenerate it with::

    python -m hub.mapping._schema > mappings/schema.json
"""

from __future__ import annotations

from typing import Any

from hub.mapping._grammar import DIRECTIONS, FIELD_KEYS, TABLE_KEYS, TOP_KEYS
from hub.mapping._lookup import LOOKUP_POLICIES, TABLE_POLICIES
from hub.mapping._transforms import TRANSFORMS
from hub.model import Entity
from hub.values import json_dumps

_EXPRESSION = {"type": "string", "description": "An expression, such as quantity * price or status == 'NEW'."}


def _transform() -> dict[str, Any]:
    plain = [name for name, t in TRANSFORMS.items() if t.args != "required"]
    with_options = {name: {**(t.args_schema or {}), "description": t.summary}
                    for name, t in TRANSFORMS.items() if t.args != "none"}
    return {
        "anyOf": [
            {"enum": plain, "description": "A transform without options."},
            {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
             "properties": with_options, "description": "A transform with options: {name: options}."},
        ],
    }


def _default_value() -> dict[str, Any]:
    return {"anyOf": [
        {"type": ["string", "number", "integer", "boolean", "array", "null"]},
        {"type": "object", "required": ["config"], "additionalProperties": False,
         "properties": {"config": {"type": "string"}}},
    ]}


def build_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07, which most editors support) of a mapping file."""
    field_types: dict[str, Any] = {
        "from": {"type": "string"},
        "value": {},
        "config": {"type": "string"},
        "expr": _EXPRESSION,
        "each": {"type": "string"},
        "fields": {"$ref": "#/definitions/fields"},
        "transform": {"anyOf": [{"$ref": "#/definitions/transform"},
                                {"type": "array", "items": {"$ref": "#/definitions/transform"}}]},
        "default": {"$ref": "#/definitions/default"},
        "required": {"type": "boolean"},
        "when": _EXPRESSION,
        "skip_when": {"$ref": "#/definitions/conditions"},
    }
    top_types: dict[str, Any] = {
        "system": {"type": "string"},
        "entity": {"enum": [entity.value for entity in Entity]},
        "direction": {"enum": list(DIRECTIONS)},
        "description": {"type": "string"},
        "target": {"type": "string"},
        "source": {"type": "string"},
        "match_by": {"type": "string"},
        "options": {"type": "object"},
        "constants": {"type": "object"},
        "tables": {"type": "object", "additionalProperties": {"$ref": "#/definitions/table"}},
        "skip_when": {"$ref": "#/definitions/conditions"},
        "fields": {"$ref": "#/definitions/fields"},
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "hub mapping file",
        "description": "How one system's records map to hub's canonical model (in) or back (out). "
                       "See docs/mappings.md.",
        "type": "object",
        "additionalProperties": False,
        "required": ["system", "fields"],
        "properties": {key: {**top_types[key], "description": text} for key, text in TOP_KEYS.items()},
        "definitions": {
            "fields": {"type": "object", "minProperties": 1,
                       "description": "Target field → a source path, or a field block.",
                       "additionalProperties": {"anyOf": [
                           {"type": "string", "description": "A path into the record, such as order.id."},
                           {"$ref": "#/definitions/field"}]}},
            "field": {"type": "object", "additionalProperties": False,
                      "properties": {key: {**field_types[key], "description": text}
                                     for key, text in FIELD_KEYS.items()}},
            "transform": _transform(),
            "default": _default_value(),
            "conditions": {"anyOf": [_EXPRESSION, {"type": "array", "items": _EXPRESSION}]},
            "table": {"type": "object", "additionalProperties": False, "required": ["values", "on_missing"],
                      "properties": {
                          "values": {"type": "object", "description": TABLE_KEYS["values"]},
                          "on_missing": {"enum": list(TABLE_POLICIES), "description": TABLE_KEYS["on_missing"]},
                          "default": {"$ref": "#/definitions/default"},
                      }},
            "lookup": {"type": "object", "additionalProperties": False, "required": ["entity", "on_missing"],
                       "properties": {
                           "entity": {"enum": [entity.value for entity in Entity],
                                      "description": "The kind of object the id names."},
                           "system": {"type": "string", "description": "The system the id comes from."},
                           "system_from": {"type": "string",
                                           "description": "A path to the system's name, e.g. root.channel."},
                           "on_missing": {"enum": list(LOOKUP_POLICIES),
                                          "description": "What to do when no id is linked."},
                           "default": {"$ref": "#/definitions/default"},
                       }},
        },
    }


def schema_text() -> str:
    """The schema as the text of ``mappings/schema.json``."""
    return json_dumps(build_schema(), indent=2) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(schema_text())
