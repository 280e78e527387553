"""The code of fields, nested objects, lists and blocks, as the generated module runs it.

A block of fields becomes a function of the scope that returns the object
it builds. A value field reads (a path, a constant or an expression), runs its
transform steps and stores the result; an object field calls its block's
function; a list field calls the item block's function for every item. Empty
values are left out, so a canonical model's own default applies and 1C keeps
its own.

A failure is raised with the field's path; nested objects and list items
prefix it on the way up (``lines[2].product``). Each block is written twice:
once raising the first failure (``apply``), once collecting every failure in
``scope.run.failures`` and going on with the next field (preview).

Everything written here follows the rules of :mod:`hub.mapping._codegen`:
values enter the source only as names bound in the namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.mapping._codegen import Code, Namespace, Writer
from hub.mapping._paths import Path
from hub.mapping._runtime import Failure, Scope
from hub.mapping._transforms import AnyStep, ScopedStep

NO_DEFAULT: Any = object()
_ERRORS = (ValueError, TypeError, ArithmeticError)


@dataclass(frozen=True)
class Block:
    """A compiled block of fields: the names of its two generated functions."""

    fast: str      # raises the first failure
    collect: str   # collects failures (preview)
    skips: bool    # list items only: returns SKIPPED when a skip_when is true


def _raise(namespace: Namespace, label: str, path: str) -> str:
    """A statement raising the failure for the exception ``_e`` caught at stage ``label``."""
    return f'raise Failure(f"{{{namespace.const(label)}}}: {{_e}}", path={path}) from None'


def _path(namespace: Namespace, target: Path) -> str:
    """The source of a new list holding ``target`` (each call makes its own: prefixes are added to it)."""
    return f"[{', '.join(namespace.const(segment) for segment in target)}]"


def _store(fn: Writer, depth: int, target: Path, value: str) -> None:
    *head, last = (fn.namespace.const(str(segment)) for segment in target)
    into = "out" + "".join(f".setdefault({key}, {{}})" for key in head)
    fn.line(depth, f"{into}[{last}] = {value}")


def _guard(fn: Writer, depth: int, when: Code | None, target: Path) -> int:
    """Write the field's ``when``; the depth of the code it guards."""
    if when is None:
        return depth
    fn.line(depth, "try:")
    fn.line(depth + 1, f"_w = {fn.need(when)}")
    fn.line(depth, "except ERRORS as _e:")
    fn.line(depth + 1, _raise(fn.namespace, "when", _path(fn.namespace, target)))
    fn.line(depth, "if _w:")
    return depth + 1


@dataclass(frozen=True)
class ValueField:
    """A field computed from one value: read → transform steps → default or required → store."""

    target: Path
    read: Code
    source_label: str   # from, value, config or expr: names the stage of a failing read
    can_fail: bool      # expressions can fail; paths and constants cannot
    missing_reason: str
    steps: Sequence[tuple[AnyStep, str]]  # each step and its transform's name
    default: Any
    required: bool
    when: Code | None
    chain: tuple[Any, ...] | None = None  # read and transforms, when they are pure: equal chains give equal values

    @property
    def reusable(self) -> bool:
        """Whether a later field with the same chain may take this one's value (it always runs)."""
        return self.chain is not None and self.when is None

    def emit_reused(self, fn: Writer, depth: int, value: str) -> None:
        """Write the field's code taking the value of an equal chain computed before, held in ``value``.

        Only for a field that needs no reason when it is empty (not required, or
        with a default): the reason would depend on where the chain became empty.
        """
        depth = _guard(fn, depth, self.when, self.target)
        fn.line(depth, f"_v = {value}")
        _store(fn, self._unless_empty(fn, depth, "", ""), self.target, "_v")

    def emit(self, fn: Writer, depth: int) -> None:
        """Write the field's code at ``depth``; ``_v`` holds the chain's value (or None) after it."""
        namespace = fn.namespace
        path = _path(namespace, self.target)
        depth = _guard(fn, depth, self.when, self.target)
        value = fn.need(self.read)
        if self.can_fail:
            fn.line(depth, "try:")
            fn.line(depth + 1, f"_v = {value}")
            fn.line(depth, "except ERRORS as _e:")
            fn.line(depth + 1, _raise(namespace, self.source_label, path))
        else:
            fn.line(depth, f"_v = {value}")
        reason = self.missing_reason
        # Each step runs only on a value: the chain nests, and where it became empty is known here.
        for step, label in self.steps:
            depth = self._unless_empty(fn, depth, reason, path)
            fn.line(depth, "try:")
            fn.line(depth + 1, f"_v = {namespace.call(step, '_v')}")
            fn.line(depth, "except ERRORS as _e:")
            fn.line(depth + 1, _raise(namespace, label, path))
            fn.line(depth, "except Failure as _f:")  # a table or lookup with on_missing: dead_letter
            fn.line(depth + 1, f"_f.path = {path}")
            fn.line(depth + 1, "raise")
            reason = f"required, but the value became empty after {label}"
        _store(fn, self._unless_empty(fn, depth, reason, path), self.target, "_v")

    def _unless_empty(self, fn: Writer, depth: int, reason: str, path: str) -> int:
        """Handle an empty ``_v`` (the default, a failure, or nothing); the depth of the code for a value."""
        if self.default is NO_DEFAULT and not self.required:
            fn.line(depth, "if _v is not None:")
            return depth + 1
        fn.line(depth, "if _v is None:")
        if self.default is not NO_DEFAULT:
            _store(fn, depth + 1, self.target, fn.namespace.const(self.default))
        else:
            fn.line(depth + 1, f"raise Failure({fn.namespace.const(reason)}, path={path})")
        fn.line(depth, "else:")
        return depth + 1


@dataclass(frozen=True)
class _Nested:
    """What a nested object and a list share: where the result goes, the block that maps it, its guards."""

    target: Path
    block: Block
    required: bool
    missing_reason: str
    when: Code | None

    def _begin(self, fn: Writer, depth: int) -> tuple[str, int]:
        """Write the field's ``when``; the constant holding the target path, and the depth of the guarded code."""
        prefix = fn.namespace.const(list(self.target))
        return prefix, _guard(fn, depth, self.when, self.target)

    def _raise_missing(self, fn: Writer) -> str:
        return f"raise Failure({fn.namespace.const(self.missing_reason)}, path={_path(fn.namespace, self.target)})"


@dataclass(frozen=True)
class ObjectField(_Nested):
    """A nested object mapped by its own block, from the same scope or from a path (``from``)."""

    node: Code | None

    def emit(self, fn: Writer, depth: int) -> None:
        """Write the field's code at ``depth``."""
        prefix, depth = self._begin(fn, depth)
        inner = "scope"
        if self.node is not None:
            fn.line(depth, f"_n = {fn.need(self.node)}")
            fn.line(depth, "if _n is None:")
            fn.line(depth + 1, self._raise_missing(fn) if self.required else "pass")
            fn.line(depth, "else:")
            depth += 1
            inner = "Scope(_n, scope.root, scope, None, scope.run)"
        if fn.collect:
            fn.line(depth, "_s = len(failures)")
            fn.line(depth, f"_v = {self.block.collect}({inner})")
            fn.line(depth, "for _f in failures[_s:]:")
            fn.line(depth + 1, f"_f.path[:0] = {prefix}")
        else:
            fn.line(depth, "try:")
            fn.line(depth + 1, f"_v = {self.block.fast}({inner})")
            fn.line(depth, "except Failure as _f:")
            fn.line(depth + 1, f"_f.path[:0] = {prefix}")
            fn.line(depth + 1, "raise")
        _store(fn, depth, self.target, "_v")


@dataclass(frozen=True)
class ListField(_Nested):
    """A list: every item of the source list mapped by the block, minus skipped and dropped items."""

    items: Code

    def emit(self, fn: Writer, depth: int) -> None:
        """Write the field's code at ``depth``."""
        prefix, depth = self._begin(fn, depth)
        fn.line(depth, f"_l = {fn.need(self.items)}")
        if self.required:
            fn.line(depth, "if not _l:")
            fn.line(depth + 1, self._raise_missing(fn))
        fn.line(depth, "_o = []")
        kept = "if _x is not SKIPPED: _o.append(_x)" if self.block.skips else "_o.append(_x)"
        if fn.collect:
            fn.line(depth, "for _i, _x in enumerate(_l):")
            fn.line(depth + 1, "_s = len(failures)")
            fn.line(depth + 1, "try:")
            fn.line(depth + 2, f"_x = {self.block.collect}(Scope(_x, scope.root, scope, _i, scope.run))")
            fn.line(depth + 2, kept)
            fn.line(depth + 1, "except Drop as _d:")
            fn.line(depth + 2, "failures.append(Failure(_d.reason, dropped=True))")
            fn.line(depth + 1, "except Failure as _f:")
            fn.line(depth + 2, "failures.append(_f)")
            fn.line(depth + 1, "for _f in failures[_s:]:")
            fn.line(depth + 2, f"_f.path[:0] = [*{prefix}, _i]")
        else:
            # One scope serves every item in turn: nothing keeps a scope after its item is mapped.
            fn.line(depth, "_is = Scope(None, scope.root, scope, None, scope.run)")
            fn.line(depth, "for _i, _x in enumerate(_l):")
            fn.line(depth + 1, "_is.data = _x")
            fn.line(depth + 1, "_is.index = _i")
            fn.line(depth + 1, "try:")
            fn.line(depth + 2, f"_x = {self.block.fast}(_is)")
            fn.line(depth + 1, "except Drop:")
            fn.line(depth + 2, "continue")
            fn.line(depth + 1, "except Failure as _f:")
            fn.line(depth + 2, f"_f.path[:0] = [*{prefix}, _i]")
            fn.line(depth + 2, "raise")
            fn.line(depth + 1, kept)
        _store(fn, depth, self.target, "_o")


Field = ValueField | ObjectField | ListField


def _skip_tests(fn: Writer, skips: Sequence[tuple[str, Code]], *, hit: str, error: str) -> None:
    """``if condition: <hit>`` for each test; a failing test raises ``error`` with its text."""
    for text, condition in skips:
        fn.line(0, "try:")
        fn.line(1, f"if {fn.need(condition)}:")
        fn.line(2, hit.format(fn.namespace.const(text)))
        fn.line(0, "except ERRORS as _e:")
        fn.line(1, f'raise {error}(f"{{{fn.namespace.const(f"skip_when {text!r}")}}}: {{_e}}") from None')


def block(namespace: Namespace, fields: Sequence[Field], constants: dict[str, Any],
          skips: Sequence[tuple[str, Code]] = ()) -> Block:
    """Write a block's two functions: its constants, then every field in the order of the file.

    ``skips`` are a list item's ``skip_when``: the function returns SKIPPED
    when one is true, and a failing test fails the item.
    """
    name = namespace.function()
    compiled = Block(fast=name, collect=f"{name}c", skips=bool(skips))
    for fn in (Writer(namespace, compiled.fast), Writer(namespace, compiled.collect, collect=True)):
        _skip_tests(fn, skips, hit="return SKIPPED", error="Failure")
        # Constant fields need no work per record: each object starts as a copy of them.
        fn.line(0, f"out = {namespace.const(dict(constants))}.copy()" if constants else "out = {}")
        if fn.collect:
            for item in fields:
                fn.line(0, "try:")
                item.emit(fn, 1)
                fn.line(0, "except Failure as _f:")
                fn.line(1, "failures.append(_f)")
        else:
            _emit_reusing(fn, fields)
        fn.line(0, "return out")
        namespace.sources.append(fn.source())
    return compiled


def _emit_reusing(fn: Writer, fields: Sequence[Field]) -> None:
    """Write the fields one after the other; a field repeating an earlier pure chain takes its value.

    ``Количество`` and ``КоличествоУпаковок`` both ``quantity | round: 3`` round
    once. When the first field raises, the record fails there, so a field that
    reuses its value only ever sees a value the chain really gave. Preview
    (which goes on after a failure) computes every field.
    """
    chains = [item.chain for item in fields if isinstance(item, ValueField) and item.reusable]
    held: dict[Any, str] = {}
    for item in fields:
        if not isinstance(item, ValueField) or item.chain is None:
            item.emit(fn, 0)
            continue
        if item.chain in held and (not item.required or item.default is not NO_DEFAULT):
            item.emit_reused(fn, 0, held[item.chain])
            continue
        item.emit(fn, 0)
        if item.reusable and item.chain not in held and chains.count(item.chain) > 1:
            held[item.chain] = fn.namespace.temp()
            fn.line(0, f"{held[item.chain]} = _v")


def record_filter(namespace: Namespace, skips: Sequence[tuple[str, Code]]) -> str:
    """Write the function of the top-level ``skip_when``: the text of the first true test, or None."""
    fn = Writer(namespace, namespace.function())
    _skip_tests(fn, skips, hit="return {}", error="InvalidRecord")
    fn.line(0, "return None")
    namespace.sources.append(fn.source())
    return fn.name


def _run_chain(chain: tuple[tuple[AnyStep, str], ...], value: Any, scope: Scope) -> Any:
    """Apply the steps until one gives an empty value. A failing step raises Failure with its name."""
    for step, label in chain:
        try:
            value = step.call(value, scope) if isinstance(step, ScopedStep) else step(value)
        except _ERRORS as exc:
            raise Failure(f"{label}: {exc}") from None
        if value is None:
            break
    return value


def listwise(steps: Sequence[tuple[AnyStep, str]]) -> ScopedStep:
    """Steps applied to every value of a list (or to one value, giving a list): phones, barcodes."""
    chain = tuple(steps)

    def each(value: Any, scope: Scope) -> Any:
        results = []
        for item in value if type(value) is list else [value]:
            if item is not None:
                result = _run_chain(chain, item, scope)
                if result is not None:
                    results.append(result)
        return results
    return ScopedStep(each)
