"""The expression language of ``expr``, ``when`` and ``skip_when``: small, safe, compiled once.

An expression is parsed with Python's own parser (``ast``, 'eval' mode) and
every node is checked against a short whitelist, then written out as Python
source by this module (never the expression's own text), which the mapping's
generated module compiles once (see :mod:`hub.mapping._codegen`); nothing is
ever passed to ``eval``. What is allowed:

* names and dotted paths, which read the record (``quantity``, ``order.phone``,
  ``items[0].price``, ``item["@Ид"]``): a dot is a key of the record, never a
  Python attribute, so there is no way to reach an object's internals;
* numbers (``1.5`` is a Decimal, never a float), text, ``true``/``false``/``null``;
* ``+ - * / %`` on Decimals (``+`` also joins two texts), comparisons,
  ``and``/``or``/``not``, ``a if condition else b``, list displays ``[a, b]``;
* f-strings: ``f"{number} от {date}"``, format specs such as ``{total:.2f}``;
* calls to the fixed set of functions (:data:`FUNCTIONS` and the transforms).

No imports, lambdas, comprehensions, keyword arguments or ``**``: they are
reported when the mapping is compiled, with the character they start at.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from hub.errors import suggest
from hub.mapping._codegen import Code, Index, Namespace, Read, Source
from hub.mapping._paths import Path
from hub.mapping._transforms import describe, to_text
from hub.values import to_decimal

CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None, "True": True, "False": False,
                             "None": None}


class ExprError(ValueError):
    """An expression that cannot be compiled; the message says where and why."""


@dataclass(frozen=True)
class Function:
    """A function expressions may call."""

    call: Callable[..., Any]
    min_args: int
    max_args: int | None
    summary: str
    skips_null: bool = False  # a transform: one argument, and null in gives null out


class Names(Protocol):
    """How the mapping being compiled resolves names and functions."""

    @property
    def namespace(self) -> Namespace:
        """Where the generated source binds values and functions."""

    def path(self, name: str, segments: Path) -> Source:
        """Where ``name`` followed by ``segments`` is read from; ExprError when it cannot exist."""

    def item_field(self, name: str, segments: Path) -> None:
        """Note that the expression reads field ``segments[-1]`` of every item of the list at the rest."""

    def functions(self) -> dict[str, Function]:
        """Every function callable by name."""


# --- the functions that are not transforms ---------------------------------------------------


def _concat(*parts: Any) -> str:
    return "".join(to_text(part) for part in parts if part is not None)


def _join(separator: Any, *parts: Any) -> str:
    if len(parts) == 1 and isinstance(parts[0], list):
        parts = tuple(parts[0])
    texts = (to_text(part) for part in parts if part is not None)
    return to_text(separator).join(text for text in texts if text)


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


def _round(value: Any, places: Any = 0) -> Decimal:
    return to_decimal(value).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)


def _sum(values: Any) -> Decimal:
    if not isinstance(values, list):
        raise TypeError(f"sum needs a list, got {describe(values)}")
    return sum((to_decimal(value) for value in values), Decimal(0))


def _len(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | list | dict):
        return len(value)
    raise TypeError(f"len needs text or a list, got {describe(value)}")


def _replace(text: Any, old: Any, new: Any) -> str:
    return to_text(text).replace(to_text(old), to_text(new))


def _part(text: Any, separator: Any, index: Any) -> str | None:
    words = [word for word in to_text(text).split(to_text(separator)) if word] if text is not None else []
    position = int(to_decimal(index))
    return words[position] if -len(words) <= position < len(words) else None


def _values(rows: Any, key: Any) -> list[Any]:
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise TypeError(f"values needs a list of objects, got {describe(rows)}")
    name = to_text(key)
    return [row[name] for row in rows if isinstance(row, dict) and row.get(name) not in (None, "")]


def _pick(rows: Any, column: Any, value: Any, key: Any) -> Any:
    if rows is None:
        return None
    if not isinstance(rows, list):
        raise TypeError(f"pick needs a list of objects, got {describe(rows)}")
    by, wanted, name = to_text(column), to_text(value), to_text(key)
    # A 1C tabular section tells its rows' kinds by a column (КонтактнаяИнформация by Тип): the first row wins.
    return next((row.get(name) for row in rows
                 if isinstance(row, dict) and row.get(by) is not None and to_text(row[by]) == wanted), None)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def call(*values: Any) -> Any:
        present = [value for value in values if value is not None]
        return pick(present) if present else None
    return call


FUNCTIONS: dict[str, Function] = {
    "concat": Function(_concat, 1, None, "Join values as text, skipping empty ones: concat(number, '-', suffix)."),
    "join": Function(_join, 2, None, "Join non-empty values with a separator: join(' ', last, first, middle)."),
    "coalesce": Function(_coalesce, 1, None, "The first value that is not null: coalesce(comment, '')."),
    "round": Function(_round, 1, 2, "Round half up: round(price * 1.2, 2)."),
    "sum": Function(_sum, 1, 1, "Sum of a list of numbers: sum(amounts)."),
    "len": Function(_len, 1, 1, "Length of text or a list."),
    "replace": Function(_replace, 3, 3, "Replace text: replace(phone, ' ', '')."),
    "part": Function(_part, 3, 3, "A word of a text, from 0; null past the end: part(Description, ' ', 1)."),
    "values": Function(_values, 2, 2, "The non-empty values of one key across a list of objects (a 1C tabular "
                                      "section): values(КонтактнаяИнформация, 'НомерТелефона')."),
    "pick": Function(_pick, 4, 4, "From a list of objects, the key of the first whose column is the value (a row of "
                                  "a 1C tabular section by its kind): pick(КонтактнаяИнформация, 'Тип', "
                                  "'ВебСтраница', 'Представление')."),
    "min": Function(_extreme(min), 1, None, "The smallest value, ignoring empty ones."),
    "max": Function(_extreme(max), 1, None, "The largest value, ignoring empty ones."),
    "abs": Function(lambda value: abs(to_decimal(value)), 1, 1, "Absolute value."),
}
"""Functions beyond the transforms (every transform without required options is a function too)."""


# --- operators ---------------------------------------------------------------------------


def _number(value: Any, doing: str) -> Decimal | int:
    if type(value) is int or type(value) is Decimal:
        return value
    if value is None:
        raise TypeError(f"cannot {doing}: a value is missing")
    raise TypeError(f"cannot {doing} {describe(value)}; convert text with decimal(...)")


_NUMBERS = frozenset({int, Decimal})


def _add(left: Any, right: Any) -> Any:
    if left.__class__ in _NUMBERS and right.__class__ in _NUMBERS:
        return left + right  # type: ignore[operator]
    if type(left) is str and type(right) is str:
        return left + right
    return _number(left, "add") + _number(right, "add")


def _sub(left: Any, right: Any) -> Any:
    if left.__class__ in _NUMBERS and right.__class__ in _NUMBERS:
        return left - right  # type: ignore[operator]
    return _number(left, "subtract") - _number(right, "subtract")


def _mul(left: Any, right: Any) -> Any:
    if left.__class__ in _NUMBERS and right.__class__ in _NUMBERS:
        return left * right  # type: ignore[operator]
    return _number(left, "multiply") * _number(right, "multiply")


def _div(left: Any, right: Any) -> Any:
    # Dividing two ints in Python gives a float; Decimal keeps money exact.
    return Decimal(_number(left, "divide")) / Decimal(_number(right, "divide"))


def _mod(left: Any, right: Any) -> Any:
    return _number(left, "take the remainder of") % _number(right, "take the remainder of")


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _add, ast.Sub: _sub, ast.Mult: _mul, ast.Div: _div, ast.Mod: _mod,
}
_COMPARE: dict[type[ast.cmpop], str] = {  # Python's own operators: the same comparisons operator.eq makes
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "is",
    ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}
_FORBIDDEN = {
    ast.Lambda: "lambda is", ast.ListComp: "comprehensions are", ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are", ast.GeneratorExp: "comprehensions are",
    ast.NamedExpr: "assignment (:=) is", ast.Dict: "dictionary displays are", ast.Set: "set displays are",
    ast.Tuple: "tuples are", ast.Starred: "*unpacking is", ast.Await: "await is", ast.Yield: "yield is",
    ast.YieldFrom: "yield is", ast.Slice: "slices are",
}
_METHODS = {  # Python habits → the function that does it here
    "strip": "use trim(...)", "lstrip": "use trim(...)", "rstrip": "use trim(...)", "lower": "use lower(...)",
    "upper": "use upper(...)", "replace": "use replace(text, old, new)", "format": "use an f-string",
    "join": "use join(separator, ...)", "get": "read keys with a dot: order.id",
}
_OPERATORS = {
    ast.Pow: "**", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
    ast.BitAnd: "&", ast.BitXor: "^",
}


# --- the compiler --------------------------------------------------------------------------


def compile_expression(text: str, names: Names) -> Code:
    """Compile ``text`` into generated source; ExprError with the reason and the character it starts at."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("expected an expression, such as quantity * price")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at character {exc.offset}" if exc.offset else ""
        raise ExprError(f"invalid expression{where}: {exc.msg}") from None
    compiler = _Compiler(text.strip(), names)
    return Code(compiler.compile(tree.body), tuple(dict.fromkeys(compiler.reads)))


class _Compiler:
    """Writes each whitelisted node as Python source: operators, and calls of functions bound by name.

    Values from the text (numbers, strings, format specs) and every function
    are bound in the namespace and referred to by their generated names; record
    paths are reads the enclosing block computes (see :mod:`hub.mapping._codegen`).
    """

    def __init__(self, text: str, names: Names) -> None:
        self.text = text
        self.names = names
        self.functions = names.functions()
        self.namespace = names.namespace
        self.reads: list[Read] = []

    def fail(self, node: ast.AST, message: str) -> ExprError:
        column = getattr(node, "col_offset", None)
        return ExprError(message if column is None else f"{message} (at character {column + 1})")

    def compile(self, node: ast.expr) -> str:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            what = _FORBIDDEN.get(type(node), f"{type(node).__name__} is")
            raise self.fail(node, f"{what} not allowed in expressions")
        source: str = method(node)
        return source

    def _bind(self, value: Any) -> str:
        return self.namespace.const(value)

    def _source(self, source: Source) -> str:
        code = self.namespace.code(source)
        self.reads.extend(code.reads)
        return code.text

    # values

    def _Constant(self, node: ast.Constant) -> str:
        value: Any = node.value
        if isinstance(value, float):
            # The float the parser made is discarded: the number is read again from its text.
            value = Decimal(ast.get_source_segment(self.text, node) or repr(value))
        elif value is not None and not isinstance(value, str | int):
            raise self.fail(node, f"{type(value).__name__} literals are not allowed in expressions")
        return self._constant(value)

    def _constant(self, value: Any) -> str:
        if value is None or value is True or value is False:
            return repr(value)  # the keywords None, True and False, never text from the expression
        return self._bind(value)

    def _Name(self, node: ast.Name) -> str:
        if node.id in CONSTANTS:
            return self._constant(CONSTANTS[node.id])
        if node.id == "index":
            return self._source(Index())
        return self._path(node)

    def _Attribute(self, node: ast.Attribute) -> str:
        return self._path(node)

    def _Subscript(self, node: ast.Subscript) -> str:
        return self._path(node)

    def _path(self, node: ast.expr) -> str:
        name, segments = self._segments(node)
        try:
            return self._source(self.names.path(name, segments))
        except ExprError as exc:
            raise self.fail(node, str(exc)) from None

    def _segments(self, node: ast.expr) -> tuple[str, Path]:
        """The name a path starts with and the segments after it."""
        segments: list[str | int] = []
        current = node
        while not isinstance(current, ast.Name):
            if isinstance(current, ast.Attribute):
                segments.append(current.attr)
                current = current.value
            elif isinstance(current, ast.Subscript):
                key = current.slice
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str | int)
                        and not isinstance(key.value, bool)):
                    raise self.fail(key, "an index must be a number or a text in quotes, such as items[0] or "
                                         "item[\"@Ид\"]")
                segments.append(key.value)
                current = current.value
            elif isinstance(current, ast.UnaryOp) and isinstance(current.op, ast.USub):
                raise self.fail(current, "negative numbers cannot be indexed")
            else:
                raise self.fail(current, "only record paths can be read with . or [] (not the result of a "
                                         "function or operator)")
        if current.id in CONSTANTS or current.id == "index":
            raise self.fail(current, f"{current.id} has no fields")
        return current.id, tuple(reversed(segments))

    def _List(self, node: ast.List) -> str:
        return f"[{', '.join(self.compile(item) for item in node.elts)}]"

    def _JoinedStr(self, node: ast.JoinedStr) -> str:
        parts: list[str] = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(self._bind(str(part.value)))
            elif isinstance(part, ast.FormattedValue):
                parts.append(self._formatted(part))
            else:  # pragma: no cover - the parser makes nothing else inside an f-string
                raise self.fail(part, "unexpected f-string part")
        # Every part is text (a literal, format() or to_text()), so + joins them as "".join would.
        return f"({' + '.join(parts)})" if parts else self._bind("")

    def _formatted(self, node: ast.FormattedValue) -> str:
        if node.conversion != -1:
            raise self.fail(node, "conversions such as !r are not allowed in f-strings")
        spec = ""
        if node.format_spec is not None:
            pieces = node.format_spec.values if isinstance(node.format_spec, ast.JoinedStr) else []
            if not all(isinstance(piece, ast.Constant) for piece in pieces):
                raise self.fail(node, "a format spec must be fixed text, such as {total:.2f}")
            spec = "".join(str(piece.value) for piece in pieces if isinstance(piece, ast.Constant))
        value, temp = self.compile(node.value), self.namespace.temp()
        text = f"{self._bind(format)}({temp}, {self._bind(spec)})" if spec else f"{self._bind(to_text)}({temp})"
        return f"({self._bind('')} if ({temp} := {value}) is None else {text})"

    # operators

    def _BinOp(self, node: ast.BinOp) -> str:
        op = _BINARY.get(type(node.op))
        if op is None:
            raise self.fail(node, f"operator {_OPERATORS.get(type(node.op), type(node.op).__name__)} is not "
                                  f"supported; use + - * / %")
        return f"{self._bind(op)}({self.compile(node.left)}, {self.compile(node.right)})"

    def _UnaryOp(self, node: ast.UnaryOp) -> str:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return f"(not {operand})"
        if isinstance(node.op, ast.USub):
            return f"(-{self._bind(_number)}({operand}, {self._bind('negate')}))"
        if isinstance(node.op, ast.UAdd):
            return f"{self._bind(_number)}({operand}, {self._bind('use')})"
        raise self.fail(node, "operator ~ is not supported")

    def _BoolOp(self, node: ast.BoolOp) -> str:
        # Python's and / or return the deciding operand, as the language promises.
        word = " and " if isinstance(node.op, ast.And) else " or "
        return f"({word.join(self.compile(value) for value in node.values)})"

    def _Compare(self, node: ast.Compare) -> str:
        for cmpop, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(cmpop, ast.Is | ast.IsNot) and not _is_null(comparator):
                raise self.fail(node, "'is' compares with null only; use == to compare values")
        text = self.compile(node.left)
        for cmpop, comparator in zip(node.ops, node.comparators, strict=True):
            text += f" {_COMPARE[type(cmpop)]} {self.compile(comparator)}"
        # A chain (a < b < c) gives true or false, like one comparison of plain values.
        return f"({text})" if len(node.ops) == 1 else f"(True if {text} else False)"

    def _IfExp(self, node: ast.IfExp) -> str:
        test, body, orelse = self.compile(node.test), self.compile(node.body), self.compile(node.orelse)
        return f"({body} if {test} else {orelse})"

    def _Call(self, node: ast.Call) -> str:
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            hint = _METHODS.get(method) or suggest(method, list(self.functions))
            raise self.fail(node, f"methods such as .{method}() cannot be called; call a function instead "
                                  f"({hint})")
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the built-in functions can be called, by name, such as lower(name)")
        name = node.func.id
        function = self.functions.get(name)
        if function is None:
            raise self.fail(node, f"unknown function {name!r} ({suggest(name, list(self.functions))})")
        if node.keywords:
            raise self.fail(node, f"{name} takes positional arguments only")
        count = len(node.args)
        if count < function.min_args or (function.max_args is not None and count > function.max_args):
            expected = (str(function.min_args) if function.max_args == function.min_args
                        else f"{function.min_args} or more" if function.max_args is None
                        else f"{function.min_args} to {function.max_args}")
            raise self.fail(node, f"{name} takes {expected} argument{'' if expected == '1' else 's'}, "
                                  f"got {count}")
        args = [self.compile(arg) for arg in node.args]
        rows, key = node.args[0], node.args[-1]
        if name == "values" and isinstance(key, ast.Constant) and isinstance(key.value, str) \
                and isinstance(rows, ast.Name | ast.Attribute | ast.Subscript):
            head, segments = self._segments(rows)
            self.names.item_field(head, (*segments, key.value))
        if function.skips_null:  # a transform: null in, null out
            temp = self.namespace.temp()
            return f"(None if ({temp} := {args[0]}) is None else {self.namespace.call(function.call, temp)})"
        return f"{self._bind(function.call)}({', '.join(args)})"


def _is_null(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None
    return isinstance(node, ast.Name) and node.id in ("null", "None")
