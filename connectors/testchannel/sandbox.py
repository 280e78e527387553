"""A testchannel shop on 127.0.0.1: orders, goods, stock, prices, change numbers, Bearer auth, limits, errors."""

from __future__ import annotations

import datetime as dt
import random
import threading
from decimal import Decimal
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from connectors.testchannel.client import (
    MAX_BATCH,
    MAX_PRICE_BATCH,
    MAX_STOCK_BATCH,
    SIGNATURE_HEADER,
    webhook_signature,
)
from hub.inbound import json_response
from hub.sandbox import Action, ActionRefused, Param, Sandbox, items_param
from hub.values import json_dumps, json_loads, money, utcnow

MENU: list[tuple[str, str, Decimal, bool]] = [
    # sku, title, price per unit (per kg for weighed goods), weighed
    ("CAP-300", "Капучино 300 мл", Decimal("180.00"), False),
    ("LAT-400", "Латте 400 мл", Decimal("210.00"), False),
    ("CRO-001", "Круассан миндальный", Decimal("145.00"), False),
    ("SAL-CEZ", "Салат Цезарь", Decimal("390.00"), False),
    ("CHE-RUS", "Сыр Российский, вес", Decimal("899.90"), True),
    ("APL-GRN", "Яблоки зелёные, вес", Decimal("149.50"), True),
]
OPTIONS = [("SYR-VAN", "Сироп ваниль", Decimal("40.00")), ("MLK-OAT", "Овсяное молоко", Decimal("60.00"))]
MAX_PAGE = 100
STATUS_WORDS = ("new", "paid", "cooking", "ready", "delivering", "done", "canceled")


class TestChannelSandbox(Sandbox):
    """The shop's API with an in-memory store; thread-safe, deterministic for a given seed."""

    __test__ = False  # pytest: a name starting with Test, not a test class

    name = "testchannel"
    port = 8101

    def __init__(self, *, token: str = "sandbox-token", seed: int = 7) -> None:  # noqa: S107 - a sandbox
        super().__init__()
        self.token = token
        self.orders: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        """The menu hub pushed, by SKU; until it has one, guests order from :data:`MENU`."""
        self.stock: dict[tuple[str, str], dict[str, Any]] = {}
        """Stock hub pushed, by (venue, SKU): a quantity, or ``stopped`` from a stop-list shop."""
        self.prices: dict[str, dict[str, Any]] = {}
        """Prices hub pushed, by SKU."""
        self.refused_skus: set[str] = set()
        """SKUs the shop refuses in a batch (as a real shop refuses a good its moderation rejected): the rest
        of the batch is kept, and the answer names each refused one."""
        self.webhook_url: str | None = None
        """Where the shop POSTs each new order (hub daemon's ``<inbound.path>/orders``); None sends none."""
        self.webhook_secret = "sandbox-webhook-secret"  # noqa: S105 - a sandbox
        self._seq = 0
        self._next_id = 1000
        self._data_lock = threading.Lock()
        self._random = random.Random(seed)

    def source_settings(self) -> dict[str, Any]:
        return {"url": self.url, "token": self.token, "webhook_secret": self.webhook_secret}

    # --- the shop's side, for tests and the demo ---------------------------------------------

    def place_order(self, **overrides: Any) -> dict[str, Any]:
        """A realistic new order (weighed goods, options, a discount now and then); returns it."""
        lines: list[dict[str, Any]] = []
        for sku, title, price, weighed in self._random.sample(self._menu(), k=self._random.randint(1, 4)):
            qty = Decimal(self._random.randint(150, 1200)) / 1000 if weighed else Decimal(self._random.randint(1, 3))
            options: list[dict[str, str]] = []
            if not weighed and self._random.random() < 0.3:
                osku, otitle, oprice = self._random.choice(OPTIONS)
                options.append({"sku": osku, "title": otitle, "qty": "1", "price": str(oprice)})
            discount = money(price * qty * Decimal("0.1")) if self._random.random() < 0.2 else Decimal("0.00")
            extra = sum((Decimal(o["price"]) for o in options), Decimal(0)) * qty
            total = money(price * qty + extra - discount)
            lines.append({"sku": sku, "title": title, "qty": str(qty), "price": str(price),
                          "discount": str(discount), "total": str(total), "options": options})
        total = sum((Decimal(line["total"]) for line in lines), Decimal(0))
        # Placed just now, a second apart: date windows (status flowback, reconcile --since) must see them.
        created = utcnow().replace(microsecond=0) - dt.timedelta(hours=2) + dt.timedelta(seconds=len(self.orders))
        order: dict[str, Any] = {
            "number": f"A-{self._next_id}",
            "created_at": created.isoformat(),
            "updated_at": created.isoformat(),
            "status": "paid",
            "customer": {"id": f"c{self._random.randint(1, 50)}", "name": "Анна Смирнова",
                         "phone": f"8 (916) 555-{self._random.randint(10, 99)}-{self._random.randint(10, 99)}",
                         "email": "Anna.Smirnova@example.ru"},
            "items": lines,
            "delivery": {"type": "courier", "address": "Москва, ул. Тверская, 1", "time": None},
            "payment": {"method": "card", "amount": str(total), "paid": True},
            "total": str(total),
            "comment": None,
            "client_ref": None,
        }
        order.update(overrides)
        with self._data_lock:
            stored = self._store(order)
        if self.webhook_url is not None:
            self.send_webhook(stored)
        return stored

    def send_webhook(self, order: dict[str, Any]) -> requests.Response:
        """POST ``order`` to :attr:`webhook_url`, signed, as the shop does for every new order."""
        assert self.webhook_url is not None, "no webhook_url set"
        body = json_dumps(order).encode()
        return requests.post(self.webhook_url, data=body, timeout=10, headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: webhook_signature(self.webhook_secret, body)})

    def _menu(self) -> list[tuple[str, str, Decimal, bool]]:
        visible = [p for p in self.products.values() if not p["hidden"]]
        if len(visible) < 4:
            return MENU
        # The pushed menu carries no prices (they come with the price job): derive a stable one per SKU.
        return [(p["sku"], p["title"], Decimal(100 + sum(map(ord, p["sku"])) % 400), bool(p["weighed"]))
                for p in visible]

    def demo_activity(self) -> list[str]:
        placed = [self.place_order() for _ in range(3)]
        said = [f"guest placed order {o['number']} for {o['total']} RUB ({len(o['items'])} lines)" for o in placed]
        if len(self.orders) > 3:
            first = next(iter(self.orders.values()))
            self.set_status(first["id"], "done")
            said.append(f"order {first['number']} was delivered")
        return said

    def set_status(self, order_id: str, status: str) -> None:
        with self._data_lock:
            self.orders[order_id]["status"] = status
            self._touch(self.orders[order_id])

    # --- what an integrator makes the shop do (/_sandbox/) ---------------------------------------

    def actions(self) -> list[Action]:
        return [
            Action("place-order", "orders", "a guest places an order; it appears in GET /api/v1/orders "
                   "(and goes to hub as a webhook once attached)",
                   (Param("items", "SKU:QUANTITY,… (a SKU the shop does not sell goes as it is, to rehearse a "
                                   "dead letter); random goods from the menu when left out", optional=True),
                    Param("phone", "the guest's phone (a random guest when left out), to stage one guest "
                                   "ordering in several channels", optional=True),
                    Param("name", "the guest's name, with phone", optional=True),
                    Param("days_ago", "placed this many days ago; just now when left out", optional=True)),
                   self._place_order_action),
            Action("set-status", "orders/{id}/status", "the shop moves an order on (hub's orders job "
                   "takes the change to 1C)",
                   (Param("id", "the order's id (not its number)"),
                    Param("status", f"one of {', '.join(STATUS_WORDS)}")), self._set_status_action),
            Action("attach", "attach", "send a signed webhook to hub for every order placed from now on",
                   (Param("url", "hub daemon's URL and the source's inbound path, e.g. http://127.0.0.1:8080/shop "
                                 "(hub.yaml: webhook_secret as printed)"),), self._attach_action),
        ]

    def _place_order_action(self, args: dict[str, str]) -> dict[str, Any]:
        guest: dict[str, Any] = {}
        if args.get("phone"):  # the same guest always has the same id in the shop, as a registered one does
            guest["customer"] = {"id": "g" + "".join(ch for ch in args["phone"] if ch.isdigit()),
                                 "name": args.get("name") or "Гость", "phone": args["phone"], "email": None}
        if args.get("days_ago"):
            if not args["days_ago"].isdigit():
                raise ActionRefused("days_ago must be a whole number of days", 400)
            placed = (utcnow() - dt.timedelta(days=int(args["days_ago"]))).replace(microsecond=0).isoformat()
            guest.update(created_at=placed, updated_at=placed)
        if not args.get("items"):
            return self.place_order(**guest)
        menu = {sku: (title, price) for sku, title, price, _ in self._menu()}
        lines: list[dict[str, Any]] = []
        for sku, quantity in items_param(args["items"]):
            title, price = menu.get(sku, (sku, Decimal("100.00")))
            total = money(price * quantity)
            lines.append({"sku": sku, "title": title, "qty": str(quantity), "price": str(price), "discount": "0.00",
                          "total": str(total), "options": []})
        total = sum((Decimal(line["total"]) for line in lines), Decimal(0))
        return self.place_order(items=lines, total=str(total),
                                payment={"method": "card", "amount": str(total), "paid": True}, **guest)

    def _set_status_action(self, args: dict[str, str]) -> dict[str, Any]:
        if args["status"] not in STATUS_WORDS:
            raise ActionRefused(f"status must be one of {', '.join(STATUS_WORDS)}", 400)
        if args["id"] not in self.orders:
            raise ActionRefused(f"order {args['id']} does not exist", 404)
        self.set_status(args["id"], args["status"])
        return self.orders[args["id"]]

    def _attach_action(self, args: dict[str, str]) -> dict[str, str]:
        self.webhook_url = args["url"].rstrip("/") + "/orders"
        return {"webhooks_to": self.webhook_url}

    # --- the HTTP API ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return json_response({"error": "unauthorized", "message": "missing or wrong Bearer token"}, 401)
        path = request.path.rstrip("/")
        if path == "/api/v1/ping" and request.method == "GET":
            return json_response({"shop": "Кофейня на Тверской", "api": "v1"})
        if path == "/api/v1/orders" and request.method == "GET":
            return self._list(request)
        if path == "/api/v1/orders" and request.method == "POST":
            return self._create(request)
        if path in self._batches() and request.method == "PUT":
            return self._put_batch(request, path)
        if path in self._batches() and request.method == "GET":
            field, _, _, kept = self._batches()[path]
            with self._data_lock:
                return json_response({field: list(kept.values())})
        if path.startswith("/api/v1/orders/") and path.endswith("/status") and request.method == "PUT":
            return self._put_status(request, path.split("/")[-2])
        if path.startswith("/api/v1/orders/"):
            order_id = path.rsplit("/", 1)[1]
            if request.method == "GET":
                order = self.orders.get(order_id)
                return json_response(order) if order else _not_found(order_id)
            if request.method == "PUT":
                return self._replace(request, order_id)
        return json_response({"error": "not_found", "message": f"no route {request.method} {path}"}, 404)

    def _list(self, request: Request) -> Response:
        ref = request.args.get("client_ref")
        with self._data_lock:
            if ref is not None:
                return json_response({"orders": [o for o in self.orders.values() if o["client_ref"] == ref]})
            try:
                after = int(request.args.get("after", "0"))
                limit = int(request.args.get("limit", str(MAX_PAGE)))
            except ValueError:
                return _bad_request("after and limit must be integers")
            if not 1 <= limit <= MAX_PAGE:
                return _bad_request(f"limit must be between 1 and {MAX_PAGE}")
            changed = sorted((o for o in self.orders.values() if o["seq"] > after), key=lambda o: o["seq"])
            return json_response({"orders": changed[:limit]})

    def _create(self, request: Request) -> Response:
        body = _json_body(request)
        if isinstance(body, Response):
            return body
        with self._data_lock:
            order = self._store(body)
        self.committed(request)
        return json_response({"id": order["id"]}, 201)

    def _batches(self) -> dict[str, tuple[str, int, tuple[str, ...], dict[Any, dict[str, Any]]]]:
        """Batch endpoints: path → (body field, most items a call, fields naming an item, where they are kept)."""
        return {"/api/v1/products": ("products", MAX_BATCH, ("sku",), self.products),
                "/api/v1/stock": ("stock", MAX_STOCK_BATCH, ("venue", "sku"), self.stock),
                "/api/v1/prices": ("prices", MAX_PRICE_BATCH, ("sku",), self.prices)}

    def _put_batch(self, request: Request, path: str) -> Response:
        field, limit, key, kept = self._batches()[path]
        try:
            body = json_loads(request.get_data())
        except ValueError as exc:
            return _bad_request(f"body is not JSON: {exc}")
        items = body.get(field) if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) and all(i.get(k) for k in key) for i in items):
            return _bad_request(f"expected {{{field!r}: [{{{', '.join(f'{k!r}: ...' for k in key)}, ...}}, ...]}}")
        if len(items) > limit:
            return _bad_request(f"at most {limit} {field} per request")
        refused = [{"sku": item["sku"], "message": f"sku {item['sku']} is refused by moderation"}
                   for item in items if item["sku"] in self.refused_skus]
        taken = [item for item in items if item["sku"] not in self.refused_skus]
        with self._data_lock:
            for item in taken:
                kept[str(item[key[0]]) if len(key) == 1 else tuple(str(item[k]) for k in key)] = item
        self.committed(request)
        return json_response({"updated": len(taken), "refused": refused})

    def _put_status(self, request: Request, order_id: str) -> Response:
        try:
            body = json_loads(request.get_data())
        except ValueError as exc:
            return _bad_request(f"body is not JSON: {exc}")
        status = body.get("status") if isinstance(body, dict) else None
        if status not in STATUS_WORDS:
            return _bad_request(f"status must be one of {', '.join(STATUS_WORDS)}")
        with self._data_lock:
            if order_id not in self.orders:
                return _not_found(order_id)
            self.orders[order_id]["status"] = status
            self._touch(self.orders[order_id])
        self.committed(request)
        return json_response({"id": order_id, "status": status})

    def _replace(self, request: Request, order_id: str) -> Response:
        body = _json_body(request)
        if isinstance(body, Response):
            return body
        with self._data_lock:
            if order_id not in self.orders:
                return _not_found(order_id)
            body["id"] = order_id
            self.orders[order_id] = body
            self._touch(body)
        self.committed(request)
        return json_response({"id": order_id})

    def _store(self, order: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        order["id"] = str(self._next_id)
        self.orders[order["id"]] = order
        self._touch(order)
        return order

    def _touch(self, order: dict[str, Any]) -> None:
        self._seq += 1
        order["seq"] = self._seq


def _json_body(request: Request) -> dict[str, Any] | Response:
    if request.mimetype != "application/json":
        return _bad_request("expected Content-Type: application/json")
    try:
        body = json_loads(request.get_data())
    except ValueError as exc:
        return _bad_request(f"body is not JSON: {exc}")
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return _bad_request("an order needs an 'items' list")
    return body


def _bad_request(message: str) -> Response:
    return json_response({"error": "bad_request", "message": message}, 400)


def _not_found(order_id: str) -> Response:
    return json_response({"error": "not_found", "message": f"order {order_id} does not exist"}, 404)
