"""The segment rules' grammar (hypothesis), the profile's running figures against sums over the orders, and a
bad rules file refused with its place."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ConfigError
from hub.guests import DATES, NUMBERS, GuestProfile, RuleError, load_segments, parse_rule
from hub.model import Order

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
       "==": lambda a, b: a == b, "!=": lambda a, b: a != b}

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
orders = st.lists(st.tuples(st.sampled_from(["site", "yandex", "hall"]), amounts,
                            st.integers(min_value=0, max_value=400),
                            st.lists(st.sampled_from([f"good {n}" for n in range(30)]), min_size=1, max_size=4)),
                  min_size=1, max_size=30)


def order(channel: str, total: Decimal, days_ago: int, goods: list[str], n: int) -> Order:
    return Order.model_validate({
        "channel": channel, "external_id": str(n), "created_at": NOW - dt.timedelta(days=days_ago), "total": total,
        "lines": [{"product": g, "name": g, "quantity": 1, "unit_price": total, "sum": total} for g in goods]})


def profile_of(placed: list[tuple[str, Decimal, int, list[str]]]) -> GuestProfile:
    made = [order(*o, n) for n, o in enumerate(placed)]
    profile = GuestProfile.starting("ref", made[0])
    for each in made:
        profile.add(each)
    return profile


@given(orders)
def test_the_running_profile_equals_sums_over_its_orders(placed: list[tuple[str, Decimal, int, list[str]]]) -> None:
    profile = profile_of(placed)
    assert profile.orders == len(placed)
    assert profile.spend == sum(total for _, total, _, _ in placed)
    assert profile.last_order_at == NOW - dt.timedelta(days=min(d for _, _, d, _ in placed))
    assert profile.first_order_at == NOW - dt.timedelta(days=max(d for _, _, d, _ in placed))
    for channel in {c for c, *_ in placed}:
        assert profile.channels[channel].spend == sum(t for c, t, _, _ in placed if c == channel)
    assert len(profile.goods) <= 20
    assert GuestProfile.from_row(profile.row()) == profile, "stored and read back unchanged"


conditions = st.one_of(
    st.tuples(st.sampled_from(NUMBERS), st.sampled_from(list(OPS)), st.integers(min_value=0, max_value=50000)),
    st.tuples(st.sampled_from(DATES), st.sampled_from(["older than", "within"]),
              st.integers(min_value=0, max_value=400)))


def expected(condition: tuple[str, str, int], profile: GuestProfile) -> bool:
    name, op, value = condition
    if name in DATES:
        age = NOW - (profile.first_order_at if name == "first_order" else profile.last_order_at)
        return age > dt.timedelta(days=value) if op == "older than" else age <= dt.timedelta(days=value)
    number = profile.number(name)
    return number is not None and OPS[op](number, Decimal(value))


def text_of(condition: tuple[str, str, int]) -> str:
    name, op, value = condition
    return f"{name} {op} {value} days" if name in DATES else f"{name} {op} {value}"


@given(st.lists(st.lists(conditions, min_size=1, max_size=3), min_size=1, max_size=3), orders)
def test_a_rule_holds_exactly_when_its_conditions_say(groups: list[list[tuple[str, str, int]]],
                                                        placed: list[tuple[str, Decimal, int, list[str]]]) -> None:
    text = " or ".join(" and ".join(text_of(c) for c in group) for group in groups)
    profile = profile_of(placed)
    assert parse_rule(text).holds(profile, NOW) == any(all(expected(c, profile) for c in g) for g in groups)


@given(st.text(max_size=60))
def test_any_text_is_a_rule_or_a_rule_error_with_its_column(text: str) -> None:
    try:
        parse_rule(text)
    except RuleError as exc:
        assert 1 <= exc.column <= len(text) + 1


def test_sleeping_is_three_orders_and_a_month_without_one() -> None:
    rules = load_segments()
    sleeping = [("site", Decimal(500), days, ["latte"]) for days in (90, 60, 31)]
    assert rules["sleeping"].holds(profile_of(sleeping), NOW)
    assert not rules["sleeping"].holds(profile_of(sleeping[:2]), NOW), "two orders: not a regular gone quiet"
    assert not rules["sleeping"].holds(profile_of([*sleeping, ("hall", Decimal(200), 2, ["latte"])]), NOW)


def test_a_bad_rule_is_refused_with_its_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text("segments:\n  new: orders < 3\n  sleeping: last_order older 30 days\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_segments(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:3:30:") and "expected 'than'" in problem
