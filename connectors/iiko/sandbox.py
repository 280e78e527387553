"""iikoCloud on 127.0.0.1: a café's POS as hub sees it through the cloud API.

::

    with IikoSandbox() as iiko:
        settings = iiko.source_settings()          # {"url": …, "api_login": …, "organization_id": …, …}
        order_id = iiko.open_delivery([(iiko.products["cappuccino"], Decimal(2))])
        iiko.close_order(order_id)                 # paid in cash, status Closed, revision moves on

What it serves (every path iiko has, POST with JSON, answers shaped as iiko's
OpenAPI document says; the tests validate both directions against it):

* ``/api/1/access_token`` (``apiLogin``) and ``/api/v2/access_token``
  (``apiKey`` + ``appId`` + ``clientSecret``) issue bearer tokens for an hour;
  a missing, unknown or expired token (:meth:`IikoSandbox.expire_tokens`) gets 401;
* one organization with two terminal groups (the hall and delivery), the hall's
  tables, payment types;
* a restaurant menu (``/nomenclature``): groups, a drink, a pizza in two sizes
  with a group of modifiers, a weighed cheese sold by the kilogram. Its revision
  grows with every change (:meth:`IikoSandbox.set_price`); asked from the
  current revision it answers empty arrays, as iiko does;
* stop lists per terminal group: read, ``add``, ``remove``, ``clear``;
* deliveries and hall orders that go through iiko's statuses and close with
  payments (:meth:`open_delivery`, :meth:`open_table_order`, :meth:`set_status`,
  :meth:`close_order`), read by date and status, by revision, by id and by table;
  every change moves a revision counter;
* ``/deliveries/create`` as a command: the answer says ``InProgress``; the
  terminal takes the order up when ``/commands/status`` is asked
  (:attr:`IikoSandbox.front_delay` polls later), checking products, sizes,
  modifiers, payment types and, if asked, the stop list; a rejected order ends
  in ``creationStatus: Error`` with iiko's ``errorInfo``. A taken order keeps its
  address, modifiers and payments, read back as iiko answers them. Quantities
  and money sent as text (``"2"``) are refused with 400, as iiko refuses them;
* loyalty guests: ``customer/info`` by phone (or id), ``create_or_update``,
  wallet balances, ``wallet/topup`` and ``wallet/chargeoff``;
* webhooks: after ``/api/1/webhooks/update_settings`` (or :meth:`attach`) every
  order and stop-list change is POSTed to that URL as iiko's event array, with
  the ``authToken`` in the ``Authorization`` header [U: bare, as the settings
  store it; receivers accept ``Bearer`` too].

Errors are iiko's ``{correlationId, errorDescription, error}``: 400 for a body
that is not what the method takes, 401 for a token problem. The ``Timeout``
header is honoured as iiko does: when :attr:`IikoSandbox.processing_time` (the
time the "cloud" needs) exceeds it, the answer is 408 after ``Timeout`` seconds.
"""

from __future__ import annotations

import datetime as dt
import hmac
import itertools
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Final

import requests
from werkzeug.wrappers import Request, Response

from connectors.iiko._wire import decimal, format_datetime, integer, member, objects, text
from connectors.iiko.office_sandbox import OfficeSandbox, Sale
from connectors.iiko.orders import DELIVERY_STATUS, TABLE_STATUS
from hub.inbound import json_response
from hub.sandbox import Action, ActionRefused, Param, Sandbox, attach_action, items_param
from hub.values import json_dumps, json_loads, money, utcnow, zone

TOKEN_TTL: Final = 3600.0
"""Seconds a token lives."""
DEFAULT_TIMEOUT: Final = 15
"""Seconds iiko works on a request without a ``Timeout`` header."""

_LOCAL = zone("Europe/Moscow")
_OFFICE: Final = "/resto/api/"
_UTC = dt.UTC


def _id(name: str) -> str:
    """A stable UUID per name, so every sandbox run has the same organization, products and tables."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hub-iiko-sandbox:{name}"))


def _local_now() -> str:
    return format_datetime(utcnow(), _LOCAL)


def _utc_now() -> str:
    return format_datetime(utcnow(), _UTC)


ORGANIZATION: Final = _id("organization")
HALL: Final = _id("terminal-group:hall")
DELIVERY: Final = _id("terminal-group:delivery")
DEPARTMENT: Final = _id("department:main")
"""The café in iikoServer's books (a department there, an organization in iikoCloud)."""
TABLES: Final = {number: _id(f"table:{number}") for number in range(1, 7)}
CASH: Final = _id("payment:cash")
CARD: Final = _id("payment:card")
ONLINE: Final = _id("payment:online")
_TOPPINGS: Final = _id("group:toppings")
"""The menu's one group of modifiers (the pizza's)."""
_GROUPS: Final = {_id("group:drinks"): "Напитки", _id("group:pizza"): "Пицца", _id("group:goods"): "Сыры на развес",
                  _TOPPINGS: "Добавки"}
_PAYMENT_TYPES: Final = {CASH: ("CASH", "Наличные", "Cash"), CARD: ("CARD", "Банковская карта", "Card"),
                         ONLINE: ("ONLINE", "Оплата на сайте", "External")}


@dataclass
class _Product:
    id: str
    code: str
    name: str
    type: str
    group: str
    unit: str = "порц"
    weighed: bool = False
    prices: dict[str | None, Decimal] = field(default_factory=dict)
    modifier_group: str | None = None


@dataclass
class _Order:
    """A delivery or hall order: iiko's OrderInfo fields and the order object, kept as iiko would answer them."""

    id: str
    kind: str
    organization_id: str
    terminal_group_id: str
    revision: int
    creation_status: str
    order: dict[str, Any]
    error: dict[str, Any] | None = None
    external_number: str | None = None
    timestamp: int = 0
    received: str = field(default_factory=_local_now)
    """When the order reached the cloud, terminal-local: its due time until the terminal has the order."""

    def due(self) -> dt.datetime:
        """The delivery date iiko filters by: ``completeBefore``, or when it was received while not created."""
        return _local_date(self.order.get("completeBefore") or self.received, "completeBefore")

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"id": self.id, "posId": _id(f"pos:{self.id}"), "externalNumber": self.external_number,
                                "organizationId": self.organization_id, "timestamp": self.timestamp,
                                "creationStatus": self.creation_status, "errorInfo": self.error,
                                "order": self.order if self.creation_status == "Success" else None}
        return info


@dataclass
class _Command:
    organization_id: str
    polls_left: int
    state: str = "InProgress"
    error: str | None = None
    order_id: str | None = None
    """The order a ``/deliveries/create`` command creates: its webhook goes out when the command ends."""
    on_done: Callable[[], str | None] | None = None
    """Runs when the terminal takes the command up; returns an error reason, or None for success."""


@dataclass
class _Guest:
    id: str
    phone: str
    name: str | None = None
    surname: str | None = None
    middle_name: str | None = None
    email: str | None = None
    birthday: str | None = None
    sex: int = 0
    consent_status: int = 0
    bonus: Decimal = Decimal(0)
    deleted: bool = False
    categories: set[str] = field(default_factory=set)


class IikoSandbox(Sandbox):
    """iikoCloud for one café: auth, dictionaries, menu, stop lists, orders, commands, loyalty, webhooks."""

    name = "iiko"
    port = 8104

    def __init__(self, *, api_login: str = "sandbox-iiko-api-login", api_key: str = "sandbox-iiko-api-key",
                 app_id: str = _id("app"), client_secret: str = "sandbox-iiko-client-secret",  # noqa: S107
                 webhook_token: str = "sandbox-iiko-webhook-token") -> None:  # noqa: S107
        super().__init__()
        self.api_login = api_login
        self.api_key = api_key
        self.app_id = app_id
        self.client_secret = client_secret
        self.webhook_token = webhook_token
        self.webhook_url: str | None = None
        self.webhook_auth: str | None = None
        self.webhook_answers: list[int] = []
        """Status of every webhook call made (0 when hub could not be reached)."""
        self.processing_time = 0.0
        """Seconds the sandbox "works" on each request; beyond the ``Timeout`` header it answers 408."""
        self.front_delay = 1
        """``/commands/status`` polls before the terminal takes a created order up."""
        self._data = threading.RLock()
        self._tokens: dict[str, float] = {}
        self._revision = itertools.count(1000)
        self._order_revision = 0
        self._numbers = itertools.count(101)
        self.menu_revision = 0
        self.products: dict[str, str] = {}
        """Short name → product id: ``cappuccino``, ``pizza``, ``cheese``, ``parmesan``."""
        self.sizes: dict[str, str] = {"small": _id("size:25"), "large": _id("size:30")}
        self._menu: dict[str, _Product] = {}
        self._stop: dict[str, dict[tuple[str, str | None], tuple[Decimal, str]]] = {HALL: {}, DELIVERY: {}}
        self.orders: dict[str, _Order] = {}
        self._commands: dict[str, _Command] = {}
        self._guests: dict[str, _Guest] = {}
        self.office = OfficeSandbox(self._sales)
        """The café's iikoServer (resto API) under ``/resto/api/``: its back office's view of the same sales."""
        self._seed()

    # --- hub.sandbox.Sandbox --------------------------------------------------------------------

    def source_settings(self) -> dict[str, Any]:
        """An iiko source on this sandbox: the v1 login, the organization, the webhook token, and one venue
        (``main``, as the 1C sandbox's stock job names it) served by both terminal groups. The café's
        iikoServer is not in it (see :meth:`office_settings`): a session takes a licence seat."""
        return {"url": self.url, "api_login": self.api_login, "organization_id": ORGANIZATION,
                "terminal_groups": {"main": [HALL, DELIVERY]}, "webhook_token": self.webhook_token}

    def attach(self, partner_url: str) -> None:
        """Send webhooks to ``<partner_url>/webhook`` (the connector's endpoint under hub's path for this source)."""
        with self._data:
            self.webhook_url, self.webhook_auth = partner_url.rstrip("/") + "/webhook", self.webhook_token

    def demo_activity(self) -> list[str]:
        said = []
        hall = self.open_table_order(1, [(self.products["cappuccino"], Decimal(2), None)])
        self.close_order(hall, payments=[(CARD, None)])
        said.append(f"a guest at table 1 paid by card for two cappuccinos (order {hall})")
        delivery = self.open_delivery([(self.products["cappuccino"], Decimal(1), None),
                                       (self.products["parmesan"], Decimal("0.25"), None)],
                                      phone="+79161234567", customer_name="Мария")  # a guest the 1C sandbox knows
        for status in ("WaitCooking", "CookingStarted", "CookingCompleted", "OnWay", "Delivered"):
            self.set_status(delivery, status)
        self.close_order(delivery, payments=[(CASH, None)])
        said.append(f"a delivery of a cappuccino and 250 g of parmesan was delivered and paid in cash ({delivery})")
        return said

    # --- what tests and the demo do at the POS ------------------------------------------------------

    def set_price(self, product_id: str, price: Decimal, size_id: str | None = None) -> int:
        """Change a menu price; the menu revision moves on. Returns the new revision."""
        with self._data:
            self._menu[product_id].prices[size_id] = price
            self.menu_revision = next(self._revision)
            return self.menu_revision

    def open_delivery(self, items: Sequence[tuple[str, Decimal, str | None]], *,
                      phone: str = "+79990001122", service: str = "DeliveryByCourier",
                      customer_name: str = "Анна", address: str = "Москва, ул. Тверская, 1",
                      opened: dt.datetime | None = None) -> str:
        """A delivery taken by the call centre at the POS; items are ``(product id, amount, size id or None)``.

        ``opened`` backdates it (an aware moment; now by default).
        """
        order = self._order_body(list(items), kind="delivery", terminal_group=DELIVERY)
        if opened is not None:
            order["whenCreated"] = format_datetime(opened, _LOCAL)
        order.update(phone=phone, status="Unconfirmed", customer=_customer(_id(f"guest:{phone}"), customer_name),
                     orderType={"id": _id(f"order-type:{service}"), "name": service, "orderServiceType": service},
                     deliveryPoint=None if service != "DeliveryByCourier" else
                     {"address": {"line1": address, "region": None}})
        return self._store("delivery", DELIVERY, order)

    def open_table_order(self, table: int, items: Sequence[tuple[str, Decimal, str | None]]) -> str:
        """A hall order opened by a waiter at table ``table`` (1 to 6)."""
        order = self._order_body(list(items), kind="table", terminal_group=HALL)
        order.update(tableIds=[TABLES[table]], status="New", waiter={"id": _id("waiter"), "name": "Ольга"},
                     orderType={"id": _id("order-type:Common"), "name": "Зал", "orderServiceType": "Common"})
        return self._store("table", HALL, order)

    def set_status(self, order_id: str, status: str) -> None:
        """Move an order to an iiko status (a delivery's or a hall order's word); webhooks follow."""
        with self._data:
            record = self.orders[order_id]
            record.order["status"] = status
            stamp = _local_now()
            for word, key in (("WaitCooking", "whenConfirmed"), ("CookingCompleted", "whenCookingCompleted"),
                              ("OnWay", "whenSended"), ("Delivered", "whenDelivered"), ("Bill", "whenBillPrinted")):
                if status == word:
                    record.order[key] = stamp
            self._touch(record)
        self._notify_order(order_id)

    def close_order(self, order_id: str, *, payments: Sequence[tuple[str, Decimal | None]] = ((CASH, None),),
                    discount: Decimal = Decimal(0)) -> None:
        """Close an order paid with ``payments`` (payment type id, sum; None: the rest of the bill).

        ``discount`` (money) is taken off the order, spread over its items.
        """
        with self._data:
            record = self.orders[order_id]
            order = record.order
            if discount:
                _apply_discount(order, discount)
            left = Decimal(order["sum"])
            paid = []
            for type_id, amount in payments:
                share = left if amount is None else amount
                left -= share
                _, name, kind = _PAYMENT_TYPES[type_id]
                paid.append({"paymentType": {"id": type_id, "name": name, "kind": kind}, "sum": share,
                             "isPreliminary": False, "isExternal": kind == "External",
                             "isProcessedExternally": kind == "External", "isFiscalizedExternally": False,
                             "isPrepay": kind == "External"})
            order.update(payments=paid, processedPaymentsSum=order["sum"], status="Closed",
                         whenClosed=_local_now())
            self._touch(record)
        self._notify_order(order_id)

    def expire_tokens(self) -> None:
        """Forget every token issued, as if each had expired: the next call gets 401."""
        with self._data:
            self._tokens.clear()

    def add_guest(self, phone: str, *, name: str | None = None, bonus: Decimal = Decimal(0)) -> str:
        """A loyalty guest with a bonus wallet; returns the guest id."""
        with self._data:
            guest = _Guest(id=_id(f"guest:{phone}"), phone=phone, name=name, bonus=bonus)
            self._guests[guest.id] = guest
            return guest.id

    def guests_by_phone(self) -> dict[str, dict[str, Any]]:
        """The loyalty guests not deleted, by phone, each as a dict of its fields."""
        with self._data:
            return {g.phone: asdict(g) for g in self._guests.values() if not g.deleted}

    def stop_list(self, terminal_group_id: str) -> dict[tuple[str, str | None], Decimal]:
        """The terminal group's stop list: (product id, size id) → balance."""
        with self._data:
            return {key: balance for key, (balance, _) in self._stop[terminal_group_id].items()}

    def stop_at_pos(self, terminal_group_id: str, product_id: str, balance: Decimal = Decimal(0)) -> None:
        """A cashier puts a product into the stop list at the POS; a ``StopListUpdate`` webhook follows."""
        with self._data:
            self._stop[terminal_group_id][(product_id, None)] = (balance, _utc_now())
        self._notify_stop_list(ORGANIZATION, terminal_group_id)

    def release_at_pos(self, terminal_group_id: str, product_id: str) -> None:
        """A cashier takes a product out of the stop list at the POS; a ``StopListUpdate`` webhook follows."""
        with self._data:
            self._stop[terminal_group_id].pop((product_id, None), None)
        self._notify_stop_list(ORGANIZATION, terminal_group_id)

    # --- what an integrator makes the café do (/_sandbox/) -----------------------------------------

    def actions(self) -> list[Action]:
        items = Param("items", "CODE:AMOUNT,… by iiko code or short name (CAP-300 or cappuccino, PZ-MARG, CHE-03 in "
                               "kg); one cappuccino when left out", optional=True)
        return [
            attach_action(self, "http://127.0.0.1:8080/iiko (hub.yaml: webhook_token as printed)"),
            Action("sale", "sales", "a guest at a table orders and pays: a hall order opened and closed at once",
                   (items, Param("table", "1 to 6; 1 when left out", optional=True),
                    Param("payment", "cash or card; cash when left out", optional=True)), self._sale_action),
            Action("delivery", "deliveries", "the call centre takes a delivery at the POS (status Unconfirmed)",
                   (items, Param("phone", "the guest's phone; +79990001122 when left out", optional=True)),
                   self._delivery_action),
            Action("set-status", "orders/{id}/status", "an order moves on at the POS (WaitCooking, CookingStarted, "
                   "CookingCompleted, OnWay, Delivered); Closed closes it paid in cash",
                   (Param("id", "the order's id, as sale or delivery answered"), Param("status", "iiko's word")),
                   self._set_status_action),
        ]

    def _items(self, args: dict[str, str]) -> list[tuple[str, Decimal, str | None]]:
        with self._data:
            known = {**{p.code: p for p in self._menu.values()},
                     **{name: self._menu[pid] for name, pid in self.products.items()}}
        chosen = []
        for word, amount in items_param(args.get("items") or "cappuccino"):
            product = known.get(word)
            if product is None or product.type == "modifier":
                raise ActionRefused(f"items: the menu has no {word!r}; it has "
                                    f"{', '.join(p.code for p in self._menu.values() if p.type != 'modifier')}", 404)
            chosen.append((product.id, amount, next(iter(product.prices))))
        return chosen

    def _sale_action(self, args: dict[str, str]) -> dict[str, Any]:
        table, payment = args.get("table") or "1", (args.get("payment") or "cash").lower()
        if not table.isdigit() or int(table) not in TABLES:
            raise ActionRefused(f"table must be one of {', '.join(map(str, TABLES))}", 400)
        if payment not in ("cash", "card"):
            raise ActionRefused("payment must be cash or card", 400)
        order_id = self.open_table_order(int(table), self._items(args))
        self.close_order(order_id, payments=[(CASH if payment == "cash" else CARD, None)])
        return self._order_answer(order_id)

    def _delivery_action(self, args: dict[str, str]) -> dict[str, Any]:
        return self._order_answer(self.open_delivery(self._items(args), phone=args.get("phone") or "+79990001122"))

    def _set_status_action(self, args: dict[str, str]) -> dict[str, Any]:
        if args["id"] not in self.orders:
            raise ActionRefused(f"no order {args['id']}", 404)
        words = DELIVERY_STATUS if self.orders[args["id"]].kind == "delivery" else TABLE_STATUS
        if args["status"] not in words:
            raise ActionRefused(f"status must be one of {', '.join(words)}", 400)
        if args["status"] == "Closed":
            self.close_order(args["id"])
        else:
            self.set_status(args["id"], args["status"])
        return self._order_answer(args["id"])

    def _order_answer(self, order_id: str) -> dict[str, Any]:
        with self._data:
            order = self.orders[order_id].order
            return {"id": order_id, "number": order["number"], "status": order["status"], "sum": order["sum"]}

    # --- serving ---------------------------------------------------------------------------------

    _ROUTES: Final[dict[str, str]] = {
        "/api/1/organizations": "_organizations",
        "/api/1/terminal_groups": "_terminal_groups",
        "/api/1/reserve/available_restaurant_sections": "_sections",
        "/api/1/payment_types": "_payment_types",
        "/api/1/nomenclature": "_nomenclature",
        "/api/1/stop_lists": "_stop_lists",
        "/api/1/stop_lists/add": "_stop_add",
        "/api/1/stop_lists/remove": "_stop_remove",
        "/api/1/stop_lists/clear": "_stop_clear",
        "/api/1/deliveries/by_delivery_date_and_status": "_deliveries_by_date",
        "/api/1/deliveries/by_revision": "_deliveries_by_revision",
        "/api/1/deliveries/by_id": "_deliveries_by_id",
        "/api/1/deliveries/create": "_deliveries_create",
        "/api/1/order/by_table": "_orders_by_table",
        "/api/1/order/by_id": "_orders_by_id",
        "/api/1/commands/status": "_command_status",
        "/api/1/loyalty/iiko/customer/info": "_customer_info",
        "/api/1/loyalty/iiko/customer/create_or_update": "_customer_save",
        "/api/1/loyalty/iiko/customer/wallet/topup": "_wallet_topup",
        "/api/1/loyalty/iiko/customer/wallet/chargeoff": "_wallet_chargeoff",
        "/api/1/loyalty/iiko/customer_category/add": "_category_add",
        "/api/1/loyalty/iiko/customer_category/remove": "_category_remove",
        "/api/1/webhooks/update_settings": "_webhook_settings",
        "/api/1/webhooks/settings": "_webhook_settings_read",
    }

    def handle(self, request: Request) -> Response:
        if request.path.startswith(_OFFICE):
            return self.office.handle(request, request.path.removeprefix(_OFFICE))
        if request.method != "POST":
            return Response(status=405, headers={"Allow": "POST"})
        if request.path in ("/api/1/access_token", "/api/v2/access_token"):
            return self._within_timeout(request, lambda body: self._access_token(request.path, body))
        route = self._ROUTES.get(request.path)
        if route is None:
            return Response(status=404)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self._data:
            expires = self._tokens.get(token.strip()) if scheme == "Bearer" else None
        if expires is None or expires <= time.monotonic():
            return _error(401, "Authorization failed: the token is missing, unknown or expired")
        handler: Callable[[dict[str, Any]], Response] = getattr(self, route)
        response = self._within_timeout(request, handler)
        if response.status_code == 200 and request.path in _WRITES:
            self.committed(request)
        return response

    def office_settings(self) -> dict[str, Any]:
        """The ``office`` settings of an iiko source that reads this café's iikoServer."""
        return self.office.settings(self.url)

    def _sales(self) -> list[Sale]:
        """Every item of the closed orders, as iikoServer's SALES report counts them."""
        with self._data:
            return [(_local_date(record.order["whenCreated"], "whenCreated").date(), DEPARTMENT,
                     Decimal(item["cost"]), Decimal(item["resultSum"]), Decimal(item["amount"]))
                    for record in self.orders.values()
                    if record.creation_status == "Success" and record.order.get("status") == "Closed"
                    for item in objects(record.order.get("items")) if not item.get("deleted")]

    def _within_timeout(self, request: Request, handler: Callable[[dict[str, Any]], Response]) -> Response:
        header = request.headers.get("Timeout")
        if header is not None and not header.strip().isdigit():
            return _error(400, f"Timeout header must be a whole number of seconds, got {header!r}")
        allowed = int(header) if header is not None else DEFAULT_TIMEOUT
        if self.processing_time > allowed:
            self._wait.wait(allowed)
            return _error(408, f"Operation timed out after {allowed} s", code="Timeout")
        if self.processing_time:
            self._wait.wait(self.processing_time)
        try:
            body = json_loads(request.get_data() or b"null")
        except ValueError:
            return _error(400, "Request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "Request body must be a JSON object")
        try:
            return handler(body)
        except _BadRequest as exc:
            return _error(400, str(exc), code=exc.code)

    # --- auth ------------------------------------------------------------------------------------

    def _access_token(self, path: str, body: dict[str, Any]) -> Response:
        if path == "/api/1/access_token":
            login = _required_text(body, "apiLogin")
            good = hmac.compare_digest(login.encode(), self.api_login.encode())
        else:
            given = tuple(_required_text(body, key) for key in ("apiKey", "appId", "clientSecret"))
            expected = (self.api_key, self.app_id, self.client_secret)
            good = all(hmac.compare_digest(a.encode(), b.encode()) for a, b in zip(given, expected, strict=True))
        if not good:
            return _error(401, "Login is not authorized")
        token = secrets.token_urlsafe(32)
        with self._data:
            self._tokens[token] = time.monotonic() + TOKEN_TTL
        return _ok({"token": token})

    # --- dictionaries --------------------------------------------------------------------------

    def _organizations(self, body: dict[str, Any]) -> Response:
        wanted = body.get("organizationIds")
        organizations = [{"responseType": "Simple", "id": ORGANIZATION, "name": "Кафе «Хаб»", "code": "HUB"}]
        if isinstance(wanted, list):
            organizations = [o for o in organizations if o["id"] in wanted]
        return _ok({"organizations": organizations})

    def _terminal_groups(self, body: dict[str, Any]) -> Response:
        self._organizations_of(body)
        items = [{"id": group, "organizationId": ORGANIZATION, "name": name, "address": "Москва, ул. Тверская, 1",
                  "timeZone": "Russian Standard Time"} for group, name in ((HALL, "Зал"), (DELIVERY, "Доставка"))]
        return _ok({"terminalGroups": [{"organizationId": ORGANIZATION, "items": items}], "terminalGroupsInSleep": []})

    def _sections(self, body: dict[str, Any]) -> Response:
        groups = _required_list(body, "terminalGroupIds")
        sections = [] if HALL not in groups else [{
            "id": _id("section:main"), "terminalGroupId": HALL, "name": "Основной зал",
            "tables": [{"id": table, "number": number, "name": f"Стол {number}", "seatingCapacity": 4,
                        "revision": 1, "isDeleted": False, "posId": _id(f"pos-table:{number}")}
                       for number, table in TABLES.items()]}]
        return _ok({"restaurantSections": sections, "revision": 1})

    def _payment_types(self, body: dict[str, Any]) -> Response:
        self._organizations_of(body)
        return _ok({"paymentTypes": [
            {"id": type_id, "code": code, "name": name, "comment": None, "combinable": True, "externalRevision": 1,
             "applicableMarketingCampaigns": [], "isDeleted": False, "printCheque": True,
             "paymentProcessingType": "External" if kind == "External" else "Internal", "paymentTypeKind": kind,
             "terminalGroups": []} for type_id, (code, name, kind) in _PAYMENT_TYPES.items()]})

    # --- menu ----------------------------------------------------------------------------------

    def _nomenclature(self, body: dict[str, Any]) -> Response:
        self._organization(body)
        since = body.get("startRevision")
        if since is not None and integer(since) is None:
            raise _BadRequest("startRevision must be a whole number")
        with self._data:
            if since is not None and integer(since) == self.menu_revision:
                return _ok({"groups": [], "productCategories": [], "products": [], "sizes": [],
                            "revision": self.menu_revision})
            return _ok({**self._menu_body(), "revision": self.menu_revision})

    def _menu_body(self) -> dict[str, Any]:
        groups = [_group(group, name, modifiers=group == _TOPPINGS) for group, name in _GROUPS.items()]
        products = []
        for product in self._menu.values():
            entry: dict[str, Any] = {
                "id": product.id, "code": product.code, "name": product.name, "type": product.type,
                "orderItemType": "Product", "groupId": product.group, "parentGroup": product.group,
                "productCategoryId": None, "measureUnit": product.unit, "weight": Decimal("0.3"),
                "splittable": False, "useBalanceForSell": product.weighed, "canSetOpenPrice": False,
                "doNotPrintInCheque": False, "order": 0, "isDeleted": False, "imageLinks": [], "tags": [],
                "modifiers": [], "groupModifiers": [],
                "sizePrices": [{"sizeId": size, "price": {"currentPrice": price, "isIncludedInMenu": True,
                                                          "nextPrice": None, "nextIncludedInMenu": False,
                                                          "nextDatePrice": None}}
                               for size, price in product.prices.items()]}
            if product.modifier_group:
                entry["groupModifiers"] = [{
                    "id": product.modifier_group, "minAmount": 0, "maxAmount": 3, "required": False,
                    "childModifiersHaveMinMaxRestrictions": False,
                    "childModifiers": [{"id": self.products["cheese"], "defaultAmount": 0, "minAmount": 0,
                                        "maxAmount": 2, "required": False}]}]
            products.append(entry)
        sizes = [{"id": self.sizes["small"], "name": "25 см", "priority": 0, "isDefault": True},
                 {"id": self.sizes["large"], "name": "30 см", "priority": 1, "isDefault": False}]
        return {"groups": groups, "productCategories": [], "products": products, "sizes": sizes}

    # --- stop lists ----------------------------------------------------------------------------

    def _stop_lists(self, body: dict[str, Any]) -> Response:
        self._organizations_of(body)
        wanted = body.get("terminalGroupsIds")
        with_size = body.get("returnSize") is True
        with self._data:
            groups = [{"terminalGroupId": group,
                       "items": [{"balance": balance, "productId": product, "dateAdd": added,
                                  **({"sizeId": size} if with_size else {})}
                                 for (product, size), (balance, added) in entries.items()]}
                      for group, entries in self._stop.items() if not isinstance(wanted, list) or group in wanted]
        return _ok({"terminalGroupStopLists": [{"organizationId": ORGANIZATION, "items": groups}]})

    def _stop_add(self, body: dict[str, Any]) -> Response:
        group = self._terminal_group(body)
        items = _required_list(body, "items")
        entries = {}
        for index, item in enumerate(items):
            product = self._product(item, f"items[{index}].productId")
            balance = decimal(item.get("balance")) if isinstance(item, dict) else None
            if balance is None:
                raise _BadRequest(f"items[{index}].balance is required")
            entries[(product, text(item.get("sizeId")))] = (balance, _utc_now())
        with self._data:
            self._stop[group].update(entries)
        self._notify_stop_list(ORGANIZATION, group)
        return self._done_command(body)

    def _stop_remove(self, body: dict[str, Any]) -> Response:
        group = self._terminal_group(body)
        keys = [(self._product(item, f"items[{index}].productId"), text(item.get("sizeId")))
                for index, item in enumerate(_required_list(body, "items"))]
        with self._data:
            for key in keys:
                self._stop[group].pop(key, None)
        self._notify_stop_list(ORGANIZATION, group)
        return self._done_command(body)

    def _stop_clear(self, body: dict[str, Any]) -> Response:
        group = self._terminal_group(body)
        with self._data:
            self._stop[group].clear()
        self._notify_stop_list(ORGANIZATION, group)
        return self._done_command(body)

    # --- orders --------------------------------------------------------------------------------

    def _deliveries_by_date(self, body: dict[str, Any]) -> Response:
        self._organizations_of(body)
        since = _local_date(_required_text(body, "deliveryDateFrom"), "deliveryDateFrom")
        until = _local_date(body["deliveryDateTo"], "deliveryDateTo") if body.get("deliveryDateTo") else None
        statuses = body.get("statuses")
        with self._data:
            chosen = [r for r in self.orders.values() if r.kind == "delivery" and since <= r.due()
                      and (until is None or r.due() <= until)
                      and (not isinstance(statuses, list) or r.order.get("status") in statuses)]
            return self._orders_page(chosen)

    def _deliveries_by_revision(self, body: dict[str, Any]) -> Response:
        self._organizations_of(body)
        since = integer(body.get("startRevision"))
        if since is None:
            raise _BadRequest("startRevision is required")
        with self._data:
            return self._orders_page([r for r in self.orders.values() if r.kind == "delivery" and r.revision > since])

    def _orders_page(self, records: list[_Order]) -> Response:
        return _ok({"maxRevision": self._order_revision,
                    "ordersByOrganizations": [{"organizationId": ORGANIZATION,
                                               "orders": [r.info() for r in records]}]})

    def _deliveries_by_id(self, body: dict[str, Any]) -> Response:
        self._organization(body)
        wanted = _required_list(body, "orderIds")
        if len(wanted) > 200:
            raise _BadRequest("orderIds: at most 200 ids")
        with self._data:
            return _ok({"orders": [self.orders[i].info() for i in wanted
                                   if i in self.orders and self.orders[i].kind == "delivery"]})

    def _orders_by_table(self, body: dict[str, Any]) -> Response:
        self._organizations_of(body)
        tables = set(_required_list(body, "tableIds"))
        statuses = body.get("statuses")
        since = _local_date(body["dateFrom"], "dateFrom") if body.get("dateFrom") else None
        until = _local_date(body["dateTo"], "dateTo") if body.get("dateTo") else None
        with self._data:
            chosen = [r.info() for r in self.orders.values() if r.kind == "table"
                      and tables & set(r.order["tableIds"])
                      and (not isinstance(statuses, list) or r.order["status"] in statuses)
                      and (since is None or since <= _local_date(r.order["whenCreated"], "whenCreated"))
                      and (until is None or _local_date(r.order["whenCreated"], "whenCreated") <= until)]
        return _ok({"orders": chosen})

    def _orders_by_id(self, body: dict[str, Any]) -> Response:
        self._organizations_of(body)
        wanted = _required_list(body, "orderIds")
        with self._data:
            return _ok({"orders": [self.orders[i].info() for i in wanted
                                   if i in self.orders and self.orders[i].kind == "table"]})

    def _deliveries_create(self, body: dict[str, Any]) -> Response:
        organization = self._organization(body)
        order = body.get("order")
        if not isinstance(order, dict):
            raise _BadRequest("order is required")
        phone = _required_text(order, "phone")
        if not phone.startswith("+") or sum(ch.isdigit() for ch in phone) < 8:
            raise _BadRequest("order.phone must begin with '+' and have at least 8 digits", code="InvalidPhone")
        if bool(order.get("orderTypeId")) == bool(order.get("orderServiceType")):
            raise _BadRequest("exactly one of order.orderTypeId and order.orderServiceType is required")
        items = _required_list(order, "items")
        _require_numbers(order)
        order_id = text(order.get("id")) or str(uuid.uuid4())
        with self._data:
            if order_id in self.orders:
                raise _BadRequest(f"Order with id {order_id} already exists", code="DuplicatedOrderId")
            group = text(body.get("terminalGroupId")) or DELIVERY
            service = text(order.get("orderServiceType")) or "DeliveryByCourier"
            record = _Order(id=order_id, kind="delivery", organization_id=organization, terminal_group_id=group,
                            revision=0, creation_status="InProgress", order={},
                            external_number=text(order.get("externalNumber")))
            self.orders[order_id] = record
            self._touch(record)
            settings = member(body, "createOrderSettings")
            correlation = str(uuid.uuid4())
            self._commands[correlation] = _Command(
                organization, self.front_delay, order_id=order_id,
                on_done=lambda: self._take_up(record, order, items, service,
                                              check_stop=settings.get("checkStopList") is True))
        return _ok({"orderInfo": record.info()}, correlation)

    def _take_up(self, record: _Order, order: dict[str, Any], items: list[Any], service: str, *,
                 check_stop: bool) -> str | None:
        """The terminal receives a created order: it checks it, then the order exists or fails with errorInfo."""
        lines: list[tuple[str, Decimal, str | None, Decimal]] = []
        modifiers: list[list[dict[str, Any]]] = []
        try:
            for item in items:
                sent_id = text(item.get("productId")) if isinstance(item, dict) else None
                product = self._menu.get(sent_id or "")
                size = text(item.get("productSizeId")) if isinstance(item, dict) else None
                if product is None:
                    raise _Refused("ProductNotFound", f"Product {sent_id or '?'} not found")
                if size not in product.prices:
                    raise _Refused("ProductSizeNotFound", f"Size {size} not found for product {product.id}")
                if check_stop and (product.id, size) in self._stop[record.terminal_group_id]:
                    raise _Refused("Common", f"Product {product.name} is in the stop list")
                lines.append((product.id, decimal(item.get("amount")) or Decimal(1), size,
                              decimal(item.get("price")) or product.prices[size]))
                modifiers.append([self._modifier(m) for m in objects(item.get("modifiers"))])
            payments = [self._payment(p) for p in objects(order.get("payments"))]
        except _Refused as refused:
            record.creation_status = "Error"
            record.error = {"code": refused.code, "message": str(refused), "description": str(refused),
                            "additionalData": None}
            self._touch(record)
            return str(refused)
        body = self._order_body([(p, a, s) for p, a, s, _ in lines], kind="delivery",
                                terminal_group=record.terminal_group_id, prices=[price for *_, price in lines],
                                modifiers=modifiers)
        body.update(phone=order["phone"], status="Unconfirmed", comment=text(order.get("comment")),
                    orderType={"id": _id(f"order-type:{service}"), "name": service, "orderServiceType": service},
                    sourceKey=text(order.get("sourceKey")), whenReceivedByApi=format_datetime(utcnow(), _UTC),
                    deliveryPoint=_delivery_point(member(order, "deliveryPoint")), payments=payments)
        if isinstance(order.get("customer"), dict) and order["customer"].get("name"):
            body["customer"] = _customer(text(order["customer"].get("id")) or _id(f"guest:{order['phone']}"),
                                         str(order["customer"]["name"]))
        record.order = body
        record.creation_status = "Success"
        self._touch(record)
        return None

    def _modifier(self, sent: Mapping[str, Any]) -> dict[str, Any]:
        """A modifier of a created item as iiko answers it; one the menu lacks fails the order."""
        product = self._menu.get(text(sent.get("productId")) or "")
        if product is None:
            raise _Refused("ProductNotFound", f"Modifier {sent.get('productId')} not found")
        amount = decimal(sent.get("amount")) or Decimal(1)
        given = decimal(sent.get("price"))
        price = product.prices.get(None, Decimal(0)) if given is None else given
        group = text(sent.get("productGroupId"))
        return {"product": {"id": product.id, "name": product.name}, "amount": amount,
                "amountIndependentOfParentAmount": False,
                "productGroup": {"id": group, "name": _GROUPS[group]} if group in _GROUPS else None,
                "price": price, "pricePredefined": given is not None, "resultSum": money(price * amount),
                "positionId": text(sent.get("positionId")) or str(uuid.uuid4())}

    @staticmethod
    def _payment(sent: Mapping[str, Any]) -> dict[str, Any]:
        """A payment of a created delivery as iiko answers it: not made yet, unless processed outside the POS."""
        type_id = text(sent.get("paymentTypeId")) or ""
        if type_id not in _PAYMENT_TYPES:
            raise _Refused("PaymentTypeNotFound", f"Payment type {type_id} not found")
        _, name, kind = _PAYMENT_TYPES[type_id]
        external = sent.get("isProcessedExternally") is True
        return {"paymentType": {"id": type_id, "name": name, "kind": kind}, "sum": decimal(sent.get("sum")),
                "isPreliminary": True, "isExternal": kind == "External", "isProcessedExternally": external,
                "isFiscalizedExternally": sent.get("isFiscalizedExternally") is True,
                "isPrepay": sent.get("isPrepay") is True}

    def _command_status(self, body: dict[str, Any]) -> Response:
        self._organization(body)
        correlation = _required_text(body, "correlationId")
        notify: str | None = None
        with self._data:
            command = self._commands.get(correlation)
            if command is None:
                return _error(410, f"correlationId {correlation} is not supported", code="CorrelationIdNotFound")
            if command.state == "InProgress":
                command.polls_left -= 1
                if command.polls_left <= 0:
                    command.error = command.on_done() if command.on_done else None
                    command.state = "Error" if command.error else "Success"
                    notify = command.order_id
            answer: dict[str, Any] = {"state": command.state}
            if command.state == "Error":
                answer.update(exception=None, errorReason=command.error)
        if notify:
            self._notify_order(notify)
        return json_response(answer)

    # --- loyalty -------------------------------------------------------------------------------

    def _customer_info(self, body: dict[str, Any]) -> Response:
        self._organization(body)
        kind = _required_text(body, "type")
        with self._data:
            if kind == "phone":
                phone = _required_text(body, "phone")
                guest = next((g for g in self._guests.values() if g.phone == phone and not g.deleted), None)
            elif kind == "id":
                guest = self._guests.get(_required_text(body, "id"))
            else:
                raise _BadRequest(f"search by {kind} is not supported by this sandbox")
            if guest is None:
                return _error(400, "There is no user with such phone or id", code=None)
            return json_response(_guest_body(guest))

    def _customer_save(self, body: dict[str, Any]) -> Response:
        self._organization(body)
        with self._data:
            guest = self._guests.get(text(body.get("id")) or "")
            phone = text(body.get("phone"))
            if guest is None and phone:
                guest = next((g for g in self._guests.values() if g.phone == phone), None)
            if guest is None:
                if not phone:
                    raise _BadRequest("id, phone or card is required")
                guest = _Guest(id=text(body.get("id")) or str(uuid.uuid4()), phone=phone)
                self._guests[guest.id] = guest
            for key, attribute in (("phone", "phone"), ("name", "name"), ("surName", "surname"),
                                   ("middleName", "middle_name"), ("email", "email"), ("birthday", "birthday")):
                if text(body.get(key)) is not None:
                    setattr(guest, attribute, text(body.get(key)))
            for key, attribute in (("sex", "sex"), ("consentStatus", "consent_status")):
                if integer(body.get(key)) is not None:
                    setattr(guest, attribute, integer(body.get(key)))
            if isinstance(body.get("isDeleted"), bool):
                guest.deleted = body["isDeleted"]
            return json_response({"id": guest.id})  # iikoCard answers carry no correlationId

    def _category_add(self, body: dict[str, Any]) -> Response:
        return self._category(body, member=True)

    def _category_remove(self, body: dict[str, Any]) -> Response:
        return self._category(body, member=False)

    def _category(self, body: dict[str, Any], *, member: bool) -> Response:
        self._organization(body)
        category = _required_text(body, "categoryId")
        with self._data:
            guest = self._guests.get(_required_text(body, "customerId"))
            if guest is None:
                return _error(400, "There is no user with such id", code=None)
            if member:
                guest.categories.add(category)
            else:
                guest.categories.discard(category)
            return json_response({})

    def _wallet_topup(self, body: dict[str, Any]) -> Response:
        return self._wallet(body, sign=1)

    def _wallet_chargeoff(self, body: dict[str, Any]) -> Response:
        return self._wallet(body, sign=-1)

    def _wallet(self, body: dict[str, Any], *, sign: int) -> Response:
        self._organization(body)
        amount = decimal(body.get("sum"))
        if amount is None or amount <= 0:
            raise _BadRequest("sum must be a positive number")
        with self._data:
            guest = self._guests.get(_required_text(body, "customerId"))
            if guest is None or _required_text(body, "walletId") != _wallet_id(guest.id):
                raise _BadRequest("customer or wallet not found")
            if sign < 0 and guest.bonus < amount:
                raise _BadRequest("Insufficient funds", code="NotEnoughMoney")
            guest.bonus += sign * amount
        return json_response({})

    def _webhook_settings(self, body: dict[str, Any]) -> Response:
        self._organization(body)
        with self._data:
            self.webhook_url = _required_text(body, "webHooksUri")
            self.webhook_auth = text(body.get("authToken"))
        return _ok({})

    def _webhook_settings_read(self, body: dict[str, Any]) -> Response:
        self._organization(body)
        with self._data:
            return _ok({"apiLoginName": "hub", "webHooksUri": self.webhook_url, "authToken": self.webhook_auth,
                        "webHooksFilter": None})

    # --- internals -----------------------------------------------------------------------------

    def _seed(self) -> None:
        drinks, pizza, goods = _id("group:drinks"), _id("group:pizza"), _id("group:goods")
        # The cappuccino's and the parmesan's codes are the 1C sandbox's articles, so its goods link to them.
        for key, product in (
            ("cappuccino", _Product(_id("product:cappuccino"), "CAP-300", "Капучино 300 мл", "dish", drinks,
                                    prices={None: Decimal(180)})),
            ("pizza", _Product(_id("product:margherita"), "PZ-MARG", "Пицца Маргарита", "dish", pizza,
                               prices={self.sizes["small"]: Decimal(450), self.sizes["large"]: Decimal(590)},
                               modifier_group=_TOPPINGS)),
            ("cheese", _Product(_id("product:extra-cheese"), "MOD-CHEESE", "Двойной сыр", "modifier", _TOPPINGS,
                                prices={None: Decimal(60)})),
            ("parmesan", _Product(_id("product:parmesan"), "CHE-03", "Пармезан", "good", goods, unit="кг",
                                  weighed=True, prices={None: Decimal(2400)})),
        ):
            self.products[key] = product.id
            self._menu[product.id] = product
        self.menu_revision = next(self._revision)

    def _order_body(self, items: list[tuple[str, Decimal, str | None]], *, kind: str, terminal_group: str,
                    prices: list[Decimal] | None = None,
                    modifiers: list[list[dict[str, Any]]] | None = None) -> dict[str, Any]:
        """An order's body as iiko answers it; ``prices`` and ``modifiers`` (answer-shaped) are per item."""
        lines = []
        for index, (product_id, amount, size) in enumerate(items):
            product = self._menu[product_id]
            price = prices[index] if prices else product.prices[size]
            total = money(price * amount)
            line: dict[str, Any] = {
                "type": "Product", "status": "Added", "deleted": None, "amount": amount, "comment": None,
                "whenPrinted": None, "size": None, "comboInformation": None,
                "product": {"id": product.id, "name": product.name},
                "modifiers": modifiers[index] if modifiers else [], "price": price,
                "cost": total, "pricePredefined": False, "positionId": str(uuid.uuid4()), "taxPercent": None,
                "resultSum": total}
            if size is not None:
                line["size"] = {"id": size, "name": "25 см" if size == self.sizes["small"] else "30 см"}
            lines.append(line)
        now = _local_now()
        # What the guest pays: the items and their modifiers (each modifier's resultSum is its whole cost).
        paid = sum((ln["resultSum"] + sum((m["resultSum"] for m in ln["modifiers"]), Decimal(0)) for ln in lines),
                   Decimal(0))
        body: dict[str, Any] = {
            "phone": None, "status": "New", "whenCreated": now, "sum": paid,
            "number": next(self._numbers), "guestsInfo": {"count": 1, "splitBetweenPersons": False},
            "items": lines, "terminalGroupId": terminal_group, "processedPaymentsSum": Decimal(0),
            "payments": [], "discounts": [], "customer": None, "sourceKey": None, "whenClosed": None}
        if kind == "delivery":
            later = format_datetime(utcnow() + dt.timedelta(hours=1), _LOCAL)
            body.update(completeBefore=later, cookingStartTime=now, deliveryPoint=None, isDeleted=False, comment=None)
        return body

    def _store(self, kind: str, group: str, order: dict[str, Any]) -> str:
        with self._data:
            record = _Order(id=str(uuid.uuid4()), kind=kind, organization_id=ORGANIZATION, terminal_group_id=group,
                            revision=0, creation_status="Success", order=order)
            self.orders[record.id] = record
            self._touch(record)
        self._notify_order(record.id)
        return record.id

    def _touch(self, record: _Order) -> None:
        self._order_revision += 1
        record.revision = self._order_revision
        record.timestamp = int(utcnow().timestamp())

    def _done_command(self, body: dict[str, Any]) -> Response:
        correlation = str(uuid.uuid4())
        with self._data:
            self._commands[correlation] = _Command(text(body.get("organizationId")) or "", 0, state="Success")
        return _ok({}, correlation)

    def _organization(self, body: dict[str, Any]) -> str:
        organization = _required_text(body, "organizationId")
        if organization != ORGANIZATION:
            raise _BadRequest(f"Organization {organization} is not available for this apiLogin")
        return organization

    def _organizations_of(self, body: dict[str, Any]) -> list[str]:
        organizations = _required_list(body, "organizationIds")
        if any(o != ORGANIZATION for o in organizations):
            raise _BadRequest("organizationIds: an organization is not available for this apiLogin")
        return organizations

    def _terminal_group(self, body: dict[str, Any]) -> str:
        self._organization(body)
        group = _required_text(body, "terminalGroupId")
        if group not in self._stop:
            raise _BadRequest(f"Terminal group {group} not found", code="TerminalGroupIdNotDetermined")
        return group

    def _product(self, item: Any, where: str) -> str:
        product = text(item.get("productId")) if isinstance(item, dict) else None
        if product is None:
            raise _BadRequest(f"{where} is required")
        if product not in self._menu:
            raise _BadRequest(f"{where}: product {product} not found", code="ProductNotFound")
        return product

    # --- webhooks ------------------------------------------------------------------------------

    def _notify_order(self, order_id: str) -> None:
        with self._data:
            record = self.orders[order_id]
            kind = "TableOrder" if record.kind == "table" else "DeliveryOrder"
            event = "Error" if record.creation_status == "Error" else "Update"
            events = [{"eventType": f"{kind}{event}", "eventTime": format_datetime(utcnow(), _UTC),
                       "organizationId": record.organization_id, "correlationId": str(uuid.uuid4()),
                       "eventInfo": record.info()}]
        self._send_webhook(events)

    def _notify_stop_list(self, organization: str, group: str) -> None:
        self._send_webhook([{"eventType": "StopListUpdate", "eventTime": format_datetime(utcnow(), _UTC),
                             "organizationId": organization, "correlationId": str(uuid.uuid4()),
                             "eventInfo": {"terminalGroupsStopListsUpdates": [{"id": group, "isFull": False}]}}])

    def _send_webhook(self, events: list[dict[str, Any]]) -> None:
        with self._data:
            url, token = self.webhook_url, self.webhook_auth
        if url is None:
            return
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = token
        try:
            status = requests.post(url, data=json_dumps(events).encode(), headers=headers, timeout=10).status_code
        except requests.RequestException:
            status = 0  # iiko documents no retry; hub reconciles by revision
        with self._data:
            self.webhook_answers.append(status)


_WRITES: Final = frozenset({"/api/1/stop_lists/add", "/api/1/stop_lists/remove", "/api/1/stop_lists/clear",
                            "/api/1/deliveries/create", "/api/1/loyalty/iiko/customer/create_or_update",
                            "/api/1/loyalty/iiko/customer/wallet/topup",
                            "/api/1/loyalty/iiko/customer/wallet/chargeoff",
                            "/api/1/loyalty/iiko/customer_category/add",
                            "/api/1/loyalty/iiko/customer_category/remove"})


class _BadRequest(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class _Refused(Exception):
    """The terminal refuses a created order: it ends in ``creationStatus: Error`` with this ``errorInfo.code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _require_numbers(order: Mapping[str, Any]) -> None:
    """Quantities and money must be JSON numbers: iikoCloud refuses ``"2"`` where its document says number,
    with a 400 in its error shape, before it takes the order up."""
    for i, item in enumerate(objects(order.get("items"))):
        fields = [(f"items[{i}]", item, "amount"), (f"items[{i}]", item, "price")]
        fields += [(f"items[{i}].modifiers[{j}]", modifier, key)
                   for j, modifier in enumerate(objects(item.get("modifiers"))) for key in ("amount", "price")]
        for where, holder, key in fields:
            _require_number(holder, key, where)
    for i, payment in enumerate(objects(order.get("payments"))):
        _require_number(payment, "sum", f"payments[{i}]")


def _require_number(holder: Mapping[str, Any], key: str, where: str) -> None:
    value = holder.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | Decimal)):
        raise _BadRequest(f"order.{where}.{key}: a number is expected, got {json_dumps(value)}")


def _delivery_point(sent: Mapping[str, Any]) -> dict[str, Any] | None:
    """A created delivery's address as iiko answers it: the one-line ``city`` form, or street and house."""
    address = member(sent, "address")
    if not address:
        return None
    answered: dict[str, Any] = {key: text(address.get(key)) for key in ("line1", "index", "house", "building",
                                                                         "flat", "entrance", "floor", "doorphone")}
    street = member(address, "street")
    if text(street.get("name")):
        city = text(member(street, "city").get("name")) or text(street.get("city")) or ""
        answered["street"] = {"id": text(street.get("id")) or _id(f"street:{street['name']}"),
                              "name": street["name"], "city": {"id": _id(f"city:{city}"), "name": city}}
    answered["region"] = None
    return {"coordinates": sent.get("coordinates") if isinstance(sent.get("coordinates"), dict) else None,
            "address": answered, "externalCartographyId": text(sent.get("externalCartographyId")),
            "comment": text(sent.get("comment"))}


def _ok(data: dict[str, Any], correlation: str | None = None) -> Response:
    return json_response({"correlationId": correlation or str(uuid.uuid4()), **data})


def _error(status: int, description: str, *, code: str | None = None) -> Response:
    return json_response({"correlationId": str(uuid.uuid4()), "errorDescription": description, "error": code},
                         status)


def _required_text(body: Mapping[str, Any], key: str) -> str:
    value = text(body.get(key))
    if value is None:
        raise _BadRequest(f"{key} is required")
    return value


def _required_list(body: Mapping[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list):
        raise _BadRequest(f"{key} is required and must be an array")
    return value


def _local_date(value: Any, key: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S.%f")  # noqa: DTZ007 - iiko's wall clock
    except ValueError:
        raise _BadRequest(f"{key} must be written as yyyy-MM-dd HH:mm:ss.fff") from None


def _group(group_id: str, name: str, *, modifiers: bool = False) -> dict[str, Any]:
    return {"id": group_id, "code": None, "name": name, "parentGroup": None, "order": 0, "isIncludedInMenu": True,
            "isGroupModifier": modifiers, "isDeleted": False, "imageLinks": [], "description": None, "tags": []}


def _customer(guest_id: str, name: str) -> dict[str, Any]:
    return {"type": "regular", "id": guest_id, "name": name, "surname": None, "comment": None,
            "gender": "NotSpecified", "inBlacklist": False, "blacklistReason": None, "birthdate": None}


def _wallet_id(guest_id: str) -> str:
    return str(uuid.uuid5(uuid.UUID(guest_id), "bonus"))


def _guest_body(guest: _Guest) -> dict[str, Any]:
    return {"id": guest.id, "referrerId": None, "name": guest.name or "", "surname": guest.surname or "",
            "middleName": guest.middle_name or "", "comment": "", "phone": guest.phone, "cultureName": "ru-RU",
            "birthday": guest.birthday, "email": guest.email or "", "sex": guest.sex,
            "consentStatus": guest.consent_status, "anonymized": False, "cards": [],
            "categories": [{"id": c, "name": c, "isActive": True, "isDefaultForNewGuests": False}
                           for c in sorted(guest.categories)],
            "walletBalances": [{"id": _wallet_id(guest.id), "name": "Бонусы", "type": 1, "balance": guest.bonus}],
            "userData": "", "isDeleted": guest.deleted, "whenRegistered": "2025-01-01 12:00:00.000"}


def _apply_discount(order: dict[str, Any], discount: Decimal) -> None:
    """Take ``discount`` off the order, item by item in proportion, as iiko spreads an order discount."""
    items = objects(order.get("items"))
    total = sum((Decimal(i["resultSum"]) for i in items), Decimal(0))
    left = discount
    for index, item in enumerate(items):
        share = left if index == len(items) - 1 else money(discount * Decimal(item["resultSum"]) / total)
        left -= share
        item["resultSum"] = Decimal(item["resultSum"]) - share
    order["sum"] = total - discount
    order["discounts"] = [{"discountType": {"id": _id("discount:manual"), "name": "Скидка"}, "sum": discount,
                           "selectivePositions": [i["positionId"] for i in items]}]
