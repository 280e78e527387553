"""The Bitrix24 connector against its sandbox over real HTTP: the standard acceptance suite, then contacts,
deals, stages, events, tokens and the portal's limits."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.bitrix24 import Bitrix24Connector, Bitrix24Sandbox
from connectors.bitrix24.client import encode_query
from connectors.bitrix24.sandbox import APPLICATION_TOKEN, CLIENT_ID, CLIENT_SECRET, CONTACT, DEAL, SECRET
from hub.connector import ConnectorContext
from hub.errors import ConfigError, InvalidRecord
from hub.model import Customer, Entity, Order, OrderLine, OrderStatus, PriceEntry, Product, RawRecord
from hub.sandbox import Sandbox
from hub.state import InboxStatus, StateStore
from hub.testing.acceptance import ConnectorAcceptance, MemoryState, Pushed, RecordingClock
from hub.values import json_loads, zone

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def order(number: int, *, status: OrderStatus = OrderStatus.NEW, customer: Customer | None = None,
          channel: str = "site") -> Order:
    return Order(channel=channel, external_id=str(number), number=f"A-{number}", status=status,
                 created_at=dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC), total=Decimal("361.50"),
                 customer=customer,
                 lines=[OrderLine(product="CHE-RUS", name="Сыр", quantity=Decimal("0.305"),
                                  unit_price=Decimal("899.90"), sum=Decimal("274.47")),
                        OrderLine(product="LAT-400", name="Латте", quantity=Decimal(1),
                                  unit_price=Decimal("87.03"), sum=Decimal("87.03"))])


def event(deal: int | str, token: str = APPLICATION_TOKEN, name: str = "ONCRMDEALADD") -> bytes:
    return encode_query({"event": name, "event_handler_id": "3", "data": {"FIELDS": {"ID": deal}}, "ts": "1766047124",
                         "auth": {"domain": "sandbox.bitrix24.ru", "application_token": token}}).encode()


class TestBitrix24Acceptance(ConnectorAcceptance):
    connector_type = "bitrix24"
    entity = Entity.ORDERS
    secret_settings = ("application_token",)
    push_path = "/events"
    bad_push_body = encode_query({"event": "ONCRMDEALADD", "data": {"FIELDS": {}},
                                  "auth": {"application_token": APPLICATION_TOKEN}}).encode()
    """Signed, but naming no deal: a push without the right token is kept nowhere (see below)."""

    @pytest.fixture
    def sandbox(self, clock: RecordingClock) -> Iterator[Sandbox]:
        # The portal's bucket and hub's read one clock, so hub's waits are the portal's time passing.
        with Bitrix24Sandbox(clock=clock, page=10) as portal:
            yield portal

    def settings(self, sandbox: Sandbox) -> dict[str, Any]:
        return {**super().settings(sandbox), "page_size": 10, "deals_to_orders": True}

    def bad_settings(self, sandbox: Sandbox) -> dict[str, Any]:
        settings = self.settings(sandbox)
        return {**settings, "url": settings["url"].replace(SECRET, "wrong-secret")}

    def seed(self, sandbox: Sandbox, count: int) -> list[str]:
        assert isinstance(sandbox, Bitrix24Sandbox)
        return [str(sandbox.manager_deal(f"Телефонный заказ {n}", f"+7916000{n:04d}")) for n in range(count)]

    def make_record(self, number: int) -> Order:
        return order(number)

    def count_written(self, sandbox: Sandbox, key: str) -> int:
        assert isinstance(sandbox, Bitrix24Sandbox)
        return sum(1 for deal in sandbox.items[DEAL].values() if deal.get("ufCrmHubOrder") == key)

    def push_body(self, sandbox: Sandbox, number: int) -> bytes:
        return event(self.seed(sandbox, 1)[0])

    def push_headers(self, settings: dict[str, Any], body: bytes, *, credential: bool) -> dict[str, str]:
        return FORM

    def assert_error_shape(self, status: int, body: bytes) -> None:
        answer = json_loads(body)
        assert set(answer) == {"error", "error_description"} and answer["error_description"], answer

    def test_a_push_with_a_wrong_credential_stores_nothing(self, pushed: Pushed, sandbox: Sandbox) -> None:
        """The portal's credential travels in the body (``auth[application_token]``), not in a header."""
        deal = self.seed(sandbox, 1)[0]
        answer = pushed.post("/events", event(deal, token="forged"), FORM)
        assert answer.status == 401, answer
        with pushed.store.reading() as state:
            assert state.inbox.count() == 0

    @pytest.mark.parametrize(("body", "headers"), [
        (b"{not json", FORM),
        (b"auth[application_token]=forged&event=ONCRMDEALADD", FORM),
        (b"auth=forged&data[FIELDS]=1&data[FIELDS][ID]=7", FORM),
        (b"\xff\xfe", FORM),
        (event(7, token="forged"), {"Content-Type": "application/json"}),
        (event(7).replace(b"application_token", b"token"), FORM),
    ], ids=["garbage", "no-deal", "mixed-form", "not-utf8", "other-media", "no-token"])
    def test_a_push_without_the_right_token_is_answered_401_and_kept_nowhere_not_even_as_rejected(
            self, pushed: Pushed, body: bytes, headers: dict[str, str]) -> None:
        answer = pushed.post("/events", body, headers)
        assert answer.status == 401, answer
        self.assert_error_shape(answer.status, answer.body)
        with pushed.store.reading() as state:
            assert state.inbox.count() == 0, "nothing kept, not even as rejected"

    def test_an_apps_event_keeps_none_of_its_tokens_and_its_dead_letter_replays(self, pushed: Pushed,
                                                                                sandbox: Sandbox) -> None:
        """An application's event carries its OAuth tokens beside the application_token (fact sheet §2.7): the
        state DB keeps none of them, and the kept body, a dead letter once, is read again when retried."""
        deal = self.seed(sandbox, 1)[0]
        tokens = {"application_token": APPLICATION_TOKEN, "access_token": "app-access-5f1c9d2b",
                  "refresh_token": "app-refresh-8e2a71c4"}
        body = encode_query({"event": "ONCRMDEALADD", "data": {"FIELDS": {"ID": deal}},
                             "auth": {"domain": "sandbox.bitrix24.ru", **tokens}}).encode()
        sandbox.faults.fail_next(1, status=400, body=b'{"error": "NOT_FOUND", "error_description": "Not found"}')

        assert pushed.post("/events", body, FORM).status == 200
        self._stage(pushed)  # the portal refuses to read the deal: a dead letter
        with pushed.store.transaction() as state:
            [letter] = state.dead_letters.list()
            kept = state.inbox.get(letter.inbox_id or 0)
            state.inbox.mark(letter.inbox_id or 0, InboxStatus.PENDING)  # what `hub dead-letters retry` does
        self._stage(pushed)
        with pushed.store.reading() as state:
            replayed = state.inbox.get(letter.inbox_id or 0)

        assert kept is not None and replayed is not None and replayed.status == InboxStatus.DONE
        for value in tokens.values():
            assert value.encode() not in kept.body + kept.headers.encode() + letter.payload
        assert b"auth%5Baccess_token%5D=***" in kept.body and b"auth%5Bdomain%5D=sandbox.bitrix24.ru" in kept.body

    def test_the_webhook_secret_never_reaches_a_log_or_an_error(self, sandbox: Sandbox, clock: RecordingClock,
                                                                caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        sandbox.faults.fail_next(1, status=500)
        connector = self.connect(self.bad_settings(sandbox), clock)
        with pytest.raises(Exception) as raised:
            connector.check()
        good = self.connect(self.settings(sandbox), clock)
        sandbox.faults.fail_next(1, status=503)
        good.check()
        assert "wrong-secret" not in str(raised.value)
        hubs_own = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("hub.http"))
        assert "/rest/1/" in hubs_own and SECRET not in hubs_own and "wrong-secret" not in hubs_own


@pytest.fixture
def portal() -> Iterator[Bitrix24Sandbox]:
    with Bitrix24Sandbox() as sandbox:
        yield sandbox


def connect(portal: Bitrix24Sandbox, clock: RecordingClock | None = None, **extra: Any) -> Bitrix24Connector:
    suite = TestBitrix24Acceptance()
    connector = suite.connect({**suite.settings(portal), "page_size": 50, **extra}, clock or RecordingClock())
    assert isinstance(connector, Bitrix24Connector)
    return connector


ANNA = Customer(first_name="Анна", last_name="Смирнова", phones=["+79165551234"], emails=["anna@example.ru"],
                ids={"onec": "c0a8-1"})


def test_a_guest_the_portal_knows_by_phone_is_updated_not_doubled(portal: Bitrix24Sandbox) -> None:
    portal.manager_deal("Звонок", "8 (916) 555-12-34")
    connector = connect(portal)
    ref = connector.find(Entity.CUSTOMERS, "phone:+79165551234")
    assert ref is not None
    connector.write(Entity.CUSTOMERS, ANNA, key="phone:+79165551234", ref=ref)
    [contact] = portal.items[CONTACT].values()
    assert contact["name"] == "Анна" and contact["ufCrmHubCustomer"] == "phone:+79165551234"
    assert contact["ufCrmOnecCounterparty"] == "c0a8-1"
    assert sorted(v["typeId"] for v in contact["fm"]) == ["EMAIL", "PHONE"], "the email added, the phone kept"


def test_every_multifield_value_is_sent_with_its_type_or_the_portal_ignores_it(portal: Bitrix24Sandbox) -> None:
    connector = connect(portal)
    ref = connector.write(Entity.CUSTOMERS, ANNA, key="phone:+79165551234", ref=None).ref
    more = ANNA.model_copy(update={"phones": ["+79165551234", "+79990001122"]})
    connector.write(Entity.CUSTOMERS, more, key="phone:+79165551234", ref=ref)
    values = [v["value"] for v in portal.items[CONTACT][int(ref)]["fm"] if v["typeId"] == "PHONE"]
    assert values == ["+79165551234", "+79990001122"]


def test_a_deal_per_order_with_its_rows_set_whole_and_tied_to_its_contact(portal: Bitrix24Sandbox) -> None:
    connector = connect(portal)
    first = connector.write(Entity.ORDERS, order(1, customer=ANNA), key="site:1", ref=None)
    second = connector.write(Entity.ORDERS, order(2, customer=ANNA, channel="yandex"), key="yandex:2", ref=None)
    assert len(portal.items[CONTACT]) == 1
    deals = [portal.items[DEAL][int(r.ref)] for r in (first, second)]
    assert {d["contactId"] for d in deals} == set(portal.items[CONTACT])
    assert portal.rows[int(first.ref)] == [
        {"PRODUCT_ID": 0, "PRODUCT_NAME": "Сыр", "PRICE": "899.90", "QUANTITY": "0.305"},
        {"PRODUCT_ID": 0, "PRODUCT_NAME": "Латте", "PRICE": "87.03", "QUANTITY": "1"}]
    fewer = order(1, customer=ANNA).model_copy(update={"lines": order(1).lines[:1]})
    connector.write(Entity.ORDERS, fewer, key="site:1", ref=first.ref)
    assert [r["PRODUCT_NAME"] for r in portal.rows[int(first.ref)]] == ["Сыр"]
    assert connector.find_many(Entity.ORDERS, ["site:1", "yandex:2", "site:3"]) == {"site:1": first.ref,
                                                                                   "yandex:2": second.ref}


def test_a_deals_stage_follows_the_status_forward_only(portal: Bitrix24Sandbox) -> None:
    connector = connect(portal)
    ref = connector.write(Entity.ORDERS, order(1, status=OrderStatus.READY), key="site:1", ref=None).ref
    assert portal.items[DEAL][int(ref)]["stageId"] == "EXECUTING"
    connector.write(Entity.ORDERS, order(1, status=OrderStatus.ACCEPTED), key="site:1", ref=ref)
    assert portal.items[DEAL][int(ref)]["stageId"] == "EXECUTING", "never moved back"
    connector.set_status(ref, OrderStatus.DELIVERED)
    assert portal.items[DEAL][int(ref)]["stageId"] == "WON"
    portal.items[DEAL][int(ref)]["stageId"] = "C1:MANAGERS_OWN"
    connector.set_status(ref, OrderStatus.CANCELLED)
    assert portal.items[DEAL][int(ref)]["stageId"] == "C1:MANAGERS_OWN", "a stage the map does not know is left"


def test_a_stage_map_naming_no_status_of_hubs_is_one_clear_line(portal: Bitrix24Sandbox, tmp_path: Path) -> None:
    from hub.config import bundled_mappings

    folder = tmp_path / "bitrix24"
    shutil.copytree(bundled_mappings() / "bitrix24", folder)
    text = (folder / "orders.out.yaml").read_text(encoding="utf-8").replace("delivered: WON", "shipped: WON")
    (folder / "orders.out.yaml").write_text(text, encoding="utf-8")
    suite = TestBitrix24Acceptance()
    settings = Bitrix24Connector.settings_model.model_validate(suite.settings(portal))
    context = ConnectorContext(source="crm", timezone=zone("Europe/Moscow"), log=logging.getLogger("t"),
                               mappings=tmp_path)
    with pytest.raises(ConfigError) as raised:
        Bitrix24Connector(settings, context)
    assert raised.value.message == f"{folder / 'orders.out.yaml'}: options.stages: shipped is not hub's order status"
    assert raised.value.hint and "delivered" in raised.value.hint


def test_a_managers_deal_read_becomes_an_order_with_its_guest(portal: Bitrix24Sandbox) -> None:
    deal = portal.manager_deal("Пицца по телефону", "+7 916 000-11-22", amount="990.50")
    connector = connect(portal)
    [raw] = [r for page in connector.read(Entity.ORDERS, cursor=None) for r in page.records]
    decoded = connector.decode(Entity.ORDERS, raw)
    assert isinstance(decoded, Order)
    assert decoded.external_id == str(deal) and decoded.total == Decimal("990.50")
    assert decoded.customer is not None and decoded.customer.phones == ["+79160001122"]
    assert [line.name for line in decoded.lines] == ["Пицца по телефону"]


def test_a_managers_deal_whose_guest_phone_is_no_phone_still_reaches_1c_without_it(portal: Bitrix24Sandbox) -> None:
    deal = portal.manager_deal("Пицца по телефону", "нет")
    connector = connect(portal)
    [raw] = [r for page in connector.read(Entity.ORDERS, cursor=None) for r in page.records]
    decoded = connector.decode(Entity.ORDERS, raw)
    assert isinstance(decoded, Order) and decoded.external_id == str(deal)
    assert decoded.customer is not None and decoded.customer.phones == []


def test_a_cursor_that_is_not_the_polls_is_one_clear_error_with_the_way_out(portal: Bitrix24Sandbox) -> None:
    connector = connect(portal)
    with pytest.raises(ConfigError) as refused:
        list(connector.read(Entity.ORDERS, cursor="2026-12-01T00:00:00+03:00|nope"))
    assert "--full" in str(refused.value.hint) and "nope" in refused.value.message


def test_the_poll_reads_deals_changed_since_the_last_run_whatever_their_id(portal: Bitrix24Sandbox) -> None:
    first, second = portal.manager_deal("Первый", "+79160000001"), portal.manager_deal("Второй", "+79160000002")
    connector = connect(portal)
    pages = list(connector.read(Entity.ORDERS, cursor=None))
    assert [r.external_id for p in pages for r in p.records] == [str(first), str(second)]
    cursor = pages[-1].cursor
    again = [r.external_id for p in connector.read(Entity.ORDERS, cursor=cursor) for r in p.records]
    assert str(second) in again, "the newest moment is read again, never missed"
    portal.items[DEAL][first]["updatedTime"] = "2099-01-01T00:00:00+00:00"  # a manager changed the older deal
    later = [r.external_id for p in connector.read(Entity.ORDERS, cursor=cursor) for r in p.records]
    assert str(first) in later


def test_a_deal_with_a_lower_id_changed_after_a_run_that_read_nothing_new_is_still_read(
        portal: Bitrix24Sandbox) -> None:
    first, second = portal.manager_deal("Первый", "+79160000001"), portal.manager_deal("Второй", "+79160000002")
    connector = connect(portal)
    cursor = list(connector.read(Entity.ORDERS, cursor=None))[-1].cursor
    quiet = list(connector.read(Entity.ORDERS, cursor=cursor))  # nothing changed since: the newest moment again
    assert [r.external_id for p in quiet for r in p.records] == [str(second)]
    portal.items[DEAL][first]["updatedTime"] = "2099-01-01T00:00:00+00:00"  # a manager changed the older deal
    later = [r.external_id for p in connector.read(Entity.ORDERS, cursor=quiet[-1].cursor) for r in p.records]
    assert str(first) in later


def test_a_lookup_the_batch_answers_with_nothing_refuses_the_guest_rather_than_doubling_it(
        portal: Bitrix24Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    portal.manager_deal("Звонок", "+79160000001")
    connector = connect(portal)
    monkeypatch.setitem(portal._methods, "crm.duplicate.findbycomm", lambda params: None)  # kept as no answer

    [refused] = connector.write_batch(Entity.CUSTOMERS, [Customer(first_name="Гость", phones=["+79160000001"])])

    assert "could not look the contact up" in str(refused)
    assert len(portal.items[CONTACT]) == 1, "not created a second time"


def test_an_event_of_a_deal_deleted_since_is_a_dead_letter_not_an_inbox_stuck_on_it(portal: Bitrix24Sandbox) -> None:
    connector = connect(portal)
    deleted = RawRecord("404", event(404, name="ONCRMDEALDELETE"), content_type=FORM["Content-Type"])
    with pytest.raises(InvalidRecord, match=r"deal 404 cannot be read again: .*Element not found"):
        connector.decode(Entity.ORDERS, deleted)


def test_hubs_own_deals_are_not_read_back_as_phone_orders(portal: Bitrix24Sandbox) -> None:
    connector = connect(portal)
    ref = connector.write(Entity.ORDERS, order(1), key="site:1", ref=None).ref
    assert [r for p in connector.read(Entity.ORDERS, cursor=None) for r in p.records] == []
    with pytest.raises(InvalidRecord, match="hub wrote it from order site:1"):
        connector.decode(Entity.ORDERS, RawRecord(ref, event(ref), content_type=FORM["Content-Type"]))


@contextlib.contextmanager
def served(portal: Bitrix24Sandbox, tmp_path: Path, **extra: Any) -> Iterator[tuple[Bitrix24Connector, StateStore]]:
    """The connector's events endpoint served on a real port, the portal posting to it, kept in a SQLite state DB."""
    from hub.daemon.metrics import Metrics
    from hub.daemon.server import DaemonApp, HttpServer, Mounted
    from hub.inbound import Inbound
    from hub.state import open_store

    suite = TestBitrix24Acceptance()
    settings = Bitrix24Connector.settings_model.model_validate({**suite.settings(portal), "page_size": 50, **extra})
    connector = Bitrix24Connector(settings, ConnectorContext(source="crm", timezone=zone("Europe/Moscow"),
                                                             log=logging.getLogger("t"), state=MemoryState()))
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    inbound = Inbound(store, connector, lambda: None)
    mounts = [(f"/crm{e.rule}", Mounted("crm", e, inbound, 1 << 16)) for e in connector.endpoints()]
    server = HttpServer(DaemonApp(mounts, metrics=Metrics(store), readiness=dict), "127.0.0.1", 0, threads=2,
                        shutdown_timeout=1, max_body=1 << 16)
    host, port = server.start()
    try:
        portal.attach(f"http://{host}:{port}/crm")
        yield connector, store
    finally:
        server.stop()
        store.close()


def test_an_event_is_kept_then_the_deal_is_reread(portal: Bitrix24Sandbox, tmp_path: Path) -> None:
    with served(portal, tmp_path) as (connector, store):
        deal = portal.manager_deal("Звонок", "+79160002233")
        with store.reading() as state:
            [kept] = [state.inbox.get(n) for n in range(1, state.inbox.count() + 1)]
        assert kept is not None and kept.status == InboxStatus.PENDING and kept.external_id == str(deal)
        assert b"auth%5Bapplication_token%5D=***" in kept.body and APPLICATION_TOKEN.encode() not in kept.body
        calls = dict(portal.calls)
        decoded = connector.decode(Entity.ORDERS, RawRecord(kept.external_id or "", kept.body,
                                                            content_type=kept.content_type))
        assert isinstance(decoded, Order) and decoded.customer and decoded.customer.phones == ["+79160002233"]
        assert portal.calls["crm.item.get"] == calls.get("crm.item.get", 0) + 2, "the deal read again, its contact"
        own = connector.write(Entity.ORDERS, order(1), key="site:1", ref=None).ref
        assert portal.send_event("ONCRMDEALADD", int(own)) == 200
        with store.reading() as state:
            assert state.inbox.count() == 1, "hub's own deal is no phone order: its event is not kept"


def test_an_applications_event_is_kept_without_its_oauth_token_and_read_on_with_it(portal: Bitrix24Sandbox,
                                                                                  tmp_path: Path) -> None:
    oauth = {"url": f"{portal.url}/rest/", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
             "refresh_token": "sandbox-refresh-0", "oauth_url": f"{portal.url}/oauth/token/"}
    with served(portal, tmp_path, **oauth) as (connector, store):
        connector.check()  # hub's first token: the portal's events to the application carry it from now on
        deal = portal.manager_deal("Звонок", "+79160004455")
        with store.reading() as state:
            [kept] = state.inbox.pending("crm", "orders")
        decoded = connector.decode(Entity.ORDERS, RawRecord(kept.external_id or "", kept.body,
                                                            content_type=kept.content_type))

    assert kept.external_id == str(deal) and b"auth%5Baccess_token%5D=***" in kept.body
    assert b"sandbox-access-" not in kept.body and APPLICATION_TOKEN.encode() not in kept.body
    assert isinstance(decoded, Order) and decoded.customer and decoded.customer.phones == ["+79160004455"]


def test_oauth_refreshes_an_expired_token_and_keeps_the_new_pair(portal: Bitrix24Sandbox) -> None:
    state = MemoryState()
    suite = TestBitrix24Acceptance()
    settings = Bitrix24Connector.settings_model.model_validate({
        **suite.settings(portal), "url": f"{portal.url}/rest/", "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "refresh_token": "sandbox-refresh-0",
        "oauth_url": f"{portal.url}/oauth/token/"})
    context = ConnectorContext(source="crm", timezone=zone("Europe/Moscow"), log=logging.getLogger("t"),
                               clock=RecordingClock(), state=state)
    connector = Bitrix24Connector(settings, context)
    connector.check()
    first = state.get("oauth", "refresh_token")
    portal.expire_tokens()
    connector.check()
    kept = state.get("oauth", "refresh_token")
    assert kept not in (first, None), "the second pair is kept: the first refresh token is spent"


def test_oauth_takes_the_refresh_token_of_a_new_install_over_the_spent_one_it_kept(portal: Bitrix24Sandbox) -> None:
    state = MemoryState()
    suite = TestBitrix24Acceptance()

    def connected(refresh_token: str) -> Bitrix24Connector:
        settings = Bitrix24Connector.settings_model.model_validate({
            **suite.settings(portal), "url": f"{portal.url}/rest/", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "refresh_token": refresh_token,
            "oauth_url": f"{portal.url}/oauth/token/"})
        return Bitrix24Connector(settings, ConnectorContext(source="crm", timezone=zone("Europe/Moscow"),
                                                            log=logging.getLogger("t"), clock=RecordingClock(),
                                                            state=state))

    connected("sandbox-refresh-0").check()
    portal._refresh = {"sandbox-reinstalled"}  # the kept token lost its grant; the app was installed again
    connected("sandbox-reinstalled").check()
    assert state.get("oauth", "refresh_token") not in (None, "sandbox-reinstalled")
    portal.expire_tokens()
    connected("sandbox-reinstalled").check()  # from now on the kept one, descended from the new install's


def test_goods_and_prices_reach_the_crm_catalog_and_stock_is_not_offered(portal: Bitrix24Sandbox) -> None:
    connector = connect(portal, catalog_iblock=23)
    goods = [Product(id="ref-1", article="CHE", name="Сыр", weighed=True), Product(id="ref-2", name="Латте")]
    refs = connector.write_batch(Entity.CATALOG, goods)
    again = connector.write_batch(Entity.CATALOG, [goods[0].model_copy(update={"name": "Сыр российский"})])
    assert again == refs[:1] and len(portal.products) == 2
    assert portal.products[int(str(refs[0]))]["name"] == "Сыр российский"
    product = str(refs[0])
    for amount in ("899.90", "949.00"):
        written = connector.write_batch(Entity.PRICES, [PriceEntry(product=product, price_type="retail",
                                                                   amount=Decimal(amount))])
        assert written == [product]
    assert [p["price"] for p in portal.prices.values()] == ["949.00"], "updated, not added twice"
    [refused] = connector.write_batch(Entity.PRICES, [PriceEntry(product="999", price_type="r", amount=Decimal(1))])
    assert "Product not found" in str(refused)
    assert Entity.STOCK not in connector.capabilities


def test_goods_without_the_catalogs_iblock_stop_the_run_with_one_line_and_no_call(portal: Bitrix24Sandbox) -> None:
    connector = connect(portal, catalog_iblock=0)
    with pytest.raises(ConfigError, match="catalog_iblock: not set") as raised:
        connector.write_batch(Entity.CATALOG, [Product(id="ref-1", name="Сыр")])
    assert len(str(raised.value).splitlines()) == 1
    assert not [method for method in portal.calls if method.startswith("catalog.")]


def test_contacts_cost_ceil_n_over_50_writes_and_a_lookup_call_per_1000_and_never_overrun_the_bucket() -> None:
    clock = RecordingClock()
    with Bitrix24Sandbox(clock=clock) as portal:
        connector = connect(portal, clock)
        assert connector.batch_limits[Entity.CUSTOMERS] == 1000
        guests = [Customer(first_name=f"Гость {n}", phones=[f"+7916{n:07d}"]) for n in range(1200)]
        for first in range(0, len(guests), 1000):
            connector.write_batch(Entity.CUSTOMERS, guests[first:first + 1000])
        assert len(portal.items[CONTACT]) == 1200
        assert portal.calls["crm.duplicate.findbycomm"] == math.ceil(1200 / 20), "20 phones a lookup"
        assert portal.calls["crm.item.add"] == 1200
        assert portal.calls["batch"] == math.ceil(1200 / 50) + 2, "24 write batches, a lookup batch per 1000"
        assert portal.over_limit == 0 and portal.peak <= 50
        [refused] = connector.write_batch(Entity.CUSTOMERS, [Customer(first_name="Аноним")])
        assert "without a phone or an email" in str(refused) and len(portal.items[CONTACT]) == 1200


def test_guests_looked_up_20_a_call_go_each_to_the_contact_holding_their_own_phone(
        portal: Bitrix24Sandbox) -> None:
    connector = connect(portal)
    typed = portal.manager_deal("Звонок", "8 (916) 000-00-07")  # a manager typed the phone their way
    twice = [portal.manager_deal("Звонок", "+7 916 000-00-13") for _ in range(2)]  # a contact doubled by hand
    contact_of = {deal: int(portal.items[DEAL][deal]["contactId"]) for deal in (typed, *twice)}
    guests = [Customer(first_name=f"Гость {n}", phones=[f"+7916{n:07d}"]) for n in range(30)]
    guests.append(Customer(first_name="Тот же", phones=["+79160000007"]))  # one phone twice in one call

    refs = connector.write_batch(Entity.CUSTOMERS, guests)

    assert refs[7] == refs[30] == str(contact_of[typed])
    assert refs[13] == str(contact_of[twice[0]]), "the oldest of a person's duplicates"
    assert len(portal.items[CONTACT]) == 3 + 28, "the others created, none doubled"
    assert len(set(refs)) == 30
    assert portal.items[CONTACT][contact_of[typed]]["name"] == "Гость 7"
    # The doubled contact found by a lookup of 20 phones names two contacts for one phone: the chunk's other
    # phones are asked alone, so a phone the portal matches more loosely than hub still finds its contact.
    assert portal.calls["crm.duplicate.findbycomm"] == 2 + 18


def test_thirty_percent_throttled_answers_never_lose_a_write_nor_overrun_the_bucket() -> None:
    clock = RecordingClock()
    with Bitrix24Sandbox(clock=clock, seed=7) as portal:
        portal.throttle_rate = 0.3
        connector = connect(portal, clock, retry={"attempts": 12, "backoff": 0.5, "max_backoff": 8})
        for n in range(40):
            key = f"site:{n}"
            connector.write(Entity.ORDERS, order(n, customer=ANNA), key=key,
                            ref=connector.find(Entity.ORDERS, key))
        assert len(portal.items[DEAL]) == 40 and len(portal.items[CONTACT]) == 1
        assert portal.over_limit == 0


def test_the_portal_refuses_as_bitrix24_does(portal: Bitrix24Sandbox) -> None:
    import requests

    root = portal.source_settings()["url"]
    halted = requests.post(root + "batch", json={"halt": 1, "cmd": {
        "bad": "crm.item.get?entityTypeId=3&id=999", "never": "profile"}}, timeout=10).json()["result"]
    assert list(halted["result_error"]) == ["bad"] and halted["result"] == [], "halt=1 stops at the first error"
    too_many = requests.post(root + "batch", json={"cmd": {str(n): "profile" for n in range(51)}}, timeout=10)
    assert (too_many.status_code, too_many.json()["error"]) == (400, "ERROR_BATCH_LENGTH_EXCEEDED")
    wrong = requests.post(f"{portal.url}/rest/1/nope/profile", json={}, timeout=10)
    assert (wrong.status_code, wrong.json()) == (401, {"error": "NO_AUTH_FOUND",
                                                       "error_description": "Wrong authorization data"})
    unknown = requests.post(root + "crm.nothing.here", json={}, timeout=10)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "ERROR_METHOD_NOT_FOUND")
    stock = requests.post(root + "catalog.storeproduct.add", json={}, timeout=10)
    assert stock.status_code == 400, "stock is not written through the catalog's REST"


def test_a_method_near_its_operating_budget_waits_for_the_reset_instead_of_meeting_the_429() -> None:
    clock = RecordingClock()
    with Bitrix24Sandbox(clock=clock, operating_budget=0.1, method_cost=0.01) as portal:
        connector = connect(portal, clock, operating_budget=0.1)
        for _ in range(25):
            connector.check()
        assert portal.calls["profile"] == 25
        assert [s for s in clock.sleeps if s > 100] != [], "waited for the ten-minute basket to reset"
        sent = [r for r in portal.requests if r.path.endswith("/profile")]
        assert len(sent) == 25, "no call met OPERATION_TIME_LIMIT and had to be sent again"
