"""testchannel runs the shared connector acceptance suite, plus checks of its own decoding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from connectors.testchannel import TestChannelSandbox
from hub.connector import RawRecord
from hub.errors import InvalidRecord
from hub.model import Entity, Order, OrderLine, OrderStatus
from hub.sandbox import Sandbox
from hub.testing.acceptance import ConnectorAcceptance
from hub.values import json_dumps


class TestTestChannelAcceptance(ConnectorAcceptance):
    connector_type = "testchannel"
    entity = Entity.ORDERS

    def settings(self, sandbox: Sandbox) -> dict[str, Any]:
        return {**super().settings(sandbox), "page_size": 10}

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
