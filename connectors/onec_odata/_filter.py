"""``$filter`` as 1C reads it: tokens, v3 literals, a typed parser and the predicate it compiles to.

The same machinery serves a virtual table's parameters (``Period=datetime'…'``,
``Condition='…'``), which are literals and a nested ``$filter`` in disguise. It is
separate from :mod:`.sandbox` because it is a small language of its own: it
knows properties (:class:`._schema.Prop`) and 1C's refusals, never HTTP.

Types are checked while parsing, as 1C does, so a query 1C would refuse fails
here too instead of quietly matching nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from connectors.onec_odata._refusal import Refusal, bad_query, unsupported
from connectors.onec_odata._schema import Prop

_TOKEN = re.compile(r"""\s*(?:
    (?P<typed>(?:guid|datetime|datetimeoffset|time|binary|X)'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDlLfF]?)
  | (?P<name>[^\W\d]\w*(?:/[^\W\d]\w*)*)
  | (?P<punct>[(),=:])
  )""", re.VERBOSE)
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
_ARITHMETIC = {"add", "sub", "mul", "div", "mod"}
DATETIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")
Getter = Callable[[Mapping[str, Any]], Any]
Predicate = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Term:
    """A compiled (sub)expression: how to get its value from a row, and the type the parser checked."""

    get: Getter
    type: str  # a Prop type, or "null"


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise bad_query(f"непредвиденный символ в позиции {position + 1}: {text[position:position + 10]!r}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


def _unquote(text: str) -> str:
    return text[1:-1].replace("''", "'")


def literal_value(kind: str, text: str) -> Term:
    """A literal token as a constant term."""
    if kind == "string":
        value = _unquote(text)
        return Term(lambda row: value, "string")
    if kind == "number":
        number = Decimal(text.rstrip("mMdDlLfF"))
        return Term(lambda row: number, "number")
    prefix, body = text.split("'", 1)
    inner = _unquote("'" + body)
    if prefix == "guid":
        try:
            ref = str(UUID(inner))
        except ValueError:
            raise bad_query(f"неверный литерал guid'{inner}'") from None
        return Term(lambda row: ref, "guid")
    if prefix == "datetime":
        if not DATETIME_TEXT.fullmatch(inner):
            raise bad_query(f"неверный литерал datetime'{inner}'")
        moment = dt.datetime.fromisoformat(inner)
        return Term(lambda row: moment, "date")
    raise unsupported(f"литерал {prefix}'…'")


class FilterParser:
    """``$filter`` (and a virtual table's ``Condition``) compiled into a predicate over rows.

    Types are checked when parsing, as 1C does: a reference compares with
    ``guid'…'``, a date with ``datetime'…'``. Strings compare as 1C's database does,
    ignoring case and trailing spaces.
    """

    def __init__(self, text: str, props: Mapping[str, Prop]) -> None:
        self.tokens = _tokens(text)
        self.props = props
        self.position = 0

    def predicate(self) -> Predicate:
        term = self._or()
        if self.position != len(self.tokens):
            raise bad_query(f"лишний текст после выражения: {self.tokens[self.position][1]!r}")
        if term.type != "bool":
            raise bad_query("выражение $filter должно быть логическим")
        get = term.get
        return lambda row: get(row) is True

    # grammar: or := and ("or" and)* ; and := not ("and" not)* ; not := "not" not | comparison

    def _or(self) -> Term:
        return self._chain("or", self._and, any)

    def _and(self) -> Term:
        return self._chain("and", self._not, all)

    def _chain(self, word: str, operand: Callable[[], Term], combine: Callable[[Iterable[bool]], bool]) -> Term:
        left = operand()
        while self._keyword(word):
            left = _logical(left, operand(), combine)
        return left

    def _not(self) -> Term:
        if self._keyword("not"):
            inner = self._not()
            _expect_type(inner, "bool", "not")
            return Term(lambda row: not inner.get(row), "bool")
        return self._comparison()

    def _comparison(self) -> Term:
        left = self._operand()
        kind, text = self._peek()
        if kind == "name" and text in _ARITHMETIC:
            raise unsupported(f"арифметика в $filter ({text})")
        if kind != "name" or text not in _COMPARISONS:
            return left
        self.position += 1
        right = self._operand()
        return _compare(text, left, right)

    def _operand(self) -> Term:
        kind, text = self._next()
        if kind == "punct" and text == "(":
            inner = self._or()
            self._punct(")")
            return inner
        if kind in ("string", "number", "typed"):
            return literal_value(kind, text)
        if kind != "name":
            raise bad_query(f"ожидался операнд, а не {text!r}")
        if text in ("true", "false"):
            flag = text == "true"
            return Term(lambda row: flag, "bool")
        if text == "null":
            return Term(lambda row: None, "null")
        if self._peek() == ("punct", "("):
            if text.endswith(("/any", "/all")):
                raise Refusal(400, "21", f"Лямбда-выражения не поддерживаются (песочница): {text}")
            return self._function(text)
        return self._field(text)

    def _field(self, name: str) -> Term:
        if "/" in name:
            raise unsupported(f"путь через навигационное свойство {name!r} (песочница)")
        prop = self.props.get(name)
        if prop is None:
            raise bad_query(f"неизвестное свойство {name!r}")
        return Term(lambda row: row.get(name), "number" if prop.type == "int64" else prop.type)

    def _function(self, name: str) -> Term:
        self._punct("(")
        args = [self._or()]
        while self._peek() == ("punct", ","):
            self.position += 1
            args.append(self._or())
        self._punct(")")
        return _call(name, args)

    # token helpers

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.position] if self.position < len(self.tokens) else ("end", "")

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if token[0] == "end":
            raise bad_query("выражение оборвано")
        self.position += 1
        return token

    def _keyword(self, word: str) -> bool:
        if self._peek() == ("name", word):
            self.position += 1
            return True
        return False

    def _punct(self, char: str) -> None:
        if self._next() != ("punct", char):
            raise bad_query(f"ожидался {char!r}")


def _expect_type(term: Term, type_: str, where: str) -> None:
    if term.type != type_:
        raise bad_query(f"{where}: ожидалось значение типа {type_}, а не {term.type}")


def _logical(left: Term, right: Term, combine: Callable[[Iterable[bool]], bool]) -> Term:
    _expect_type(left, "bool", "логическая операция")
    _expect_type(right, "bool", "логическая операция")
    return Term(lambda row: combine(term.get(row) for term in (left, right)), "bool")


def fold(value: Any) -> Any:
    """A value as 1C's database compares it: strings ignore case and trailing (padding) spaces."""
    return value.rstrip(" ").casefold() if isinstance(value, str) else value


def _compare(op: str, left: Term, right: Term) -> Term:
    types = {left.type, right.type}
    if "null" in types:
        if op not in ("eq", "ne"):
            raise bad_query(f"null нельзя сравнивать операцией {op}")
    elif left.type != right.type:
        raise bad_query(f"несовместимые типы в сравнении: {left.type} {op} {right.type}")
    elif left.type == "bool" and op not in ("eq", "ne"):
        raise bad_query(f"булевы значения нельзя сравнивать операцией {op}")
    test = _COMPARISONS[op]

    def compare(row: Mapping[str, Any]) -> bool:
        a, b = fold(left.get(row)), fold(right.get(row))
        if a is None or b is None:
            return test(a is None, b is None) if op in ("eq", "ne") else False
        return test(a, b)

    return Term(compare, "bool")


_STRING_FUNCTIONS: dict[str, tuple[tuple[str, ...], str, Callable[..., Any]]] = {
    "substringof": (("string", "string"), "bool", lambda needle, hay: fold(needle) in fold(hay)),
    "startswith": (("string", "string"), "bool", lambda hay, prefix: fold(hay).startswith(fold(prefix))),
    "endswith": (("string", "string"), "bool", lambda hay, suffix: fold(hay).endswith(fold(suffix))),
    "tolower": (("string",), "string", lambda text: text.lower()),
    "toupper": (("string",), "string", lambda text: text.upper()),
    "trim": (("string",), "string", lambda text: text.strip()),
    "length": (("string",), "number", lambda text: Decimal(len(text.rstrip(" ")))),
    **{part: (("date",), "number", lambda moment, part=part: Decimal(getattr(moment, part)))
       for part in ("year", "month", "day", "hour", "minute", "second")},
}


def _call(name: str, args: list[Term]) -> Term:
    spec = _STRING_FUNCTIONS.get(name)
    if spec is None:
        raise Refusal(400, "21", f"Функция не реализована: {name}")
    types, result, function = spec
    if len(args) != len(types):
        raise Refusal(400, "21", f"Неверное количество параметров функции {name}")
    for arg, type_ in zip(args, types, strict=True):
        _expect_type(arg, type_, name)
    getters = [arg.get for arg in args]

    def call(row: Mapping[str, Any]) -> Any:
        values = [get(row) for get in getters]
        return None if any(v is None for v in values) else function(*values)

    return Term(call, result)


def named_args(text: str) -> dict[str, Term]:
    """``Period=datetime'…',Condition='…'`` of a virtual table."""
    tokens = _tokens(text)
    args: dict[str, Term] = {}
    for start in range(0, len(tokens), 4):
        chunk = tokens[start:start + 4]
        if (len(chunk) < 3 or chunk[0][0] != "name" or chunk[1] != ("punct", "=")
                or chunk[2][0] not in ("string", "typed", "number") or chunk[3:] not in ([], [("punct", ",")])):
            raise Refusal(400, "6", f"Неверные параметры виртуальной таблицы: {text}")
        args[chunk[0][1]] = literal_value(*chunk[2])
    return args


def constant(args: Mapping[str, Term], name: str, type_: str) -> Any:
    """The value of a virtual-table parameter, None when absent; 1C refuses one of the wrong type."""
    term = args.get(name)
    if term is None:
        return None
    if term.type != type_:
        raise Refusal(400, "12", f"Неверный тип параметра {name}")
    return term.get({})


def args_key(args: Mapping[str, Term]) -> tuple[tuple[str, Any], ...]:
    """Virtual-table parameters as a hashable, order-free key (for the query cache)."""
    return tuple(sorted((name, term.get({})) for name, term in args.items()))
