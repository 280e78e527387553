"""Reading values out of CommerceML elements: local names, text, numbers, flags, dates.

CommerceML files may or may not declare a default namespace (``urn:1C.ru:commerceml_2``,
``…_210``, ``…_3``), so everything here matches on local names.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from lxml import etree
from pydantic import BaseModel

from connectors.commerceml.items import ParseReport, Problem, RecordKind, Values
from hub.values import from_local_naive, to_decimal

Element = etree._Element

LOCAL_NAMES: dict[str, str] = {}
"""Qualified tag → local name, filled by :func:`local`; the hot path looks it up inline."""
_LOCAL_LIMIT = 10_000  # a file of endless invented tags must not grow the cache without end


class Unreadable(Exception):
    """The record cannot be understood: ``reason`` says why, ``line`` where.

    A signal between the record readers and the parser, never raised to callers: the parser turns it into a
    :class:`~.items.Problem` and goes on, which is why it is not one of :mod:`hub.errors`.
    """

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def local(tag: str) -> str:
    """``{urn:…}Товар`` → ``Товар``."""
    name = LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2]
        if len(LOCAL_NAMES) < _LOCAL_LIMIT:
            LOCAL_NAMES[tag] = name
    return name


def children(element: Element) -> Iterator[tuple[str, Element]]:
    """The child elements with their local names; comments and processing instructions are skipped."""
    for child in element:
        tag = child.tag
        if isinstance(tag, str):
            yield local(tag), child


def source_line(element: Element) -> int | None:
    """The line the element starts on, as libxml2 counted it."""
    line = element.sourceline
    return line if isinstance(line, int) else None  # the stubs type it loosely


def text(element: Element | None) -> str | None:
    """The element's text, stripped; None when absent or blank."""
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def child(element: Element | None, name: str) -> Element | None:
    """The first child called ``name``."""
    if element is None:
        return None
    for tag, found in children(element):
        if tag == name:
            return found
    return None


def child_text(element: Element | None, name: str) -> str | None:
    """The text of the first child called ``name``."""
    return text(child(element, name))


def number(raw: str, what: str) -> Decimal:
    """A Decimal from 1C's text (``1 500,00`` too); :class:`Unreadable` when it is not a finite number."""
    try:
        value = Decimal(raw)  # the common case, without to_decimal's clean-up
    except InvalidOperation:
        try:
            return to_decimal(raw)
        except ValueError:
            raise Unreadable(f"{what} is not a number: {raw!r}") from None
    if not value.is_finite():
        raise Unreadable(f"{what} is not a finite number: {raw!r}")
    return value


_TRUE = frozenset({"true", "1", "да", "истина"})
_FALSE = frozenset({"false", "0", "нет", "ложь"})


def flag(raw: str | None) -> bool | None:
    """1C's booleans (``true``/``false``, sometimes ``да``/``нет``); None when absent or unreadable."""
    if raw is None:
        return None
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return None


def values(element: Element, entry: str, key: str, value: str = "Значение") -> Values:
    """Name → values of a list such as ``ЗначенияРеквизитов/ЗначениеРеквизита/{Наименование,Значение}``."""
    found: Values = {}
    names = LOCAL_NAMES
    for item in element:  # every good carries these lists: walked inline, without children()
        if not isinstance(item.tag, str) or (names.get(item.tag) or local(item.tag)) != entry:
            continue
        name: str | None = None
        texts: list[str] = []
        for part in item:
            tag = part.tag
            if not isinstance(tag, str):
                continue
            tag = names.get(tag) or local(tag)
            if tag == key:
                name = text(part)
            elif tag == value:
                texts.append(text(part) or "")
        if name is not None:
            found.setdefault(name, []).extend(texts)
    return found


def first(found: Values, name: str) -> str | None:
    """The first non-empty value of ``name``."""
    return next((value for value in found.get(name, ()) if value), None)


# 1C writes 2014-06-01T0:36:33 (one-digit hours) and plain dates, so fromisoformat alone is not enough.
_DATETIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?")
_TIME = re.compile(r"(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?")
_RUSSIAN = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?: (\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?")


def local_datetime(raw: str, tz: ZoneInfo) -> dt.datetime:
    """1C's local date-time text (ISO or ``DD.MM.YYYY HH:MM:SS``) as an aware datetime in ``tz``."""
    value = raw.strip()
    if match := _DATETIME.fullmatch(value):
        year, month, day, hour, minute, second = match.groups()
    elif match := _RUSSIAN.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
    else:
        raise ValueError(f"not a date: {raw!r}")
    naive = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))  # noqa: DTZ001 - 1C local time, zone attached next
    return from_local_naive(naive, tz)


def date_and_time(date: str, time: str | None, tz: ZoneInfo) -> dt.datetime:
    """A document's ``Дата`` and ``Время`` (local, no offset) as one aware datetime."""
    moment = local_datetime(date, tz)
    if time:
        clock = _TIME.fullmatch(time.strip())
        if clock is None:
            raise ValueError(f"not a time: {time!r}")
        hour, minute, second = (int(part or 0) for part in clock.groups())
        moment = moment.replace(hour=hour, minute=minute, second=second)
    return moment


@dataclass
class Context:
    """What the record readers of one parse share: where they are, the zone, and the warnings sink."""

    report: ParseReport
    timezone: ZoneInfo
    channel: str
    as_of: dt.datetime
    """When stock was counted: the file's ``ДатаФормирования``, or the moment the parse began."""
    currencies: dict[str, str] = field(default_factory=dict)
    """Price type id → currency, for prices that leave ``Валюта`` out."""

    def warn(self, kind: RecordKind, record: str | None, line: int | None, reason: str) -> None:
        """Note a value of a kept record that was ignored."""
        self.report.note_warning(Problem(self.report.file, line, kind, record, reason))


_CURRENCIES = {"руб": "RUB", "руб.": "RUB", "рубль": "RUB", "rur": "RUB", "643": "RUB"}


def currency(raw: str) -> str:
    """An ISO 4217 code for 1C's currency text (Bitrix writes ``руб``)."""
    return _CURRENCIES.get(raw.lower(), raw.upper())


_Model = TypeVar("_Model", bound=BaseModel)
_set = object.__setattr__


def trusted(model: type[_Model], fields: dict[str, Any]) -> _Model:
    """``model`` from values already of the right types, every field given, without validation.

    What ``model_construct`` does minus its per-field alias and default look-ups: for the hot paths, where
    pydantic's validation of each price, stock level and good took longer than lxml's parsing of them. The
    tests compare what the parser builds this way with the validated model.
    """
    built = model.__new__(model)
    _set(built, "__dict__", fields)
    _set(built, "__pydantic_fields_set__", set(fields))
    _set(built, "__pydantic_extra__", None)
    _set(built, "__pydantic_private__", None)
    return built
