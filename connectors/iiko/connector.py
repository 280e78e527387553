"""The iiko connector: a café's POS (iikoCloud) joined to 1C.

Flows, each driven by an ordinary hub job:

* **orders, iiko → 1C** (``orders`` job, ``from: <iiko source>``): closed sales
  only, for the books. Deliveries are read by revision; the first run reads
  ``first_read_days`` back by date, and so does a run whose revision is older
  than the 3 hours iiko looks back. Hall (table) orders have no revision read in
  iikoCloud: they are read by table and date, from the last read less an
  overlap, repeats being dropped by the inbox. Both positions travel in the
  job's cursor (JSON: ``revision``, ``deliveries_at``, ``tables_at``), which the
  engine saves with each page. Each order goes through
  :func:`~connectors.iiko.orders.decode_order` (sizes, half-and-half pizzas,
  grams to kilograms, exact Decimal money) and then the mapping
  ``iiko/orders.in.yaml``, where integrators choose the fields. A line whose
  good is not linked to 1C sends the order to dead letters when it is written.
* **webhooks, iiko → hub** (``POST <inbound.path>/webhook`` in ``hub daemon``
  when ``webhook_token`` is set): the ``Authorization`` token is checked (401,
  nothing kept, when wrong); a closed order an event carries goes into the inbox
  before the answer and the worker takes it to 1C at once; an open order is
  kept in channel state as a hint, re-read by id on each run until it closes; a
  stop-list change marks the terminal group, whose stop list the next stock push
  compares against; a menu change has the menu read again on next use.
* **goods, 1C → iiko** (``catalog`` job, ``to: <iiko source>``): iikoCloud's menu
  cannot be written, so this job *links* instead: each 1C good is matched to the
  iiko product (and size) named by the mapping ``iiko/catalog.out.yaml``
  (article = iiko code by default). The links are what orders, stock and prices
  use; a good iiko does not sell is linked to ``unmatched:<1C ref>`` and ignored.
* **stock, 1C → iiko stop lists** (``stock`` job with ``options.venues``: a venue
  of ``terminal_groups`` → a 1C warehouse): a good at zero or below is put in the
  venue's terminal groups' stop lists, a good back in stock is taken out, only
  where iiko's stop list differs. hub takes out only what it put in: a dish a
  cook stopped at the POS stays stopped. The catalog mapping's ``stop_list``
  overrides 1C's balance per good: ``never`` (dishes made to order) or ``always``.
* **prices** (``prices`` job, ``to: <iiko source>``): iikoCloud has no price write;
  the job compares the menu's prices with 1C's and reports what differs as
  discrepancies.
* **customers** (``customers`` job, ``to: <iiko source>``): every 1C counterparty
  with a phone becomes a loyalty guest, found by phone first; ``hub customers
  show`` lists the guest's wallet balances.
* **sales books** (``hub reconcile``, with ``office`` set): each complete day's
  sales in iikoServer's SALES report against 1C's orders from iiko that day.
  A session takes an iikoServer licence seat; hub always logs out.
* **orders of other channels, to the kitchen** (an orders job with the iiko
  source among its ``to:``, and ``kitchen`` set): each order is sent to that
  terminal group as a delivery with a fixed id, so a repeat is refused as a
  duplicate and found; iiko's command is followed to the POS. A line's
  modifiers go as iiko modifiers when their goods are iiko products (in their
  group, where iiko's menu has one), else as the line's comment for the cook.
  Read back from iiko, these deliveries are skipped: they reach 1C from their
  own channel.

Settings (``sources.<name>`` in hub.yaml, see :class:`IikoSettings`)::

    iiko:
      type: iiko
      api_login: ${IIKO_API_LOGIN}            # or api_key + app_id + client_secret (the v2 scheme)
      organization_id: 7bc05553-4b68-44e8-b7bc-37be63c6d9e9
      terminal_groups: {hall: <terminal group id>, delivery: [<id>, <id>]}   # venue → terminal group(s)
      webhook_token: ${IIKO_WEBHOOK_TOKEN}    # the authToken set in iiko's webhook settings
      webhook_url: https://hub.example.ru/iiko/webhook   # where iiko must send them: hub check looks
      order_kinds: [delivery, table]
      kitchen: <terminal group id>            # cooks the orders of other channels (optional)
      office:                                 # the café's iikoServer, for reconcile's sales books (optional)
        url: https://my-cafe.iiko.it/resto/api/
        login: hub
        password: ${IIKO_OFFICE_PASSWORD}
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
from werkzeug.wrappers import Request, Response

from connectors.iiko._wire import compact
from connectors.iiko.client import (
    DEFAULT_URL,
    ApiLogin,
    AppCredentials,
    Credentials,
    IikoClient,
    Menu,
    StopListItem,
)
from connectors.iiko.orders import GRAM_UNITS, OrderKind, decode_order, is_closed, order_kind, product_key
from connectors.iiko.sandbox import IikoSandbox
from connectors.iiko.server import IikoServerClient
from connectors.iiko.webhooks import Reread, WebhookEvent, parse_events, webhook_token
from hub.connector import ChannelState, ConnectorContext, Page, WriteResult
from hub.errors import ConfigError, InvalidRecord, ProtocolError, RequestRejected
from hub.inbound import Endpoint, Inbound, Webhook, guarded, id_problem, json_response
from hub.logs import pii
from hub.model import (
    Customer,
    DeliveryType,
    Entity,
    Order,
    OrderLine,
    PriceEntry,
    Product,
    RawRecord,
    Record,
    StockLevel,
)
from hub.settings import SourceSettings
from hub.streams import BatchWrite, ChangedOutside, CustomerDetails, DailySales, Pull, Push, StreamConnector, Write
from hub.values import json_dumps, json_loads, to_decimal, utcnow

REVISION_REACH: Final = dt.timedelta(hours=3)
"""How far back ``/deliveries/by_revision`` looks; an older cursor is read by date instead."""
TABLE_OVERLAP: Final = dt.timedelta(hours=12)
"""Hall orders are re-read this far before the last read: a table opened before it may close after it."""
HINT_LIFETIME: Final = dt.timedelta(days=7)
"""iiko keeps orders readable for 7 days; a re-read hint older than that is dropped."""
MENU_TTL: Final = 60.0
"""Seconds a read menu is trusted before iiko is asked again (one call when nothing changed)."""
UNMATCHED: Final = "unmatched:"
"""Prefix of the link of a 1C good iiko does not sell: orders never name it, stock and prices skip it."""
PRICE_TYPE: Final = "iiko"
"""The price type of the menu prices read for reconciliation."""
BATCH: Final = 500
"""Goods matched, or stock levels compared, per call: one stop-list read serves a batch."""

# channel state kinds
_HINT, _STOPPED, _UNMATCHED, _POLICY, _GOOD = "reread", "stopped", "unmatched", "stop_list", "good"
POLICY_TTL = 30.0
"""Seconds the goods' stop-list policies are kept in memory before the channel state is read again."""
STOP_POLICIES: Final = ("auto", "never", "always")
"""What the catalog mapping's ``stop_list`` may say of a good: follow 1C's stock, never stop it (dishes made to
order, whose 1C balance is always zero), or keep it stopped."""


class OfficeSettings(BaseModel):
    """The café's iikoServer (the on-premise back office), read for its sales books."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="The resto API's base URL: https://<name>.iiko.it/resto/api/")
    login: str = Field(min_length=1, description="An iikoOffice user with report rights. Each session hub opens "
                                                 "takes an API licence seat until hub logs out, which it always does.")
    password: str = Field(min_length=1, description="That user's password; write it as ${ENV_VAR}.")
    department_id: str | None = Field(None, description=(
        "The department (Department.Id) whose sales are compared, when the server keeps several. Every terminal "
        "group of it must be in terminal_groups: the report counts all of its sales."))


class IikoSettings(SourceSettings):
    """Settings of an iiko source (iikoCloud, and optionally the café's iikoServer)."""

    url: str = Field(DEFAULT_URL, description="iikoCloud's base URL (https://api-eu.syrve.live for Syrve).")
    api_login: str | None = Field(None, description=(
        "The API login from iikoWeb (the deprecated v1 scheme); write it as ${ENV_VAR}. Or give api_key, "
        "app_id and client_secret."))
    api_key: str | None = Field(None, description="v2 scheme: the API key from iikoWeb; write it as ${ENV_VAR}.")
    app_id: str | None = Field(None, description="v2 scheme: the application id from iiko's developer portal.")
    client_secret: str | None = Field(None, description="v2 scheme: the application's secret; write it as ${ENV_VAR}.")
    organization_id: str = Field(min_length=1, description="The iiko organization (restaurant) hub serves.")
    terminal_groups: dict[str, str | list[str]] = Field(min_length=1, description=(
        "Venue id → the iiko terminal group(s) it stands for. Stop lists are kept per terminal group; the stock "
        "job's options.venues maps the same venue ids to 1C warehouses."))
    webhook_token: str | None = Field(None, description=(
        "The authToken in iiko's webhook settings; write it as ${ENV_VAR}. When set, hub daemon serves "
        "POST <inbound.path>/webhook for iiko's events."))
    webhook_url: str | None = Field(None, description=(
        "The public URL of that endpoint, as iiko must call it (https://…/webhook). When set, hub check "
        "asks iiko where its webhooks go and says so when it is anywhere else."))
    office: OfficeSettings | None = Field(None, description=(
        "The café's iikoServer: with it, hub reconcile holds each day's sales in iiko's own SALES report against "
        "1C's orders from iiko. The report counts every sale, so order_kinds must take both kinds and no kitchen "
        "may be set (the kitchen's orders reach 1C as their own channel's)."))
    order_kinds: list[Literal["delivery", "table"]] = Field(["delivery", "table"], min_length=1, description=(
        "Which closed orders go to 1C: delivery (deliveries and pickups) and table (hall orders)."))
    first_read_days: PositiveInt = Field(1, le=7, description=(
        "How many days back the first run reads closed orders (iiko keeps 7)."))
    kitchen: str | None = Field(None, description=(
        "The terminal group that cooks orders from other channels: with it, iiko can be a target of orders "
        "jobs (from: yandex, to: [onec, iiko]) and each order is sent there as a delivery."))
    segment_categories: dict[str, str] = Field(default_factory=dict, description=(
        "hub's guest segment → the id of an iiko loyalty guest category (iikoWeb: guest categories): the segments "
        "job (to: iiko) puts each guest in the categories of their segments and takes them out of the others."))

    @model_validator(mode="after")
    def _one_scheme(self) -> IikoSettings:
        v2 = (self.api_key, self.app_id, self.client_secret)
        if (self.api_login is None) == (not any(v2)) or (any(v2) and not all(v2)):
            raise ValueError("give api_login, or api_key with app_id and client_secret (not both)")
        return self

    @model_validator(mode="after")
    def _books_count_every_sale(self) -> IikoSettings:
        if self.office is not None and set(self.order_kinds) != {"delivery", "table"}:
            raise ValueError("office: iikoServer's sales report counts every sale, so order_kinds must be "
                             "[delivery, table]; leave office out to take only some")
        if self.office is not None and self.kitchen is not None:
            raise ValueError("office: iikoServer's sales report counts the kitchen's orders too, which reach 1C "
                             "as their own channel's; leave office or kitchen out")
        return self

    def credentials(self) -> Credentials:
        if self.api_login is not None:
            return ApiLogin(self.api_login)
        return AppCredentials(str(self.api_key), str(self.app_id), str(self.client_secret))

    def groups(self, venue: str) -> list[str]:
        """The terminal groups of ``venue``; none for a venue hub.yaml does not list."""
        found = self.terminal_groups.get(venue, [])
        return [found] if isinstance(found, str) else list(found)


@dataclass(frozen=True)
class _MenuIndex:
    """The menu as hub matches against it: product keys (``id`` or ``id:size``) by iiko code, units by id."""

    revision: int
    by_code: dict[str, list[tuple[str, str | None, str]]]
    """iiko code → (product id, size id or None, size name) for every size of the product."""
    units: dict[str, str]
    """Product id → measure unit."""
    keys: dict[str, Decimal | None]
    """Every product key → its price (None where the size is not on sale)."""
    weighed_in_grams: frozenset[str]
    modifier_groups: dict[str, dict[str, str]]
    """Product id → {modifier id → the id of its group} for the group modifiers the product takes."""


@dataclass(frozen=True)
class _Cursor:
    """Where the orders read stands, kept by the engine with each page: iiko's delivery revision and when the
    deliveries and the hall orders were last read (a revision is good for 3 hours; tables have none)."""

    revision: int | None = None
    deliveries_at: dt.datetime | None = None
    tables_at: dt.datetime | None = None

    @classmethod
    def parse(cls, cursor: str | None) -> _Cursor:
        if not cursor:
            return cls()
        data = json_loads(cursor)
        if not isinstance(data, dict):  # a bare revision: when it was taken is unknown, so it is not trusted
            return cls()
        return cls(revision=data.get("revision"), deliveries_at=_moment(data.get("deliveries_at")),
                   tables_at=_moment(data.get("tables_at")))

    def dump(self) -> str:
        return json_dumps({"revision": self.revision, "deliveries_at": self.deliveries_at,
                           "tables_at": self.tables_at})


class OrdersStream(Pull["IikoConnector"], Push["IikoConnector"], Write["IikoConnector"], DailySales["IikoConnector"]):
    """Closed sales read after iiko's revision and pushed by its webhook; other channels' orders to the kitchen."""

    entity = Entity.ORDERS

    def read(self, *, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        return self.connector._read_orders(cursor, since)

    def decode(self, record: RawRecord) -> Record:
        data = _object(record, self.entity)
        try:
            return self.connector._order(data)
        except (ValueError, ArithmeticError) as exc:  # a sum too large for money ("1e400") is iiko's bad data
            raise InvalidRecord(f"iiko {self.entity.value} {record.external_id}: {exc}") from None

    def envelope(self, record: RawRecord) -> None:
        """An order an event carried: a JSON object, its id the event's (the webhook read the events as iiko's)."""
        _object(record, self.entity)

    def endpoints(self) -> list[Endpoint]:
        return self.connector._webhook_endpoints()

    def find(self, key: str) -> str | None:
        """The delivery hub sent to the kitchen for order ``key``."""
        return self.find_many([key]).get(key)

    def find_many(self, keys: Sequence[str]) -> dict[str, str]:
        """The deliveries hub sent for orders ``keys``, read by their ids in as few calls as iiko takes."""
        iiko = self.connector
        ids = {_delivery_id(key): key for key in keys}
        found = iiko.client.deliveries_by_id(iiko.organization, list(ids)) if ids else []
        return {ids[str(delivery["id"])]: str(delivery["id"]) for delivery in found if str(delivery["id"]) in ids}

    def write(self, record: Record, *, key: str, ref: str | None) -> WriteResult:
        """Send another channel's order to the kitchen as a delivery."""
        assert isinstance(record, Order)
        return self.connector._cook(record, key, ref)

    def daily_sales(self, first: dt.date, last: dt.date) -> Mapping[dt.date, Decimal] | None:
        """Sales after discounts per open day, from iikoServer's SALES report (deleted and storned ones left out)."""
        iiko = self.connector
        settings = iiko.config.office
        if iiko.office is None or settings is None:
            return None
        with iiko.office.session() as office:  # a licence seat, given back however this ends
            rows = office.sales(first, last + dt.timedelta(days=1), group_by=["OpenDate.Typed"],
                                aggregates=["DishDiscountSumInt"], department_id=settings.department_id)
        days: defaultdict[dt.date, Decimal] = defaultdict(Decimal)
        for row in rows:
            try:
                day = dt.date.fromisoformat(str(row["OpenDate.Typed"])[:10])
            except (KeyError, ValueError):
                raise ProtocolError(f"iikoServer's SALES report has a row without an open date: {row}") from None
            days[day] += to_decimal(row.get("DishDiscountSumInt") or 0)
        return days


class CatalogStream(BatchWrite["IikoConnector"]):
    """1C's goods matched to iiko's menu (iiko takes no goods from outside): links, stop policies, the way back."""

    entity = Entity.CATALOG
    limit = BATCH

    def write_batch(self, records: Sequence[Record]) -> list[str]:
        iiko = self.connector
        products = [record for record in records if isinstance(record, Product)]
        placed = [iiko.placement(product) for product in products]
        keys = [key or f"{UNMATCHED}{product.id}" for (key, _), product in zip(placed, products, strict=True)]
        # Kept so that reconciliation sees them as what they are: goods iiko holds nothing of.
        iiko.state.put_many(_UNMATCHED, {key: "" for key in keys if key.startswith(UNMATCHED)})
        # The way back, 1C good → iiko product, for orders from other channels that the kitchen cooks.
        iiko.state.put_many(_GOOD, {product.id: key for key, product in zip(keys, products, strict=True)})
        policies = {key: policy for key, (_, policy) in zip(keys, placed, strict=True)}
        iiko.state.put_many(_POLICY, {key: policy for key, policy in policies.items() if policy != "auto"})
        iiko.state.delete(_POLICY, [key for key, policy in policies.items() if policy == "auto"])
        iiko._policy_cache = None
        return keys

    def as_written(self, record: Record) -> Record:
        assert isinstance(record, Product)
        # The match depends on iiko's menu too: a code added there later changes this, and the good is linked;
        # a changed stop_list in the mapping makes the good go out again, so its policy is kept anew.
        key, policy = self.connector.placement(record)
        return record.model_copy(update={"attributes": {**record.attributes, "iiko": key, "iiko_stop_policy": policy}})


class StockStream(Pull["IikoConnector"], BatchWrite["IikoConnector"], ChangedOutside["IikoConnector"]):
    """1C's stock as iiko's stop lists; the stop lists read back for reconciliation."""

    entity = Entity.STOCK
    limit = BATCH

    def read(self, *, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        yield Page(self.connector._stop_list_records(), cursor=None)

    def decode(self, record: RawRecord) -> Record:
        data = _object(record, self.entity)
        return StockLevel(product=str(data["product"]), warehouse=str(data["venue"]),
                          quantity=Decimal(0) if data["stopped"] else Decimal(1), as_of=utcnow())

    def write_batch(self, records: Sequence[Record]) -> list[str]:
        levels = [r for r in records if isinstance(r, StockLevel)]
        self.connector._stop(levels)
        return [f"{level.warehouse}:{level.product}" for level in levels]

    def as_written(self, record: Record) -> Record:
        assert isinstance(record, StockLevel)
        # A stop list knows stopped or not, never how many are left; of a good it does not sell, nothing.
        held = not self.connector._stopped(record) and not record.product.startswith(UNMATCHED)
        return record.model_copy(update={"quantity": Decimal(1) if held else Decimal(0)})

    def changed_outside(self) -> bool:
        """A stop list changed at the POS since the last push (a webhook said so): compare every good again."""
        return any(key.startswith("stop_list:") for key, _ in self.connector.state.all(_HINT))


class PricesStream(Pull["IikoConnector"]):
    """iiko's own prices (it takes none from outside), read for reconciliation."""

    entity = Entity.PRICES

    def read(self, *, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        yield Page(self.connector._price_records(), cursor=None)

    def decode(self, record: RawRecord) -> Record:
        data = _object(record, self.entity)
        return PriceEntry(product=str(data["product"]), price_type=PRICE_TYPE, amount=data["price"])


class CustomersStream(Write["IikoConnector"], CustomerDetails["IikoConnector"]):
    """iiko's loyalty guests, found by phone."""

    entity = Entity.CUSTOMERS

    def find(self, key: str) -> str | None:
        phone = key.removeprefix("phone:")
        if not phone.startswith("+"):
            return None  # iiko finds guests by phone (or card); an email or a channel id finds nobody
        guest = self.connector.client.customer_by_phone(self.connector.organization, phone)
        return guest.id if guest is not None and not guest.deleted else None

    def write(self, record: Record, *, key: str, ref: str | None) -> WriteResult:
        """Create (``ref`` None) or update guest ``ref`` from a canonical customer."""
        assert isinstance(record, Customer)
        if ref is None and not record.phones:
            raise InvalidRecord("an iiko loyalty guest needs a phone")
        fields = {"id": ref, "phone": record.phones[0] if record.phones else None, "name": record.first_name,
                  "surName": record.last_name, "middleName": record.middle_name,
                  "email": record.emails[0] if record.emails else None,
                  "birthday": f"{record.birthday.isoformat()} 00:00:00.000" if record.birthday else None}
        iiko = self.connector
        guest_id = iiko.client.create_or_update_customer(iiko.organization, fields)
        iiko.context.log.info("iiko loyalty guest %s %s", pii(fields["phone"]), "updated" if ref else "created")
        segments = record.attributes.get("segments")
        if segments is not None:  # the segments job's write: the guest's categories follow their segments
            now_in = set(str(segments).split(", "))
            for segment, category in iiko.config.segment_categories.items():
                iiko.client.guest_category(iiko.organization, guest_id, category, member=segment in now_in)
        return WriteResult(ref=guest_id, action="updated" if ref else "created")

    def about(self, external_id: str) -> Mapping[str, str]:
        """The balance of each of the guest's loyalty wallets (bonuses, deposits, certificates)."""
        iiko = self.connector
        guest = iiko.client.customer_by_id(iiko.organization, external_id)
        if guest is None or guest.deleted:
            return {}
        return {f"wallet «{wallet.name}»": f"{wallet.balance}" for wallet in guest.wallets}


class IikoConnector(StreamConnector):
    """Closed iiko sales to 1C, 1C's stock to iiko's stop lists, iiko's webhooks, prices and loyalty guests."""

    type_name = "iiko"
    settings_model = IikoSettings
    streams: ClassVar = (OrdersStream, CatalogStream, StockStream, PricesStream, CustomersStream)

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, IikoSettings)
        assert context.state is not None, "the runtime passes every connector its channel state"
        self.config = settings
        self.state: ChannelState = context.state
        self.organization = settings.organization_id
        self.client = IikoClient(context.http(settings, settings.url), settings.credentials(),
                                 timezone=context.timezone)
        self.office = None if settings.office is None else IikoServerClient(
            context.http(settings, settings.office.url.rstrip("/") + "/"), login=settings.office.login,
            password=settings.office.password, timezone=context.timezone)
        self.orders_in = context.mapping("iiko/orders.in.yaml")
        self.catalog_out = context.mapping("iiko/catalog.out.yaml")
        self._policy_cache: tuple[float, dict[str, str]] | None = None
        self._menu: _MenuIndex | None = None
        self._menu_read_at = 0.0
        self._menu_lock = threading.Lock()  # the daemon's webhook threads and its worker share the connector

    @classmethod
    def sandbox(cls) -> IikoSandbox:
        return IikoSandbox()

    def check(self) -> str:
        # One call beyond the token: the terminal groups prove the organization is visible and name the venues'.
        groups = {g.id for g in self.client.terminal_groups([self.organization])}
        unknown = sorted(set(self._all_groups()) - groups)
        if unknown:
            raise RequestRejected(f"iiko has no terminal group(s) {', '.join(unknown)} in organization "
                                  f"{self.organization}", hint="copy the terminal group ids from iikoWeb into "
                                                               "terminal_groups")
        said = f"iiko organization {self.organization}: {len(groups)} terminal group(s), hub.yaml's among them"
        wanted = self.config.webhook_url
        if wanted:
            going = self.client.webhook_uri(self.organization)
            if (going or "").rstrip("/") != wanted.rstrip("/"):
                raise RequestRejected(
                    f"iiko sends the organization's webhooks to {going or 'nowhere'}, not to {wanted}",
                    hint="in iikoWeb, set the API login's webhook URL to webhook_url and its token to "
                         "webhook_token's value")
            said += f"; its webhooks come to {wanted}"
        if self.office is not None:
            with self.office.session():
                said += "; iikoServer logged in and out"
        return said

    def close(self) -> None:
        self.client.http.close()
        if self.office is not None:
            self.office.http.close()

    # --- orders: read ----------------------------------------------------------------------------

    def _read_orders(self, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        now = utcnow()
        kept = _Cursor.parse(cursor)
        first = since or now - dt.timedelta(days=self.config.first_read_days)
        if "delivery" in self.config.order_kinds:
            if kept.revision is not None and kept.deliveries_at is not None \
                    and now - kept.deliveries_at <= REVISION_REACH:
                page = self.client.deliveries_by_revision([self.organization], kept.revision)
            else:
                # First run, or a revision iiko no longer reaches back to: by date, with an hour for orders
                # closed while the last read was on its way.
                start = kept.deliveries_at - dt.timedelta(hours=1) if kept.deliveries_at else first
                page = self.client.deliveries_by_date_and_status([self.organization], start, statuses=["Closed"])
            kept = replace(kept, revision=max(page.max_revision, kept.revision or 0), deliveries_at=now)
            yield Page(self._closed(page.orders), cursor=kept.dump())
        if "table" in self.config.order_kinds:
            start = kept.tables_at - TABLE_OVERLAP if kept.tables_at else first
            tables = [t.id for t in self.client.tables(self._all_groups()) if not t.deleted]
            orders = self.client.table_orders_by_table([self.organization], tables, statuses=["Closed"],
                                                       date_from=start) if tables else []
            kept = replace(kept, tables_at=now)
            yield Page(self._closed(orders), cursor=kept.dump())
        yield from self._reread_hinted(now)

    def _reread_hinted(self, now: dt.datetime) -> Iterator[Page]:
        """Orders a webhook named while open: read again by id, taken when closed, forgotten when final or old."""
        hinted: dict[OrderKind, list[str]] = defaultdict(list)
        stale = []
        for key, payload in self.state.all(_HINT):
            kind, _, order_id = key.partition(":")
            if kind not in ("delivery", "table"):
                continue
            if now - dt.datetime.fromisoformat(json_loads(payload)["at"]) > HINT_LIFETIME:
                stale.append(key)
            else:
                hinted["table" if kind == "table" else "delivery"].append(order_id)
        self.state.delete(_HINT, stale)
        for kind, ids in hinted.items():
            if kind not in self.config.order_kinds:
                continue
            orders = (self.client.table_orders_by_id([self.organization], ids) if kind == "table"
                      else self.client.deliveries_by_id(self.organization, ids))
            yield Page(self._closed(orders), cursor=None)
            finished = [f"{kind}:{info.get('id')}" for info in orders if _final(info)]
            self.state.delete(_HINT, finished)

    def _closed(self, orders: Sequence[dict[str, Any]]) -> list[RawRecord]:
        return [RawRecord(external_id=str(info["id"]), body=json_dumps(info).encode())
                for info in orders if is_closed(info) and info.get("id") and order_kind(info) in
                self.config.order_kinds and not _sent_by_hub(info)]

    # --- orders: decode --------------------------------------------------------------------------

    def _order(self, info: dict[str, Any]) -> Order:
        kind = order_kind(info)
        # The menu's units tell goods counted in grams, turned into kilograms as 1C counts them.
        normal = decode_order(info, channel=self.name, timezone=self.context.timezone, kind=kind,
                              units=self.menu().units)
        mapped = self.orders_in.apply({**normal.model_dump(mode="json"), "kind": kind, "iiko": info},
                                      links=self.context.links)
        if not isinstance(mapped, Order):
            raise InvalidRecord(f"iiko order {normal.external_id} is skipped by {self.orders_in.path.name}")
        return mapped

    # --- webhooks --------------------------------------------------------------------------------

    def _webhook_endpoints(self) -> list[Endpoint]:
        if not self.config.webhook_token:
            return []
        token = webhook_token(self.config.webhook_token, _unauthorized)
        return [Endpoint("webhook", "/webhook", ("POST",), guarded(self._webhook, token), entity=Entity.ORDERS,
                         authenticate=token)]

    def _webhook(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        """iiko's events: closed orders into the inbox, everything else a re-read hint; 200 once all is kept.

        Nothing here calls iiko: reading an order needs its menu, which may be a call away while iikoCloud is
        down, and iiko gives up on a webhook that is slow to answer. Orders are decoded later, by the orders job;
        one it cannot read becomes a dead letter there, with the reason.
        """
        events = _WEBHOOK.read(request, inbound, parse_events)
        if isinstance(events, Response):
            return events
        hints: dict[str, str] = {}
        received = []
        for event in events:
            if event.organization_id not in (None, self.organization):
                continue  # one URL may serve several organizations of the API key: not this source's
            order = self._closed_order(event)
            if order is None:
                hints.update(self._hints(event))
            else:
                received.append(order)
        # An id no iiko object has (too long, a NUL) would not fit the state DB: there is nothing to re-read there.
        hints = {key: hint for key, hint in hints.items() if id_problem(key) is None}
        if hints:
            self.state.put_many(_HINT, hints)
        inbound.receive_many(Entity.ORDERS, received)
        if any(event.reread is Reread.MENU for event in events):
            self._menu_read_at = float("-inf")  # read again on next use: the daemon's worker shares this connector
        return json_response({"accepted": len(events), "orders": len(received)})

    def _closed_order(self, event: WebhookEvent) -> RawRecord | None:
        info = dict(event.info)
        if event.reread not in (Reread.DELIVERY, Reread.TABLE_ORDER) or not is_closed(info):
            return None
        if order_kind(info) not in self.config.order_kinds or _sent_by_hub(info):
            return None
        return RawRecord(external_id=event.ids[0], body=json_dumps(info).encode())

    def _hints(self, event: WebhookEvent) -> dict[str, str]:
        at = json_dumps({"at": utcnow(), "event": event.event_type})
        if event.reread is Reread.DELIVERY:
            return {f"delivery:{i}": at for i in event.ids if not _final(dict(event.info))}
        if event.reread is Reread.TABLE_ORDER:
            return {f"table:{i}": at for i in event.ids if not _final(dict(event.info))}
        if event.reread is Reread.STOP_LIST:
            return {f"stop_list:{i}": at for i in event.ids}
        return {}

    # --- goods: matched, not written -------------------------------------------------------------

    def menu(self) -> _MenuIndex:
        """The menu, read again when older than :data:`MENU_TTL` (one call when its revision did not move)."""
        clock = self.client.http.clock
        with self._menu_lock:
            if self._menu is None or clock.monotonic() - self._menu_read_at >= MENU_TTL:
                revision = self._menu.revision if self._menu is not None else 0
                menu = self.client.nomenclature(self.organization, start_revision=revision)
                if self._menu is None or menu.changed:
                    self._menu = _index(menu)
                self._menu_read_at = clock.monotonic()
            return self._menu

    def placement(self, product: Product) -> tuple[str | None, str]:
        """Where the 1C good is in iiko, by the catalog mapping (one run of it per good): the iiko product key
        its code and size name (None if none), and its ``stop_list`` policy (``auto`` when it says nothing)."""
        wanted = self.catalog_out.apply(product.model_dump())
        if not isinstance(wanted, dict):
            wanted = {}
        policy = str(wanted.get("stop_list") or "auto").strip().lower()
        if policy not in STOP_POLICIES:
            raise InvalidRecord(f"good {product.id}: stop_list {policy!r} is none of {', '.join(STOP_POLICIES)} "
                                f"({self.catalog_out.path.name})")
        return self._match(wanted), policy

    def _match(self, wanted: Mapping[str, Any]) -> str | None:
        if not wanted.get("code"):
            return None
        size = str(wanted.get("size") or "").strip().lower()
        candidates = self.menu().by_code.get(str(wanted["code"]).strip(), [])
        for product_id, size_id, size_name in candidates:
            if (size_id is None and not size) or (size and size_name.lower() == size):
                return product_key(product_id, size_id)
        # A product sold in sizes, matched without one: the whole product (a stop list then stops every size).
        ids = {product_id for product_id, _, _ in candidates}
        return ids.pop() if len(ids) == 1 and not size else None

    def _stopped(self, level: StockLevel) -> bool:
        """Whether the good should be on the stop list: by its policy, else by 1C's balance."""
        policy = self._policies().get(level.product, "auto")
        return policy == "always" or (policy == "auto" and level.quantity <= 0)

    def _policies(self) -> dict[str, str]:
        """Goods whose stop_list is not auto, by iiko product key; read once per half minute, not per record."""
        now = time.monotonic()
        if self._policy_cache is None or now - self._policy_cache[0] > POLICY_TTL:
            self._policy_cache = (now, dict(self.state.all(_POLICY)))
        return self._policy_cache[1]

    # --- stock: stop lists -----------------------------------------------------------------------

    def _stop(self, levels: Sequence[StockLevel]) -> None:
        """Put goods at zero or below into their venue's stop lists and take goods back in stock out of them."""
        known = self.menu().keys
        wanted: dict[str, dict[str, bool]] = defaultdict(dict)
        """terminal group → product key → should be stopped."""
        for level in levels:
            if level.product.startswith(UNMATCHED) or level.product not in known:
                continue
            for group in self.config.groups(level.warehouse):
                wanted[group][level.product] = self._stopped(level)
        strangers = sorted({level.warehouse for level in levels} - set(self.config.terminal_groups))
        if strangers:
            self.context.log.warning("stock for venue(s) %s skipped: terminal_groups of source %s does not name "
                                     "them (the stock job's options.venues must use its venue ids)",
                                     ", ".join(strangers), self.name)
        if not wanted:
            return
        held = {(e.terminal_group_id, product_key(e.product_id, e.size_id))
                for e in self.client.stop_lists([self.organization], terminal_group_ids=sorted(wanted))
                if e.balance <= 0}
        ours = {key for key, _ in self.state.all(_STOPPED)}
        changed_at_pos = {key.partition(":")[2] for key, _ in self.state.all(_HINT) if key.startswith("stop_list:")}
        for group, products in sorted(wanted.items()):
            add = [key for key, stopped in products.items() if stopped and (group, key) not in held]
            # Only what hub stopped is released: a dish a cook stopped at the POS stays stopped.
            released = [key for key, stopped in products.items() if not stopped and f"{group}|{key}" in ours]
            remove = [key for key in released if (group, key) in held]
            if add:
                self.client.add_to_stop_list(self.organization, group, [_item(key) for key in add])
                self.state.put_many(_STOPPED, {f"{group}|{key}": json_dumps({"at": utcnow()}) for key in add})
            if remove:
                self.client.remove_from_stop_list(self.organization, group, [_item(key) for key in remove])
            self.state.delete(_STOPPED, [f"{group}|{key}" for key in released])
            if add or remove or group in changed_at_pos:
                self.context.log.info("iiko terminal group %s: %d good(s) stopped, %d back on sale%s", group,
                                      len(add), len(remove), " (its stop list was changed at the POS since the "
                                      "last push: compared with it now)" if group in changed_at_pos else "")
        self.state.delete(_HINT, [f"stop_list:{group}" for group in wanted])

    def _stop_list_records(self) -> list[RawRecord]:
        """Every menu product at every venue, stopped or not, as iiko's stop lists show now (for reconcile)."""
        groups = self._all_groups()
        stopped: dict[str, set[str]] = defaultdict(set)
        for entry in self.client.stop_lists([self.organization], terminal_group_ids=groups):
            if entry.balance <= 0:  # a positive balance is a limit, not a stop: the good is still sold
                stopped[entry.terminal_group_id].add(product_key(entry.product_id, entry.size_id))
        unmatched = [key for key, _ in self.state.all(_UNMATCHED)]
        records = []
        for venue in self.config.terminal_groups:
            records += [RawRecord(external_id=f"{venue}:{key}", body=json_dumps(
                {"venue": venue, "product": key, "stopped": True}).encode()) for key in unmatched]
            for key in self.menu().keys:
                product_id = key.partition(":")[0]
                halted = any(key in stopped[g] or product_id in stopped[g] for g in self.config.groups(venue))
                records.append(RawRecord(external_id=f"{venue}:{key}", body=json_dumps(
                    {"venue": venue, "product": key, "stopped": halted}).encode()))
        return records

    def _price_records(self) -> list[RawRecord]:
        menu = self.menu()
        return [RawRecord(external_id=key, body=json_dumps(
                    {"product": key, "price": price * 1000 if key.partition(":")[0] in menu.weighed_in_grams
                     else price}).encode())
                for key, price in menu.keys.items() if price is not None]

    def _all_groups(self) -> list[str]:
        return sorted({g for venue in self.config.terminal_groups for g in self.config.groups(venue)})

    # --- customers: iiko's loyalty guests --------------------------------------------------------

    # --- orders from other channels: to the kitchen ----------------------------------------------

    def _cook(self, order: Order, key: str, ref: str | None) -> WriteResult:
        """Another channel's order sent to the kitchen terminal as a delivery, once: its iiko id comes from the
        order's key, so a create whose answer was lost is refused as a duplicate and found. What the POS says
        is wrong with it (a good it does not sell, a stop) makes it the order's problem: dead letters."""
        if ref is not None:
            return WriteResult(ref=ref, action="unchanged")  # the kitchen has it: the POS runs it from there
        if self.config.kitchen is None:
            raise ConfigError([f"sources.{self.name}.kitchen: iiko takes orders of other channels only with the "
                               "terminal group that cooks them"], hint="name it, or remove iiko from the job's to:")
        phones = order.customer.phones if order.customer else []
        if not phones:
            raise InvalidRecord(f"{key}: iiko takes a delivery only with the guest's phone")
        courier = order.delivery is not None and order.delivery.type is DeliveryType.COURIER
        address = order.delivery.address if courier and order.delivery else None
        body = {"id": _delivery_id(key), "externalNumber": order.number or order.external_id,
                "sourceKey": HUB_SOURCE_KEY, "phone": phones[0],
                "orderServiceType": "DeliveryByCourier" if courier else "DeliveryByClient",
                "comment": " | ".join(filter(None, [key, order.comment])),
                # regular: iiko finds the guest by phone in its base (or adds them), one profile across channels
                "customer": {"type": "regular",
                             "name": (order.customer.first_name if order.customer else None) or "Гость"},
                # A one-line address is iiko's "city" form (line1, iiko 8.7.6 on); "legacy" wants street and house.
                "deliveryPoint": {"address": {"type": "city", "line1": address[:250]}} if address else None,
                "items": [self._kitchen_item(order.channel, key, line) for line in order.lines]}
        created = self.client.create_delivery(self.organization, body, terminal_group_id=self.config.kitchen)
        if created.correlation_id is not None:
            done = self.client.wait_for_command(self.organization, created.correlation_id, interval=0.5)
            if done.state == "Error":
                raise InvalidRecord(f"{key}: iiko refused the delivery: {done.error}")
        self.context.log.info("order %s sent to iiko's kitchen as delivery %s", key, created.order_id)
        return WriteResult(ref=created.order_id, action="created")

    def _kitchen_item(self, channel: str, key: str, line: OrderLine) -> dict[str, Any]:
        product = self._iiko_product(channel, line.product)
        if product is None:
            raise InvalidRecord(f"{key}: {line.name} ({channel} {line.product}) is no iiko product "
                                "(the iiko catalog job links 1C goods to iiko's)")
        product_id, _, size_id = product.partition(":")
        item: dict[str, Any] = {"type": "Product", "productId": product_id, "amount": line.quantity,
                                "price": line.unit_price}
        if size_id:
            item["productSizeId"] = size_id
        groups = self.menu().modifier_groups.get(product_id, {}) if line.modifiers else {}
        modifiers, unknown = [], []
        for modifier in line.modifiers:
            found = self._iiko_product(channel, modifier.product) if modifier.product else None
            if found is None:
                unknown.append(f"{modifier.name} ×{modifier.quantity}")
                continue
            modifier_id = found.partition(":")[0]
            # [U] iiko does not say whether it multiplies a created modifier's amount by its item's; hub reads
            # iiko's modifier amounts as the whole line's (orders.py), and sends them the same way.
            modifiers.append(compact({"productId": modifier_id, "amount": modifier.quantity,
                                      "price": modifier.unit_price, "productGroupId": groups.get(modifier_id)}))
        if modifiers:
            item["modifiers"] = modifiers
        if unknown:  # an option iiko has no product for (no onions) still reaches the cook
            item["comment"] = "; ".join(unknown)
        return item

    def _iiko_product(self, channel: str, product: str) -> str | None:
        """The iiko product key (``id`` or ``id:size``) of a channel's product, through the 1C good it is linked
        to; None when it has none."""
        good = self.context.links.resolve(channel, Entity.CATALOG.value, product) if self.context.links else None
        found = self.state.get(_GOOD, good) if good else None
        return None if found is None or found.startswith(UNMATCHED) else found


# --- helpers -------------------------------------------------------------------------------------


HUB_SOURCE_KEY: Final = "hub"
"""The ``sourceKey`` of the deliveries hub sends to the kitchen: read back from iiko, they are skipped, for
they reach 1C from the channel they came from."""


def _webhook_error(status: int, reason: str) -> Response:
    """hub's answer to iiko for a webhook call refused: iiko only logs it."""
    return json_response({"error": "bad_request", "message": reason}, status)


_WEBHOOK = Webhook(Entity.ORDERS, _webhook_error)


def _unauthorized(reason: str) -> Response:
    return json_response({"error": "unauthorized", "message": f"iiko webhook: {reason}"}, 401)


def _sent_by_hub(info: Mapping[str, Any]) -> bool:
    order = info.get("order")
    return isinstance(order, dict) and order.get("sourceKey") == HUB_SOURCE_KEY


def _delivery_id(key: str) -> str:
    """The iiko id of the delivery for order ``key``, the same on every try: iiko refuses a second one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hub:order:{key}"))


def _index(menu: Menu) -> _MenuIndex:
    sizes = {s.id: s.name for s in menu.sizes}
    by_code: dict[str, list[tuple[str, str | None, str]]] = defaultdict(list)
    keys: dict[str, Decimal | None] = {}
    for product in menu.products:
        if product.deleted:
            continue
        for size_id, price in product.prices.items():
            keys[product_key(product.id, size_id)] = price
            if product.code:
                by_code[product.code.strip()].append((product.id, size_id, sizes.get(size_id or "", "")))
    grams = frozenset(p.id for p in menu.products if p.unit.strip().lower() in GRAM_UNITS)
    groups = {p.id: {child: rule.id for rule in p.modifiers if rule.group for child in rule.children}
              for p in menu.products}
    return _MenuIndex(revision=menu.revision, by_code=dict(by_code), units={p.id: p.unit for p in menu.products},
                      keys=keys, weighed_in_grams=grams,
                      modifier_groups={product: found for product, found in groups.items() if found})


def _moment(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


def _item(key: str) -> StopListItem:
    product_id, _, size_id = key.partition(":")
    return StopListItem(product_id=product_id, balance=Decimal(0), size_id=size_id or None)


def _final(info: dict[str, Any]) -> bool:
    """Closed or cancelled: nothing more will happen to the order."""
    order = info.get("order")
    return isinstance(order, dict) and order.get("status") in ("Closed", "Cancelled", "Deleted")


def _object(record: RawRecord, entity: Entity) -> dict[str, Any]:
    """The JSON object an iiko record holds; InvalidRecord when it holds none."""
    try:
        data = json_loads(record.body)
    except ValueError as exc:
        raise InvalidRecord(f"iiko {entity.value} {record.external_id}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRecord(f"iiko {entity.value} {record.external_id}: not a JSON object")
    return data
