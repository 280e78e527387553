"""How iiko writes values on the wire, read tolerantly and written strictly; shared by the iiko modules.

iiko's dates are ``yyyy-MM-dd HH:mm:ss.fff`` without an offset (order times in
the terminal's local time, event and stop-list times in UTC). Its answers may
carry numbers as text, ``null`` where an empty array is meant, and ids as
numbers; the readers here accept all of that and turn anything else into None,
so callers decide whether a missing value is an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from hub.values import to_decimal

_DATETIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


def format_datetime(value: dt.datetime, tz: ZoneInfo | dt.tzinfo) -> str:
    """An aware datetime as iiko writes one: ``yyyy-MM-dd HH:mm:ss.fff`` in ``tz``, without an offset."""
    if value.tzinfo is None:
        raise ValueError("refusing to guess the time zone of a naive datetime")
    local = value.astimezone(tz)
    return f"{local:{_DATETIME_FORMAT}}.{local.microsecond // 1000:03d}"


def parse_datetime(written: str, tz: ZoneInfo | dt.tzinfo) -> dt.datetime:
    """iiko's ``yyyy-MM-dd HH:mm:ss.fff`` (fraction optional, ``T`` tolerated) as an aware datetime in ``tz``.

    An offset, if iiko ever sends one, wins over ``tz``. Raises ValueError for anything else.
    """
    value = dt.datetime.fromisoformat(written.strip().replace(" ", "T", 1))
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def datetime_or_none(value: Any, tz: ZoneInfo | dt.tzinfo) -> dt.datetime | None:
    """:func:`parse_datetime` for a value that may be missing, null or unreadable: None then."""
    written = text(value)
    if written is None:
        return None
    try:
        return parse_datetime(written, tz)
    except ValueError:
        return None


def objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array; null (iiko's habit for "none") and non-objects read as nothing."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """A non-blank string (an id sent as a number becomes its digits); None for anything else."""
    if isinstance(value, str):
        return value if value.strip() else None
    if type(value) is int:  # ids and codes sometimes come as numbers
        return str(value)
    return None


def integer(value: Any) -> int | None:
    """A whole number, also when written as text or as ``5.0``; None for anything else."""
    if type(value) is int:
        return value
    if isinstance(value, Decimal | str):
        try:
            number = to_decimal(value)
        except (ValueError, TypeError):
            return None
        return int(number) if number == number.to_integral_value() else None
    return None


def decimal(value: Any) -> Decimal | None:
    """A number iiko wrote as a number or as text (``"10"``, ``"1,5"``); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return to_decimal(value)
    except (ValueError, TypeError):
        return None


def compact(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without its None values: iiko is sent only what is known."""
    return {key: value for key, value in data.items() if value is not None}


def member(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The object under ``key``; an empty one when it is missing, null or not an object."""
    value = record.get(key)
    return value if isinstance(value, Mapping) else {}
