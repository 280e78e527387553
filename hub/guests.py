"""One guest across channels: a running profile per matched guest, and segments over it.

Each guest hub matched to a counterparty (:mod:`hub.customers`) has a profile: first and last order, orders and
spend per channel, favourite goods and the guest's consent to marketing. It is kept up to date one order at a
time, in the transaction that links the order to its guest (:func:`record_order`): one row read and written per
order, whatever the guest's history, so hub never recomputes profiles from all orders on a run. ``hub customers
rebuild`` does that once, on demand (:func:`rebuild`).

Segments are named rules over the profile, in a YAML file the segments job names (``options: {rules: FILE}``;
hub's own, ``config/segments.yaml``, when it names none)::

    segments:
      sleeping: last_order older than 30 days and orders >= 3

A rule is a few conditions joined by ``and`` (and ``or``, which binds looser); each condition is a number of
the profile compared with a number (``orders >= 3``, ``spend > 20000``) or a date of the profile with an age
(``last_order older than 30 days``, ``first_order within 30 days``). Nothing else is allowed, so a rule cannot do
anything but compare. :func:`assign_segments` (the segments job) puts each guest in the segments whose rules hold
now, recording every entering and leaving with its date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hub.errors import ConfigError
from hub.model import Order
from hub.state import State, StateStore
from hub.values import json_dumps, json_loads, money, utcnow
from hub.yamlsource import load_yaml_file

TRACKED_GOODS = 20
"""How many goods a profile counts: when a new one comes, the least ordered goes, so a profile stays one small
row (the favourites of a guest with a long history are, in effect, those of their recent orders)."""
FAVOURITES = 5
SEGMENTS_FILE = "segments.yaml"


@dataclass
class ChannelFigures:
    orders: int = 0
    spend: Decimal = Decimal(0)


@dataclass
class GuestProfile:
    """What hub knows of one guest's orders; money as Decimal, times aware (UTC in, the configured zone shown)."""

    guest: str
    first_order_at: dt.datetime
    last_order_at: dt.datetime
    orders: int = 0
    spend: Decimal = Decimal(0)
    channels: dict[str, ChannelFigures] = field(default_factory=dict)
    goods: dict[str, int] = field(default_factory=dict)
    consent: bool | None = None
    consent_at: dt.datetime | None = None
    segments: list[str] = field(default_factory=list)

    @property
    def average_check(self) -> Decimal:
        return money(self.spend / self.orders) if self.orders else Decimal(0)

    @property
    def lifetime_value(self) -> Decimal:
        """What the guest has spent with the business to date, every channel together (no forecast)."""
        return self.spend

    @property
    def days_between_orders(self) -> Decimal | None:
        """Visit frequency: the mean days from one order to the next; None with a single order."""
        if self.orders < 2:
            return None
        span = Decimal((self.last_order_at - self.first_order_at).total_seconds()) / 86400
        return (span / (self.orders - 1)).quantize(Decimal("0.1"))

    def favourites(self, n: int = FAVOURITES) -> list[str]:
        return [name for name, _ in sorted(self.goods.items(), key=lambda item: (-item[1], item[0]))[:n]]

    def add(self, order: Order) -> None:
        """Count ``order`` in (once: the caller knows it is new)."""
        self.orders += 1
        self.spend += order.total
        self.first_order_at = min(self.first_order_at, order.created_at)
        self.last_order_at = max(self.last_order_at, order.created_at)
        figures = self.channels.setdefault(order.channel, ChannelFigures())
        figures.orders += 1
        figures.spend += order.total
        for name in dict.fromkeys(line.name for line in order.lines):  # a good twice in one order is one visit
            if name not in self.goods and len(self.goods) >= TRACKED_GOODS:
                del self.goods[min(self.goods, key=lambda good: (self.goods[good], good))]
            self.goods[name] = self.goods.get(name, 0) + 1
        said = order.customer.consents.marketing if order.customer else None
        if said is not None and (self.consent_at is None or order.created_at >= self.consent_at):
            self.consent, self.consent_at = said, order.created_at  # the guest's latest word wins

    def number(self, name: str) -> Decimal | None:
        """A number field of the profile, as segment rules name it."""
        values: dict[str, Decimal | int | None] = {
            "orders": self.orders, "spend": self.spend, "average_check": self.average_check,
            "lifetime_value": self.lifetime_value, "channels": len(self.channels),
            "days_between_orders": self.days_between_orders}
        value = values[name]
        return None if value is None else Decimal(value)

    def date(self, name: str) -> dt.datetime:
        return self.first_order_at if name == "first_order" else self.last_order_at

    @classmethod
    def starting(cls, guest: str, order: Order) -> GuestProfile:
        return cls(guest=guest, first_order_at=order.created_at, last_order_at=order.created_at)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> GuestProfile:
        return cls(guest=row["guest"], first_order_at=row["first_order_at"], last_order_at=row["last_order_at"],
                   orders=row["orders"], spend=Decimal(row["spend"]),
                   channels={name: ChannelFigures(int(c["orders"]), Decimal(c["spend"]))
                             for name, c in json_loads(row["channels"]).items()},
                   goods={name: int(n) for name, n in json_loads(row["goods"]).items()},
                   consent=row["consent"], consent_at=row["consent_at"], segments=json_loads(row["segments"]))

    def row(self) -> dict[str, Any]:
        return {"guest": self.guest, "first_order_at": self.first_order_at, "last_order_at": self.last_order_at,
                "orders": self.orders, "spend": str(self.spend),
                "channels": json_dumps({name: {"orders": c.orders, "spend": c.spend}
                                        for name, c in self.channels.items()}),
                "goods": json_dumps(self.goods), "consent": self.consent, "consent_at": self.consent_at,
                "segments": json_dumps(self.segments)}


def record_order(state: State, guest: str, order: Order) -> GuestProfile:
    """Count a newly linked ``order`` into its guest's profile, in the caller's transaction."""
    row = state.guests.get(guest)
    profile = GuestProfile.from_row(row) if row else GuestProfile.starting(guest, order)
    profile.add(order)
    state.guests.put(profile.row())
    return profile


def profile_of(state: State, guest: str) -> GuestProfile | None:
    row = state.guests.get(guest)
    return None if row is None else GuestProfile.from_row(row)


def every_profile(store: StateStore, *, page: int = 500) -> Iterator[GuestProfile]:
    after = ""
    while True:
        with store.reading() as state:
            rows = state.guests.page(after=after, limit=page)
        if not rows:
            return
        yield from (GuestProfile.from_row(row) for row in rows)
        after = rows[-1]["guest"]


def rebuild(store: StateStore, orders: Iterator[tuple[str, Order]]) -> int:
    """Every profile again from ``orders`` (guest, order) — the whole history, once, on demand; how many."""
    profiles: dict[str, GuestProfile] = {}
    for guest, order in orders:
        profiles.setdefault(guest, GuestProfile.starting(guest, order)).add(order)
    kept = {profile.guest: profile.segments for profile in every_profile(store)}
    with store.transaction() as state:
        state.guests.clear()
        for profile in profiles.values():
            profile.segments = kept.get(profile.guest, [])  # segments move only through assign_segments
            state.guests.put(profile.row())
    return len(profiles)


# --- segment rules ------------------------------------------------------------------------------

NUMBERS = ("orders", "spend", "average_check", "lifetime_value", "channels", "days_between_orders")
DATES = ("first_order", "last_order")
_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">=": Decimal.__ge__, "<=": Decimal.__le__, ">": Decimal.__gt__, "<": Decimal.__lt__,
    "==": Decimal.__eq__, "!=": Decimal.__ne__}
_TOKEN = re.compile(r"\s*(>=|<=|==|!=|>|<|\d+(?:\.\d+)?|[A-Za-z_]+|\S)")


class RuleError(ValueError):
    """A rule that cannot be read; ``column`` is where in its text (1-based)."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Compare:
    name: str
    op: str
    value: Decimal

    def holds(self, profile: GuestProfile, now: dt.datetime) -> bool:
        number = profile.number(self.name)
        return number is not None and _COMPARE[self.op](number, self.value)


@dataclass(frozen=True)
class Age:
    name: str
    older: bool
    days: int

    def holds(self, profile: GuestProfile, now: dt.datetime) -> bool:
        age = now - profile.date(self.name)
        limit = dt.timedelta(days=self.days)
        return age > limit if self.older else age <= limit


@dataclass(frozen=True)
class Rule:
    """Conditions as ``or`` of ``and`` groups."""

    groups: tuple[tuple[Compare | Age, ...], ...]

    def holds(self, profile: GuestProfile, now: dt.datetime) -> bool:
        return any(all(c.holds(profile, now) for c in group) for group in self.groups)


def parse_rule(text: str) -> Rule:
    """The rule ``text`` says; RuleError with the column of the first thing that is wrong."""
    tokens = [(m.group(1), m.start(1) + 1) for m in _TOKEN.finditer(text) if m.group(1)]
    if not tokens:
        raise RuleError("an empty rule", 1)
    groups: list[list[Compare | Age]] = [[]]
    at = 0
    while True:
        condition, at = _condition(tokens, at, len(text) + 1)
        groups[-1].append(condition)
        if at == len(tokens):
            return Rule(tuple(tuple(group) for group in groups))
        word, column = tokens[at]
        if word == "or":
            groups.append([])
        elif word != "and":
            raise RuleError(f"expected 'and' or 'or', found {word!r}", column)
        at += 1


def _condition(tokens: list[tuple[str, int]], at: int, end: int) -> tuple[Compare | Age, int]:
    def take(what: str) -> tuple[str, int]:
        if at + len(taken) >= len(tokens):
            raise RuleError(f"the rule ends where {what} should be", end)
        token = tokens[at + len(taken)]
        taken.append(token)
        return token

    taken: list[tuple[str, int]] = []
    name, column = take("a field")
    if name in DATES:
        word, column = take("'older than' or 'within'")
        if word == "older":
            than, column = take("'than'")
            if than != "than":
                raise RuleError(f"expected 'than', found {than!r}", column)
        elif word != "within":
            raise RuleError(f"expected 'older than' or 'within' after {name}, found {word!r}", column)
        days, column = take("a number of days")
        if not days.isdigit():
            raise RuleError(f"expected a whole number of days, found {days!r}", column)
        unit, column = take("'days'")
        if unit not in ("days", "day"):
            raise RuleError(f"expected 'days', found {unit!r}", column)
        return Age(name, word == "older", int(days)), at + len(taken)
    if name in NUMBERS:
        op, column = take("a comparison")
        if op not in _COMPARE:
            raise RuleError(f"expected one of {' '.join(_COMPARE)} after {name}, found {op!r}", column)
        number, column = take("a number")
        if not re.fullmatch(r"\d+(?:\.\d+)?", number):
            raise RuleError(f"expected a number, found {number!r}", column)
        return Compare(name, op, Decimal(number)), at + len(taken)
    raise RuleError(f"unknown field {name!r} (one of {', '.join(NUMBERS + DATES)})", column)


def load_segments(path: Path | None = None) -> dict[str, Rule]:
    """The segments of the file at ``path`` (hub's own defaults when None); ConfigError naming file:line:column
    of every rule that cannot be read."""
    if path is None:
        import config  # the bundled configuration's data package

        path = Path(config.__file__).parent / SEGMENTS_FILE
    doc = load_yaml_file(path, substitute_env=False)
    hint = "a rule is like `last_order older than 30 days and orders >= 3`; see docs/guests.md"
    if doc.problems:
        raise ConfigError(doc.problems, hint=hint)
    segments = doc.data.get("segments") if isinstance(doc.data, dict) else None
    if not isinstance(segments, dict) or not segments:
        raise ConfigError([f"{doc.position(())}: expected `segments:` with a rule per segment"], hint=hint)
    rules, problems = {}, []
    for name, text in segments.items():
        where = doc.position(("segments", name))
        try:
            if not isinstance(text, str):
                raise RuleError("a rule is one line of text", 1)
            rules[str(name)] = parse_rule(text)
        except RuleError as exc:
            problems.append(f"{where.file}:{where.line}:{where.column + exc.column - 1}: segment {name}: {exc}")
    if problems:
        raise ConfigError(problems, hint=hint)
    return rules


@dataclass
class Movement:
    entered: int = 0
    left: int = 0


def assign_segments(store: StateStore, rules: Mapping[str, Rule], now: dt.datetime | None = None,
                    *, page: int = 500) -> Movement:
    """Put every guest in the segments whose rules hold ``now``; each entering and leaving recorded with its date.
    A page of guests per transaction."""
    now = now or utcnow()
    moved = Movement()
    after = ""
    while True:
        with store.transaction() as state:
            rows = state.guests.page(after=after, limit=page)
            for row in rows:
                profile = GuestProfile.from_row(row)
                now_in = [name for name, rule in rules.items() if rule.holds(profile, now)]
                if now_in == profile.segments:
                    continue
                for name in now_in:
                    if name not in profile.segments:
                        state.guests.moved(profile.guest, name, entered=True, at=now)
                        moved.entered += 1
                for name in profile.segments:
                    if name not in now_in:
                        state.guests.moved(profile.guest, name, entered=False, at=now)
                        moved.left += 1
                profile.segments = now_in
                state.guests.put(profile.row())
        if not rows:
            return moved
        after = rows[-1]["guest"]


@dataclass
class SegmentSummary:
    members: dict[str, list[str]]
    """Segment → its guests, for every segment the rules name."""
    week: dict[str, Movement]
    """Segment → how many entered and left it in the last seven days."""


def summary(store: StateStore, rules: Mapping[str, Rule], now: dt.datetime | None = None) -> SegmentSummary:
    now = now or utcnow()
    members: dict[str, list[str]] = {name: [] for name in rules}
    for profile in every_profile(store):
        for name in profile.segments:
            members.setdefault(name, []).append(profile.guest)
    week: dict[str, Movement] = {name: Movement() for name in members}
    with store.reading() as state:
        for _, segment, entered, _ in state.guests.movements(now - dt.timedelta(days=7)):
            move = week.setdefault(segment, Movement())
            if entered:
                move.entered += 1
            else:
                move.left += 1
    return SegmentSummary(members, week)


def top(store: StateStore, n: int = 10) -> list[GuestProfile]:
    """The ``n`` guests who spent most (a pass over the profiles; no history is read)."""
    return sorted(every_profile(store), key=lambda p: (-p.spend, p.guest))[:n]


def figures(profile: GuestProfile, tz: dt.tzinfo) -> dict[str, Any]:
    """The profile as a CRM's fields and a mailing list's columns take it: text and numbers, dates in ``tz``."""
    return {"segments": ", ".join(profile.segments), "orders": profile.orders, "spend": profile.spend,
            "average_check": profile.average_check, "lifetime_value": profile.lifetime_value,
            "first_order": profile.first_order_at.astimezone(tz).date().isoformat(),
            "last_order": profile.last_order_at.astimezone(tz).date().isoformat(),
            "favourites": ", ".join(profile.favourites())}
