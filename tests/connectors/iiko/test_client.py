"""IikoClient against canned HTTP: iiko's published examples, its error bodies and its quirks.

Answers are the Redoc examples in ``../shared/samples/iiko/iikocloud-redoc-fixtures``
(see SOURCES.md there), some of them older than the spec and missing fields it
now requires: the client reads them anyway. Every request the client sends is
checked against the request schema of iiko's OpenAPI document when the test ends.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses

from connectors.iiko import DEFAULT_URL, ApiLogin, AppCredentials, CommandPending, IikoClient, StopListItem
from connectors.iiko.client import TOKEN_RENEW_AFTER
from hub.errors import AuthError, ProtocolError, RequestRejected, ServerError
from hub.http import HttpClient
from hub.settings import RetryPolicy
from hub.testing.acceptance import RecordingClock
from hub.values import json_dumps, json_loads, utcnow
from tests.connectors.iiko.conftest import MOSCOW, sample
from tests.connectors.iiko.openapi import spec

ORG = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
GROUP = "4fab19a5-203c-4bf5-94eb-f572aa8b117b"
LOGIN = "iiko-api-login-SECRET"

pytestmark = pytest.mark.samples  # every request is checked against iiko's OpenAPI document


def auth_answer() -> Any:
    """iiko's documented answer to an access token request."""
    return sample("iikocloud-redoc-fixtures/auth.json")


def url(path: str) -> str:
    return f"{DEFAULT_URL}/api/1/{path}"


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """Canned iikoCloud; at the end every request sent must be a valid body for its path."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
        problems = []
        for call in rsps.calls:
            path = call.request.path_url
            problems += [f"{path}: {p}" for p in spec().request_errors(path, json_loads(call.request.body or b""))]
        assert problems == []


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


def make_client(clock: RecordingClock, credentials: ApiLogin | AppCredentials | None = None,
                timeout: float = 30.0) -> IikoClient:
    http = HttpClient(base_url=DEFAULT_URL, source="iiko-test", timeout=timeout, clock=clock,
                      retry=RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.02))
    return IikoClient(http, credentials or ApiLogin(LOGIN), timezone=MOSCOW)


@pytest.fixture
def client(clock: RecordingClock) -> IikoClient:
    return make_client(clock)


def token_ok(mock: responses.RequestsMock, token: str = "token-1", path: str = "access_token") -> None:  # noqa: S107
    post(mock, f"{DEFAULT_URL}/api/{'v2' if path == 'v2' else '1'}/access_token", {**auth_answer(), "token": token})


def post(mock: responses.RequestsMock, target: str, data: Any = None, *, status: int = 200,
         body: str | bytes | None = None) -> None:
    """Answer ``target`` with ``data`` written as iiko writes JSON (exact numbers), or with a raw ``body``."""
    mock.post(target, status=status, body=json_dumps(data) if body is None else body, content_type="application/json")


def calls_to(mock: responses.RequestsMock, path: str) -> list[Any]:
    return [call for call in mock.calls if call.request.path_url == path]


def body_of(call: Any) -> Any:
    return json_loads(call.request.body)


def error(description: str, code: str | None = None) -> dict[str, Any]:
    return {"correlationId": "48fb4cd3-2ef6-4479-bea1-7c92721b988c", "errorDescription": description, "error": code}


# --- auth ----------------------------------------------------------------------------------------


def test_v1_token_is_asked_with_the_api_login_and_reused(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("organizations"), sample("iikocloud-redoc-fixtures/Organizations/OrganizationsResponse.json"))
    client.organizations()
    client.organizations()
    tokens = calls_to(mock, "/api/1/access_token")
    assert [body_of(c) for c in tokens] == [{"apiLogin": LOGIN}]
    assert {c.request.headers["Authorization"] for c in calls_to(mock, "/api/1/organizations")} == {"Bearer token-1"}


def test_v2_token_sends_key_app_and_secret(mock: responses.RequestsMock, clock: RecordingClock) -> None:
    token_ok(mock, path="v2")
    post(mock, url("organizations"), sample("iikocloud-redoc-fixtures/Organizations/OrganizationsResponse.json"))
    app = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    make_client(clock, AppCredentials("key-SECRET", app, "client-SECRET")).organizations()
    (call,) = calls_to(mock, "/api/v2/access_token")
    assert body_of(call) == {"apiKey": "key-SECRET", "appId": app, "clientSecret": "client-SECRET"}
    assert spec().request_errors("/api/v2/access_token", body_of(call)) == []


def test_token_is_renewed_before_its_hour_runs_out(mock: responses.RequestsMock, client: IikoClient,
                                                    clock: RecordingClock) -> None:
    token_ok(mock, "first")
    post(mock, url("organizations"), sample("iikocloud-redoc-fixtures/Organizations/OrganizationsResponse.json"))
    client.organizations()
    clock.now += TOKEN_RENEW_AFTER - 1
    client.organizations()
    assert len(calls_to(mock, "/api/1/access_token")) == 1
    mock.replace(responses.POST, f"{DEFAULT_URL}/api/1/access_token",
                 body=json_dumps({**auth_answer(), "token": "second"}))
    clock.now += 2
    client.organizations()
    assert calls_to(mock, "/api/1/organizations")[-1].request.headers["Authorization"] == "Bearer second"


def test_a_short_lived_jwt_is_renewed_sooner(mock: responses.RequestsMock, clock: RecordingClock) -> None:
    claims = base64.urlsafe_b64encode(json_dumps({"exp": int(utcnow().timestamp()) + 600}).encode()).rstrip(b"=")
    jwt = f"eyJhbGciOiJIUzI1NiJ9.{claims.decode()}.c2lnbmF0dXJl"
    token_ok(mock, jwt, path="v2")
    post(mock, url("organizations"), sample("iikocloud-redoc-fixtures/Organizations/OrganizationsResponse.json"))
    client = make_client(clock, AppCredentials("key", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "secret"))
    client.organizations()
    clock.now += 400
    client.organizations()
    assert len(calls_to(mock, "/api/v2/access_token")) == 1
    clock.now += 100  # three quarters of its 10 minutes are gone
    client.organizations()
    assert len(calls_to(mock, "/api/v2/access_token")) == 2


def test_a_401_gets_one_new_token_and_one_more_try(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("organizations"), status=401, data=error("Token is expired"))
    post(mock, url("organizations"), sample("iikocloud-redoc-fixtures/Organizations/OrganizationsResponse.json"))
    assert [o.id for o in client.organizations()] == ["497f6eca-6276-4993-bfeb-53cbbbba6f08"]
    assert len(calls_to(mock, "/api/1/access_token")) == 2


def test_a_second_401_is_an_auth_error(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("organizations"), status=401, data=error("Token is expired"))
    with pytest.raises(AuthError, match="Token is expired"):
        client.organizations()
    assert len(calls_to(mock, "/api/1/organizations")) == 2


@pytest.mark.parametrize("status", [400, 401])
def test_a_refused_login_is_an_auth_error_without_the_secret(mock: responses.RequestsMock, client: IikoClient,
                                                              status: int) -> None:
    post(mock, f"{DEFAULT_URL}/api/1/access_token", status=status, data=error(f"Login {LOGIN} is not authorized"))
    with pytest.raises(AuthError) as caught:
        client.organizations()
    assert LOGIN not in str(caught.value)
    assert "not authorized" in str(caught.value)


def test_timeout_header_stays_under_the_client_timeout(mock: responses.RequestsMock, clock: RecordingClock) -> None:
    token_ok(mock)
    post(mock, url("organizations"), sample("iikocloud-redoc-fixtures/Organizations/OrganizationsResponse.json"))
    make_client(clock, timeout=20).organizations()
    assert {c.request.headers["Timeout"] for c in mock.calls} == {"18"}
    assert make_client(clock, timeout=0.5).server_timeout() == 1


# --- dictionaries and menu --------------------------------------------------------------------------


def test_terminal_groups_from_an_answer_older_than_the_spec(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    # The example lacks terminalGroupsInSleep and timeZone, both required today.
    post(mock, url("terminal_groups"), sample("iikocloud-redoc-fixtures/TerminalGroups/TerminalGroupsResponse.json"))
    (group,) = client.terminal_groups([ORG])
    assert (group.id, group.organization_id, group.time_zone, group.asleep) == (
        "497f6eca-6276-4993-bfeb-53cbbbba6f08", ORG, None, False)


def test_nomenclature_reads_products_sizes_and_modifiers(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("nomenclature"), sample("iikocloud-redoc-fixtures/Menu/NomenclatureResponse.json"))
    menu = client.nomenclature(ORG)
    (product,) = menu.products
    assert product.weighed is True
    assert product.prices == {"f98600f7-1d0f-4a64-936e-93e133055658": Decimal(0)}
    assert [(m.id, m.group, m.children) for m in product.modifiers] == [
        ("497f6eca-6276-4993-bfeb-53cbbbba6f08", False, ()),
        ("497f6eca-6276-4993-bfeb-53cbbbba6f08", True, ("497f6eca-6276-4993-bfeb-53cbbbba6f08",))]
    assert [s.id for s in menu.sizes] == ["497f6eca-6276-4993-bfeb-53cbbbba6f08"]
    assert body_of(calls_to(mock, "/api/1/nomenclature")[0]) == {"organizationId": ORG, "startRevision": 0}


def test_a_menu_with_nulls_where_lists_and_prices_belong(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    menu = sample("iikocloud-redoc-fixtures/Menu/NomenclatureResponse.json")
    product = menu["products"][0]
    product.update(modifiers=None, groupModifiers=None, type="Dish", useBalanceForSell=False, sizePrices=[
        {"sizeId": None, "price": {"currentPrice": "180", "isIncludedInMenu": True}},
        {"sizeId": "f98600f7-1d0f-4a64-936e-93e133055658", "price": {"currentPrice": None, "isIncludedInMenu": False}},
        {"sizeId": "s2", "price": None}])
    post(mock, url("nomenclature"), {**menu, "sizes": None, "productCategories": None})
    result = client.nomenclature(ORG)
    (read,) = result.products
    assert (read.type, read.modifiers, result.sizes, result.categories) == ("dish", (), [], {})
    assert read.prices == {None: Decimal(180), "f98600f7-1d0f-4a64-936e-93e133055658": None, "s2": None}


def test_an_unchanged_menu_costs_one_call(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    full = {**sample("iikocloud-redoc-fixtures/Menu/NomenclatureResponse.json"), "revision": 7}
    post(mock, url("nomenclature"), full)
    post(mock, url("nomenclature"), {"correlationId": full["correlationId"], "groups": [],
                                         "productCategories": [], "products": [], "sizes": [], "revision": 7})
    assert client.nomenclature(ORG).changed is True
    again = client.nomenclature(ORG)
    assert (again.changed, again.revision, again.products) == (False, 7, [])
    assert [body_of(c)["startRevision"] for c in calls_to(mock, "/api/1/nomenclature")] == [0, 7]


# --- stop lists ------------------------------------------------------------------------------------


def test_stop_list_balances_are_exact(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("stop_lists"), sample("iikocloud-redoc-fixtures/Menu/OutOfStockResponse.json"))
    (entry,) = client.stop_lists([ORG], terminal_group_ids=[GROUP])
    assert entry.balance == Decimal("-1.0")
    assert isinstance(entry.balance, Decimal)
    assert (entry.terminal_group_id, entry.product_id, entry.size_id) == (
        GROUP, "dcd53ddb-8104-4e48-8cc0-5df1088c6113", None)


def test_stop_list_changes_send_exact_bodies(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    for path in ("add", "remove", "clear"):
        post(mock, url(f"stop_lists/{path}"), {"correlationId": "3fa85f64-5717-4562-b3fc-2c963f66afa6"})
    product, size = "dcd53ddb-8104-4e48-8cc0-5df1088c6113", "f98600f7-1d0f-4a64-936e-93e133055658"
    assert client.add_to_stop_list(ORG, GROUP, [StopListItem(product, Decimal("0.5"), size)]) == \
        "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    client.remove_from_stop_list(ORG, GROUP, [StopListItem(product)])
    client.clear_stop_list(ORG, GROUP)
    add, remove, clear = (calls_to(mock, f"/api/1/stop_lists/{p}")[0] for p in ("add", "remove", "clear"))
    assert add.request.body == json_dumps({"organizationId": ORG, "terminalGroupId": GROUP, "items": [
        {"productId": product, "sizeId": size, "balance": Decimal("0.5")}]}).encode()
    assert body_of(remove)["items"] == [{"productId": product}]
    assert body_of(clear) == {"organizationId": ORG, "terminalGroupId": GROUP}


# --- orders -------------------------------------------------------------------------------------


def test_deliveries_by_date_write_local_times_and_statuses(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    orders = sample("iikocloud-redoc-fixtures/Deliveries/RetrieveDeliveryByIdResponse.json")["orders"]
    answer = {"correlationId": auth_answer()["correlationId"], "maxRevision": 15,
              "ordersByOrganizations": [{"organizationId": ORG, "orders": orders}]}
    post(mock, url("deliveries/by_delivery_date_and_status"), answer)
    page = client.deliveries_by_date_and_status([ORG], dt.datetime(2025, 3, 1, 21, 0, tzinfo=dt.UTC),
                                                statuses=["Closed"])
    assert (page.max_revision, len(page.orders)) == (15, 1)
    sent = body_of(mock.calls[-1])
    assert sent == {"organizationIds": [ORG], "deliveryDateFrom": "2025-03-02 00:00:00.000", "statuses": ["Closed"]}
    with pytest.raises(ValueError, match="not an iiko delivery status"):
        client.deliveries_by_date_and_status([ORG], dt.datetime(2025, 3, 1, tzinfo=dt.UTC), statuses=["Done"])


def test_deliveries_by_revision_tolerate_null_arrays(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("deliveries/by_revision"), {"correlationId": auth_answer()["correlationId"], "maxRevision": "42",
                                                   "ordersByOrganizations": [{"organizationId": ORG, "orders": None}]})
    page = client.deliveries_by_revision([ORG], 40)
    assert (page.max_revision, page.orders) == (42, [])
    assert body_of(mock.calls[-1]) == {"startRevision": 40, "organizationIds": [ORG]}


def test_deliveries_by_id_are_asked_200_at_a_time(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("deliveries/by_id"), {"correlationId": auth_answer()["correlationId"], "orders": []})
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(450)]
    client.deliveries_by_id(ORG, ids)
    assert [len(body_of(c)["orderIds"]) for c in calls_to(mock, "/api/1/deliveries/by_id")] == [200, 200, 50]


def test_table_orders_by_table(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("order/by_table"), {"correlationId": auth_answer()["correlationId"], "orders": []})
    table = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    client.table_orders_by_table([ORG], [table], statuses=["Closed"],
                                 date_from=dt.datetime(2025, 3, 1, 9, tzinfo=MOSCOW))
    assert body_of(mock.calls[-1]) == {"organizationIds": [ORG], "tableIds": [table], "statuses": ["Closed"],
                                       "dateFrom": "2025-03-01 09:00:00.000"}


def delivery_order(order_id: str = "497f6eca-6276-4993-bfeb-53cbbbba6f08") -> dict[str, Any]:
    return {"id": order_id, "externalNumber": "SITE-17", "phone": "+79161234567",
            "orderServiceType": "DeliveryByCourier", "comment": None,
            "deliveryPoint": {"address": {"type": "legacy", "street": {"name": "Тверская", "city": "Москва"},
                                          "house": "1"}},
            "customer": {"type": "one-time", "name": "Анна"},
            "items": [{"type": "Product", "productId": "b4513563-032a-4dbc-8894-4b05c402f7de",
                       "amount": Decimal("0.25"), "price": Decimal("2400")}],
            "payments": [{"paymentTypeKind": "External", "sum": Decimal(600),
                          "paymentTypeId": "a681b746-24d1-4f1c-aa71-6af3f1e19567", "isProcessedExternally": True}]}


def test_create_delivery_is_strict_in_what_it_sends(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("deliveries/create"), sample("iikocloud-redoc-fixtures/Deliveries/CreateDeliveryResponse.json"))
    created = client.create_delivery(ORG, delivery_order(), terminal_group_id=GROUP, transport_to_front_timeout=30)
    assert (created.order_id, created.creation_status) == ("497f6eca-6276-4993-bfeb-53cbbbba6f08", "Success")
    sent = calls_to(mock, "/api/1/deliveries/create")[0].request.body
    assert b'"comment"' not in sent           # None is not sent at all
    assert b'"amount": 0.25' in sent          # a number, never a string or a float's digits
    assert body_of(calls_to(mock, "/api/1/deliveries/create")[0])["createOrderSettings"] == {
        "transportToFrontTimeout": 30}


def test_create_delivery_is_not_repeated_after_a_5xx(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("deliveries/create"), status=502, body="Bad Gateway")
    with pytest.raises(ServerError):
        client.create_delivery(ORG, delivery_order())
    assert len(calls_to(mock, "/api/1/deliveries/create")) == 1


def test_a_repeated_create_finds_the_order_made_the_first_time(mock: responses.RequestsMock,
                                                               client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("deliveries/create"), status=400,
         data=error("Order with id 497f6eca-… already exists", "DuplicatedOrderId"))
    post(mock, url("deliveries/by_id"), sample("iikocloud-redoc-fixtures/Deliveries/RetrieveDeliveryByIdResponse.json"))
    created = client.create_delivery(ORG, delivery_order())
    assert (created.correlation_id, created.order_id, created.creation_status) == (
        None, "497f6eca-6276-4993-bfeb-53cbbbba6f08", "Success")


def command(state: str, **extra: Any) -> dict[str, Any]:
    return {"state": state, **extra}


def test_wait_for_command_polls_on_the_clock_until_done(mock: responses.RequestsMock, client: IikoClient,
                                                        clock: RecordingClock) -> None:
    token_ok(mock)
    for answer in (command("InProgress"), command("InProgress"), command("Error", errorReason="ProductNotFound")):
        post(mock, url("commands/status"), answer)
    status = client.wait_for_command(ORG, "3fa85f64-5717-4562-b3fc-2c963f66afa6", interval=2)
    assert (status.state, status.error, status.done) == ("Error", "ProductNotFound", True)
    assert clock.sleeps == [2, 2]
    assert body_of(mock.calls[-1]) == {"organizationId": ORG, "correlationId": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}


def test_wait_for_command_gives_up_at_its_deadline(mock: responses.RequestsMock, client: IikoClient,
                                                   clock: RecordingClock) -> None:
    token_ok(mock)
    post(mock, url("commands/status"), command("InProgress"))
    with pytest.raises(CommandPending) as caught:
        client.wait_for_command(ORG, "3fa85f64-5717-4562-b3fc-2c963f66afa6", deadline=5, interval=2)
    assert caught.value.correlation_id == "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    assert sum(clock.sleeps) == 5


def test_a_forgotten_correlation_id_is_rejected(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("commands/status"), status=410, data=error("correlationId is not supported"))
    with pytest.raises(RequestRejected) as caught:
        client.command_status(ORG, "3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert caught.value.status == 410


# --- errors and quirks --------------------------------------------------------------------------


def test_a_400_carries_iikos_description_and_code(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("terminal_groups"), status=400,
         data=error("Organization 7bc05553 is not available", "OrganizationNotFound"))
    with pytest.raises(RequestRejected) as caught:
        client.terminal_groups([ORG])
    assert (caught.value.status, caught.value.code) == (400, "OrganizationNotFound")
    assert "is not available" in str(caught.value) and "48fb4cd3" in str(caught.value)


def test_a_403_names_the_restriction_group(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("stop_lists/clear"), status=403, data=error("Access denied"))
    with pytest.raises(AuthError) as caught:
        client.clear_stop_list(ORG, GROUP)
    assert caught.value.hint is not None and "restriction group" in caught.value.hint


def test_iikos_own_timeout_is_retriable_and_not_repeated_blindly(mock: responses.RequestsMock,
                                                                  client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("stop_lists"), status=408, data=error("Timeout expired"))
    with pytest.raises(ServerError) as caught:
        client.stop_lists([ORG])
    assert caught.value.status == 408


def test_reads_are_retried_after_a_5xx(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("stop_lists"), status=500, data=error("Internal error"))
    post(mock, url("stop_lists"), sample("iikocloud-redoc-fixtures/Menu/OutOfStockResponse.json"))
    assert len(client.stop_lists([ORG])) == 1


def test_an_answer_that_is_not_json_is_a_protocol_error(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("organizations"), body="<html>maintenance</html>")
    with pytest.raises(ProtocolError):
        client.organizations()


def test_numbers_as_text_and_a_bom_are_read(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    answer = sample("iikocloud-redoc-fixtures/Menu/OutOfStockResponse.json")
    answer["terminalGroupStopLists"][0]["items"][0]["items"][0]["balance"] = "2,5"
    post(mock, url("stop_lists"), body=b"\xef\xbb\xbf" + json_dumps(answer).encode())
    assert client.stop_lists([ORG])[0].balance == Decimal("2.5")


# --- loyalty --------------------------------------------------------------------------------------


def guest_answer() -> dict[str, Any]:
    return {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "name": "Иван", "surname": "Петров", "middleName": "",
            "phone": "+79161234567", "email": "", "birthday": "1990-05-01 00:00:00.000", "sex": 1,
            "consentStatus": 1, "cards": [{"id": "3fa85f64-5717-4562-b3fc-2c963f66afa7", "track": "T1",
                                           "number": "1001", "validToDate": None}],
            "walletBalances": [{"id": "3fa85f64-5717-4562-b3fc-2c963f66afa8", "name": "Бонусы", "type": 1,
                                "balance": Decimal("150.5")}], "isDeleted": False}


def test_customer_by_phone_reads_wallets(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("loyalty/iiko/customer/info"), guest_answer())
    guest = client.customer_by_phone(ORG, "+79161234567")
    assert guest is not None
    assert [(w.type, w.balance) for w in guest.wallets] == [(1, Decimal("150.5"))]
    assert (guest.birthday, guest.cards) == (dt.date(1990, 5, 1), ("1001",))
    assert "Иван" not in repr(guest) and "79161234567" not in repr(guest)
    assert body_of(mock.calls[-1]) == {"organizationId": ORG, "type": "phone", "phone": "+79161234567"}


def test_an_unknown_phone_is_none(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("loyalty/iiko/customer/info"), status=400, data=error("There is no user with phone +79160000000"))
    assert client.customer_by_phone(ORG, "+79160000000") is None


def test_create_or_update_sends_no_nulls(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("loyalty/iiko/customer/create_or_update"), {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"})
    assert client.create_or_update_customer(ORG, {"phone": "+79161234567", "name": "Иван", "email": None}) == \
        "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    assert body_of(mock.calls[-1]) == {"phone": "+79161234567", "name": "Иван", "organizationId": ORG}
    with pytest.raises(RequestRejected, match="by id, phone or card"):
        client.create_or_update_customer(ORG, {"name": "Иван"})


def test_a_guest_is_put_in_a_category_and_taken_out(mock: responses.RequestsMock, client: IikoClient) -> None:
    token_ok(mock)
    post(mock, url("loyalty/iiko/customer_category/add"), {})
    post(mock, url("loyalty/iiko/customer_category/remove"), {})
    client.guest_category(ORG, "g-1", "cat-sleeping", member=True)
    client.guest_category(ORG, "g-1", "cat-sleeping", member=False)
    assert [str(call.request.url).rsplit("/", 1)[-1] for call in mock.calls[-2:]] == ["add", "remove"]
    assert body_of(mock.calls[-1]) == {"organizationId": ORG, "customerId": "g-1", "categoryId": "cat-sleeping"}
