"""testchannel runs the shared connector acceptance suite, plus checks of its own decoding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from connectors.testchannel import TestChannelSandbox
from connectors.testchannel.client import SIGNATURE_HEADER, webhook_signature
from hub.errors import InvalidRecord
from hub.inbound import Inbound
from hub.model import Entity, Order, OrderLine, OrderStatus, RawRecord
from hub.sandbox import Sandbox
from hub.state import StateStore
from hub.testing.acceptance import ConnectorAcceptance, RecordingClock
from hub.values import json_dumps, json_loads


class TestTestChannelAcceptance(ConnectorAcceptance):
    connector_type = "testchannel"
    entity = Entity.ORDERS

    push_path = "/orders"

    def settings(self, sandbox: Sandbox) -> dict[str, Any]:
        return {**super().settings(sandbox), "page_size": 10, "webhook_secret": "hook-secret"}

    def push_body(self, sandbox: Sandbox, number: int) -> bytes:
        assert isinstance(sandbox, TestChannelSandbox)
        return json_dumps(sandbox.place_order()).encode()

    def undecodable_push_body(self, sandbox: Sandbox) -> bytes:
        assert isinstance(sandbox, TestChannelSandbox)
        return json_dumps(sandbox.place_order(status="teleported")).encode()

    def push_headers(self, settings: dict[str, Any], body: bytes, *, credential: bool) -> dict[str, str]:
        secret = settings["webhook_secret"] if credential else "wrong-secret"
        return {"Content-Type": "application/json", SIGNATURE_HEADER: webhook_signature(secret, body)}

    def assert_error_shape(self, status: int, body: bytes) -> None:
        answer = json_loads(body)
        assert answer["error"] == "bad_request" and answer["message"], answer

    def seed(self, sandbox: Sandbox, count: int) -> list[str]:
        assert isinstance(sandbox, TestChannelSandbox)
        return [sandbox.place_order()["id"] for _ in range(count)]

    def make_record(self, number: int) -> Order:
        return Order(channel="acceptance", external_id=str(number),
                     created_at=dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC), total=Decimal("361.50"),
                     lines=[OrderLine(product="CHE-RUS", name="Сыр", quantity=Decimal("0.305"),
                                      unit_price=Decimal("899.90"), sum=Decimal("274.47")),
                            OrderLine(product="LAT-400", name="Латте", quantity=Decimal(1),
                                      unit_price=Decimal("87.03"), sum=Decimal("87.03"))])

    def count_written(self, sandbox: Sandbox, key: str) -> int:
        assert isinstance(sandbox, TestChannelSandbox)
        return sum(1 for order in sandbox.orders.values() if order["client_ref"] == key)


@pytest.fixture
def shop() -> Any:
    with TestChannelSandbox() as sandbox:
        yield sandbox


def _decode(order: dict[str, Any]) -> Any:
    from hub.testing.acceptance import RecordingClock

    suite = TestTestChannelAcceptance()
    with TestChannelSandbox() as sandbox:
        connector = suite.connect(suite.settings(sandbox), RecordingClock())
        return connector.decode(Entity.ORDERS, RawRecord(external_id=str(order.get("id", "?")),
                                                         body=json_dumps(order).encode()))


def test_decoded_order_keeps_weighed_quantities_and_money_exact() -> None:
    sandbox = TestChannelSandbox(seed=3)
    raw = sandbox.place_order(status="cooking", items=[
        {"sku": "CHE-RUS", "title": "Сыр", "qty": "0.305", "price": "899.90", "discount": "0", "total": "274.47"}],
        total="274.47")
    order = _decode(raw)
    assert order.status is OrderStatus.IN_PROGRESS
    assert order.lines[0].quantity == Decimal("0.305")
    assert order.total == Decimal("274.47")
    assert order.customer.phones[0].startswith("+7916555")
    assert order.customer.emails == ["anna.smirnova@example.ru"]
    assert order.created_at.tzinfo is not None


@pytest.mark.parametrize(("change", "reason"), [
    ({"status": "teleported"}, "unknown status 'teleported'"),
    ({"items": None}, "items: expected a list of objects, got NoneType"),
    ({"total": "12,3,4"}, "total"),
])
def test_undecodable_orders_raise_invalid_record_with_the_reason(change: dict[str, Any], reason: str) -> None:
    raw = TestChannelSandbox().place_order(**change)
    with pytest.raises(InvalidRecord, match="order"):
        try:
            _decode(raw)
        except InvalidRecord as exc:
            assert reason in str(exc)
            raise


@pytest.mark.parametrize("order_id", ["", "  ", None])
def test_an_order_without_an_id_is_refused_not_merged_with_others_under_shop_colon(order_id: object) -> None:
    order = {**TestChannelSandbox().place_order(), "id": order_id}
    with pytest.raises(InvalidRecord, match="id: expected the shop's order id"):
        _decode(order)


def test_a_webhook_without_an_order_id_gets_400_and_is_kept_as_rejected(store: StateStore) -> None:
    suite = TestTestChannelAcceptance()
    with TestChannelSandbox() as sandbox:
        connector = suite.connect({**suite.settings(sandbox), "webhook_secret": "hook-secret"}, RecordingClock())
        body = json_dumps({**sandbox.place_order(), "id": ""}).encode()
    [endpoint] = connector.endpoints()
    request = Request(EnvironBuilder(method="POST", data=body, content_type="application/json",
                                  headers=[(SIGNATURE_HEADER, webhook_signature("hook-secret", body))]).get_environ())

    answer = endpoint.handler(request, Inbound(store, connector, wake=lambda: None), {})

    assert answer.status_code == 400 and "id: expected the shop's order id" in json_loads(answer.get_data())["message"]
    with store.reading() as state:
        assert state.inbox.pending(connector.name, Entity.ORDERS.value) == []
        [(status,)] = state.conn.exec_driver_sql("SELECT status FROM inbox").all()
    assert status == "rejected"
