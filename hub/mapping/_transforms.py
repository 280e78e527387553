"""Transforms: the fixed vocabulary of value conversions a field's ``transform`` lists.

Each transform is built once, when the mapping is compiled, into a step
``step(value) -> value`` (a :class:`ScopedStep` when it needs the record or the
run, as lookups do); a step never receives ``None`` (an empty value
skips the rest of the chain) and may return ``None`` (1C's all-zero GUID, an
empty date). A step raises ValueError or TypeError with a short reason when
the value cannot be converted; the field adds its name and the transform's.

Money and quantities stay Decimal: the helpers of :mod:`hub.values` refuse
floats, and nothing here creates one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from hub.errors import suggest
from hub.mapping._runtime import Scope
from hub.values import KOPECK, money, normalize_email, normalize_phone, to_decimal, to_local_naive, zone

Step = Callable[[Any], Any]
"""A compiled transform: the value in, the converted value (or None) out."""


class ScopedStep:
    """A step that also needs the scope: a lookup reads the run's id links (and maybe the record)."""

    __slots__ = ("call",)

    def __init__(self, call: Callable[[Any, Scope], Any]) -> None:
        self.call = call


AnyStep = Step | ScopedStep


class Quantize:
    """A step that rounds half up to ``quantum`` (money, round); generated code does it inline for a Decimal."""

    __slots__ = ("quantum",)

    def __init__(self, quantum: Decimal) -> None:
        self.quantum = quantum

    def __call__(self, value: Any) -> Decimal:
        return to_decimal(value).quantize(self.quantum, rounding=ROUND_HALF_UP)


MONEY = Quantize(KOPECK)
"""The ``money`` transform: :func:`hub.values.money` as a :class:`Quantize`."""

ONEC_EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
ONEC_DATETIME = "%Y-%m-%dT%H:%M:%S"
_ONEC_EMPTY_DATE = "0001-01-01"
_TRUE = frozenset({"true", "1", "yes", "y", "да", "истина"})
_FALSE = frozenset({"false", "0", "no", "n", "нет", "ложь", ""})

# Units per dimension, each as a multiple of the dimension's base unit.
UNITS: dict[str, tuple[str, Decimal]] = {
    "mg": ("mass", Decimal("0.001")), "g": ("mass", Decimal(1)), "kg": ("mass", Decimal(1000)),
    "t": ("mass", Decimal(1_000_000)),
    "ml": ("volume", Decimal(1)), "l": ("volume", Decimal(1000)),
}


class ArgError(ValueError):
    """The arguments of a transform are wrong; ``at`` points inside them (for the position)."""

    def __init__(self, message: str, at: tuple[str | int, ...] = (), *, on_key: bool = False) -> None:
        super().__init__(message)
        self.at = at
        self.on_key = on_key  # the problem is the key itself (an unknown option), not its value


class Context(Protocol):
    """What a transform may ask of the mapping being compiled."""

    @property
    def timezone(self) -> ZoneInfo:
        """The time zone of 1C's naive local datetimes."""

    @property
    def in_list(self) -> bool:
        """Whether the field is inside a list item (``drop`` is allowed)."""

    def table(self, name: str) -> AnyStep:
        """The compiled value table ``name``; ArgError when there is none."""

    def lookup(self, args: Any) -> AnyStep:
        """The ``lookup`` step its options describe (id links); ArgError when they are wrong."""

    def constant(self, spec: Any, at: tuple[str | int, ...]) -> Any:
        """A literal default, or the value of ``{config: path}``."""

    def getter(self, path: str, at: tuple[str | int, ...]) -> Callable[[Scope], Any]:
        """A getter for a path in the record, as ``from`` reads it."""


@dataclass(frozen=True)
class Transform:
    """One entry of the vocabulary."""

    name: str
    summary: str
    build: Callable[[Any, Context], AnyStep]
    args: Literal["none", "optional", "required"]
    args_schema: Mapping[str, Any] | None = None
    example: str = ""


# --- helpers ---------------------------------------------------------------------


def describe(value: Any) -> str:
    """A value in a message: its type and a short repr."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _text(value: Any) -> str:
    if type(value) is str:
        return value
    raise TypeError(f"expected text, got {describe(value)}")


def _options(args: Any, allowed: Mapping[str, type | tuple[type, ...]], name: str) -> dict[str, Any]:
    """``args`` as a dict of known keys with the expected types (None means no arguments)."""
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise ArgError(f"{name} takes options {', '.join(allowed)} as a mapping, got {describe(args)}")
    for key, value in args.items():
        if key not in allowed:
            raise ArgError(f"unknown option {key!r} of {name} ({suggest(key, list(allowed))})", (key,),
                           on_key=True)
        if not isinstance(value, allowed[key]):
            kind = allowed[key]
            names = " or ".join(t.__name__ for t in kind) if isinstance(kind, tuple) else kind.__name__
            raise ArgError(f"option {key!r} of {name} must be {names.replace('str', 'text')}, "
                           f"got {describe(value)}", (key,))
    return dict(args)


def _no_args(fn: Step) -> Callable[[Any, Context], AnyStep]:
    def build(args: Any, ctx: Context) -> AnyStep:
        return fn
    return build


def _zone_option(options: Mapping[str, Any], ctx: Context) -> ZoneInfo:
    name = options.get("timezone")
    if name is None or name == "local":
        return ctx.timezone
    try:
        return zone(name)
    except ValueError as exc:
        raise ArgError(str(exc), ("timezone",)) from None


def _format_option(options: Mapping[str, Any]) -> str | None:
    text: str | None = options.get("format")
    if text is not None and "%" not in text:
        raise ArgError(f"format {text!r} has no directives; use strftime codes such as %d.%m.%Y %H:%M",
                       ("format",))
    return text


# --- text --------------------------------------------------------------------------


def _trim(value: Any) -> Any:
    return _text(value).strip()


def _lower(value: Any) -> Any:
    return _text(value).lower()


def _upper(value: Any) -> Any:
    return _text(value).upper()


def _null_if_empty(value: Any) -> Any:
    if type(value) is str:
        return value if value.strip() else None
    if isinstance(value, list | dict) and not value:
        return None
    return value


def to_text(value: Any) -> str:
    """``value`` as text the way 1C and JSON expect it (Decimals without exponent, booleans lower-case)."""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    raise TypeError(f"cannot make text of {describe(value)}")


def _string(value: Any) -> Any:
    return to_text(value)


# --- numbers -------------------------------------------------------------------


def _kopecks(value: Any) -> Any:
    amount = to_decimal(value)
    if amount != amount.to_integral_value():
        raise ValueError(f"not a whole number of kopecks: {value!r}")
    return (amount / 100).quantize(KOPECK)


def _to_kopecks(value: Any) -> Any:
    return int(money(value) * 100)


def _integer(value: Any) -> Any:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {describe(value)}")
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


def _round(args: Any, ctx: Context) -> Step:
    if isinstance(args, bool) or not isinstance(args, int) or not 0 <= args <= 10:
        raise ArgError(f"round takes the number of decimal places, 0 to 10, got {describe(args)}")
    return Quantize(Decimal(1).scaleb(-args))


def _unit(args: Any, ctx: Context) -> Step:
    options = _options(args, {"from": str, "to": str}, "unit")
    for key in ("from", "to"):
        if key not in options:
            raise ArgError(f"unit needs {key!r}: the unit names, e.g. {{from: g, to: kg}}")
        if options[key] not in UNITS:
            raise ArgError(f"unknown unit {options[key]!r} ({suggest(options[key], list(UNITS))})", (key,))
    (source_kind, source_factor), (target_kind, target_factor) = UNITS[options["from"]], UNITS[options["to"]]
    if source_kind != target_kind:
        raise ArgError(f"cannot convert {options['from']} ({source_kind}) to {options['to']} ({target_kind})",
                       ("to",))
    factor = source_factor / target_factor

    def step(value: Any) -> Any:
        return to_decimal(value) * factor
    return step


# --- booleans, GUIDs, contacts -------------------------------------------------------


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if type(value) is int and value in (0, 1):
        return value == 1
    if type(value) is str:
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"not a yes/no value: {value!r} (expected true/false, 1/0 or yes/no)")


def _guid(value: Any) -> Any:
    try:
        text = str(uuid.UUID(_text(value).strip()))
    except ValueError:
        raise ValueError(f"not a GUID: {value!r}") from None
    return None if text == ONEC_EMPTY_GUID else text


def _phone(args: Any, ctx: Context) -> Step:
    if isinstance(args, str | int) and not isinstance(args, bool):
        args = {"country": str(args)}
    options = _options(args, {"country": (str, int)}, "phone")
    country = str(options.get("country", "7"))
    if not country.isdigit():
        raise ArgError(f"country must be the country calling code in digits, such as 7, got {country!r}",
                       ("country",))

    def step(value: Any) -> Any:
        text = str(value) if type(value) is int else _text(value)
        return normalize_phone(text, country_code=country)
    return step


def _email(value: Any) -> Any:
    return normalize_email(_text(value))


# --- dates and times ---------------------------------------------------------------


def _parse_datetime(value: Any, fmt: str | None) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    text = _text(value).strip()
    if text.startswith(_ONEC_EMPTY_DATE) or not text:
        return None  # 1C's empty date
    if fmt is not None:
        return dt.datetime.strptime(text, fmt)  # noqa: DTZ007 - the zone is attached by the caller
    return dt.datetime.fromisoformat(text)


def _datetime(args: Any, ctx: Context) -> Step:
    options = _options(args, {"format": str, "timezone": str}, "datetime")
    fmt = _format_option(options)
    tz = _zone_option(options, ctx)

    def step(value: Any) -> Any:
        parsed = _parse_datetime(value, fmt)
        if parsed is None:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
    return step


def _local_datetime(args: Any, ctx: Context) -> Step:
    options = _options(args, {"format": str, "timezone": str}, "local_datetime")
    fmt = _format_option(options) or ONEC_DATETIME
    tz = _zone_option(options, ctx)

    def step(value: Any) -> Any:
        parsed = _parse_datetime(value, None)
        if parsed is None:
            return None
        local = to_local_naive(parsed, tz)
        # 1C's own format is ISO 8601 to the second; isoformat writes it several times faster than strftime.
        return local.isoformat(timespec="seconds") if fmt == ONEC_DATETIME else local.strftime(fmt)
    return step


def _date(args: Any, ctx: Context) -> Step:
    options = _options(args, {"format": str}, "date")
    fmt = _format_option(options)
    tz = ctx.timezone

    def step(value: Any) -> Any:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        parsed = _parse_datetime(value, fmt)
        if parsed is None:
            return None
        return (parsed.astimezone(tz) if parsed.tzinfo is not None else parsed).date()
    return step


# --- tables and lookups (built by the context, which knows the file's tables) ------------------


def _table(args: Any, ctx: Context) -> AnyStep:
    if not isinstance(args, str):
        raise ArgError(f"table takes the name of a table declared under tables, got {describe(args)}")
    return ctx.table(args)


def _lookup(args: Any, ctx: Context) -> AnyStep:
    return ctx.lookup(args)


_FORMAT = {"format": {"type": "string", "description": "strptime/strftime format, e.g. %d.%m.%Y %H:%M"}}
_ZONE = {"timezone": {"type": "string",
                      "description": "IANA zone of naive values; 'local' (default) is the 1C time zone"}}

TRANSFORMS: dict[str, Transform] = {t.name: t for t in [
    Transform("trim", "Strip spaces at both ends (1C pads fixed-length strings).", _no_args(_trim), "none"),
    Transform("lower", "Lower-case text.", _no_args(_lower), "none"),
    Transform("upper", "Upper-case text.", _no_args(_upper), "none"),
    Transform("null_if_empty", "Empty or blank text, an empty list or object become empty (None).",
              _no_args(_null_if_empty), "none"),
    Transform("string", "Text: Decimals without exponent, booleans as true/false, dates in ISO 8601.",
              _no_args(_string), "none"),
    Transform("decimal", "A Decimal from a number or numeric text ('1 234,50' too); floats are refused.",
              _no_args(to_decimal), "none"),
    Transform("money", "A Decimal rounded half up to kopecks.", _no_args(MONEY), "none"),
    Transform("kopecks", "Whole kopecks to rubles: 12345 → 123.45.", _no_args(_kopecks), "none"),
    Transform("to_kopecks", "Rubles to whole kopecks: 123.45 → 12345.", _no_args(_to_kopecks), "none"),
    Transform("integer", "A whole number; 3.5 is an error, not 3.", _no_args(_integer), "none"),
    Transform("round", "Round half up to N decimal places.", _round, "required",
              {"type": "integer", "minimum": 0, "maximum": 10}, "round: 3"),
    Transform("unit", "Convert between units of mass (mg, g, kg, t) or volume (ml, l).", _unit, "required",
              {"type": "object", "additionalProperties": False, "required": ["from", "to"],
               "properties": {"from": {"enum": list(UNITS)}, "to": {"enum": list(UNITS)}}},
              "unit: {from: g, to: kg}"),
    Transform("boolean", "true/false, 1/0, yes/no, да/нет (1C's \"true\"/\"false\" strings too).",
              _no_args(_boolean), "none"),
    Transform("guid", "A lower-case GUID; 1C's all-zero GUID means none.", _no_args(_guid), "none"),
    Transform("phone", "E.164 phone (+79991234567): a leading 8, spaces, brackets and 'доб.' understood.",
              _phone, "optional",
              {"oneOf": [{"type": ["string", "integer"]},
                         {"type": "object", "additionalProperties": False,
                          "properties": {"country": {"type": ["string", "integer"]}}}]},
              "phone: {country: '375'}"),
    Transform("email", "A trimmed, lower-cased email address.", _no_args(_email), "none"),
    Transform("datetime", "An aware datetime from ISO 8601 or `format`; naive values get `timezone`.",
              _datetime, "optional",
              {"type": "object", "additionalProperties": False, "properties": {**_FORMAT, **_ZONE}},
              "datetime: {format: '%Y-%m-%d %H:%M:%S.%f'}"),
    Transform("local_datetime", "Naive local time text for 1C (2024-05-01T12:30:00) from an aware datetime.",
              _local_datetime, "optional",
              {"type": "object", "additionalProperties": False, "properties": {**_FORMAT, **_ZONE}}),
    Transform("date", "A date from ISO 8601, a datetime or `format`.", _date, "optional",
              {"type": "object", "additionalProperties": False, "properties": _FORMAT},
              "date: {format: '%d.%m.%Y'}"),
    Transform("table", "Replace a value through a table declared under `tables`.", _table, "required",
              {"type": "string"}, "table: status"),
    Transform("lookup", "Replace an id with the linked id in another system (id links).", _lookup, "required",
              {"$ref": "#/definitions/lookup"}, "lookup: {entity: catalog, system_from: root.channel}"),
]}
"""Every transform, by name."""
