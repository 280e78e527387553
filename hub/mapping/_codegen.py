"""Generating the Python source a mapping runs as, and compiling it once.

A mapping file becomes one small Python module: a function per block of
fields (the record, each nested object, each list item) and one for the
record filters. Calling plain functions whose bodies read dict keys and call
transforms directly is what brings a mapping close to hand-written code; a
tree of closures pays a call per field and per expression node.

Why generated code cannot run what a mapping file says
-------------------------------------------------------

Nothing a mapping file contains is ever written into the source. The source is
assembled from fixed fragments of this package and names this package makes
up; everything that comes from the file enters the module's namespace as an
*object*, never as text:

* every string, number, default, table, transform step, function and getter
  is stored in the module's globals under a generated name (``_c12``) by
  :meth:`Namespace.const`, and the source refers to that name;
* names and paths of the record (``order.customer.name``) become dictionary
  lookups ``obj.get(_c3)`` on such a constant key, never Python identifiers or
  attributes; target fields are stored the same way, ``out[_c4] = value``;
* local variables (``_r5``, ``_t2``, ``_v``) and function names (``_b1``) are
  counters, so no text of the file becomes an identifier;
* expressions were parsed by :mod:`ast` and checked against a whitelist
  (:mod:`hub.mapping._expr`) before anything is emitted; each allowed node is
  written out by this package as an operator or a call of a bound function;
* no comments or docstrings are emitted, so there is nothing to break out of;
* the module runs with empty ``__builtins__``: only the few built-ins listed in
  :data:`_BUILTINS` and the runtime classes are reachable from it.

A field named ``__import__('os')`` or a value ``'); import os; ('`` is thus
just a string constant looked up in a dictionary. ``CompiledMapping.code``
holds the generated module for reading, and ``CompiledMapping.bindings`` what
each generated name stands for.

Reads of the record are pure, so each block computes every path it needs once,
at its start, and shares prefixes (``order.customer`` for ``order.customer.name``
and ``order.customer.id``). A read tries plain dicts and canonical models
inline and falls back to the general getter of :mod:`hub.mapping._paths` (XML,
indexes, anything unusual), so every kind of record reads as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from hub.errors import InvalidRecord
from hub.mapping._paths import MODELS, Path, list_getter, node_getter, value_getter
from hub.mapping._runtime import Drop, Failure, Scope
from hub.mapping._transforms import AnyStep, Quantize, ScopedStep
from hub.values import to_decimal

Mode = Literal["value", "node", "list"]


@dataclass(frozen=True)
class Read:
    """A value read from the record: a path from the scope's data, the root or an enclosing object."""

    base: Literal["data", "root", "parent"]
    path: Path
    mode: Mode = "value"
    depth: int = 0  # how many enclosing objects up, for base "parent"


@dataclass(frozen=True, eq=False)
class Constant:
    """A value fixed when the mapping is compiled: a constant, a configuration value."""

    value: Any


@dataclass(frozen=True)
class Index:
    """The position of the current list item."""


Source = Read | Constant | Index
"""Where a name's value comes from, as the resolver of a mapping file finds it."""


@dataclass(frozen=True)
class Code:
    """A Python expression in generated source and the record reads it uses."""

    text: str
    reads: tuple[Read, ...] = ()


class _Missing:
    """A path step met something other than a dict or a model: the general getter reads it."""

    __slots__ = ()


SKIPPED: Any = object()
"""What a list item's block returns when a ``skip_when`` leaves the item out."""

_BUILTINS: dict[str, Any] = {"type": type, "dict": dict, "list": list, "len": len, "enumerate": enumerate}
_RUNTIME: dict[str, Any] = {
    "Failure": Failure, "Drop": Drop, "Scope": Scope, "InvalidRecord": InvalidRecord, "MODELS": MODELS,
    "MISSING": _Missing(), "SKIPPED": SKIPPED, "ERRORS": (ValueError, TypeError, ArithmeticError),
    "Decimal": Decimal, "ROUND_HALF_UP": ROUND_HALF_UP,
}
PRESET_NAMES = frozenset(_BUILTINS) | frozenset(_RUNTIME)
"""Every global of a generated module that is not a binding of its file."""
_VALUE_TYPES = (str, int)  # bound once per value: equal Decimals may differ in exponent, so not these


class Namespace:
    """The globals of one generated module: the objects its source refers to by generated names."""

    def __init__(self) -> None:
        self.globals: dict[str, Any] = {"__builtins__": {}, **_BUILTINS, **_RUNTIME}
        self.bindings: dict[str, Any] = {}
        self.sources: list[str] = []  # the generated functions, in the order they were written
        self._by_value: dict[tuple[type, Any], str] = {}
        self._by_id: dict[int, str] = {}
        self._reads: dict[Read, str] = {}
        self._prefixes: dict[tuple[str, Path], str] = {}
        self._getters: dict[tuple[Mode, Path], str] = {}
        self._count = 0

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"_{prefix}{self._count}"

    def const(self, value: Any) -> str:
        """The generated name ``value`` is bound to (the same name for the same object)."""
        key = (type(value), value) if type(value) in _VALUE_TYPES else None
        name = self._by_value.get(key) if key is not None else self._by_id.get(id(value))
        if name is None:
            name = self._name("c")
            self.globals[name] = self.bindings[name] = value
            if key is not None:
                self._by_value[key] = name
            else:
                self._by_id[id(value)] = name
        return name

    def read(self, read: Read) -> str:
        """The local variable a block holds ``read`` in (the same in every block that reads it)."""
        name = self._reads.get(read)
        if name is None:
            name = self._reads[read] = self._name("r")
        return name

    def prefix(self, base: str, path: Path) -> str:
        """The local variable a block holds the steps of a plain-key path in, up to ``path``."""
        name = self._prefixes.get((base, path))
        if name is None:
            name = self._prefixes[(base, path)] = self._name("p")
        return name

    def getter(self, mode: Mode, path: Path) -> str:
        """The name of the general getter of ``path`` (:mod:`hub.mapping._paths`), made once per path."""
        name = self._getters.get((mode, path))
        if name is None:
            make = {"value": value_getter, "node": node_getter, "list": list_getter}[mode]
            name = self._getters[(mode, path)] = self.const(make(path))
        return name

    def call(self, step: AnyStep, value: str) -> str:
        """Code applying ``step`` to the variable ``value``.

        The Decimal steps are written out for a Decimal, which is what they
        meet nearly always (to_decimal returns a Decimal as it is); anything
        else goes through the step itself.
        """
        if isinstance(step, ScopedStep):
            return f"{self.const(step.call)}({value}, scope)"
        if isinstance(step, Quantize):
            return (f"{value}.quantize({self.const(step.quantum)}, ROUND_HALF_UP) if type({value}) is Decimal "
                    f"else {self.const(step)}({value})")
        if step is to_decimal:
            return f"{value} if type({value}) is Decimal else {self.const(step)}({value})"
        return f"{self.const(step)}({value})"

    def temp(self) -> str:
        """A fresh local variable for an expression's intermediate value."""
        return self._name("t")

    def function(self) -> str:
        """A fresh function name."""
        return self._name("b")

    def code(self, source: Source) -> Code:
        """Code for a value from ``source``."""
        if isinstance(source, Constant):
            return Code(self.const(source.value))
        if isinstance(source, Index):
            return Code("scope.index")
        return Code(self.read(source), (source,))

    @property
    def source(self) -> str:
        """The generated module."""
        return "\n\n\n".join(self.sources) + "\n"

    def compile(self, filename: str) -> dict[str, Any]:
        """Compile the module once; its globals, which now hold the generated functions."""
        exec(compile(self.source, filename, "exec"), self.globals)  # noqa: S102 - see the module docstring
        return self.globals


@dataclass
class Writer:
    """One generated function being written: its body, and the reads its prelude computes."""

    namespace: Namespace
    name: str
    collect: bool = False  # preview: failures are collected in scope.run.failures instead of raised
    lines: list[str] = field(default_factory=list)
    reads: dict[Read, None] = field(default_factory=dict)

    def line(self, depth: int, text: str) -> None:
        """Add a line of the body, ``depth`` levels in."""
        self.lines.append("    " * (depth + 1) + text)

    def need(self, code: Code) -> str:
        """Register the reads of ``code``; its text."""
        self.reads.update(dict.fromkeys(code.reads))
        return code.text

    def source(self) -> str:
        """The function's source: the prelude (bases and reads), then the body."""
        head = [f"def {self.name}(scope):"]
        bases = {read.base if read.base != "parent" else f"parent{read.depth}" for read in self.reads}
        if "data" in bases:
            head.append("    data = scope.data")
        if "root" in bases:
            head.append("    root = scope.root")
        for depth in sorted(int(base[6:]) for base in bases if base.startswith("parent")):
            head.append(f"    parent{depth} = scope{'.parent' * depth}.data")
        if self.collect:
            head.append("    failures = scope.run.failures")
        done: set[str] = set()
        for read in self.reads:
            head.extend("    " + line for line in _read_lines(self.namespace, read, done))
        return "\n".join(head + self.lines)


def _base(read: Read) -> str:
    return read.base if read.base != "parent" else f"parent{read.depth}"


def _read_lines(namespace: Namespace, read: Read, done: set[str]) -> list[str]:
    """Lines computing ``read`` into its variable; variables already computed (``done``) are reused."""
    base, target, path, general = _base(read), namespace.read(read), read.path, namespace.getter(read.mode, read.path)
    # The general getter of a value turns an XML element into its text; inline reads never meet elements
    # but a value of an enclosing object always took the general getter, so it still does.
    if not path or not all(isinstance(s, str) for s in path) or (read.base == "parent" and read.mode == "value"):
        return [f"{target} = {general}({base})"]
    # Plain keys: each object on the way is looked at once, as the dict to read (a dict, or a model's
    # field values) or None; MISSING (anything else met on the way) falls back to the general getter.
    lines = []
    node = base
    for length, key in enumerate(path):
        view = namespace.prefix(f"{base} view", path[:length])
        step = namespace.prefix(base, path[:length + 1])
        if view not in done:
            done.add(view)
            lines.append(f"{view} = {node} if type({node}) is dict else {node}.__dict__ "
                         f"if type({node}) in MODELS else None")
        if step not in done:
            done.add(step)
            lines.append(f"{step} = {view}.get({namespace.const(key)}) if {view} is not None "
                         f"else None if {node} is None else MISSING")
        node = step
    if read.mode == "list":  # anything but a list (one item, a tuple, nothing) is the getter's to shape
        lines.append(f"{target} = {node} if type({node}) is list else {general}({base})")
    else:
        lines.append(f"{target} = {node} if {node} is not MISSING else {general}({base})")
    return lines


def reader(source: Source) -> Callable[[Scope], Any]:
    """A function reading ``source`` in a scope, for transforms that read the record (lookup's system_from)."""
    namespace = Namespace()
    fn = Writer(namespace, namespace.function())
    fn.line(0, f"return {fn.need(namespace.code(source))}")
    namespace.sources.append(fn.source())
    read: Callable[[Scope], Any] = namespace.compile("<mapping reader>")[fn.name]
    return read
