"""The testchannel HTTP API, call by call."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

from hub.errors import ProtocolError
from hub.http import HttpClient
from hub.values import json_dumps, json_loads

MAX_PAGE = 100
"""The API refuses larger pages."""
MAX_BATCH = 100
"""The API refuses more products in one PUT."""
MAX_STOCK_BATCH = 100
"""The API refuses more stock levels in one PUT."""
MAX_PRICE_BATCH = 50
"""The API refuses more prices in one PUT."""


SIGNATURE_HEADER = "X-Shop-Signature"
"""The shop signs each webhook body: ``sha256=`` and the hex HMAC-SHA256 of the body under the webhook secret."""


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class TestChannelClient:
    """Thin typed calls over :class:`hub.http.HttpClient`; no business logic."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def ping(self) -> dict[str, Any]:
        return self._json(self.http.get("/api/v1/ping"))

    def orders_after(self, seq: int, *, limit: int) -> Iterator[tuple[list[tuple[dict[str, Any], bytes]], int]]:
        """Pages of (order, its raw JSON) changed after ``seq``, with the last change number of each page."""
        while True:
            page = self._json(self.http.get("/api/v1/orders", params={"after": seq, "limit": limit}))
            orders = page.get("orders")
            if not isinstance(orders, list):
                raise ProtocolError("testchannel answered an orders page without an 'orders' list")
            if not orders:
                return
            records = [(order, json_dumps(order).encode()) for order in orders]
            seq = int(orders[-1]["seq"])
            yield records, seq
            if len(orders) < limit:
                return

    def find_by_ref(self, client_ref: str) -> list[dict[str, Any]]:
        page = self._json(self.http.get("/api/v1/orders", params={"client_ref": client_ref}))
        return list(page.get("orders", []))

    def put_products(self, products: list[dict[str, Any]]) -> dict[str, str]:
        """Send goods; return SKU → why, for each the shop refused (the others it keeps)."""
        answer = self._json(self.http.put("/api/v1/products", json={"products": products}))
        return {str(r["sku"]): str(r["message"]) for r in answer.get("refused", [])}

    def stock(self) -> list[dict[str, Any]]:
        return list(self._json(self.http.get("/api/v1/stock")).get("stock", []))

    def prices(self) -> list[dict[str, Any]]:
        return list(self._json(self.http.get("/api/v1/prices")).get("prices", []))

    def put_stock(self, levels: list[dict[str, Any]]) -> None:
        self.http.put("/api/v1/stock", json={"stock": levels})

    def put_prices(self, prices: list[dict[str, Any]]) -> None:
        self.http.put("/api/v1/prices", json={"prices": prices})

    def create_order(self, body: dict[str, Any]) -> str:
        return str(self._json(self.http.post("/api/v1/orders", json=body))["id"])

    def set_status(self, order_id: str, status: str) -> None:
        self.http.put(f"/api/v1/orders/{order_id}/status", json={"status": status})

    def replace_order(self, order_id: str, body: dict[str, Any]) -> None:
        self.http.put(f"/api/v1/orders/{order_id}", json=body)

    @staticmethod
    def _json(response: Any) -> dict[str, Any]:
        try:
            data = json_loads(response.content)
        except ValueError as exc:
            raise ProtocolError(f"testchannel answered non-JSON: {response.content[:100]!r}") from exc
        if not isinstance(data, dict):
            raise ProtocolError("testchannel answered JSON that is not an object")
        return data
