"""The Yandex Eda connector: hub is the partner server Yandex Eda (and Delivery Club) calls.

Yandex works by pull. It takes a token from hub, reads the menu (restaurants) or
the nomenclature (shops), places orders with ``POST /order`` and polls their
status; hub serves all of it from ``hub daemon`` (:meth:`endpoints`). What the
endpoints answer comes from the state DB, where the jobs put it:

* the catalog, prices and stock jobs (1C → this source) push goods, prices per
  venue and balances per venue; :meth:`write_batch` keeps them as channel state
  and the menu endpoints build Yandex's documents from them (:mod:`.menu`);
* ``POST /order`` stores the raw body in the inbox before it answers, and the
  orders job (this source → 1C) takes it on to 1C like any channel's order;
* an order's status lives in channel state: 1C's status flows back through
  :meth:`set_status`, Yandex's own (``PUT …/status``, ``DELETE``) is merged in
  and sent to 1C as a new version of the order. It never moves backwards.

The orderId hub gives Yandex is the eatsId itself: stable, unique at Yandex, and
known before 1C has the document, so a repeated ``POST /order`` gets the same id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from connectors.yandex_eda.menu import (
    Catalog,
    Venue,
    restaurant_availability,
    restaurant_composition,
    restaurant_promos,
    restaurants,
    retail_availability,
    retail_composition,
    retail_prices,
)
from connectors.yandex_eda.orders import (
    MEDIA_ORDER,
    STATUS_WORDS,
    WORDS,
    moves_forward,
    parse_cancel,
    parse_order,
    parse_status_update,
)
from connectors.yandex_eda.sandbox import YandexEdaSimulator
from connectors.yandex_eda.vendor import HISTORY_KEPT, VendorClient
from hub.connector import ChannelState, ConnectorContext
from hub.errors import InvalidRecord
from hub.inbound import Endpoint, Handler, Inbound, Secret, Token, Webhook, guarded, id_problem, json_response
from hub.model import Entity, Order, OrderStatus, PriceEntry, Product, RawRecord, Record, StockLevel
from hub.settings import SourceSettings
from hub.streams import BatchWrite, Listed, Push, Statuses, StreamConnector
from hub.values import json_dumps, json_loads, utcnow

EXPIRED = "Access token has been expired. You should request a new one"
"""Yandex's own wording for a 401 (restaurant/error-401.json); Yandex then takes a new token."""
MEDIA_COMPOSITION = "application/vnd.eats.menu.composition.v2+json"
MEDIA_AVAILABILITY = "application/vnd.eats.menu.availability.v2+json"
BATCH = 1000


class Client(BaseModel):
    """A client id and secret Yandex gets tokens with: the pair registered with your Yandex manager."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, description="client_id Yandex sends to /security/oauth/token.")
    client_secret: str = Field(min_length=1, description="Its secret; write it as ${ENV_VAR}.")


class VenueSettings(BaseModel):
    """A venue (restaurant or shop) as Yandex lists it; its id is the key in ``venues:``."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, description="Name Yandex shows.")
    address: str = Field("", description="Address as one line.")


class VendorSettings(BaseModel):
    """Yandex's Vendor Management API: asking Yandex to pull the menu again, reading its order history."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field("https://dc-partner.eda.yandex.net", description="Base URL of the Vendor Management API.")
    client_id: str = Field(min_length=1, description="Its own OAuth client id (not the partner API's).")
    client_secret: str = Field(min_length=1, description="Its secret; write it as ${ENV_VAR}.")
    partner_name: str = Field(min_length=1, description="The Partner-Name header Yandex agreed with you.")
    on_stock_change: bool = Field(False, description=(
        "After a stock push that changed something, ask Yandex to pull each changed venue's menu again."))
    history: bool = Field(False, description=(
        "Read Yandex's order history (POST /v1/orders-history, a paid subscription) when reconciling, and report "
        "the orders Yandex has that 1C lacks: `hub reconcile` and every orders run that is not only taking "
        "what Yandex sent."))


class YandexEdaSettings(SourceSettings):
    """Settings of a yandex_eda source (restaurants or shops on Yandex Eda and Delivery Club)."""

    variant: Literal["restaurant", "retail"] = Field("restaurant", description=(
        "restaurant: /restaurants and /menu/{id}/…; retail (shops): /nomenclature/…."))
    clients: list[Client] = Field(min_length=1, description="Who may take tokens.")
    token_ttl: PositiveInt = Field(3600, description="Seconds a token hub issues stays valid.")
    venues: dict[str, VenueSettings] = Field(min_length=1, description=(
        "The venues Yandex sells, by the id Yandex knows them by (restaurantId / placeId). Which 1C warehouse "
        "and price type feed each one is the stock and prices jobs' options.venues."))
    vendor: VendorSettings | None = Field(None, description="Vendor Management API; off when omitted.")


class OrdersStream(Push["YandexEdaConnector"], Statuses["YandexEdaConnector"], Listed["YandexEdaConnector"]):
    """Orders Yandex posts, changes and cancels at the partner API, and 1C's statuses kept for Yandex to poll."""

    entity = Entity.ORDERS

    def endpoints(self) -> list[Endpoint]:
        return self.connector.order_endpoints()

    def listed(self, *, since: dt.datetime | None, until: dt.datetime) -> Iterable[str] | None:
        """The eatsIds in Yandex's order history (orders not cancelled), when ``vendor.history`` is on."""
        yandex = self.connector
        if yandex.vendor is None or not (yandex.config.vendor and yandex.config.vendor.history):
            return None
        kept_from = utcnow() - HISTORY_KEPT
        return yandex.vendor.orders_history(list(yandex.config.venues), max(since or kept_from, kept_from), until)

    def envelope(self, record: RawRecord) -> None:
        self._latest(record)

    def _latest(self, record: RawRecord) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The order's latest body, checked as Yandex's order (a change of status carries none: the one kept is
        taken), and what hub keeps of the order; reads nothing but the body, the settings and that."""
        yandex = self.connector
        try:
            body = json_loads(record.body)
        except ValueError as exc:
            raise InvalidRecord(f"order {record.external_id}: body is not JSON: {exc}") from None
        kept = yandex.kept_order(record.external_id)
        if isinstance(body, dict) and "items" in body:
            order = parse_order(record.body)
            if order["restaurantId"] not in yandex.config.venues:  # another partner's venue, or one not set up yet
                raise InvalidRecord(f"restaurantId: {order['restaurantId']!r} is not a venue of this source; "
                                    f"hub.yaml lists {sorted(yandex.config.venues)}")
        elif kept is not None:
            order = parse_order(kept["body"].encode())
        else:
            raise InvalidRecord(f"order {record.external_id}: a status change for an order hub never received")
        return order, kept

    def decode(self, record: RawRecord) -> Record:
        """An order as 1C should hold it now: its latest body, at the status merged from both sides."""
        yandex = self.connector
        order, kept = self._latest(record)
        status = kept["status"] if kept else "NEW"
        data = {**order, "channel": yandex.name, "receivedAt": (kept or {}).get("receivedAt", utcnow().isoformat()),
                "hubStatus": STATUS_WORDS[status].value,
                "cancelComment": " ".join(filter(None, [(kept or {}).get("comment"), (kept or {}).get("reason")]))
                or None}
        order = yandex.orders_in.apply(data, links=yandex.context.links)
        if not isinstance(order, Order):
            raise InvalidRecord(f"order {record.external_id} is skipped by {yandex.orders_in.path.name}")
        return order

    def set_status(self, external_id: str, status: OrderStatus) -> None:
        kept = self.connector.kept_order(external_id)
        if kept is not None and moves_forward(kept["status"], WORDS[status]):
            self.connector.state.put_many("order", {external_id: json_dumps({**kept, "status": WORDS[status],
                                                                             "updatedAt": _now()})})


class _Kept(BatchWrite["YandexEdaConnector"]):
    """What the jobs push is kept in the channel's state, for the menu endpoints Yandex pulls."""

    limit = BATCH

    def write_batch(self, records: Sequence[Record]) -> list[str]:
        keyed = {self.key(record): record.model_dump_json() for record in records}
        self.connector.state.put_many(self.entity.value, keyed)
        return list(keyed)

    @abstractmethod
    def key(self, record: Record) -> str:
        """Where ``record`` is kept: one per good, per venue where the entity is per venue."""


class CatalogStream(_Kept):
    entity = Entity.CATALOG

    def key(self, record: Record) -> str:
        assert isinstance(record, Product)
        return record.id


class PricesStream(_Kept):
    entity = Entity.PRICES

    def key(self, record: Record) -> str:
        assert isinstance(record, PriceEntry)
        return record.product if record.venue is None else f"{record.venue}:{record.product}"


class StockStream(_Kept):
    """Stock per venue; a change asks Yandex to pull the menu again when ``vendor.on_stock_change`` is on."""

    entity = Entity.STOCK

    def key(self, record: Record) -> str:
        assert isinstance(record, StockLevel)
        return f"{record.warehouse}:{record.product}"

    def write_batch(self, records: Sequence[Record]) -> list[str]:
        kept = super().write_batch(records)
        shop = self.connector
        if shop.vendor is not None and shop.config.vendor and shop.config.vendor.on_stock_change:
            for venue in sorted({r.warehouse for r in records if isinstance(r, StockLevel)}):
                shop.vendor.initiate_menu_import(venue)
        return kept


class YandexEdaConnector(StreamConnector):
    """Menus, prices and stock served to Yandex Eda; its orders taken into the inbox; statuses both ways."""

    type_name = "yandex_eda"
    settings_model = YandexEdaSettings
    # Yandex takes a card payment as the café's agent and prints the guest's receipt (UNCERTAIN: the fact sheet
    # does not cover it; it is how aggregators fiscalize): a second receipt from hub would count the sale twice.
    prints_own_receipts = True
    streams: ClassVar = (OrdersStream, CatalogStream, StockStream, PricesStream)

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, YandexEdaSettings)
        assert context.state is not None, "the runtime passes every connector its channel state"
        self.config = settings
        self.state: ChannelState = context.state
        self.orders_in = context.mapping("yandex_eda/orders.in.yaml")
        self.menu_item = context.mapping("yandex_eda/menu/catalog.out.yaml")
        self.nomenclature_item = context.mapping("yandex_eda/nomenclature/catalog.out.yaml")
        self.vendor: VendorClient | None = None
        if settings.vendor is not None:
            self.vendor = VendorClient(context.http(settings, settings.vendor.url), settings.vendor.client_id,
                                       settings.vendor.client_secret, settings.vendor.partner_name)

    @classmethod
    def sandbox(cls) -> YandexEdaSimulator:
        return YandexEdaSimulator()

    def check(self) -> str:
        said = (f"partner API for {len(self.config.venues)} {self.config.variant} venue(s), "
                f"{len(self.config.clients)} client(s); Yandex calls hub daemon")
        if self.vendor is not None:
            self.vendor.auth.renew()
            said += "; Vendor Management API answers"
        return said

    # --- what the jobs push: kept for the menu endpoints ---------------------------------------

    def _catalog(self) -> Catalog:
        products = [Product.model_validate_json(p) for _, p in self.state.all(Entity.CATALOG.value)]
        prices: dict[tuple[str | None, str], PriceEntry] = {}
        for _, payload in self.state.all(Entity.PRICES.value):
            price = PriceEntry.model_validate_json(payload)
            prices[(price.venue, price.product)] = price
        stock: dict[tuple[str, str], Decimal] = {}
        for _, payload in self.state.all(Entity.STOCK.value):
            level = StockLevel.model_validate_json(payload)
            stock[(level.warehouse, level.product)] = level.quantity
        return Catalog(products=products, prices=prices, stock=stock)

    # --- orders: decode, and statuses from 1C -----------------------------------------------------

    def kept_order(self, order_id: str) -> dict[str, Any] | None:
        if id_problem(order_id) is not None:  # no order hub kept has such an id, and a database may not take it
            return None
        payload = self.state.get("order", order_id)
        return None if payload is None else dict(json_loads(payload))

    # --- the partner API -------------------------------------------------------------------------

    def order_endpoints(self) -> list[Endpoint]:
        """Yandex's token and order calls (the orders stream's); the menu's are :meth:`endpoints`' own."""
        guarded = self._guarded
        return [
            replace(_endpoint("token", "/security/oauth/token", ("POST",), self._token),
                    credentials=(Secret("body", "client_secret"),)),
            guarded("order", "/order", ("POST",), self._create, entity=Entity.ORDERS),
            guarded("order_get", "/order/<order_id>", ("GET",), self._get_order),
            guarded("order_update", "/order/<order_id>", ("PUT",), self._update, entity=Entity.ORDERS),
            guarded("order_cancel", "/order/<order_id>", ("DELETE",), self._cancel, entity=Entity.ORDERS),
            guarded("status_get", "/order/<order_id>/status", ("GET",), self._get_status),
            guarded("status_put", "/order/<order_id>/status", ("PUT",), self._put_status, entity=Entity.ORDERS),
        ]

    def endpoints(self) -> list[Endpoint]:
        guarded = self._guarded
        menu = [
            guarded("nomenclature", "/nomenclature/composition", ("GET",), self._nomenclature),
            guarded("availability", "/nomenclature/<venue>/availability", ("GET",), self._retail_availability),
            guarded("prices", "/nomenclature/<venue>/prices", ("GET",), self._retail_prices),
        ] if self.config.variant == "retail" else [
            guarded("restaurants", "/restaurants", ("GET",), self._restaurants),
            guarded("composition", "/menu/<venue>/composition", ("GET",), self._composition),
            guarded("availability", "/menu/<venue>/availability", ("GET",), self._availability),
            guarded("promos", "/menu/<venue>/promos", ("GET",), self._promos),
        ]
        return [*super().endpoints(), *menu]

    def _guarded(self, name: str, rule: str, methods: tuple[str, ...], handler: Handler, *,
                 entity: Entity | None = None) -> Endpoint:
        """An endpoint behind an access token hub issued: 401 ``{reason}`` as Yandex expects, nothing stored."""
        token = Token(self._live, _unauthorized)
        return replace(_endpoint(name, rule, methods, guarded(handler, token), entity=entity), authenticate=token)

    # tokens

    def _token(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        """``POST /security/oauth/token``: OAuth 2.0 client_credentials, form-encoded; an opaque expiring token."""
        if request.mimetype != "application/x-www-form-urlencoded":
            return _errors(400, f"expected application/x-www-form-urlencoded, got {request.mimetype or 'none'!r}")
        form: MultiDict[str, str] = request.form
        missing = [name for name in ("client_id", "client_secret", "grant_type") if not form.get(name)]
        if missing:
            return _errors(400, f"missing {', '.join(missing)}")
        if form["grant_type"] != "client_credentials":
            return _errors(400, f"grant_type: expected client_credentials, got {form['grant_type']!r}")
        # As bytes: a credential with characters beyond ASCII is just wrong, not a crash of compare_digest.
        if not any(hmac.compare_digest(c.client_id.encode(), form["client_id"].encode()) and
                   hmac.compare_digest(c.client_secret.encode(), form["client_secret"].encode())
                   for c in self.config.clients):
            return json_response({"reason": "unknown client_id or wrong client_secret"}, 401)
        token = secrets.token_urlsafe(32)
        now = utcnow()
        expired = [key for key, payload in self.state.all("token")
                   if dt.datetime.fromisoformat(json_loads(payload)["expires_at"]) <= now]
        self.state.delete("token", expired)
        expires = now + dt.timedelta(seconds=self.config.token_ttl)
        self.state.put_many("token", {_digest(token): json_dumps({"client_id": form["client_id"],
                                                                  "expires_at": expires.isoformat()})})
        return json_response({"access_token": token, "token_type": "bearer", "expires_in": self.config.token_ttl})

    def _live(self, token: str) -> str | None:
        """Why ``token`` is no access token hub issued and that still holds, or None."""
        kept = self.state.get("token", _digest(token))
        if kept is None:
            return "unknown access token"
        if dt.datetime.fromisoformat(json_loads(kept)["expires_at"]) <= utcnow():
            return EXPIRED
        return None

    # menu

    def _venue(self, venue: str) -> Response | None:
        if venue not in self.config.venues:
            return _errors(404, f"unknown restaurant or place {venue!r}; hub.yaml lists {sorted(self.config.venues)}")
        return None

    def _restaurants(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        return json_response(restaurants([Venue(id=v, title=s.title, address=s.address)
                                          for v, s in self.config.venues.items()]))

    def _composition(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        unknown = self._venue(args["venue"])
        if unknown is not None:
            return unknown
        document = restaurant_composition(self._catalog(), args["venue"], self.menu_item, last_change=utcnow())
        return _vendor_json(document, MEDIA_COMPOSITION)

    def _availability(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        unknown = self._venue(args["venue"])
        return unknown or _vendor_json(restaurant_availability(self._catalog(), args["venue"]), MEDIA_AVAILABILITY)

    def _promos(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        return self._venue(args["venue"]) or json_response(restaurant_promos())

    def _nomenclature(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        return json_response(retail_composition(self._catalog(), self.nomenclature_item))

    def _retail_availability(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        return self._venue(args["venue"]) or json_response(retail_availability(self._catalog(), args["venue"]))

    def _retail_prices(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        return self._venue(args["venue"]) or json_response(retail_prices(self._catalog(), args["venue"],
                                                                               self.nomenclature_item))

    # orders

    def _store(self, request: Request, inbound: Inbound, order_id: str, kept: dict[str, Any]) -> Response | None:
        """Put the request body in the inbox as a new version of order ``order_id`` (checked against the mapping),
        and ``kept``, the order as hub answers for it from now on, in the same transaction."""
        raw = _WEBHOOK.record(request, order_id)
        problem = inbound.validate(Entity.ORDERS, raw)
        if problem is not None:
            return _errors(400, problem)
        inbound.receive(Entity.ORDERS, raw, keep={"order": {order_id: json_dumps(kept)}})
        return None

    def _create(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        """``POST /order``: kept, checked, answered at once; 1C gets it through the orders job."""
        order = _WEBHOOK.read(request, inbound, parse_order)
        if isinstance(order, Response):
            return order
        order_id = str(order["eatsId"])
        kept = self.kept_order(order_id)
        if kept is None:  # a repeat of the same eatsId keeps the order as first received
            kept = {"eatsId": order_id, "status": "NEW", "comment": "", "reason": None, "attributes": [],
                    "receivedAt": utcnow().isoformat(), "updatedAt": _now(),
                    "body": request.get_data().decode()}
        return self._store(request, inbound, order_id, kept) or json_response({"result": "OK", "orderId": order_id})

    def _get_order(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        kept = self.kept_order(args["order_id"])
        if kept is None:
            return _not_found(args["order_id"])
        return Response(kept["body"], content_type=MEDIA_ORDER)

    def _update(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        """``PUT /order/{id}``: the whole order again, changed (agreed with Yandex for restaurants)."""
        kept = self.kept_order(args["order_id"])
        if kept is None:
            return self._unknown(request, inbound, args["order_id"])
        order = _WEBHOOK.read(request, inbound, parse_order)
        if isinstance(order, Response):
            return order
        if order["eatsId"] != kept["eatsId"]:
            return _errors(400, f"eatsId {order['eatsId']!r} is not the eatsId of order {args['order_id']!r}")
        changed = {**kept, "body": request.get_data().decode(), "updatedAt": _now()}
        return self._store(request, inbound, args["order_id"], changed) or json_response({"result": "OK"})

    def _cancel(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        """``DELETE /order/{id}``: Yandex cancels; the reason comes only as free text."""
        kept = self.kept_order(args["order_id"])
        if kept is None:
            return self._unknown(request, inbound, args["order_id"])
        cancel = _WEBHOOK.read(request, inbound, parse_cancel)
        if isinstance(cancel, Response):
            return cancel
        if cancel.eats_id != kept["eatsId"]:
            return _errors(400, f"eatsId {cancel.eats_id!r} is not the eatsId of order {args['order_id']!r}")
        return self._change_status(request, inbound, args["order_id"], kept, "CANCELLED",
                                   comment=cancel.comment, reason=None, attributes=[]) or json_response({})

    def _get_status(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        kept = self.kept_order(args["order_id"])
        if kept is None:
            return _not_found(args["order_id"])
        answer = {"status": kept["status"], "comment": kept.get("comment") or "", "updatedAt": kept["updatedAt"]}
        if self.config.variant == "retail":
            # A shop's status answer carries the bags it was packed in (retail/order-status-get-response.json).
            # Neither 1C nor the order says how many: one, the fewest a packed order takes.
            answer["packagesCount"] = 1
            if kept.get("reason"):
                answer["reason"] = kept["reason"]
        return json_response(answer)

    def _put_status(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        """``PUT /order/{id}/status``: Yandex's courier took it, delivered it, or it was cancelled: 204."""
        kept = self.kept_order(args["order_id"])
        if kept is None:
            return self._unknown(request, inbound, args["order_id"])
        update = _WEBHOOK.read(request, inbound, parse_status_update)
        if isinstance(update, Response):
            return update
        return self._change_status(request, inbound, args["order_id"], kept, update.status, comment=update.comment,
                                   reason=update.reason, attributes=update.attributes) or Response(status=204)

    def _unknown(self, request: Request, inbound: Inbound, order_id: str) -> Response:
        """404 for a change to an order hub never received; what Yandex sent is kept, for whoever looks into it."""
        return _WEBHOOK.refuse(request, inbound, 404, f"no order {order_id!r}", external_id=order_id)

    def _change_status(self, request: Request, inbound: Inbound, order_id: str, kept: dict[str, Any], status: str,
                       *, comment: str | None, reason: str | None, attributes: list[str]) -> Response | None:
        if not moves_forward(kept["status"], status):
            return None  # an echo of what hub said, or news older than what hub has: acknowledged, nothing changes
        changed = {**kept, "status": status, "comment": comment or kept.get("comment") or "", "reason": reason,
                   "attributes": attributes, "updatedAt": _now()}
        return self._store(request, inbound, order_id, changed)


def _endpoint(name: str, rule: str, methods: tuple[str, ...], handler: Handler,
              entity: Entity | None = None) -> Endpoint:
    """An endpoint whose refusals (a body too large) are worded as Yandex expects."""
    return Endpoint(name, rule, methods, handler, entity=entity, refuse=_errors)


def _unauthorized(reason: str) -> Response:
    return json_response({"reason": reason}, 401)


def _digest(token: str) -> str:
    # Only a hash is kept: a leaked state DB must not hand out live tokens.
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    """Yandex's updatedAt: RFC 3339 with microseconds, always (``Y-m-d\\TH:i:s.uP``)."""
    return utcnow().isoformat(timespec="microseconds")


def _json_media(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _errors(status: int, description: str) -> Response:
    """Yandex's error body: a list of ``{code, description}``."""
    return json_response([{"code": status, "description": description}], status)


_WEBHOOK = Webhook(Entity.ORDERS, _errors, media=_json_media, expected=f"a JSON media type ({MEDIA_ORDER})")


def _not_found(order_id: str) -> Response:
    return _errors(404, f"no order {order_id!r}")


def _vendor_json(document: Any, media_type: str) -> Response:
    return Response(json_dumps(document), content_type=media_type)

