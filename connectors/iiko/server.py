"""iikoServer (the on-premise "resto" API of iikoOffice): sales reports, stock balances, cash shifts.

::

    server = IikoServerClient(HttpClient(base_url="https://cafe.iiko.it/resto/api/", source="iiko-office"),
                              login="hub", password=password, timezone=zone("Europe/Moscow"))
    with server.session() as office:               # logs in; always logs out, whatever happens inside
        shifts = office.cash_shifts(dt.date(2026, 7, 24), dt.date(2026, 7, 24))
        rows = office.sales(dt.date(2026, 7, 24), dt.date(2026, 7, 25),
                            group_by=["Department.Id", "DishId"], aggregates=["DishAmountInt", "DishSumInt"])

How it differs from iikoCloud, for a newcomer:

* it runs at the café's own server (``https://<name>.iiko.it/resto/api/``), mostly
  ``GET`` with JSON or XML answers, and errors are plain text (or a Java stack
  trace), not JSON;
* **a login takes a licence seat.** ``auth`` with the iikoOffice user's login and
  the SHA-1 of the password (hex) answers a session key in plain text; the key
  goes with every call as ``key=``. Seats are few, and an abandoned session holds
  one until it times out, so :meth:`IikoServerClient.session` always calls
  ``logout``, even when the work inside failed;
* sales come from OLAP reports (``POST v2/reports/olap``, report type ``SALES``):
  rows grouped by the fields asked for, with the aggregates asked for;
* stock is a snapshot (``v2/reports/balance/stores`` at a moment): rows with
  zero balance are left out and negative balances happen.

[U] Login: iiko documents ``GET auth?login=&pass=``; one stand took only a POST
form. The client POSTs the form first (the password hash then stays out of URLs
and logs) and falls back to the documented GET when the form is refused with
404 or 405.

Money and quantities are Decimal (JSON is read with :func:`hub.values.json_loads`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

import requests

from connectors.iiko._wire import decimal, integer, objects, text
from hub.errors import AuthError, HubError, ProtocolError
from hub.http import HttpClient
from hub.logs import add_secrets
from hub.values import from_local_naive, json_dumps, json_loads, to_local_naive

SHIFT_STATUSES: Final = ("ANY", "OPEN", "CLOSED")
_DATE: Final = "%Y-%m-%d"
_LOGIN_FALLBACK: Final = frozenset({404, 405})


@dataclass(frozen=True)
class CashShift:
    """A cash register shift with its closing totals, for reconciling a day's sales."""

    id: str
    number: int | None
    status: str
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None
    department_id: str | None
    sales_cash: Decimal
    sales_card: Decimal
    sales_credit: Decimal
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class OlapColumn:
    """A field an OLAP report can group by, filter on or aggregate."""

    name: str
    title: str
    type: str
    aggregation: bool
    grouping: bool
    filtering: bool


@dataclass(frozen=True)
class StoreBalance:
    """How much of a product a store holds at the moment asked (``amount`` may be negative)."""

    store: str
    product: str
    amount: Decimal
    sum: Decimal


class IikoServerClient:
    """Opens iikoServer sessions; everything else happens on the :class:`IikoServerSession` it yields."""

    def __init__(self, http: HttpClient, *, login: str, password: str, timezone: ZoneInfo) -> None:
        """``http`` is rooted at the server's ``…/resto/api/``; ``password`` is the iikoOffice user's own.

        ``timezone`` is the server's wall clock: it writes and reads times without an offset.
        """
        self.http = http
        self.login = login
        self.tz = timezone
        self._hash = hashlib.sha1(password.encode()).hexdigest()  # noqa: S324 - iiko's scheme, not ours
        add_secrets([password, self._hash])

    @contextmanager
    def session(self) -> Iterator[IikoServerSession]:
        """Log in, yield the session, and log out again however the block ends."""
        key = self._log_in()
        try:
            yield IikoServerSession(self.http, key, self.tz)
        finally:
            try:
                self.http.get("logout", params={"key": key})
            except HubError as exc:
                # The seat frees itself when the session times out; the work's own outcome matters more.
                self.http.log.warning("iikoServer logout failed, the licence seat stays taken until timeout: %s", exc)

    def _log_in(self) -> str:
        form = {"login": self.login, "pass": self._hash}
        response = self.http.post("auth", data=form, expect=_LOGIN_FALLBACK, idempotent=True)
        if response.status_code in _LOGIN_FALLBACK:
            response = self.http.get("auth", params=form)
        key = response.text.strip()
        if not key or " " in key or "<" in key:
            raise ProtocolError("iikoServer answered auth without a session key")
        if key.lower().startswith(("wrong", "invalid", "incorrect")):
            raise AuthError("iikoServer refused the login", hint="check the iikoOffice user and password")
        add_secrets([key])
        return key


class IikoServerSession:
    """Calls inside one logged-in iikoServer session."""

    def __init__(self, http: HttpClient, key: str, timezone: ZoneInfo) -> None:
        self.http = http
        self.key = key
        self.tz = timezone

    def cash_shifts(self, date_from: dt.date, date_to: dt.date, *, status: str = "ANY",
                    department_id: str | None = None) -> list[CashShift]:
        """Shifts opened between the two dates (inclusive), of every status unless told otherwise."""
        if status not in SHIFT_STATUSES:
            raise ValueError(f"not a cash shift status: {status} (one of {', '.join(SHIFT_STATUSES)})")
        params = {"openDateFrom": f"{date_from:{_DATE}}", "openDateTo": f"{date_to:{_DATE}}", "status": status}
        if department_id:
            params["departmentId"] = department_id
        return [_shift(item, self.tz) for item in objects(self._get("v2/cashshifts/list", params))
                if text(item.get("id"))]

    def shift_payments(self, session_id: str) -> dict[str, Any]:
        """Card payments, pay-ins and pay-outs of one shift, accepted ones included."""
        data = self._get(f"v2/cashshifts/payments/list/{session_id}", {"hideAccepted": "false"})
        if not isinstance(data, dict):
            raise ProtocolError("iikoServer answered the shift payments with something other than an object")
        return data

    def olap_columns(self, report_type: str = "SALES") -> dict[str, OlapColumn]:
        """The fields an OLAP report of ``report_type`` offers, by name."""
        data = self._get("v2/reports/olap/columns", {"reportType": report_type})
        if not isinstance(data, dict):
            raise ProtocolError("iikoServer answered the OLAP columns with something other than an object")
        return {name: OlapColumn(name=name, title=text(column.get("name")) or name, type=text(column.get("type")) or "",
                                 aggregation=column.get("aggregationAllowed") is True,
                                 grouping=column.get("groupingAllowed") is True,
                                 filtering=column.get("filteringAllowed") is True)
                for name, column in data.items() if isinstance(column, dict)}

    def olap(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rows of an OLAP report described by ``request`` (iiko's v2 OLAP body)."""
        response = self.http.post("v2/reports/olap", params={"key": self.key}, data=json_dumps(dict(request)).encode(),
                                  headers={"Content-Type": "application/json; charset=utf-8"}, idempotent=True)
        data = _json(response, "v2/reports/olap")
        rows = data.get("data") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise ProtocolError("iikoServer answered the OLAP report without a data list")
        return objects(rows)

    def sales(self, date_from: dt.date, date_to: dt.date, *, group_by: Sequence[str],
              aggregates: Sequence[str], department_id: str | None = None) -> list[dict[str, Any]]:
        """SALES rows of the days from ``date_from`` up to (not including) ``date_to``, deleted and storned
        sales left out; of one department when ``department_id`` is given."""
        filters: dict[str, Any] = {
            "OpenDate.Typed": {"filterType": "DateRange", "periodType": "CUSTOM", "from": f"{date_from:{_DATE}}",
                               "to": f"{date_to:{_DATE}}", "includeLow": True, "includeHigh": False},
            "OrderDeleted": {"filterType": "IncludeValues", "values": ["NOT_DELETED"]},
            "Storned": {"filterType": "IncludeValues", "values": ["FALSE"]},
        }
        if department_id:
            filters["Department.Id"] = {"filterType": "IncludeValues", "values": [department_id]}
        return self.olap({"reportType": "SALES", "buildSummary": False, "groupByRowFields": list(group_by),
                          "groupByColFields": [], "aggregateFields": list(aggregates), "filters": filters})

    def store_balances(self, at: dt.datetime, *, store: str | None = None,
                       product: str | None = None) -> list[StoreBalance]:
        """Stock of every store (or one) at the moment ``at`` (aware; written in the server's wall-clock time)."""
        params = {"timestamp": f"{to_local_naive(at, self.tz):%Y-%m-%dT%H:%M:%S}"}
        if store:
            params["store"] = store
        if product:
            params["product"] = product
        return [StoreBalance(store=text(row.get("store")) or "", product=text(row.get("product")) or "",
                             amount=decimal(row.get("amount")) or Decimal(0), sum=decimal(row.get("sum")) or Decimal(0))
                for row in objects(self._get("v2/reports/balance/stores", params))]

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        return _json(self.http.get(path, params={**params, "key": self.key}), path)


def _json(response: requests.Response, what: str) -> Any:
    try:
        return json_loads(response.content)
    except ValueError as exc:
        raise ProtocolError(f"iikoServer answered {what} with something that is not JSON: {exc}") from None


def _shift(item: Mapping[str, Any], tz: ZoneInfo) -> CashShift:
    return CashShift(
        id=text(item.get("id")) or "", number=integer(item.get("sessionNumber")),
        status=text(item.get("sessionStatus")) or "", opened_at=_local(item.get("openDate"), tz),
        closed_at=_local(item.get("closeDate"), tz), department_id=text(item.get("pointOfSaleId")),
        sales_cash=decimal(item.get("salesCash")) or Decimal(0),
        sales_card=decimal(item.get("salesCard")) or Decimal(0),
        sales_credit=decimal(item.get("salesCredit")) or Decimal(0), raw=dict(item))


def _local(value: Any, tz: ZoneInfo) -> dt.datetime | None:
    """iikoServer's wall-clock ``2026-07-24T08:02:15`` as an aware datetime in ``tz``; None if unreadable."""
    written = text(value)
    if written is None:
        return None
    try:
        return from_local_naive(dt.datetime.fromisoformat(written), tz)
    except ValueError:
        return None
