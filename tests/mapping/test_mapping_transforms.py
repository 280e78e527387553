"""Every transform: types, money, dates and time zones, GUIDs, contacts, units."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.errors import InvalidRecord

from .conftest import Convert

UTC = dt.UTC
MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(("transform", "value", "expected"), [
    ("decimal", "1 234,50", Decimal("1234.50")),
    ("decimal", 7, Decimal(7)),
    ("money", Decimal("10.005"), Decimal("10.01")),
    ("money", "99", Decimal("99.00")),
    ("kopecks", 12345, Decimal("123.45")),
    ("kopecks", "100", Decimal("1.00")),
    ("to_kopecks", Decimal("123.45"), 12345),
    ("to_kopecks", "0.005", 1),
    ("integer", "42", 42),
    ("integer", Decimal("3.00"), 3),
    ("{round: 2}", Decimal("2.345"), Decimal("2.35")),
    ("{round: 0}", "2.5", Decimal(3)),
    ("{unit: {from: g, to: kg}}", 1500, Decimal("1.5")),
    ("{unit: {from: kg, to: g}}", Decimal("0.25"), Decimal("250")),
    ("{unit: {from: l, to: ml}}", "0.33", Decimal("330")),
    ("string", Decimal("1E+2"), "100"),
    ("string", True, "true"),
    ("trim", "  Кола 0,5         ", "Кола 0,5"),
    ("lower", "Mixed", "mixed"),
    ("upper", "abc", "ABC"),
    ("null_if_empty", "   ", None),
    ("null_if_empty", "x", "x"),
    ("[trim, null_if_empty]", "                    ", None),
])
def test_conversions(convert: Convert, transform: str, value: Any, expected: Any) -> None:
    result = convert(transform, value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("true", True), ("false", False), ("TRUE", True), (1, True), (0, False),
    ("да", True), ("нет", False), ("yes", True), ("0", False),
])
def test_booleans_including_1c_strings(convert: Convert, value: Any, expected: bool) -> None:
    assert convert("boolean", value) is expected


@pytest.mark.parametrize(("value", "expected"), [
    ("8 (999) 123-45-67", "+79991234567"),
    ("+7 999 123 45 67 доб. 123", "+79991234567"),
    ("9991234567", "+79991234567"),
    (79991234567, "+79991234567"),
    ("+79031111111 доб. 4432", "+79031111111"),
])
def test_phones_become_e164(convert: Convert, value: Any, expected: str) -> None:
    assert convert("phone", value) == expected


def test_phone_country_code_option(convert: Convert) -> None:
    assert convert("{phone: {country: '1'}}", "(202) 555-0143") == "+12025550143"


def test_email_is_trimmed_and_lower_cased(convert: Convert) -> None:
    assert convert("email", "  Guest@Example.COM ") == "guest@example.com"


@pytest.mark.parametrize(("value", "expected"), [
    ("B1C89D94-CB6A-11E6-AEDE-5404A6B4B8ED", "b1c89d94-cb6a-11e6-aede-5404a6b4b8ed"),
    ("00000000-0000-0000-0000-000000000000", None),
])
def test_guids_and_1c_empty_reference(convert: Convert, value: str, expected: str | None) -> None:
    assert convert("guid", value) == expected


@pytest.mark.parametrize(("transform", "value", "expected"), [
    ("datetime", "2024-05-01T09:30:00Z", dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
    ("datetime", "2024-05-01T12:30:00", dt.datetime(2024, 5, 1, 12, 30, tzinfo=MOSCOW)),  # 1C naive local
    ("datetime", "0001-01-01T00:00:00", None),                                             # 1C empty date
    ("{datetime: {format: '%d.%m.%Y %H:%M'}}", "01.05.2024 12:30", dt.datetime(2024, 5, 1, 12, 30, tzinfo=MOSCOW)),
    ("{datetime: {timezone: Asia/Yekaterinburg}}", "2024-05-01 12:30:00.123",
     dt.datetime(2024, 5, 1, 12, 30, 0, 123000, tzinfo=ZoneInfo("Asia/Yekaterinburg"))),
    ("date", "2024-05-01T00:00:00", dt.date(2024, 5, 1)),
    ("{date: {format: '%d.%m.%Y'}}", "09.03.1990", dt.date(1990, 3, 9)),
])
def test_dates_and_times(convert: Convert, transform: str, value: str, expected: Any) -> None:
    result = convert(transform, value)
    assert result == expected
    if isinstance(expected, dt.datetime):
        assert result.utcoffset() == expected.utcoffset()


def test_local_datetime_writes_1c_naive_local_time(convert: Convert) -> None:
    aware = dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert convert("local_datetime", aware) == "2024-05-01T12:30:00"
    assert convert("local_datetime", aware, timezone=ZoneInfo("Asia/Novosibirsk")) == "2024-05-01T16:30:00"
    assert convert("{local_datetime: {format: '%d.%m.%Y'}}", aware) == "01.05.2024"


def test_the_configured_time_zone_reads_1c_naive_time(convert: Convert) -> None:
    result = convert("datetime", "2024-05-01T12:30:00", timezone=ZoneInfo("Asia/Vladivostok"))
    assert result.utcoffset() == dt.timedelta(hours=10)


@pytest.mark.parametrize(("transform", "value", "reason"), [
    ("money", 1.5, "money: refusing float 1.5: money and quantities must not be floats"),
    ("decimal", "abc", "decimal: not a number: 'abc'"),
    ("kopecks", "10.5", "kopecks: not a whole number of kopecks: '10.5'"),
    ("integer", "3.5", "integer: not a whole number: '3.5'"),
    ("boolean", "maybe", "boolean: not a yes/no value: 'maybe' (expected true/false, 1/0 or yes/no)"),
    ("guid", "not-a-guid", "guid: not a GUID: 'not-a-guid'"),
    ("phone", "12", "phone: not a phone number: 2 digits"),
    ("email", "nobody", "email: not an email address"),
    ("trim", 5, "trim: expected text, got int 5"),
    ("local_datetime", "2024-05-01T12:00:00", "local_datetime: refusing to guess the time zone of a naive datetime"),
])
def test_failed_conversions_name_the_transform_and_the_reason(convert: Convert, transform: str, value: Any,
                                                              reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        convert(transform, value)
    assert str(caught.value) == f"result: {reason}"


def test_empty_values_skip_the_chain(convert: Convert) -> None:
    assert convert("[trim, money]", None) is None
