"""Time zones, money and JSON: the one place hub handles them.

1C stores datetimes as local wall-clock time without an offset; channels send
UTC or offsets. Inside hub every datetime is timezone-aware: naive values are
converted at the edge with the configured 1C time zone (:func:`from_local_naive`)
and back (:func:`to_local_naive`). Money and quantities are :class:`~decimal.Decimal`
from the wire to the database; Prices never pass through a binary float. Raw ``datetime.now()`` and the
``json`` module are banned elsewhere by ruff (see ``pyproject.toml``). JSON is
read and written with simplejson in Decimal mode: ``0.305`` reads as
``Decimal('0.305')`` and writes back as the number ``0.305``, never as a float
or a string.
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import simplejson as _json
from pydantic import BaseModel

DEFAULT_TIMEZONE = "Europe/Moscow"
KOPECK = Decimal("0.01")

# --- time ---------------------------------------------------------------------


def utcnow() -> _dt.datetime:
    """The current time, aware, in UTC."""
    return _dt.datetime.now(_dt.UTC)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a clear ValueError when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Moscow)") from exc


def from_local_naive(value: _dt.datetime, tz: ZoneInfo) -> _dt.datetime:
    """Attach ``tz`` to a naive local datetime as 1C writes it; aware values pass unchanged."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def to_local_naive(value: _dt.datetime, tz: ZoneInfo) -> _dt.datetime:
    """Convert an aware datetime to naive wall-clock time in ``tz``, as 1C expects it."""
    if value.tzinfo is None:
        raise ValueError("refusing to guess the time zone of a naive datetime")
    return value.astimezone(tz).replace(tzinfo=None)


# --- money and quantities --------------------------------------------------------


def to_decimal(value: Any) -> Decimal:
    """``value`` as a Decimal; floats are refused so binary rounding never reaches money."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool | float):  # ValueError, so pydantic reports it as a validation error
        raise ValueError(f"refusing {type(value).__name__} {value!r}: money and quantities must not be floats")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
        if not result.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return result
    raise TypeError(f"cannot read a number from {type(value).__name__}")


def money(value: Any) -> Decimal:
    """Round to kopecks, half up, as receipts do; a sum too large to hold in kopecks is a ValueError."""
    try:
        return to_decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # "1e400": more digits than the context holds, bad input like any other number
        raise ValueError(f"not a sum of money: {value!r}") from None


# --- contact data ----------------------------------------------------------------

_EXTENSION = re.compile(r"(доб\.?|ext\.?|extension|x|#)\s*\d+\s*$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_phone(raw: str, *, country_code: str = "7") -> str:
    """A phone number in E.164 (``+79991234567``); the extension, if any, is dropped.

    Russian habits are understood: a leading 8 is the trunk prefix, ten digits
    are a number without the country code. Idempotent: normalising an E.164
    number returns it unchanged. Raises ValueError when no number can be read.
    """
    text = _EXTENSION.sub("", raw.strip())
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.startswith("+"):
        number = digits
    elif len(digits) == 11 and digits[0] in "78" and country_code == "7":
        number = "7" + digits[1:]
    elif len(digits) == 10:
        number = country_code + digits
    else:
        number = digits
    if not 8 <= len(number) <= 15 or number.startswith("0"):
        raise ValueError(f"not a phone number: {len(digits)} digits")
    return "+" + number


def normalize_email(raw: str) -> str:
    """An email trimmed and lower-cased; ValueError when it is not an address."""
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError("not an email address")
    return email


# --- JSON ------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def json_dumps(value: Any, *, indent: int | None = None, ascii_only: bool = False) -> str:
    """JSON text with Decimals as exact numbers, datetimes in ISO 8601, Cyrillic left readable (escaped with
    ``ascii_only``: the one way to write text holding half an emoji, a lone surrogate, that UTF-8 cannot encode)."""
    if isinstance(value, float) or _has_float(value):
        raise ValueError("refusing to write a float to JSON: use Decimal for money and quantities")
    text: str = _json.dumps(value, default=_default, use_decimal=True, ensure_ascii=ascii_only, indent=indent,
                            sort_keys=indent is not None, allow_nan=False)
    return text


def json_loads(text: str | bytes) -> Any:
    """Parse JSON keeping every non-integer number as a Decimal; NaN and Infinity are refused.

    A leading UTF-8 byte order mark is skipped, as RFC 8259 allows (iiko sends one). Nesting deeper than Python's
    recursion limit is a ValueError like any other unreadable JSON, not a crash of whoever reads a channel's body.
    """
    try:
        return _json.loads(text, use_decimal=True, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _has_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(isinstance(v, float) or _has_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(isinstance(v, float) or _has_float(v) for v in value)
    return False
