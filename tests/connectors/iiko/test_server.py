"""iikoServer (resto API) client against canned HTTP: the session and its licence seat, shifts, OLAP, stock.

Answers are the fixtures in ``../shared/samples/iiko/iikoserver`` (see SOURCES.md there).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.iiko.server import IikoServerClient
from hub.errors import AuthError, ServerError
from hub.http import HttpClient
from hub.settings import RetryPolicy
from hub.testing.acceptance import RecordingClock
from hub.values import json_dumps, json_loads
from tests.connectors.iiko.conftest import MOSCOW, SAMPLES

BASE = "https://cafe.iiko.it/resto/api/"
PASSWORD = "office-password-SECRET"
KEY = "b1e3c6a4-5d2f-4e0a-9c7b-sessionkey"


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(BASE + "auth", body=KEY, content_type="text/plain")
        rsps.get(BASE + "logout", body="", content_type="text/plain")
        yield rsps


@pytest.fixture
def server() -> IikoServerClient:
    http = HttpClient(base_url=BASE, source="iiko-office-test", clock=RecordingClock(),
                      retry=RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.02))
    return IikoServerClient(http, login="hub", password=PASSWORD, timezone=MOSCOW)


def fixture(name: str) -> str:
    return (SAMPLES / "iikoserver" / name).read_text(encoding="utf-8")


HASH = hashlib.sha1(PASSWORD.encode()).hexdigest()  # noqa: S324 - what iikoServer expects


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(call.request.url)).query)


def paths(mock: responses.RequestsMock) -> list[str]:
    return [urlsplit(str(call.request.url)).path.removeprefix("/resto/api/") for call in mock.calls]


def test_the_session_logs_in_with_the_password_hash_and_always_logs_out(mock: responses.RequestsMock,
                                                                        server: IikoServerClient) -> None:
    mock.get(BASE + "v2/cashshifts/list", status=500, body="java.lang.NullPointerException")
    with pytest.raises(ServerError), server.session() as office:
        office.cash_shifts(dt.date(2026, 7, 24), dt.date(2026, 7, 25))
    assert parse_qs(str(mock.calls[0].request.body)) == {"login": ["hub"], "pass": [HASH]}
    assert paths(mock)[-1] == "logout"
    assert query(mock.calls[-1]) == {"key": [KEY]}


def test_a_server_that_wants_the_documented_get_gets_it(server: IikoServerClient) -> None:
    with responses.RequestsMock() as mock:
        mock.post(BASE + "auth", status=405)
        mock.get(BASE + "auth", body=KEY + "\n")
        mock.get(BASE + "logout", body="")
        with server.session() as office:
            assert office.key == KEY
        assert query(mock.calls[1]) == {"login": ["hub"], "pass": [HASH]}


def test_a_wrong_password_is_an_auth_error_with_nothing_to_log_out(server: IikoServerClient) -> None:
    with responses.RequestsMock() as mock:
        mock.post(BASE + "auth", status=401, body="Wrong login or password")
        with pytest.raises(AuthError) as caught, server.session():
            pass
        assert PASSWORD not in str(caught.value)
        assert paths(mock) == ["auth"]


@pytest.mark.samples
def test_a_failed_logout_does_not_hide_the_work(mock: responses.RequestsMock, server: IikoServerClient,
                                                caplog: pytest.LogCaptureFixture) -> None:
    mock.replace(responses.GET, BASE + "logout", status=500, body="busy")
    mock.get(BASE + "v2/cashshifts/list", body=fixture("cashshifts.json"))
    with server.session() as office:
        shifts = office.cash_shifts(dt.date(2026, 7, 24), dt.date(2026, 7, 25))
    assert len(shifts) == 2
    assert "licence seat stays taken" in caplog.text


@pytest.mark.samples
def test_cash_shifts_are_exact(mock: responses.RequestsMock, server: IikoServerClient) -> None:
    mock.get(BASE + "v2/cashshifts/list", body=fixture("cashshifts.json"))
    with server.session() as office:
        closed, still_open = office.cash_shifts(dt.date(2026, 7, 24), dt.date(2026, 7, 25), status="ANY")
    assert (closed.number, closed.status, closed.sales_cash, closed.sales_card, closed.sales_credit) == (
        142, "CLOSED", Decimal("19300.0"), Decimal("26250.0"), Decimal("3200.5"))
    assert closed.opened_at == dt.datetime(2026, 7, 24, 8, 2, 15, tzinfo=MOSCOW)
    assert (still_open.status, still_open.closed_at) == ("OPEN", None)
    assert query(mock.calls[1]) == {"openDateFrom": ["2026-07-24"], "openDateTo": ["2026-07-25"],
                                    "status": ["ANY"], "key": [KEY]}
    with pytest.raises(ValueError, match="not a cash shift status"), server.session() as office:
        office.cash_shifts(dt.date(2026, 7, 24), dt.date(2026, 7, 25), status="SOME")


@pytest.mark.samples
def test_shift_payments(mock: responses.RequestsMock, server: IikoServerClient) -> None:
    mock.get(BASE + "v2/cashshifts/payments/list/a1f3c2e0-5b7d-4c8a-9e21-0d4f6b8a1c33",
             body=fixture("cashshifts_payments.json"))
    with server.session() as office:
        payments = office.shift_payments("a1f3c2e0-5b7d-4c8a-9e21-0d4f6b8a1c33")
    assert payments["cashlessRecords"][0]["info"]["sum"] == Decimal("1840.0")
    assert query(mock.calls[1])["hideAccepted"] == ["false"]


@pytest.mark.samples
def test_olap_columns_and_a_sales_report(mock: responses.RequestsMock, server: IikoServerClient) -> None:
    mock.get(BASE + "v2/reports/olap/columns", body=fixture("olap_columns.json"))
    rows = [{"Department.Id": "d4e5f6a7-b8c9-4012-a345-6789bcdef012", "DishName": "Капучино",
             "DishAmountInt": Decimal(12), "DishSumInt": Decimal("2160.00")}]
    mock.post(BASE + "v2/reports/olap", body=json_dumps({"data": rows, "summary": []}))
    with server.session() as office:
        columns = office.olap_columns()
        sold = office.sales(dt.date(2026, 7, 24), dt.date(2026, 7, 25), group_by=["Department.Id", "DishName"],
                            aggregates=["DishAmountInt", "DishSumInt"])
    assert columns["DishAmountInt"].aggregation and not columns["DishAmountInt"].grouping
    assert sold == rows
    sent = json_loads(mock.calls[2].request.body or b"")
    assert sent["reportType"] == "SALES"
    assert sent["filters"]["OpenDate.Typed"] == {"filterType": "DateRange", "periodType": "CUSTOM",
                                                 "from": "2026-07-24", "to": "2026-07-25", "includeLow": True,
                                                 "includeHigh": False}
    assert set(sent["groupByRowFields"]) <= set(columns)


def test_store_balances_keep_negative_amounts(mock: responses.RequestsMock, server: IikoServerClient) -> None:
    mock.get(BASE + "v2/reports/balance/stores", body=json_dumps([
        {"store": "s1", "product": "p1", "amount": Decimal("-0.250"), "sum": Decimal("-600.00")},
        {"store": "s1", "product": "p2", "amount": Decimal("12.5"), "sum": Decimal("300")}]))
    with server.session() as office:
        balances = office.store_balances(dt.datetime(2026, 7, 25, 3, 0, tzinfo=dt.UTC), store="s1")
    assert [(b.product, b.amount) for b in balances] == [("p1", Decimal("-0.250")), ("p2", Decimal("12.5"))]
    assert query(mock.calls[1]) == {"timestamp": ["2026-07-25T06:00:00"], "store": ["s1"], "key": [KEY]}
