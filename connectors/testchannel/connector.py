"""The testchannel connector: orders pulled from the shop; goods, stock and prices pushed to it.

Stock and prices reach it in the shop's own terms (the jobs translate): a
record's product is the shop's SKU and a stock level's warehouse is the shop's
venue. A shop that sells from a stop-list (``stop_list: true``) takes no
quantities: the connector sends goods at zero or below as stopped and the rest
as available.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field, ValidationError
from werkzeug.wrappers import Request, Response

from connectors.testchannel.client import (
    MAX_BATCH,
    MAX_PAGE,
    MAX_PRICE_BATCH,
    MAX_STOCK_BATCH,
    SIGNATURE_HEADER,
    TestChannelClient,
)
from connectors.testchannel.sandbox import TestChannelSandbox
from hub.connector import ConnectorContext, Page, WriteResult
from hub.errors import InvalidRecord, RecordError
from hub.inbound import Endpoint, Inbound, Signature, Webhook, guarded, json_response
from hub.model import Entity, Order, OrderStatus, PriceEntry, Product, RawRecord, Record, StockLevel
from hub.settings import SourceSettings
from hub.streams import BatchWrite, Pull, Push, Statuses, StreamConnector, Write
from hub.values import json_dumps, json_loads, utcnow

STATUSES: dict[str, OrderStatus] = {
    "new": OrderStatus.NEW,
    "paid": OrderStatus.ACCEPTED,
    "cooking": OrderStatus.IN_PROGRESS,
    "ready": OrderStatus.READY,
    "delivering": OrderStatus.IN_DELIVERY,
    "done": OrderStatus.DELIVERED,
    "canceled": OrderStatus.CANCELLED,
}
WORDS = {status: word for word, status in STATUSES.items()}


class TestChannelSettings(SourceSettings):
    """Settings of a testchannel source."""

    __test__ = False  # pytest: a name starting with Test, not a test class

    url: str = Field(description="Base URL of the shop API, e.g. http://127.0.0.1:8081.")
    token: str = Field(description="Bearer token; write it as ${ENV_VAR}.")
    page_size: int = Field(MAX_PAGE, ge=1, le=MAX_PAGE, description="Orders per page (the API allows 100).")
    webhook_secret: str | None = Field(None, description=(
        "Secret the shop signs its order webhooks with; write it as ${ENV_VAR}. When set, hub daemon serves "
        "POST <inbound.path>/orders for them."))
    stop_list: bool = Field(False, description=(
        "The shop sells from a stop-list, as iiko and Yandex Eda do: goods at zero or below are sent as stopped, "
        "the rest as available, without quantities."))


class OrdersStream(Pull["TestChannelConnector"], Push["TestChannelConnector"], Write["TestChannelConnector"],
                   Statuses["TestChannelConnector"]):
    """The shop's orders: pulled after a change number, pushed as signed webhooks, written for a shop standing
    in for 1C, and told 1C's statuses."""

    entity = Entity.ORDERS

    def read(self, *, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        shop = self.connector
        for records, seq in shop.client.orders_after(int(cursor or 0), limit=shop.page_size):
            raws = [RawRecord(external_id=str(order["id"]), body=body) for order, body in records]
            yield Page(records=raws, cursor=str(seq))

    def decode(self, record: RawRecord) -> Record:
        try:
            return _order_from_json(self.connector.name, json_loads(record.body))
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise InvalidRecord(f"order {record.external_id}: {_reason(exc)}") from None

    def envelope(self, record: RawRecord) -> None:
        """The shop's order object: its id, and its items a list of objects (what the shop's format says); what
        they hold is for :meth:`decode`."""
        _order_id(record.body)
        try:
            _items(json_loads(record.body))
        except (ValueError, KeyError) as exc:
            raise InvalidRecord(f"order {record.external_id}: {_reason(exc)}") from None

    def endpoints(self) -> list[Endpoint]:
        if self.connector.webhook_secret is None:
            return []
        signed = Signature(self.connector.webhook_secret, _unauthorized, SIGNATURE_HEADER, prefix="sha256=")
        return [Endpoint("orders", "/orders", ("POST",), guarded(self._order_webhook, signed), entity=Entity.ORDERS)]

    def _order_webhook(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        """The shop's webhook for a new or changed order: signed, JSON, the order as ``GET /orders`` returns it."""
        order_id = _WEBHOOK.read(request, inbound, _order_id)
        if isinstance(order_id, Response):
            return order_id
        raw = _WEBHOOK.record(request, order_id)
        problem = inbound.validate(Entity.ORDERS, raw)
        if problem is not None:
            return _error(400, problem)
        receipt = inbound.receive(Entity.ORDERS, raw)
        return json_response({"status": "accepted", "repeat": not receipt.new})

    def find(self, key: str) -> str | None:
        found = self.connector.client.find_by_ref(key)
        return str(found[0]["id"]) if found else None

    def write(self, record: Record, *, key: str, ref: str | None) -> WriteResult:
        assert isinstance(record, Order)
        body = _order_to_json(record, key)
        if ref is None:
            return WriteResult(ref=self.connector.client.create_order(body), action="created")
        self.connector.client.replace_order(ref, body)
        return WriteResult(ref=ref, action="updated")

    def set_status(self, external_id: str, status: OrderStatus) -> None:
        self.connector.client.set_status(external_id, WORDS[status])


class CatalogStream(BatchWrite["TestChannelConnector"]):
    """Goods, which the shop knows by SKU: the article where 1C has one, else 1C's reference."""

    entity = Entity.CATALOG
    limit = MAX_BATCH

    def write_batch(self, records: Sequence[Record]) -> list[str | RecordError]:
        products = [r for r in records if isinstance(r, Product)]
        refused = self.connector.client.put_products([{"sku": p.article or p.id, "title": p.name, "unit": p.unit,
                                                       "weighed": p.weighed, "barcodes": p.barcodes,
                                                       "hidden": p.deleted} for p in products])
        skus = [p.article or p.id for p in products]
        return [RecordError(refused[sku]) if sku in refused else sku for sku in skus]


class StockStream(Pull["TestChannelConnector"], BatchWrite["TestChannelConnector"]):
    """Stock per venue, as quantities or, for a stop-list shop, as stopped or not; read back for reconciliation."""

    entity = Entity.STOCK
    limit = MAX_STOCK_BATCH

    def read(self, *, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        yield _shown(self.connector.client.stock())

    def decode(self, record: RawRecord) -> Record:
        try:
            data = json_loads(record.body)
            quantity = (Decimal(0) if data["stopped"] else Decimal(1)) if "stopped" in data else data["quantity"]
            return StockLevel(product=data["sku"], warehouse=data["venue"], quantity=quantity, as_of=utcnow())
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise InvalidRecord(f"stock {record.external_id}: {_reason(exc)}") from None

    def write_batch(self, records: Sequence[Record]) -> list[str]:
        levels = [r for r in records if isinstance(r, StockLevel)]
        self.connector.client.put_stock([self._item(level) for level in levels])
        return [f"{level.warehouse}:{level.product}" for level in levels]

    def as_written(self, record: Record) -> Record:
        if self.connector.stop_list and isinstance(record, StockLevel):
            return record.model_copy(update={"quantity": Decimal(0) if record.quantity <= 0 else Decimal(1)})
        return record

    def _item(self, level: StockLevel) -> dict[str, Any]:
        item: dict[str, Any] = {"venue": level.warehouse, "sku": level.product}
        if self.connector.stop_list:
            item["stopped"] = level.quantity <= 0
        else:
            item["quantity"] = str(level.quantity)
        return item


class PricesStream(Pull["TestChannelConnector"], BatchWrite["TestChannelConnector"]):
    """Prices by SKU; read back for reconciliation."""

    entity = Entity.PRICES
    limit = MAX_PRICE_BATCH

    def read(self, *, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        yield _shown(self.connector.client.prices())

    def decode(self, record: RawRecord) -> Record:
        try:
            data = json_loads(record.body)
            return PriceEntry(product=data["sku"], price_type="shop", amount=data["price"],
                              currency=data.get("currency", "RUB"))
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise InvalidRecord(f"price {record.external_id}: {_reason(exc)}") from None

    def write_batch(self, records: Sequence[Record]) -> list[str]:
        prices = [r for r in records if isinstance(r, PriceEntry)]
        self.connector.client.put_prices([{"sku": p.product, "price": str(p.amount), "currency": p.currency}
                                          for p in prices])
        return [p.product for p in prices]


class TestChannelConnector(StreamConnector):
    """Orders from a testchannel shop, goods, stock and prices to it; orders to one standing in for 1C."""

    __test__ = False  # pytest: a name starting with Test, not a test class

    type_name = "testchannel"
    settings_model = TestChannelSettings
    streams: ClassVar = (OrdersStream, CatalogStream, StockStream, PricesStream)

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, TestChannelSettings)
        self.page_size = settings.page_size
        self.stop_list = settings.stop_list
        self.webhook_secret = settings.webhook_secret
        http = context.http(settings, settings.url, headers={"Authorization": f"Bearer {settings.token}"})
        self.client = TestChannelClient(http)

    @classmethod
    def sandbox(cls) -> TestChannelSandbox:
        return TestChannelSandbox()

    def check(self) -> str:
        info = self.client.ping()
        return f"shop {info.get('shop', '?')!r} answers"

    def close(self) -> None:
        self.client.http.close()


def _shown(items: list[dict[str, Any]]) -> Page:
    """What the shop shows now of its stock or prices (for reconciliation), keyed as the pushes key it."""
    return Page([RawRecord(external_id=f"{i.get('venue', '')}:{i['sku']}".lstrip(":"), body=json_dumps(i).encode())
                 for i in items], cursor=None)


def _error(status: int, reason: str) -> Response:
    """The shop's error answer: a code word for the status and the reason."""
    return json_response({"error": _ERROR_WORDS.get(status, "bad_request"), "message": reason}, status)


def _unauthorized(reason: str) -> Response:
    return json_response({"error": "unauthorized", "message": reason}, 401)


_ERROR_WORDS = {400: "bad_request", 415: "unsupported_media_type"}
_WEBHOOK = Webhook(Entity.ORDERS, _error, media=lambda mimetype: mimetype == "application/json")


def _order_id(body: bytes) -> str:
    """The shop's id of the order ``body`` carries: its envelope, all a webhook checks before it answers."""
    try:
        order_id = json_loads(body)["id"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRecord(f"not an order: {_reason(exc)}") from None
    return _id_of(order_id)


def _id_of(order_id: object) -> str:
    found = str(order_id) if isinstance(order_id, str | int) else ""
    if not found.strip():  # the order's key everywhere (``shop:<id>``): orders without one would be one order
        raise InvalidRecord(f"id: expected the shop's order id, got {order_id!r}")
    return found


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc)


def _items(data: Any) -> list[dict[str, Any]]:
    items = data["items"]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ValueError(f"items: expected a list of objects, got {type(items).__name__}")
    return items


def _order_from_json(channel: str, data: dict[str, Any]) -> Order:
    customer = data.get("customer") or {}
    first, _, last = str(customer.get("name", "")).partition(" ")
    status = STATUSES.get(data.get("status", "new"))
    if status is None:
        raise ValueError(f"unknown status {data.get('status')!r}")
    order_id = _id_of(data["id"])
    payment = data.get("payment")
    items = _items(data)
    return Order.model_validate({
        "channel": channel,
        "external_id": order_id,
        "number": data.get("number"),
        "created_at": dt.datetime.fromisoformat(data["created_at"]),
        "updated_at": dt.datetime.fromisoformat(data["updated_at"]) if data.get("updated_at") else None,
        "status": status,
        "customer": {
            "first_name": first or None, "last_name": last or None,
            "phones": [customer["phone"]] if customer.get("phone") else [],
            "emails": [customer["email"]] if customer.get("email") else [],
            "ids": {channel: str(customer["id"])} if customer.get("id") else {},
            "consents": {"marketing": customer.get("marketing_consent")},  # absent: the shop does not say
        } if customer else None,
        "lines": [{
            "product": item["sku"], "name": item["title"], "quantity": item["qty"], "unit_price": item["price"],
            "discount": item.get("discount", "0"), "sum": item["total"],
            "modifiers": [{"product": o.get("sku"), "name": o["title"], "quantity": o.get("qty", "1"),
                           "unit_price": o.get("price", "0")} for o in item.get("options", [])],
        } for item in items],
        "delivery": data.get("delivery"),
        "payments": [payment] if payment else [],
        "total": data["total"],
        "comment": data.get("comment"),
    })


def _order_to_json(order: Order, client_ref: str) -> dict[str, Any]:
    customer = order.customer
    return {
        "client_ref": client_ref,
        "number": order.number,
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat() if order.updated_at else None,
        "status": WORDS[order.status],
        "customer": {
            "name": " ".join(p for p in (customer.first_name, customer.last_name) if p),
            "phone": customer.phones[0] if customer.phones else None,
            "email": customer.emails[0] if customer.emails else None,
        } if customer else None,
        "items": [{
            "sku": line.product, "title": line.name, "qty": str(line.quantity), "price": str(line.unit_price),
            "discount": str(line.discount), "total": str(line.sum),
            "options": [{"sku": m.product, "title": m.name, "qty": str(m.quantity), "price": str(m.unit_price)}
                        for m in line.modifiers],
        } for line in order.lines],
        "delivery": order.delivery.model_dump(mode="json") if order.delivery else None,
        "payment": order.payments[0].model_dump(mode="json") if order.payments else None,
        "total": str(order.total),
        "comment": order.comment,
    }
