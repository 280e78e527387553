"""The generated code: text of a mapping file stays data, and what the code uses is bound."""

from __future__ import annotations

import dis
import types
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from hub.errors import InvalidRecord
from hub.mapping import CompiledMapping, load_mapping
from hub.mapping._codegen import PRESET_NAMES
from hub.values import json_dumps

from .conftest import REPO, Compile

EXAMPLES = sorted((REPO / "mappings" / "examples").rglob("*.yaml"))
CONFIG = {"organization": "org", "partner": "partner", "retail_customer": "retail", "agreement": "agr",
          "currency": "rub", "price_type": "retail-price", "venues": {"main": {"warehouse": "wh-main"}}}
INJECTIONS = ["__import__('os')", "'); import os; ('", '"); import os; ("', "x\nimport os", "{__builtins__}"]


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_objects(constant)


def _globals_loaded(mapping: CompiledMapping) -> set[str]:
    module = compile(mapping.code, "<test>", "exec")
    defined = {instruction.argval for instruction in dis.get_instructions(module) if instruction.opname == "STORE_NAME"}
    return {instruction.argval for code in _code_objects(module) for instruction in dis.get_instructions(code)
            if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")} - defined


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_name_the_generated_code_loads_is_bound(path: Path) -> None:
    mapping = load_mapping(path, config=CONFIG)
    loaded = _globals_loaded(mapping)
    assert loaded, "the source holds the generated functions"
    assert loaded <= set(mapping.bindings) | PRESET_NAMES
    assert "eval" not in loaded and "exec" not in loaded and "__import__" not in loaded


@pytest.mark.parametrize("text", INJECTIONS)
def test_text_from_the_file_is_data_never_code(compile_mapping: Compile, text: str) -> None:
    # JSON is YAML: the file is written with every string quoted exactly.
    literal = repr(text)  # as a string literal of the expression language
    mapping = compile_mapping(json_dumps({
        "system": "test",
        "constants": {"c": text},
        "tables": {"t": {"values": {text: text}, "on_missing": "default", "default": text}},
        "fields": {
            "__import__(os);exec(x)": {"value": text, "when": f"attributes.v != {literal}"},
            "expression": {"expr": f"concat(attributes.v, {literal}, const.c)"},
            "by_key": {"from": f"attributes['{text}']" if "'" not in text else f'attributes["{text}"]'},
            "table": {"from": "attributes.v", "transform": {"table": "t"}},
            "default": {"from": "attributes.missing", "default": text},
        },
    }), "catalog.out.yaml")
    result = mapping.apply({"attributes": {"v": "a", text: "by key"}})
    assert result == {"__import__(os);exec(x)": text, "expression": "a" + text + text, "by_key": "by key",
                      "table": text, "default": text}
    for fragment in (text, "import", "exec", "__builtins__"):
        assert fragment not in mapping.code


def test_an_expression_cannot_reach_python(compile_mapping: Compile) -> None:
    mapping = compile_mapping("""
        system: test
        fields:
          result: {expr: "attributes.__class__"}
          globals: {expr: "attributes['__globals__']"}
        """, "catalog.out.yaml")
    # A dot and a subscript both read keys of the record, whatever their names.
    assert mapping.apply({"attributes": {"__class__": "just a key"}}) == {"result": "just a key"}


def test_an_equal_pure_chain_is_computed_once_and_means_the_same(compile_mapping: Compile) -> None:
    mapping = compile_mapping("""
        system: test
        fields:
          first: {from: attributes.v, transform: {round: 1}}
          second: {from: attributes.v, transform: {round: 1}, default: 0}
          guarded: {from: attributes.v, transform: {round: 1}, when: "attributes.w"}
          third: {from: attributes.v, transform: {round: 1}, required: true}
        """, "catalog.out.yaml")
    # Raising the first failure: first, and third (it needs its own reason); preview computes all four.
    assert mapping.code.count("quantize") == 2 + 4
    assert mapping.apply({"attributes": {"v": Decimal("2.45"), "w": True}}) == {
        "first": Decimal("2.5"), "second": Decimal("2.5"), "guarded": Decimal("2.5"), "third": Decimal("2.5")}
    assert mapping.apply({"attributes": {"v": Decimal("2.45"), "w": False}}) == {
        "first": Decimal("2.5"), "second": Decimal("2.5"), "third": Decimal("2.5")}
    with pytest.raises(InvalidRecord, match=r"^first: round: not a number: 'x'$"):
        mapping.apply({"attributes": {"v": "x"}})
    with pytest.raises(InvalidRecord, match=r"^third: required, but the input has no 'attributes.v'$"):
        mapping.apply({"attributes": {}})
    assert mapping.trial({"attributes": {"v": "x"}}).failures[2].where() == "third"
