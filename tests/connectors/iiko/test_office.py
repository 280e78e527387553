"""The iiko sandbox's iikoServer (resto API) over real HTTP, driven by IikoServerClient: seats, OLAP sales."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import requests

from connectors.iiko import IikoSandbox
from connectors.iiko.sandbox import CARD, DEPARTMENT
from connectors.iiko.server import IikoServerClient
from hub.errors import AuthError, RequestRejected
from hub.http import HttpClient
from hub.settings import RetryPolicy
from hub.values import utcnow
from tests.connectors.iiko.conftest import MOSCOW


def office(iiko: IikoSandbox, *, password: str | None = None) -> IikoServerClient:
    settings = iiko.office_settings()
    http = HttpClient(base_url=settings["url"], source="iiko-office", retry=RetryPolicy(attempts=1))
    return IikoServerClient(http, login=settings["login"], password=password or settings["password"],
                            timezone=MOSCOW)


def sell(iiko: IikoSandbox, when: dt.datetime, *, discount: Decimal = Decimal(0), close: bool = True) -> str:
    order = iiko.open_delivery([(iiko.products["cappuccino"], Decimal(2), None),
                                (iiko.products["parmesan"], Decimal("0.305"), None)], opened=when)
    if close:
        iiko.close_order(order, payments=((CARD, None),), discount=discount)
    return order


def test_a_session_holds_the_one_licence_seat_until_it_logs_out(iiko: IikoSandbox) -> None:
    client = office(iiko)
    with client.session():
        assert len(iiko.office.sessions) == 1
        with pytest.raises(AuthError, match="403"), client.session():
            pass
    assert iiko.office.sessions == set()
    with client.session():  # the seat is free again
        pass
    assert iiko.office.logins == 2


def test_a_wrong_password_or_key_is_refused(iiko: IikoSandbox) -> None:
    with pytest.raises(AuthError, match="Wrong login or password"), office(iiko, password="guess").session():
        pass
    answer = requests.post(iiko.office_settings()["url"] + "v2/reports/olap", params={"key": "stolen"},
                           json={"reportType": "SALES"}, timeout=10)
    assert (answer.status_code, answer.headers["Content-Type"]) == (401, "text/plain; charset=utf-8")
    assert iiko.office.sessions == set()


def test_sales_are_closed_orders_after_discounts_per_open_day(iiko: IikoSandbox) -> None:
    today = utcnow().astimezone(MOSCOW)
    yesterday = today - dt.timedelta(days=1)
    sell(iiko, yesterday)
    sell(iiko, yesterday, discount=Decimal("100.50"))
    sell(iiko, yesterday, close=False)  # still open: no sale yet
    sell(iiko, today)

    with office(iiko).session() as session:
        columns = session.olap_columns()
        rows = session.sales(yesterday.date(), today.date() + dt.timedelta(days=1),
                             group_by=["OpenDate.Typed", "Department.Id"],
                             aggregates=["DishSumInt", "DishDiscountSumInt", "DishAmountInt"])
        only_yesterday = session.sales(yesterday.date(), today.date(), group_by=["OpenDate.Typed"],
                                       aggregates=["DishDiscountSumInt"])

    one = 2 * Decimal(180) + Decimal("0.305") * 2400  # two cappuccinos and 305 g of parmesan: 1092.00
    assert columns["DishDiscountSumInt"].aggregation and columns["OpenDate.Typed"].grouping
    assert rows == [
        {"OpenDate.Typed": yesterday.date().isoformat(), "Department.Id": DEPARTMENT, "DishSumInt": 2 * one,
         "DishDiscountSumInt": 2 * one - Decimal("100.50"), "DishAmountInt": 2 * Decimal("2.305")},
        {"OpenDate.Typed": today.date().isoformat(), "Department.Id": DEPARTMENT, "DishSumInt": one,
         "DishDiscountSumInt": one, "DishAmountInt": Decimal("2.305")}]
    assert only_yesterday == [{"OpenDate.Typed": yesterday.date().isoformat(),
                               "DishDiscountSumInt": 2 * one - Decimal("100.50")}]
    assert iiko.office.sessions == set()


def test_a_field_or_value_the_report_does_not_know_is_a_plain_text_400(iiko: IikoSandbox) -> None:
    with office(iiko).session() as session:  # the café has sold nothing: refused all the same
        with pytest.raises(RequestRejected, match="Unknown OLAP field"):
            session.sales(dt.date(2026, 7, 24), dt.date(2026, 7, 25), group_by=["NoSuchField"],
                          aggregates=["DishDiscountSumInt"])
        with pytest.raises(RequestRejected, match="OrderDeleted: unknown value"):
            session.olap({"reportType": "SALES", "groupByRowFields": [], "aggregateFields": ["DishSumInt"],
                          "filters": {"OrderDeleted": {"filterType": "IncludeValues", "values": ["FALSE"]}}})
    assert iiko.office.sessions == set()


def test_filters_by_department_and_flags_are_applied_and_checked(iiko: IikoSandbox) -> None:
    yesterday = utcnow().astimezone(MOSCOW) - dt.timedelta(days=1)
    sell(iiko, yesterday)
    day, next_day = yesterday.date(), yesterday.date() + dt.timedelta(days=1)
    with office(iiko).session() as session:
        ours = session.sales(day, next_day, group_by=["OrderDeleted", "Storned"], aggregates=["DishDiscountSumInt"],
                             department_id=DEPARTMENT)
        elsewhere = session.sales(day, next_day, group_by=["OpenDate.Typed"], aggregates=["DishDiscountSumInt"],
                                  department_id="another-department")
        deleted = session.olap({"reportType": "SALES", "groupByRowFields": ["OpenDate.Typed"],
                                "aggregateFields": ["DishDiscountSumInt"],
                                "filters": {"OrderDeleted": {"filterType": "IncludeValues", "values": ["DELETED"]}}})
        with pytest.raises(RequestRejected, match="unknown value"):
            session.olap({"reportType": "SALES", "groupByRowFields": [], "aggregateFields": ["DishSumInt"],
                          "filters": {"Storned": {"filterType": "IncludeValues", "values": ["NO"]}}})

    assert ours == [{"OrderDeleted": "NOT_DELETED", "Storned": "FALSE", "DishDiscountSumInt": Decimal("1092.00")}]
    assert elsewhere == [] and deleted == []


def test_the_key_is_also_taken_from_a_cookie(iiko: IikoSandbox) -> None:
    with office(iiko).session() as session:
        answer = requests.get(iiko.office_settings()["url"] + "v2/reports/olap/columns",
                              params={"reportType": "SALES"}, cookies={"key": session.key}, timeout=10)
    assert answer.status_code == 200 and "DishDiscountSumInt" in answer.json()
