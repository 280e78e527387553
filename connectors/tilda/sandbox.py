"""A Tilda Store on 127.0.0.1: its cart webhook, its CommerceML connector and its public catalog feed.

* **The cart webhook.** :meth:`TildaSandbox.place_order` builds a cart from the goods the store shows and posts
  it to hub (:meth:`~TildaSandbox.attach`) in one of Tilda's three shapes (``form``: bracketed flat keys,
  ``string``: ``payment`` as JSON text, ``json``), waiting at most 5 s for the answer; a failed or late answer
  is tried twice more, ``retry_pause`` apart (a minute at Tilda). ``lose_answers`` makes the next answers
  count as lost, so Tilda's retries can be tested. :meth:`~TildaSandbox.connect` sends the ``test=test``
  Tilda sends when the receiver is saved. Every try is in :attr:`~TildaSandbox.deliveries`.
* **The CommerceML connector** (``/connector/<store>``) is :class:`~connectors.commerceml.sandbox.SiteSandbox`
  with Tilda's quirks: no zip, no ``sessid``, offers imported only with an import file in the same session
  (``Import file is empty`` otherwise) and applied only to the goods that file lists, ``success`` either way;
  ``ИзмененияПакетаПредложений`` ignored; stock updated only while ``update_stock`` is on; with
  ``uploads_per_window`` (Tilda: 2 per 5 minutes, off by default so a demo's cycles are not held up), an
  upload beyond it is refused ``Many requests``.
* **The public feed** (``/api/getproductslist/``) shows what the store applied, paged, ``quantity: ""`` for a
  good without stock.
"""

from __future__ import annotations

import secrets
import time
import zlib
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlencode

import requests
from werkzeug.wrappers import Request, Response

from connectors.commerceml.sandbox import SiteQuirks, SiteSandbox
from connectors.tilda.webhook import FORM
from hub.inbound import json_response
from hub.sandbox import Action, ActionRefused, Param, Sandbox, attach_action, needs_attach
from hub.values import json_dumps

Shape = Literal["form", "string", "json"]
SHAPES: tuple[Shape, ...] = ("form", "string", "json")
CONNECTOR_PATH = "/connector/sandbox-store"
FEED_PATH = "/api/getproductslist/"
STOREPART = "sandbox-part"
PROJECT = "7000001"
SECRET = "sandbox-webhook-secret-7000001"  # noqa: S105 - the sandbox's own, known to its tests
ANSWER_LIMIT = 5.0
"""Seconds Tilda waits for the webhook's answer."""
TILDA_QUIRKS = SiteQuirks(path=CONNECTOR_PATH, sessid=False, offers_need_import=True, changes_ignored=True)


@dataclass(frozen=True)
class Delivery:
    """One try of one webhook post, as Tilda made it."""

    order: str
    shape: str
    status: int | None
    """None when no answer came in time."""
    seconds: float


class TildaSandbox(Sandbox):
    """Tilda Store: see the module docstring."""

    name = "tilda"
    port = 8113

    def __init__(self, *, secret: str | None = None, retry_pause: float = 60.0, page_size: int = 100,
                 uploads_per_window: int | None = None, seed: int = 7, api_key: str | None = None) -> None:
        super().__init__()
        self.secret = secret or SECRET
        self.api_key = api_key
        """The project's API key, posted with each cart as the field ``X-API-Key`` (the "POST" method of Tilda's
        API key setting); None: the webhook's secret path segment alone."""
        self.retry_pause = retry_pause
        self.page_size = page_size
        self.site = SiteSandbox(username="tilda-1c", password=secrets.token_urlsafe(12), zip=False,
                                progress_steps=1, encoding="utf-8", seed=seed,
                                quirks=replace(TILDA_QUIRKS, uploads_per_window=uploads_per_window))
        self.partner_url: str | None = None
        self.deliveries: list[Delivery] = []
        self.feed_external_ids = True
        """Whether the feed shows each good's External ID; off, it shows the fact sheet's captured shape, which
        names goods by SKU only."""
        self.lose_answers = 0
        """How many of the next answers Tilda takes for lost (too late), whatever hub said."""
        self._orders = 1_100_000_000 + seed * 1000

    def source_settings(self) -> dict[str, Any]:
        exchange = {"url": self.url + CONNECTOR_PATH, "username": self.site.username, "password": self.site.password,
                    "exchanges_per_window": None}  # Tilda's two per five minutes would hold a demo up for minutes
        project = {"secret": self.secret, **({"api_key": self.api_key} if self.api_key else {})}
        return {"projects": {PROJECT: project}, "exchange": exchange,
                "feed": {"url": self.url + FEED_PATH, "storepartuid": STOREPART, "size": self.page_size},
                "read_back": {"wait": 0},  # the sandbox's feed has no edge caches to wait for
                "venue": "main"}  # the venue the 1C sandbox's stock job options name

    def job_options(self, job_type: str) -> dict[str, Any] | None:
        return None  # the store takes 1C's data, it feeds no job

    def attach(self, partner_url: str) -> None:
        """Where hub serves the source (the daemon's URL and inbound path); the webhook adds project and secret."""
        self.partner_url = partner_url.rstrip("/")

    @property
    def webhook_url(self) -> str:
        return f"{needs_attach(self.partner_url)}/{PROJECT}/{self.secret}"

    # --- the store ----------------------------------------------------------------------------------------

    def feed(self, page: int = 1, size: int | None = None) -> dict[str, Any]:
        """One page of the public feed, as ``getproductslist`` answers it."""
        size = size or self.page_size
        site = self.site
        goods = sorted(site.goods.values(), key=lambda good: good.id)
        shown = goods[(page - 1) * size:page * size]
        products = [{"uid": str(zlib.crc32(good.id.encode())), "title": good.name, "descr": "",
                     **({"externalid": good.id} if self.feed_external_ids else {}), "sku": good.article or "",
                     "price": next((format(amount, "f") for (offer, _), amount in site.prices.items()
                                    if offer == good.id), ""),
                     "quantity": format(site.stock[good.id], "f") if good.id in site.stock else "",
                     "editions": []} for good in shown]
        following = page + 1 if page * size < len(goods) else None
        return {"total": len(goods), "slice": page, "nextslice": following, "products": products}

    # --- the cart webhook ---------------------------------------------------------------------------------

    def connect(self) -> requests.Response:
        """The ``test=test`` Tilda posts when the receiver is saved in Site settings → Forms → Webhook."""
        return requests.post(self.webhook_url, data=urlencode({"test": "test"}),
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=ANSWER_LIMIT)

    def cart(self, lines: list[tuple[str, Decimal]], *, promocode: str | None = None) -> dict[str, Any]:
        """A cart of ``(good id, quantity)`` from the store's goods, as Tilda sends it."""
        site = self.site
        products: list[dict[str, Any]] = []
        subtotal = Decimal(0)
        for good_id, quantity in lines:
            good = site.goods.get(good_id)
            if good is None:
                raise ActionRefused(f"the store has no good {good_id!r}; it has {', '.join(sorted(site.goods))}", 404)
            price = next((amount for (offer, _), amount in site.prices.items() if offer == good_id), Decimal(100))
            products.append({"name": good.name, "quantity": quantity, "price": price, "amount": quantity * price,
                             "externalid": good.id, "sku": good.article or "",
                             "options": [{"option": "Размер", "variant": "M"}]})
            subtotal += quantity * price
        discount = (subtotal / 10).quantize(Decimal("0.01")) if promocode else Decimal(0)
        self._orders += 1
        payment: dict[str, Any] = {"orderid": str(self._orders), "products": products, "subtotal": subtotal,
                                   "amount": subtotal - discount, "sys": "tinkoff",
                                   "systranid": str(4_400_000_000 + self._orders % 10**6),
                                   "delivery": "Самовывоз", "delivery_price": 0}
        if promocode:
            payment.update(promocode=promocode, discountvalue="10%", discount=discount)
        return {"Name": "Анна Смирнова", "Phone": "+7 (916) 555-01-01", "Email": "anna@example.ru",
                "payment": payment, "formid": "form1000001", "formname": "Cart",
                "tranid": f"{PROJECT}:{self._orders}"}

    def post(self, cart: dict[str, Any], shape: Shape) -> list[Delivery]:
        """Post ``cart`` as Tilda does: up to three tries, ``retry_pause`` apart, until one is answered 200 in
        time; returns this order's tries."""
        body, content_type = encode({**cart, "X-API-Key": self.api_key} if self.api_key else cart, shape)
        order = str(cart["payment"]["orderid"])
        tries = []
        for attempt in range(3):
            if attempt:
                time.sleep(self.retry_pause)
            started = time.monotonic()
            try:
                status: int | None = requests.post(self.webhook_url, data=body, timeout=ANSWER_LIMIT,
                                                   headers={"Content-Type": content_type}).status_code
            except requests.RequestException:
                status = None
            elapsed = time.monotonic() - started
            if self.lose_answers:
                self.lose_answers -= 1
                status = None
            tries.append(Delivery(order, shape, status, elapsed))
            if status == 200:
                break
        self.deliveries.extend(tries)
        return tries

    def place_order(self, shape: Shape = "json", lines: list[tuple[str, Decimal]] | None = None) -> dict[str, Any]:
        """A guest orders the store's first goods (or ``lines``) and Tilda posts the cart in ``shape``."""
        if lines is None:
            lines = [(good, Decimal(1 + n)) for n, good in enumerate(sorted(self.site.goods)[:2])]
        if not lines:
            raise ActionRefused("the store shows no goods yet: run hub's catalog job to it first")
        cart = self.cart(lines)
        self.post(cart, shape)
        return cart

    # --- the HTTP side ------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == FEED_PATH:
            if request.args.get("storepartuid") != STOREPART:
                return json_response({"status": "error", "message": "Wrong storepartuid"}, 404)
            page = request.args.get("slice", "1")
            size = request.args.get("size", str(self.page_size))
            if not (page.isdigit() and size.isdigit()) or int(page) < 1 or int(size) < 1:
                return json_response({"status": "error", "message": "Wrong slice or size"}, 400)
            return json_response(self.feed(int(page), int(size)))
        if request.path == CONNECTOR_PATH:
            return self.site.handle(request)
        return Response("Not found", 404, content_type="text/plain")

    def actions(self) -> list[Action]:
        return [
            attach_action(self, "http://127.0.0.1:8080/tilda"),
            Action("place-order", "orders", "a guest orders in the store; Tilda posts the cart to hub's webhook",
                   (Param("shape", "form, string (payment as JSON text) or json; json when left out", optional=True),),
                   self._place_order_action),
            Action("connect", "connect", "the integrator saves hub's URL as the webhook: Tilda posts test=test",
                   (), lambda args: {"status": self.connect().status_code}),
        ]

    def _place_order_action(self, args: dict[str, str]) -> dict[str, Any]:
        shape = next((known for known in SHAPES if known == (args.get("shape") or "json")), None)
        if shape is None:
            raise ActionRefused(f"shape {args['shape']!r}: form, string or json", 400)
        cart = self.place_order(shape)
        return {"orderid": cart["payment"]["orderid"], "amount": cart["payment"]["amount"],
                "tries": [d.status for d in self.deliveries if d.order == cart["payment"]["orderid"]]}

    def demo_activity(self) -> list[str]:
        if self.partner_url is None or not self.site.goods:
            return []
        shown = [p for p in self.feed(size=len(self.site.goods))["products"] if p["quantity"] != ""]
        shown.sort(key=lambda p: Decimal(p["quantity"]) <= 0)  # an example in stock first
        said = [f"the storefront feed shows {len(shown)} good(s) with 1C's stock"
                + (f", e.g. {shown[0]['title']}: {shown[0]['quantity']} at {shown[0]['price']} ₽" if shown else "")]
        cart = self.place_order("form")
        return [*said, f"a guest ordered {len(cart['payment']['products'])} good(s) in the Tilda store "
                       f"(order {cart['payment']['orderid']}, {cart['payment']['amount']} ₽), posted form-encoded"]


def encode(cart: dict[str, Any], shape: Shape) -> tuple[bytes, str]:
    """``cart`` as Tilda posts it in ``shape``: the body and its Content-Type."""
    if shape == "json":
        return json_dumps(cart).encode(), "application/json"
    if shape == "string":
        fields = {key: value for key, value in cart.items() if key != "payment"}
        return urlencode({**fields, "payment": json_dumps(cart["payment"])}).encode(), FORM
    return urlencode(list(_flat(cart, ""))).encode(), FORM


def _flat(value: Any, prefix: str) -> list[tuple[str, str]]:
    """``payment[products][0][name]``-style pairs of a nested value."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return [(prefix, "" if value is None else format(value, "f") if isinstance(value, Decimal) else str(value))]
    pairs = []
    for key, item in items:
        pairs += _flat(item, f"{prefix}[{key}]" if prefix else str(key))
    return pairs
