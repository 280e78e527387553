"""The iiko connector on the iikoCloud sandbox over real HTTP: orders, webhooks, goods, stop lists, prices, guests."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from connectors.iiko import IikoSandbox
from connectors.iiko.connector import IikoConnector, IikoSettings
from connectors.iiko.sandbox import CARD, DELIVERY, HALL, ORGANIZATION
from hub.connector import ConnectorContext, Mode
from hub.errors import AuthError, InvalidRecord, RequestRejected
from hub.inbound import Inbound
from hub.model import (
    Customer,
    DeliveryType,
    Entity,
    Modifier,
    Order,
    OrderLine,
    OrderStatus,
    PriceEntry,
    Product,
    RawRecord,
    StockLevel,
)
from hub.runtime import StoreChannelState, StoreLinks
from hub.state import InboxStatus, StateStore, open_store
from hub.testing.acceptance import ConnectorAcceptance, RecordingClock
from hub.values import json_dumps, json_loads, utcnow
from tests.connectors.iiko.conftest import MOSCOW, Stand


@dataclass
class Hub:
    """A connector on the sandbox, with the state store the daemon would give it."""

    iiko: IikoSandbox
    store: StateStore
    connector: IikoConnector

    def orders(self, cursor: str | None = None) -> tuple[list[Order], str | None]:
        """Every order one read yields, decoded, and the cursor the engine would keep."""
        orders, kept = [], cursor
        for page in self.connector.read(Entity.ORDERS, cursor=cursor):
            orders += [self.connector.decode(Entity.ORDERS, raw) for raw in page.records]
            kept = page.cursor or kept
        return [o for o in orders if isinstance(o, Order)], kept

    def webhook(self, body: bytes, token: str | None = None) -> tuple[int, Any]:
        """POST ``body`` to the webhook endpoint with ``token`` (the right one when None, none when empty)."""
        inbound = Inbound(self.store, self.connector, wake=lambda: None)
        given = self.iiko.webhook_token if token is None else token
        headers = [("Authorization", given)] if given else []
        request = Request(EnvironBuilder(method="POST", data=body, headers=headers,
                                         content_type="application/json").get_environ())
        answer = self.connector.endpoints()[0].handler(request, inbound, {})
        return answer.status_code, json_loads(answer.get_data())

    def inbox(self, status: str | None = None) -> int:
        with self.store.reading() as state:
            return state.inbox.count(None if status is None else InboxStatus(status))


def connect(stand: Stand, store: StateStore, **settings: Any) -> IikoConnector:
    # A venue per terminal group, so tests can tell them apart.
    model = IikoSettings.model_validate({"type": "iiko", **stand.sandbox.source_settings(),
                                         "terminal_groups": {"hall": HALL, "delivery": DELIVERY},
                                         "retry": {"attempts": 2, "backoff": 0.01}, **settings})
    context = ConnectorContext(source="iiko", timezone=MOSCOW, log=logging.getLogger("hub.test.iiko"),
                               clock=stand.clock, state=StoreChannelState(store, "iiko"), links=StoreLinks(store))
    return IikoConnector(model, context)


@pytest.fixture
def hub(stand: Stand, tmp_path: Path) -> Iterator[Hub]:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    connector = connect(stand, store)
    yield Hub(stand.sandbox, store, connector)
    connector.close()


def delivery(iiko: IikoSandbox, *items: tuple[str, str, str | None], close: bool = True) -> str:
    order = iiko.open_delivery([(iiko.products[name], Decimal(amount), size and iiko.sizes[size])
                                for name, amount, size in items])
    if close:
        iiko.close_order(order)
    return order


# --- settings and check --------------------------------------------------------------------------


@pytest.mark.parametrize("credentials", [
    {},
    {"api_login": "a", "api_key": "b", "app_id": "c", "client_secret": "d"},
    {"api_key": "b", "app_id": "c"},
])
def test_settings_take_exactly_one_auth_scheme(iiko: IikoSandbox, credentials: dict[str, str]) -> None:
    settings = {k: v for k, v in iiko.source_settings().items() if k != "api_login"}
    with pytest.raises(ValidationError, match="api_login, or api_key with app_id and client_secret"):
        IikoSettings.model_validate({"type": "iiko", **settings, **credentials})


def test_check_names_the_organization_with_either_scheme(stand: Stand, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    v2 = {"api_login": None, "api_key": stand.sandbox.api_key, "app_id": stand.sandbox.app_id,
          "client_secret": stand.sandbox.client_secret}
    for settings in ({}, v2):
        assert "2 terminal group(s)" in connect(stand, store, **settings).check()
    assert stand.sandbox.count("POST", "/api/v2/access_token") == 1


def test_check_refuses_a_terminal_group_iiko_does_not_have(stand: Stand, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    connector = connect(stand, store, terminal_groups={"hall": HALL, "bar": "no-such-group"})
    with pytest.raises(RequestRejected, match="no terminal group"):
        connector.check()
    with pytest.raises(RequestRejected, match="not available"):
        connect(stand, store, organization_id="someone-else").check()
    with pytest.raises(AuthError):
        connect(stand, store, api_login="someone-else").check()


def test_check_says_where_iikos_webhooks_go_when_webhook_url_is_set(stand: Stand, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    hub_url = "https://hub.example.ru/iiko/webhook"
    with pytest.raises(RequestRejected, match=re.escape(f"webhooks to nowhere, not to {hub_url}")):
        connect(stand, store, webhook_url=hub_url).check()
    connect(stand, store).client.set_webhook(ORGANIZATION, "https://old.example.ru/hook", "token")
    with pytest.raises(RequestRejected, match=re.escape("to https://old.example.ru/hook, not")):
        connect(stand, store, webhook_url=hub_url).check()

    stand.sandbox.attach(hub_url.removesuffix("/webhook"))  # as the integrator sets it in iikoWeb

    assert f"; its webhooks come to {hub_url}" in connect(stand, store, webhook_url=hub_url).check()
    assert "webhooks" not in connect(stand, store).check()


def test_check_logs_in_to_iikoserver_and_gives_the_seat_back(stand: Stand, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    office = stand.sandbox.office_settings()
    assert "iikoServer" not in connect(stand, store, office=None).check()
    assert connect(stand, store, office=office).check().endswith("; iikoServer logged in and out")
    assert (stand.sandbox.office.logins, stand.sandbox.office.sessions) == (1, set())
    with pytest.raises(AuthError, match="Wrong login or password"):
        connect(stand, store, office={**office, "password": "guess"}).check()
    with pytest.raises(ValidationError, match="order_kinds must be"):
        connect(stand, store, office=office, order_kinds=["delivery"])
    with pytest.raises(ValidationError, match="leave office or kitchen out"):
        connect(stand, store, office=office, kitchen=DELIVERY)


# --- orders ------------------------------------------------------------------------------------


def test_closed_sales_are_read_and_open_ones_wait(hub: Hub) -> None:
    closed = delivery(hub.iiko, ("cappuccino", "2", None), ("pizza", "1", "large"))
    delivery(hub.iiko, ("cappuccino", "1", None), close=False)
    hall = hub.iiko.open_table_order(2, [(hub.iiko.products["cappuccino"], Decimal(1), None)])
    hub.iiko.close_order(hall, payments=[(CARD, None)])

    orders, cursor = hub.orders()

    assert sorted(o.external_id for o in orders) == sorted([closed, hall])
    assert json_loads(cursor or "{}")["revision"] == max(r.revision for r in hub.iiko.orders.values())
    by_id = {o.external_id: o for o in orders}
    pizza = f"{hub.iiko.products['pizza']}:{hub.iiko.sizes['large']}"
    assert [(line.product, line.quantity, line.sum) for line in by_id[closed].lines] == [
        (hub.iiko.products["cappuccino"], Decimal(2), Decimal("360.00")), (pizza, Decimal(1), Decimal("590.00"))]
    assert (by_id[closed].total, by_id[closed].status) == (Decimal("950.00"), OrderStatus.DELIVERED)
    hall_delivery = by_id[hall].delivery
    assert hall_delivery is not None and hall_delivery.type is DeliveryType.DINE_IN
    assert by_id[hall].payments[0].method == "card" and "официант Ольга" in (by_id[hall].comment or "")


def test_the_next_read_takes_only_what_changed_since_the_revision(hub: Hub) -> None:
    delivery(hub.iiko, ("cappuccino", "1", None))
    _, cursor = hub.orders()
    later = delivery(hub.iiko, ("parmesan", "0.3", None))

    orders, moved = hub.orders(cursor)

    assert [o.external_id for o in orders if o.delivery and o.delivery.type is not DeliveryType.DINE_IN] == [later]
    assert orders[0].lines[0].quantity == Decimal("0.3") and orders[0].total == Decimal("720.00")
    assert hub.iiko.count("POST", "/api/1/deliveries/by_revision") == 1
    assert json_loads(moved or "{}")["revision"] > json_loads(cursor or "{}")["revision"]


def test_a_revision_older_than_iiko_looks_back_is_read_by_date_again(hub: Hub) -> None:
    order = delivery(hub.iiko, ("cappuccino", "1", None))
    _, cursor = hub.orders()
    kept = json_loads(cursor or "{}")
    stale = json_dumps({**kept, "deliveries_at": utcnow() - dt.timedelta(hours=4)})  # hub was down all night

    orders, _ = hub.orders(stale)

    assert order in [o.external_id for o in orders]
    assert hub.iiko.count("POST", "/api/1/deliveries/by_revision") == 0
    assert hub.iiko.count("POST", "/api/1/deliveries/by_delivery_date_and_status") == 2


def test_only_the_configured_order_kinds_are_read(stand: Stand, tmp_path: Path) -> None:
    connector = connect(stand, open_store(f"sqlite:///{tmp_path / 'state.db'}"), order_kinds=["delivery"])
    hall = stand.sandbox.open_table_order(1, [(stand.sandbox.products["cappuccino"], Decimal(1), None)])
    stand.sandbox.close_order(hall)

    assert [r for page in connector.read(Entity.ORDERS, cursor=None) for r in page.records] == []
    assert stand.sandbox.count("POST", "/api/1/order/by_table") == 0


def test_a_test_order_is_skipped_by_the_mapping_and_garbage_is_invalid(hub: Hub) -> None:
    order = delivery(hub.iiko, ("cappuccino", "1", None))
    info = hub.iiko.orders[order].info()
    info["order"]["comment"] = "Тест кассы"

    with pytest.raises(InvalidRecord, match=r"skipped by orders\.in\.yaml"):
        hub.connector.decode(Entity.ORDERS, RawRecord(order, json_dumps(info).encode()))
    for body in (b"{", b"[]", json_dumps({"id": order, "creationStatus": "Error"}).encode()):
        with pytest.raises(InvalidRecord):
            hub.connector.decode(Entity.ORDERS, RawRecord(order, body))


@pytest.mark.parametrize("amount", ["1e400", "-1e400", "1e999999"])
def test_a_sum_too_large_for_money_is_an_invalid_record(hub: Hub, amount: str) -> None:
    order = delivery(hub.iiko, ("cappuccino", "1", None))
    info = hub.iiko.orders[order].info()
    info["order"]["sum"] = amount

    with pytest.raises(InvalidRecord, match=r"^iiko orders "):
        hub.connector.decode(Entity.ORDERS, RawRecord(order, json_dumps(info).encode()))


# --- webhooks ----------------------------------------------------------------------------------


def event(iiko: IikoSandbox, order_id: str, kind: str = "DeliveryOrderUpdate") -> bytes:
    return json_dumps([{"eventType": kind, "eventTime": "2026-11-22 10:00:00.000", "organizationId": ORGANIZATION,
                        "correlationId": "c-1", "eventInfo": iiko.orders[order_id].info()}]).encode()


def test_a_webhook_keeps_every_closed_order_without_calling_iiko_and_the_job_refuses_what_it_cannot_read(
        hub: Hub) -> None:
    good, bad = delivery(hub.iiko, ("cappuccino", "1", None)), delivery(hub.iiko, ("cappuccino", "2", None))
    open_ = delivery(hub.iiko, ("cappuccino", "3", None), close=False)
    events = [json_loads(event(hub.iiko, order_id))[0] for order_id in (good, bad, open_)]
    events[1]["eventInfo"]["order"]["comment"] = "Тест кассы"  # the mapping skips it: it cannot be taken
    hub.iiko.faults.fail_next(100, status=503)  # iikoCloud is down: the webhook must not need it
    calls = len(hub.iiko.requests)

    assert hub.webhook(json_dumps(events).encode()) == (200, {"accepted": 3, "orders": 2})

    assert len(hub.iiko.requests) == calls
    assert hub.inbox("pending") == 2
    assert [k for k, _ in hub.connector.state.all("reread")] == [f"delivery:{open_}"]
    hub.iiko.faults.reset()
    with pytest.raises(InvalidRecord, match=r"skipped by orders\.in\.yaml"):
        hub.connector.decode(Entity.ORDERS, RawRecord(bad, json_dumps(events[1]["eventInfo"]).encode()))


def test_a_closed_order_in_a_webhook_is_stored_and_an_open_one_is_re_read_until_it_closes(hub: Hub) -> None:
    closed = delivery(hub.iiko, ("cappuccino", "1", None))
    open_ = delivery(hub.iiko, ("cappuccino", "2", None), close=False)
    hall = hub.iiko.open_table_order(4, [(hub.iiko.products["cappuccino"], Decimal(1), None)])

    assert hub.webhook(event(hub.iiko, closed)) == (200, {"accepted": 1, "orders": 1})
    assert hub.webhook(event(hub.iiko, open_))[0] == 200
    assert hub.webhook(event(hub.iiko, hall, "TableOrderUpdate"))[0] == 200

    assert hub.inbox("pending") == 1
    assert sorted(k for k, _ in hub.connector.state.all("reread")) == sorted([f"delivery:{open_}", f"table:{hall}"])
    hub.iiko.close_order(hall)
    list(hub.connector.read(Entity.ORDERS, cursor=None))  # the table re-read by id: closed, so forgotten
    assert [k for k, _ in hub.connector.state.all("reread")] == [f"delivery:{open_}"]
    assert hub.iiko.count("POST", "/api/1/order/by_id") == 1


def test_a_webhook_with_a_wrong_token_stores_nothing(hub: Hub) -> None:
    order = delivery(hub.iiko, ("cappuccino", "1", None))

    for token in ("nope", "", "Bearer nope"):
        status, answer = hub.webhook(event(hub.iiko, order), token)
        assert status == 401 and answer["error"] == "unauthorized"

    assert hub.inbox() == 0 and hub.connector.state.all("reread") == []
    assert hub.webhook(event(hub.iiko, order), "Bearer sandbox-iiko-webhook-token")[0] == 200


def test_a_malformed_webhook_is_kept_as_rejected(hub: Hub) -> None:
    no_order = b'[{"eventType": "DeliveryOrderUpdate", "eventInfo": {}}]'

    for body in (b"not json", b"[1]", no_order, b"[" * 100_000):
        status, answer = hub.webhook(body)
        assert status == 400 and answer["message"]

    assert (hub.inbox("rejected"), hub.inbox("pending")) == (4, 0)


def test_stop_list_events_become_hints_and_a_menu_event_has_the_menu_read_again(hub: Hub) -> None:
    hub.connector.menu()
    body = json_dumps([
        {"eventType": "StopListUpdate", "organizationId": ORGANIZATION,
         "eventInfo": {"terminalGroupsStopListsUpdates": [{"id": HALL, "isFull": False}]}},
        {"eventType": "NomenclatureUpdate", "organizationId": ORGANIZATION, "eventInfo": {}},
        {"eventType": "PersonalShift", "organizationId": ORGANIZATION, "eventInfo": {}},
        {"eventType": "StopListUpdate", "organizationId": "another-organization",
         "eventInfo": {"terminalGroupsStopListsUpdates": [{"id": DELIVERY, "isFull": False}]}}]).encode()

    assert hub.webhook(body) == (200, {"accepted": 4, "orders": 0})

    assert [k for k, _ in hub.connector.state.all("reread")] == [f"stop_list:{HALL}"]
    hub.connector.menu()
    assert hub.iiko.count("POST", "/api/1/nomenclature") == 2


# --- goods and stop lists ----------------------------------------------------------------------


def good(article: str | None, **attributes: Any) -> Product:
    return Product(id=f"1c-{article}", article=article, name=str(article), attributes=attributes)


def test_1c_goods_are_linked_to_iiko_products_by_code_and_size(hub: Hub) -> None:
    goods = [good("CAP-300"), good("PZ-MARG", iiko_size="30 см"), good("PZ-MARG"), good("NOPE"), good(None)]

    keys = hub.connector.write_batch(Entity.CATALOG, goods)

    products, large = hub.iiko.products, hub.iiko.sizes["large"]
    assert keys == [products["cappuccino"], f"{products['pizza']}:{large}", products["pizza"], "unmatched:1c-NOPE",
                    "unmatched:1c-None"]
    written = hub.connector.as_written(Entity.CATALOG, goods[0])
    assert isinstance(written, Product) and written.attributes["iiko"] == products["cappuccino"]
    assert hub.iiko.count("POST", "/api/1/nomenclature") == 1  # the menu is read once, not per good


def level(product: str, venue: str, quantity: str) -> StockLevel:
    return StockLevel(product=product, warehouse=venue, quantity=Decimal(quantity), as_of=utcnow())


def test_stock_stops_what_ran_out_and_releases_only_what_hub_stopped(hub: Hub) -> None:
    cappuccino, parmesan = hub.iiko.products["cappuccino"], hub.iiko.products["parmesan"]
    hub.iiko.stop_at_pos(HALL, parmesan)  # stopped by a cook, for reasons 1C does not know

    hub.connector.write_batch(Entity.STOCK, [level(cappuccino, "hall", "0"), level(parmesan, "hall", "3"),
                                             level("unmatched:x", "hall", "0"), level(cappuccino, "bar", "0")])
    again = hub.iiko.count("POST", "/api/1/stop_lists/add")
    hub.connector.write_batch(Entity.STOCK, [level(cappuccino, "hall", "-2")])

    assert hub.iiko.stop_list(HALL) == {(cappuccino, None): Decimal(0), (parmesan, None): Decimal(0)}
    assert hub.iiko.stop_list(DELIVERY) == {}
    assert hub.iiko.count("POST", "/api/1/stop_lists/add") == again == 1  # stopped already: nothing sent
    hub.connector.write_batch(Entity.STOCK, [level(cappuccino, "hall", "1.5"), level(parmesan, "hall", "2")])
    assert hub.iiko.stop_list(HALL) == {(parmesan, None): Decimal(0)}


def test_a_stop_list_shows_stopped_or_not_for_every_product_at_every_venue(hub: Hub) -> None:
    cappuccino, pizza = hub.iiko.products["cappuccino"], hub.iiko.products["pizza"]
    hub.connector.write_batch(Entity.CATALOG, [good("NOPE")])
    hub.iiko.stop_at_pos(DELIVERY, pizza)

    shown = {raw.external_id: hub.connector.decode(Entity.STOCK, raw)
             for page in hub.connector.read(Entity.STOCK, cursor=None) for raw in page.records}

    large = f"{pizza}:{hub.iiko.sizes['large']}"
    assert {key: level.quantity for key, level in shown.items() if isinstance(level, StockLevel)
            and key in (f"hall:{cappuccino}", f"delivery:{large}", f"hall:{large}", "hall:unmatched:1c-NOPE")} == {
        f"hall:{cappuccino}": Decimal(1), f"delivery:{large}": Decimal(0), f"hall:{large}": Decimal(1),
        "hall:unmatched:1c-NOPE": Decimal(0)}
    written = [hub.connector.as_written(Entity.STOCK, level(product, "hall", "7")) for product in (cappuccino,
                                                                                                 "unmatched:x")]
    assert [(w.product, w.quantity) for w in written if isinstance(w, StockLevel)] == [
        (cappuccino, Decimal(1)), ("unmatched:x", Decimal(0))]


def test_prices_are_read_from_the_menu_per_product_and_size(hub: Hub) -> None:
    hub.iiko.set_price(hub.iiko.products["cappuccino"], Decimal("195.50"))

    prices = {raw.external_id: hub.connector.decode(Entity.PRICES, raw)
              for page in hub.connector.read(Entity.PRICES, cursor=None) for raw in page.records}

    small = f"{hub.iiko.products['pizza']}:{hub.iiko.sizes['small']}"
    assert prices[hub.iiko.products["cappuccino"]] == PriceEntry(product=hub.iiko.products["cappuccino"],
                                                                  price_type="iiko", amount=Decimal("195.50"))
    assert prices[small] == PriceEntry(product=small, price_type="iiko", amount=Decimal(450))
    assert not IikoConnector.can(Entity.PRICES, Mode.WRITE)


# --- loyalty guests ----------------------------------------------------------------------------


def test_an_orders_modifiers_go_to_the_kitchen_as_iikos_and_options_it_lacks_as_a_comment(
        stand: Stand, tmp_path: Path) -> None:
    iiko = stand.sandbox
    pizza, cheese = iiko.products["pizza"], iiko.products["cheese"]
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with store.transaction() as state:  # the shop's pizza and topping are 1C goods the catalog job matched in iiko
        state.links.put("shop", "catalog", "PIZZA", "good-pizza")
        state.links.put("shop", "catalog", "CHEESE", "good-cheese")
        state.channel_state.put_many("iiko", "good", {"good-pizza": f"{pizza}:{iiko.sizes['small']}",
                                                      "good-cheese": cheese})
    connector = connect(stand, store, kitchen=DELIVERY)
    toppings = [rule.id for product in connector.client.nomenclature(ORGANIZATION).products if product.id == pizza
                for rule in product.modifiers if rule.group]
    order = Order(channel="shop", external_id="A-9", created_at=utcnow(), total=Decimal(630),
                  customer=Customer(first_name="Анна", phones=["+79161234567"]), lines=[
                      OrderLine(product="PIZZA", name="Маргарита", quantity=Decimal(1), unit_price=Decimal(450),
                                sum=Decimal(450), modifiers=[
                                    Modifier(product="CHEESE", name="Двойной сыр", quantity=Decimal(3),
                                             unit_price=Decimal(60)),
                                    Modifier(name="Без лука")])])

    sent = connector.write(Entity.ORDERS, order, key="shop:A-9", ref=None)
    connector.close()

    [create] = [seen for seen in iiko.requests if seen.path == "/api/1/deliveries/create"]
    [item] = json_loads(create.body)["order"]["items"]
    assert item["modifiers"] == [{"productId": cheese, "amount": 3, "price": 60, "productGroupId": toppings[0]}]
    assert item["comment"] == "Без лука ×1"
    [line] = iiko.orders[sent.ref].order["items"]
    assert [(m["product"]["id"], m["amount"], m["productGroup"]["id"]) for m in line["modifiers"]] == [
        (cheese, 3, toppings[0])]


def test_guests_are_found_by_phone_and_created_or_updated(hub: Hub) -> None:
    known = hub.iiko.add_guest("+79161234567", name="Анна")
    anna = Customer(first_name="Анна", last_name="Смирнова", phones=["+79161234567"],
                    birthday=dt.date(1990, 5, 17))

    assert hub.connector.find(Entity.CUSTOMERS, "phone:+79161234567") == known
    assert hub.connector.find(Entity.CUSTOMERS, "email:anna@example.ru") is None
    assert hub.connector.write(Entity.CUSTOMERS, anna, key="phone:+79161234567", ref=known).ref == known
    new = hub.connector.write(Entity.CUSTOMERS, Customer(first_name="Пётр", phones=["+79031112233"]),
                              key="phone:+79031112233", ref=None)

    assert new.action == "created" and hub.connector.find(Entity.CUSTOMERS, "phone:+79031112233") == new.ref
    with pytest.raises(InvalidRecord, match="needs a phone"):
        hub.connector.write(Entity.CUSTOMERS, Customer(first_name="Без телефона"), key="email:x@y.ru", ref=None)


# --- the acceptance suite ----------------------------------------------------------------------


class TestIikoAcceptance(ConnectorAcceptance):
    """The standard checks on loyalty guests, the entity iiko is written with record by record."""

    connector_type = "iiko"
    entity = Entity.CUSTOMERS
    secret_settings = ("api_login",)
    push_path = "/webhook"

    def push_body(self, sandbox: Any, number: int) -> bytes:
        return event(sandbox, delivery(sandbox, ("cappuccino", str(number), None)))

    def push_headers(self, settings: dict[str, Any], body: bytes, *, credential: bool) -> dict[str, str]:
        token = settings["webhook_token"] if credential else "wrong-token"
        return {"Content-Type": "application/json", "Authorization": token}

    def assert_error_shape(self, status: int, body: bytes) -> None:
        answer = json_loads(body)
        assert answer["error"] == "bad_request" and answer["message"], answer

    @pytest.fixture(autouse=True)
    def _store(self, tmp_path: Path) -> None:
        self.store = open_store(f"sqlite:///{tmp_path / 'state.db'}")

    def connect(self, settings: dict[str, Any], clock: RecordingClock) -> IikoConnector:
        model = IikoSettings.model_validate(settings)
        context = ConnectorContext(source="acceptance", timezone=MOSCOW, log=logging.getLogger("hub.acceptance"),
                                   clock=clock, state=StoreChannelState(self.store, "acceptance"))
        return IikoConnector(model, context)

    @pytest.fixture
    def connector(self, sandbox: Any, clock: RecordingClock) -> Iterator[IikoConnector]:
        """A connector that holds its token already: the suite counts the requests of one call."""
        connector = self.connect(self.settings(sandbox), clock)
        connector.client.token()
        sandbox.requests.clear()
        yield connector
        connector.close()

    def test_write_after_a_lost_answer_is_found_not_repeated(self, connector: Any, sandbox: Any) -> None:
        """iiko saves a guest by phone, so a create whose answer was lost is simply sent again: still one guest."""
        sandbox.faults.drop_after_commit(1)
        connector.write(self.entity, self.make_record(2), key="acceptance:lost", ref=None)
        assert self.count_written(sandbox, "acceptance:lost") == 1
        assert sandbox.count("POST", "/api/1/loyalty/iiko/customer/create_or_update") == 2

    def make_record(self, number: int) -> Customer:
        return Customer(first_name=f"Гость {number}", phones=[f"+7916000000{number}"])

    def count_written(self, sandbox: Any, key: str) -> int:
        assert isinstance(sandbox, IikoSandbox)
        phones = {"acceptance:1": "+79160000001", "acceptance:lost": "+79160000002"}
        return sum(1 for guest in sandbox._guests.values() if guest.phone == phones[key])
