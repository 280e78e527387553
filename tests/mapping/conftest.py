"""Helpers for mapping tests: write a mapping file, compile it, run one transform."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest

from hub.mapping import CompiledMapping, check_paths, load_mapping

REPO = Path(__file__).resolve().parents[2]

Compile = Callable[..., CompiledMapping]
Problems = Callable[..., list[str]]


class Convert(Protocol):
    """Runs one transform on one value; options go to load_mapping (timezone)."""

    def __call__(self, transform: str, value: Any, **options: Any) -> Any: ...


def write_mapping(root: Path, text: str, name: str) -> Path:
    """Write ``text`` (dedented) as ``root/test/<name>``."""
    path = root / "test" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def compile_mapping(tmp_path: Path) -> Compile:
    """Compile mapping text written to ``test/<name>`` under tmp_path."""
    def make(text: str, name: str = "orders.in.yaml", *, config: Mapping[str, Any] | None = None,
             **options: Any) -> CompiledMapping:
        return load_mapping(write_mapping(tmp_path, text, name), config=config, **options)
    return make


@pytest.fixture
def problems(tmp_path: Path) -> Problems:
    """Every problem ``hub mappings check`` reports for mapping text, with the tmp path cut off."""
    def check(text: str, name: str = "orders.in.yaml") -> list[str]:
        path = write_mapping(tmp_path, text, name)
        return [problem.replace(f"{path.parent}/", "") for problem in check_paths([path])]
    return check


@pytest.fixture
def convert(compile_mapping: Compile) -> Convert:
    """Run one transform (YAML text, e.g. ``money`` or ``{round: 2}``) on one value.

    An out mapping of catalog reads ``attributes.v``, a free-form dict of the
    canonical Product, and writes ``result``; None when the result is empty.
    """
    def run(transform: str, value: Any, **options: Any) -> Any:
        mapping = compile_mapping(f"""
            system: test
            fields:
              result: {{from: attributes.v, transform: {transform}}}
            """, "catalog.out.yaml", **options)
        return mapping.apply({"attributes": {"v": value}}).get("result")
    return run


OrderIn = Callable[..., CompiledMapping]


@pytest.fixture
def base_order() -> dict[str, Any]:
    """A channel order with what every canonical Order needs; tests add their own keys."""
    return {"id": "A1", "created": "2024-05-01T12:00:00+03:00", "total": "100"}


@pytest.fixture
def order_in(compile_mapping: Compile) -> OrderIn:
    """An in mapping of orders: the fields every Order needs, then the test's own (YAML, indented as fields)."""
    def make(fields: str, *, top: str = "", **options: Any) -> CompiledMapping:
        text = (
            "system: shop\n" + textwrap.dedent(top).strip() + "\nfields:\n"
            "  channel: {value: shop}\n"
            "  external_id: id\n"
            "  created_at: {from: created, transform: datetime}\n"
            "  total: {from: total, transform: money}\n"
            + textwrap.indent(textwrap.dedent(fields).strip(), "  ") + "\n"
        )
        return compile_mapping(text, **options)
    return make
