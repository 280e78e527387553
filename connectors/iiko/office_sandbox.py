"""iikoServer's resto API for the iiko sandbox: the same café's sales, as its back office reports them.

A café's iikoServer and its iikoCloud see the same POS, so this emulator reads
the orders of :class:`~connectors.iiko.sandbox.IikoSandbox` and is served by it
under ``/resto/api/``::

    with IikoSandbox() as iiko:
        settings = iiko.office_settings()   # {"url": "http://127.0.0.1:…/resto/api/", "login": …, "password": …}

What it serves, as :mod:`connectors.iiko.server` describes the real one:

* ``auth`` (a POST form or the documented GET, ``login`` and the SHA-1 of the
  password in hex) answers a session key in plain text; a wrong login is a 401
  with a plain-text reason. **Each session takes a licence seat**
  (:attr:`OfficeSandbox.seats`, one by default) until ``logout``; a login with
  every seat taken is refused with 403 [U: the wording of iiko's refusal];
* every other call needs the key (``key=`` or a ``key`` cookie); a missing or
  unknown key is a 401;
* ``v2/reports/olap/columns?reportType=SALES`` (the columns below, described as
  in the sample ``iikoserver/olap_columns.json``) and ``POST v2/reports/olap`` for
  SALES reports over closed orders' items: grouped by any of ``OpenDate.Typed``
  (the order's open date, written ``yyyy-MM-dd`` [U: the sample types it
  DATETIME]), ``Department.Id``, ``OrderDeleted`` and ``Storned``; with the
  aggregates ``DishSumInt`` (before discounts), ``DishDiscountSumInt`` (after)
  and ``DishAmountInt``; filtered by an ``OpenDate.Typed`` date range and by
  values of the others (``IncludeValues``/``ExcludeValues``; ``NOT_DELETED``/
  ``DELETED`` and ``FALSE``/``TRUE`` as integrations send them [U]). The café
  never deletes or storns a sale here, so those two filters are checked, and
  pass every sale. Other fields, values and report types are answered with a
  plain-text 400, as iikoServer answers a field it does not know.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from werkzeug.wrappers import Request, Response

from hub.values import json_dumps, json_loads, money

GROUPING: Final = ("OpenDate.Typed", "Department.Id", "OrderDeleted", "Storned")
AGGREGATES: Final = ("DishSumInt", "DishDiscountSumInt", "DishAmountInt")
_COLUMNS: Final = {
    "OpenDate.Typed": ("Order open date and time", "DATETIME", False, True, True),
    "Department.Id": ("Department ID", "ID", False, True, True),
    "DishSumInt": ("Sum without discount", "MONEY", True, False, True),
    "DishDiscountSumInt": ("Sum with discount", "MONEY", True, False, True),
    "DishAmountInt": ("Dish quantity", "INTEGER", True, False, True),
    "OrderDeleted": ("Order deleted", "BOOLEAN", False, True, True),
    "Storned": ("Storned", "BOOLEAN", False, True, True),
}
"""name → (title, type, aggregationAllowed, groupingAllowed, filteringAllowed)."""
_VALUES: Final = {"OrderDeleted": ("NOT_DELETED", "DELETED"), "Storned": ("FALSE", "TRUE")}
"""The words each flag is filtered and grouped by; every sale of the sandbox has the first."""

Sale = tuple[dt.date, str, Decimal, Decimal, Decimal]
"""One sold item: open date, department id, sum before and after discounts, amount."""


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class OfficeSandbox:
    """The resto API over a café's closed sales; ``sales`` reads them from the iikoCloud sandbox."""

    def __init__(self, sales: Callable[[], Iterable[Sale]], *, login: str = "sandbox-office",
                 password: str = "sandbox-office-password", seats: int = 1) -> None:  # noqa: S107
        self._sales = sales
        self.login = login
        self.password = password
        self.seats = seats
        """Licence seats: how many sessions may be open at once."""
        self.sessions: set[str] = set()
        """Keys of the sessions open now: each holds a seat."""
        self.logins = 0
        self._lock = threading.Lock()

    def settings(self, base_url: str) -> dict[str, Any]:
        """The ``office`` settings of an iiko source reading this emulator."""
        return {"url": f"{base_url}/resto/api/", "login": self.login, "password": self.password}

    def handle(self, request: Request, path: str) -> Response:
        """Answer ``path`` (below ``/resto/api/``)."""
        try:
            if path == "auth":
                return self._auth(request)
            key = request.args.get("key") or request.cookies.get("key", "")  # iiko takes either
            with self._lock:
                known = key in self.sessions
            if not known:
                raise _Refused(401, "Token is expired or invalid")
            if path == "logout":
                with self._lock:
                    self.sessions.discard(key)
                return _text("")
            if path == "v2/reports/olap/columns" and request.method == "GET":
                return self._columns(request.args.get("reportType", ""))
            if path == "v2/reports/olap" and request.method == "POST":
                return self._olap(request)
            return _text("Not found", 404)
        except _Refused as refused:
            return _text(str(refused), refused.status)

    # --- session ---------------------------------------------------------------------------------

    def _auth(self, request: Request) -> Response:
        given = request.form if request.method == "POST" else request.args
        expected = hashlib.sha1(self.password.encode()).hexdigest()  # noqa: S324 - iiko's scheme
        good = (hmac.compare_digest(given.get("login", "").encode(), self.login.encode())
                and hmac.compare_digest(given.get("pass", "").lower().encode(), expected.encode()))
        if not good:
            raise _Refused(401, "Wrong login or password")
        with self._lock:
            if len(self.sessions) >= self.seats:
                raise _Refused(403, "License enhancement is required: no free connections")
            key = secrets.token_hex(16)
            self.sessions.add(key)
            self.logins += 1
        return _text(key)

    # --- OLAP ------------------------------------------------------------------------------------

    @staticmethod
    def _columns(report_type: str) -> Response:
        if report_type != "SALES":
            raise _Refused(400, f"Unsupported report type: {report_type}")
        return Response(json_dumps({name: {"name": title, "type": kind, "aggregationAllowed": aggregation,
                                           "groupingAllowed": grouping, "filteringAllowed": filtering, "tags": []}
                                    for name, (title, kind, aggregation, grouping, filtering) in _COLUMNS.items()}),
                        content_type="application/json; charset=utf-8")

    def _olap(self, request: Request) -> Response:
        try:
            body = json_loads(request.get_data())
        except ValueError:
            raise _Refused(400, "Can not parse request body") from None
        if not isinstance(body, dict):
            raise _Refused(400, "Request body must be a JSON object")
        if body.get("reportType") != "SALES":
            raise _Refused(400, f"Unsupported report type: {body.get('reportType')}")
        group = _names(body, "groupByRowFields", GROUPING)
        _names(body, "groupByColFields", ())
        aggregates = _names(body, "aggregateFields", AGGREGATES)
        filters = body.get("filters") or {}
        if not isinstance(filters, dict):
            raise _Refused(400, "filters must be an object")
        first, last = _period(filters.get("OpenDate.Typed"))
        kept = {name: _values_filter(name, wanted) for name, wanted in filters.items() if name != "OpenDate.Typed"}
        rows: defaultdict[tuple[str, ...], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
        for day, department, before, after, amount in self._sales():
            if (first is not None and day < first) or (last is not None and day > last):
                continue
            values = {"OpenDate.Typed": day.isoformat(), "Department.Id": department,
                      **{name: words[0] for name, words in _VALUES.items()}}
            if not all((values[name] in listed) is include for name, (include, listed) in kept.items()):
                continue
            row = rows[tuple(values[name] for name in group)]
            for index, value in enumerate((before, after, amount)):
                row[index] += value
        data = [{**dict(zip(group, key, strict=True)),
                 **{name: money(sums[AGGREGATES.index(name)]) if name != "DishAmountInt"
                    else sums[AGGREGATES.index(name)] for name in aggregates}}
                for key, sums in sorted(rows.items())]
        return Response(json_dumps({"data": data, "summary": []}), content_type="application/json; charset=utf-8")


def _names(body: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> list[str]:
    names = body.get(key, [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _Refused(400, f"{key} must be a list of field names")
    for name in names:
        if name not in allowed:
            raise _Refused(400, f"Unknown OLAP field in {key}: {name}")
    return names


def _period(wanted: Any) -> tuple[dt.date | None, dt.date | None]:
    """The first and last open date a ``DateRange`` filter on ``OpenDate.Typed`` lets through."""
    if wanted is None:
        return None, None
    if not isinstance(wanted, dict) or wanted.get("filterType") != "DateRange" or wanted.get("periodType") != "CUSTOM":
        raise _Refused(400, "OpenDate.Typed: the sandbox takes a CUSTOM DateRange only")
    try:
        first, last = (dt.date.fromisoformat(str(wanted[end])[:10]) for end in ("from", "to"))
    except (KeyError, ValueError):
        raise _Refused(400, "OpenDate.Typed: from and to must be dates, yyyy-MM-dd") from None
    if wanted.get("includeLow") is False:
        first += dt.timedelta(days=1)
    if wanted.get("includeHigh") is not True:
        last -= dt.timedelta(days=1)
    return first, last


def _values_filter(name: str, wanted: Any) -> tuple[bool, frozenset[str]]:
    """An ``IncludeValues``/``ExcludeValues`` filter on ``name``: whether it includes, and the values it lists."""
    if name not in _COLUMNS or name in AGGREGATES:
        raise _Refused(400, f"Unknown OLAP field in filters: {name}")
    kind = wanted.get("filterType") if isinstance(wanted, dict) else None
    values = wanted.get("values") if isinstance(wanted, dict) else None
    if kind not in ("IncludeValues", "ExcludeValues") or not isinstance(values, list):
        raise _Refused(400, f"{name}: the sandbox takes IncludeValues or ExcludeValues with a list of values")
    unknown = [v for v in values if name in _VALUES and v not in _VALUES[name]]
    if unknown:
        raise _Refused(400, f"{name}: unknown value(s) {', '.join(map(str, unknown))}")
    return kind == "IncludeValues", frozenset(str(v) for v in values)


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/plain; charset=utf-8")
