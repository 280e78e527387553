"""The iikoCloud sandbox over real HTTP, driven by IikoClient.

Every request and answer of these tests is checked against iiko's OpenAPI
document by the ``stand`` fixture (see conftest.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from connectors.iiko import IikoClient, IikoSandbox, Reread, StopListItem, decode_order, parse_events, webhook_token
from connectors.iiko.sandbox import CARD, CASH, DELIVERY, HALL, ONLINE, ORGANIZATION, TABLES
from hub.errors import AuthError, NetworkError, RequestRejected, ServerError
from hub.model import DeliveryType, OrderStatus
from hub.sandbox import Sandbox
from hub.values import json_dumps, json_loads, utcnow
from tests.connectors.iiko.conftest import MOSCOW, Stand
from tests.connectors.iiko.openapi import spec


class Receiver(Sandbox):
    """hub's webhook endpoint as far as these tests need it: answers 200 and keeps what came."""

    name = "receiver"

    def handle(self, request: Request) -> Response:
        return Response(status=200)

    def source_settings(self) -> dict[str, Any]:
        return {}


@pytest.fixture
def receiver(iiko: IikoSandbox) -> Iterator[Receiver]:
    with Receiver() as hub:
        iiko.attach(hub.url + "/iiko")
        yield hub


def order(iiko: IikoSandbox, product: str = "cappuccino", **fields: Any) -> dict[str, Any]:
    return {"phone": "+79161234567", "orderServiceType": "DeliveryByClient",
            "items": [{"type": "Product", "productId": iiko.products[product], "amount": Decimal(1),
                       "price": Decimal(180)}], **fields}


# --- auth ----------------------------------------------------------------------------------------


def test_both_auth_schemes_get_tokens(stand: Stand) -> None:
    for client in (stand.client(), stand.client(v2=True)):
        assert [o.id for o in client.organizations()] == [ORGANIZATION]
    assert stand.sandbox.count("POST", "/api/1/access_token") == 1
    assert stand.sandbox.count("POST", "/api/v2/access_token") == 1


def test_a_wrong_login_is_refused(stand: Stand) -> None:
    with pytest.raises(AuthError, match="not authorized"):
        stand.client(api_login="someone-else").organizations()


def test_an_expired_token_is_replaced_on_the_fly(iiko: IikoSandbox, client: IikoClient) -> None:
    client.organizations()
    iiko.expire_tokens()
    assert [group.id for group in client.terminal_groups([ORGANIZATION])] == [HALL, DELIVERY]
    assert iiko.count("POST", "/api/1/access_token") == 2


def test_a_call_without_a_token_gets_401(iiko: IikoSandbox, client: IikoClient) -> None:
    response = client.http.post("api/1/organizations", data=b"{}", headers={"Content-Type": "application/json"},
                                expect={401}, with_token=False)
    assert response.status_code == 401
    assert json_loads(response.content)["errorDescription"].startswith("Authorization failed")


# --- dictionaries and menu ----------------------------------------------------------------------


def test_tables_and_payment_types(client: IikoClient) -> None:
    assert [t.id for t in client.tables([HALL])] == list(TABLES.values())
    assert client.tables([DELIVERY]) == []
    assert {p.id: p.kind for p in client.payment_types([ORGANIZATION])} == {CASH: "Cash", CARD: "Card",
                                                                            ONLINE: "External"}


def test_the_menu_is_read_by_revision(iiko: IikoSandbox, client: IikoClient) -> None:
    menu = client.nomenclature(ORGANIZATION)
    pizza = next(p for p in menu.products if p.id == iiko.products["pizza"])
    assert pizza.prices == {iiko.sizes["small"]: Decimal(450), iiko.sizes["large"]: Decimal(590)}
    assert [(m.group, m.children) for m in pizza.modifiers] == [(True, (iiko.products["cheese"],))]
    parmesan = next(p for p in menu.products if p.id == iiko.products["parmesan"])
    assert (parmesan.weighed, parmesan.unit) == (True, "кг")
    unchanged = client.nomenclature(ORGANIZATION)
    assert (unchanged.changed, unchanged.products, unchanged.revision) == (False, [], menu.revision)
    iiko.set_price(iiko.products["pizza"], Decimal(620), iiko.sizes["large"])
    changed = client.nomenclature(ORGANIZATION)
    assert changed.changed and changed.revision > menu.revision
    assert next(p for p in changed.products if p.id == pizza.id).prices[iiko.sizes["large"]] == Decimal(620)


# --- stop lists ----------------------------------------------------------------------------------


def test_stop_lists_are_kept_per_terminal_group(iiko: IikoSandbox, client: IikoClient) -> None:
    pizza, small = iiko.products["pizza"], iiko.sizes["small"]
    client.add_to_stop_list(ORGANIZATION, DELIVERY, [StopListItem(pizza, Decimal(0), small),
                                                     StopListItem(iiko.products["parmesan"], Decimal("1.5"))])
    assert iiko.stop_list(DELIVERY) == {(pizza, small): Decimal(0), (iiko.products["parmesan"], None): Decimal("1.5")}
    assert iiko.stop_list(HALL) == {}
    entries = client.stop_lists([ORGANIZATION], terminal_group_ids=[DELIVERY])
    assert {(e.product_id, e.size_id, e.balance) for e in entries} == {
        (pizza, small, Decimal(0)), (iiko.products["parmesan"], None, Decimal("1.5"))}
    client.remove_from_stop_list(ORGANIZATION, DELIVERY, [StopListItem(pizza, size_id=small)])
    assert list(iiko.stop_list(DELIVERY)) == [(iiko.products["parmesan"], None)]
    client.clear_stop_list(ORGANIZATION, DELIVERY)
    assert iiko.stop_list(DELIVERY) == {}


def test_an_unknown_product_cannot_be_stopped(client: IikoClient) -> None:
    with pytest.raises(RequestRejected) as caught:
        client.add_to_stop_list(ORGANIZATION, HALL, [StopListItem("3fa85f64-5717-4562-b3fc-2c963f66afa6")])
    assert (caught.value.status, caught.value.code) == (400, "ProductNotFound")


# --- orders --------------------------------------------------------------------------------------


def test_a_closed_delivery_is_read_by_revision_with_its_payments(iiko: IikoSandbox, client: IikoClient) -> None:
    start = client.deliveries_by_revision([ORGANIZATION], 0).max_revision
    order_id = iiko.open_delivery([(iiko.products["pizza"], Decimal(1), iiko.sizes["large"]),
                                   (iiko.products["parmesan"], Decimal("0.25"), None)])
    for status in ("WaitCooking", "CookingStarted", "CookingCompleted", "OnWay", "Delivered"):
        iiko.set_status(order_id, status)
    iiko.close_order(order_id, payments=[(ONLINE, Decimal(500)), (CASH, None)], discount=Decimal(40))
    page = client.deliveries_by_revision([ORGANIZATION], start)
    assert [info["id"] for info in page.orders] == [order_id]
    decoded = decode_order(page.orders[0], channel="iiko", timezone=MOSCOW)
    assert (decoded.status, decoded.total) == (OrderStatus.DELIVERED, Decimal("1150.00"))
    assert [(p.method, p.amount, p.paid) for p in decoded.payments] == [("online", Decimal(500), True),
                                                                        ("cash", Decimal("650.00"), True)]
    assert sum(line.sum for line in decoded.lines) == decoded.total
    assert client.deliveries_by_revision([ORGANIZATION], page.max_revision).orders == []


def test_deliveries_by_date_filter_by_status(iiko: IikoSandbox, client: IikoClient) -> None:
    closed = iiko.open_delivery([(iiko.products["cappuccino"], Decimal(1), None)])
    iiko.close_order(closed)
    iiko.open_delivery([(iiko.products["cappuccino"], Decimal(2), None)])
    since = utcnow() - dt.timedelta(hours=1)
    assert [o["id"] for o in client.deliveries_by_date_and_status([ORGANIZATION], since, statuses=["Closed"]).orders] \
        == [closed]
    assert len(client.deliveries_by_date_and_status([ORGANIZATION], since).orders) == 2
    client.create_delivery(ORGANIZATION, order(iiko))  # not at the terminal yet: listed, without its body
    listed = client.deliveries_by_date_and_status([ORGANIZATION], since).orders
    assert sorted(info["creationStatus"] for info in listed) == ["InProgress", "Success", "Success"]


def test_a_hall_order_is_read_by_table(iiko: IikoSandbox, client: IikoClient) -> None:
    order_id = iiko.open_table_order(3, [(iiko.products["cappuccino"], Decimal(2), None)])
    iiko.set_status(order_id, "Bill")
    iiko.close_order(order_id, payments=[(CARD, None)])
    tables = [t.id for t in client.tables([HALL])]
    (info,) = client.table_orders_by_table([ORGANIZATION], tables, statuses=["Closed"])
    decoded = decode_order(info, channel="iiko", timezone=MOSCOW)
    assert decoded.delivery is not None and decoded.delivery.type is DeliveryType.DINE_IN
    assert [(p.method, p.amount) for p in decoded.payments] == [("card", Decimal("360.00"))]
    assert client.table_orders_by_id([ORGANIZATION], [order_id])[0]["order"]["status"] == "Closed"


def test_a_created_delivery_is_taken_up_by_the_terminal(iiko: IikoSandbox, client: IikoClient,
                                                        receiver: Receiver) -> None:
    created = client.create_delivery(ORGANIZATION, order(iiko, id="11111111-2222-4333-8444-555555555555"),
                                     terminal_group_id=DELIVERY)
    assert (created.creation_status, created.order_id) == ("InProgress", "11111111-2222-4333-8444-555555555555")
    assert created.correlation_id is not None
    status = client.wait_for_command(ORGANIZATION, created.correlation_id)
    assert status.state == "Success"
    (info,) = client.deliveries_by_id(ORGANIZATION, [created.order_id])
    assert (info["creationStatus"], info["order"]["status"]) == ("Success", "Unconfirmed")
    assert [e.reread for seen in receiver.requests for e in parse_events(seen.body)] == [Reread.DELIVERY]


def test_sending_the_same_delivery_again_returns_the_first(iiko: IikoSandbox, client: IikoClient) -> None:
    body = order(iiko, id="11111111-2222-4333-8444-555555555555")
    first = client.create_delivery(ORGANIZATION, body)
    again = client.create_delivery(ORGANIZATION, body)
    assert (again.order_id, again.correlation_id) == (first.order_id, None)
    assert sum(1 for o in iiko.orders.values() if o.id == first.order_id) == 1


def test_a_create_whose_answer_was_lost_is_sent_again_safely(iiko: IikoSandbox, client: IikoClient) -> None:
    body = order(iiko, id="11111111-2222-4333-8444-666666666666")
    client.token()
    iiko.faults.drop_after_commit()
    with pytest.raises(NetworkError):
        client.create_delivery(ORGANIZATION, body)
    assert iiko.count("POST", "/api/1/deliveries/create") == 1   # a POST iiko may have acted on is not repeated
    again = client.create_delivery(ORGANIZATION, body)
    assert again.order_id == "11111111-2222-4333-8444-666666666666"
    assert list(iiko.orders) == [again.order_id]


@pytest.mark.parametrize(("change", "code"), [
    ({"items": [{"type": "Product", "productId": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "amount": Decimal(1),
                 "price": Decimal(1)}]}, "ProductNotFound"),
    ({"items": [{"type": "Product", "productId": "PIZZA", "productSizeId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                 "amount": Decimal(1), "price": Decimal(1)}]}, "ProductSizeNotFound"),
])
def test_an_order_the_terminal_refuses_ends_in_error(iiko: IikoSandbox, client: IikoClient, change: dict[str, Any],
                                                     code: str) -> None:
    for item in change["items"]:
        item["productId"] = iiko.products["pizza"] if item["productId"] == "PIZZA" else item["productId"]
    created = client.create_delivery(ORGANIZATION, {**order(iiko), **change})
    assert created.correlation_id is not None
    status = client.wait_for_command(ORGANIZATION, created.correlation_id)
    assert status.state == "Error" and status.error
    (info,) = client.deliveries_by_id(ORGANIZATION, [created.order_id])
    assert (info["creationStatus"], info["errorInfo"]["code"], info["order"]) == ("Error", code, None)


def test_a_stopped_product_is_refused_when_asked_to_check(iiko: IikoSandbox, client: IikoClient) -> None:
    client.add_to_stop_list(ORGANIZATION, DELIVERY, [StopListItem(iiko.products["cappuccino"])])
    created = client.create_delivery(ORGANIZATION, order(iiko), terminal_group_id=DELIVERY, check_stop_list=True)
    assert created.correlation_id is not None
    assert client.wait_for_command(ORGANIZATION, created.correlation_id).state == "Error"


def test_a_bad_phone_is_a_400(iiko: IikoSandbox, client: IikoClient) -> None:
    with pytest.raises(RequestRejected) as caught:
        client.create_delivery(ORGANIZATION, order(iiko, phone="89161234567"))
    assert caught.value.code == "InvalidPhone"


def test_amounts_sent_as_text_are_refused_with_a_400_in_iikos_error_shape(iiko: IikoSandbox, client: IikoClient,
                                                                          stand: Stand) -> None:
    body = order(iiko)
    body["items"][0]["amount"] = "1"

    with pytest.raises(RequestRejected, match=r"items\[0\]\.amount: a number is expected") as caught:
        client.create_delivery(ORGANIZATION, body)
    answer = client.http.post("api/1/deliveries/create", expect={400}, data=json_dumps(
        {"organizationId": ORGANIZATION, "order": body}).encode(), headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {client.token()}"})

    assert caught.value.status == 400
    assert set(json_loads(answer.content)) == {"correlationId", "errorDescription", "error"}
    assert iiko.orders == {}
    stand.conformance.problems.clear()  # the requests break iiko's schema on purpose


def test_a_created_delivery_reads_back_with_its_address_payments_and_modifiers(iiko: IikoSandbox,
                                                                              client: IikoClient) -> None:
    [pizza] = [p for p in client.nomenclature(ORGANIZATION).products if p.id == iiko.products["pizza"]]
    [toppings] = [rule.id for rule in pizza.modifiers if rule.group]
    body = {"phone": "+79161234567", "orderServiceType": "DeliveryByCourier",
            "deliveryPoint": {"address": {"type": "city", "line1": "Москва, ул. Тверская, 1", "flat": "5"},
                              "comment": "домофон не работает"},
            "payments": [{"paymentTypeKind": "Card", "sum": Decimal(630), "paymentTypeId": CARD,
                          "isProcessedExternally": False}],
            "items": [{"type": "Product", "productId": pizza.id, "productSizeId": iiko.sizes["small"],
                       "amount": Decimal(1), "price": Decimal(450),
                       "modifiers": [{"productId": iiko.products["cheese"], "amount": Decimal(3),
                                      "productGroupId": toppings, "price": Decimal(60)}]}]}
    created = client.create_delivery(ORGANIZATION, body)
    assert created.correlation_id is not None
    assert client.wait_for_command(ORGANIZATION, created.correlation_id).state == "Success"

    (info,) = client.deliveries_by_id(ORGANIZATION, [created.order_id])

    point = info["order"]["deliveryPoint"]
    assert (point["address"]["line1"], point["address"]["flat"], point["comment"]) == (
        "Москва, ул. Тверская, 1", "5", "домофон не работает")
    [payment] = info["order"]["payments"]
    assert (payment["paymentType"]["id"], payment["sum"]) == (CARD, Decimal(630))
    [modifier] = info["order"]["items"][0]["modifiers"]
    assert (modifier["product"]["id"], modifier["amount"], modifier["productGroup"]["id"]) == (
        iiko.products["cheese"], Decimal(3), toppings)
    decoded = decode_order(info, channel="iiko", timezone=MOSCOW)
    assert decoded.delivery is not None and decoded.delivery.address == "Москва, ул. Тверская, 1"
    assert [(p.method, p.amount, p.paid) for p in decoded.payments] == [("card", Decimal(630), False)]
    assert [(m.product, m.quantity) for m in decoded.lines[0].modifiers] == [(iiko.products["cheese"], Decimal(3))]
    assert decoded.total == Decimal(630)


def test_a_modifier_the_menu_lacks_fails_the_created_delivery(iiko: IikoSandbox, client: IikoClient) -> None:
    body = order(iiko)
    body["items"][0]["modifiers"] = [{"productId": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "amount": Decimal(1)}]
    created = client.create_delivery(ORGANIZATION, body)
    assert created.correlation_id is not None
    assert client.wait_for_command(ORGANIZATION, created.correlation_id).state == "Error"
    (info,) = client.deliveries_by_id(ORGANIZATION, [created.order_id])
    assert info["errorInfo"]["code"] == "ProductNotFound"


def test_an_unknown_correlation_id_is_gone(client: IikoClient) -> None:
    with pytest.raises(RequestRejected) as caught:
        client.command_status(ORGANIZATION, "3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert caught.value.status == 410


@pytest.mark.samples
def test_a_body_iiko_cannot_use_is_a_400_and_breaks_the_schema(client: IikoClient, stand: Stand) -> None:
    with pytest.raises(RequestRejected, match="organizationId is required"):
        client.call("api/1/nomenclature", {"startRevision": 0})
    assert stand.conformance.problems == [
        "request /api/1/nomenclature: (body): 'organizationId' is a required property"]
    stand.conformance.problems.clear()


# --- loyalty --------------------------------------------------------------------------------------


def test_guests_are_found_created_and_updated(iiko: IikoSandbox, client: IikoClient) -> None:
    guest_id = iiko.add_guest("+79161112233", name="Иван", bonus=Decimal("150.50"))
    found = client.customer_by_phone(ORGANIZATION, "+79161112233")
    assert found is not None
    assert (found.id, [w.balance for w in found.wallets]) == (guest_id, [Decimal("150.50")])
    assert client.customer_by_phone(ORGANIZATION, "+79160000000") is None
    new_id = client.create_or_update_customer(ORGANIZATION, {"phone": "+79165554433", "name": "Пётр",
                                                             "email": "petr@example.ru"})
    assert client.create_or_update_customer(ORGANIZATION, {"id": new_id, "surName": "Соколов"}) == new_id
    updated = client.customer_by_phone(ORGANIZATION, "+79165554433")
    assert updated is not None and (updated.name, updated.surname, updated.email) == ("Пётр", "Соколов",
                                                                                      "petr@example.ru")


def test_wallets_are_topped_up_and_charged(iiko: IikoSandbox, client: IikoClient) -> None:
    guest_id = iiko.add_guest("+79161112233", bonus=Decimal(100))
    guest = client.customer_by_phone(ORGANIZATION, "+79161112233")
    assert guest is not None
    wallet = guest.wallets[0].id
    client.top_up_wallet(ORGANIZATION, guest_id, wallet, Decimal("50.50"), comment="1C: возврат")
    client.charge_wallet(ORGANIZATION, guest_id, wallet, Decimal(20))
    after = client.customer_by_phone(ORGANIZATION, "+79161112233")
    assert after is not None and after.wallets[0].balance == Decimal("130.50")
    with pytest.raises(RequestRejected, match="Insufficient"):
        client.charge_wallet(ORGANIZATION, guest_id, wallet, Decimal(1000))
    with pytest.raises(ValueError, match="positive"):
        client.top_up_wallet(ORGANIZATION, guest_id, wallet, Decimal(0))


# --- timeouts, faults and webhooks ----------------------------------------------------------------


def test_iiko_answers_408_when_its_timeout_runs_out(stand: Stand) -> None:
    client = stand.client(timeout=3)           # Timeout: 1
    client.token()
    stand.sandbox.processing_time = 1.5
    with pytest.raises(ServerError) as caught:
        client.organizations()
    assert caught.value.status == 408


def test_a_503_on_a_read_is_retried(iiko: IikoSandbox, client: IikoClient) -> None:
    client.token()
    iiko.faults.fail_next(status=503)
    assert len(client.organizations()) == 1
    assert iiko.count("POST", "/api/1/organizations") == 2


@pytest.mark.samples
def test_webhooks_carry_the_token_and_match_the_spec(iiko: IikoSandbox, client: IikoClient,
                                                     receiver: Receiver) -> None:
    order_id = iiko.open_delivery([(iiko.products["cappuccino"], Decimal(1), None)])
    iiko.close_order(order_id)
    iiko.stop_at_pos(HALL, iiko.products["parmesan"])
    client.clear_stop_list(ORGANIZATION, DELIVERY)
    events = [event for seen in receiver.requests for event in parse_events(seen.body)]
    for seen in receiver.requests:
        assert _refused(seen.headers, iiko.webhook_token) is None
        assert spec().webhook_errors(json_loads(seen.body)) == []
    assert [(e.event_type, e.ids) for e in events] == [
        ("DeliveryOrderUpdate", (order_id,)), ("DeliveryOrderUpdate", (order_id,)),
        ("StopListUpdate", (HALL,)), ("StopListUpdate", (DELIVERY,))]
    assert iiko.webhook_answers == [200, 200, 200, 200]


def test_demo_activity_closes_a_hall_order_and_a_delivery(iiko: IikoSandbox, client: IikoClient) -> None:
    said = iiko.demo_activity()
    assert len(said) == 2
    orders = [decode_order(o.info(), channel="iiko", timezone=MOSCOW) for o in iiko.orders.values()]
    assert [(o.status, o.delivery.type if o.delivery else None) for o in orders] == [
        (OrderStatus.DELIVERED, DeliveryType.DINE_IN), (OrderStatus.DELIVERED, DeliveryType.COURIER)]


def test_webhook_settings_are_taken_from_the_api(iiko: IikoSandbox, client: IikoClient, receiver: Receiver) -> None:
    client.set_webhook(ORGANIZATION, receiver.url + "/elsewhere", "another-token")
    assert client.webhook_uri(ORGANIZATION) == receiver.url + "/elsewhere"
    iiko.stop_at_pos(HALL, iiko.products["parmesan"])
    (seen,) = receiver.requests
    assert seen.path == "/elsewhere"
    assert _refused(seen.headers, iiko.webhook_token) == "wrong token"
    assert _refused(seen.headers, "another-token") is None


def _refused(headers: dict[str, str], token: str) -> str | None:
    """Why hub's webhook endpoint would refuse a call with ``headers``, or None."""
    return webhook_token(token, lambda reason: Response(reason, 401)).problem_of(headers)
