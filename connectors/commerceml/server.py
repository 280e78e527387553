"""The ``commerceml_1c`` connector: hub is "the site" for a 1C that knows only «Обмен с сайтом».

1C calls hub daemon at the source's ``inbound.path`` (one URL, ``type`` and
``mode`` in the query, as it calls 1C-Bitrix's ``/bitrix/admin/1c_exchange.php``);
in 1C's exchange settings put ``http://<hub>:<port><inbound.path>`` with the
``username`` and ``password`` of this source.

* ``type=catalog``: 1C uploads ``import*.xml`` (goods) and ``offers*.xml``
  (prices, stock), also split 2.08+ files and zip archives. Every piece is
  appended to a file under ``work_dir`` and synced to disk *before* hub answers
  ``success``, so nothing 1C was told is received can be lost; a file, an
  archive's contents and an exchange's files together are bounded (``max_file``,
  ``max_entries``, ``max_exchange``), beyond which 1C is answered ``failure``. ``mode=import``
  reads the file with the streaming parser, a step of ``import_step`` seconds
  (or ``import_batch`` records) per call, answering ``progress`` until the
  file is done; the position is kept, so a restarted hub carries on. Goods,
  prices and stock go through the source's mappings
  (``mappings/commerceml/{catalog,prices,stock}.in.yaml``, whose header
  comments list what they read) into this source's channel state, and the
  source can be the ``from:`` of catalog, prices and stock jobs (:meth:`read`
  yields them) - 1C's data feeds every channel, shaped as the business wants
  (the article from a requisite, a folder left out, 1C's price types under
  hub's names). What a mapping skips is withdrawn: a good hub held is hidden,
  a price or stock level forgotten. Records the parser or a mapping cannot
  read are logged with file and line and counted in the import's kept report.
* ``type=sale``: the orders jobs write channel orders *to* this source
  (:meth:`write` keeps them, by idempotency key); ``mode=query`` answers those 1C
  has not confirmed as one CommerceML document (``orders_version``,
  ``orders_encoding``), with the order key (``shop:1001``) as the document's
  ``Ид``; ``mode=success`` marks them exported. 1C's changes to them
  (``mode=file`` / ``mode=import``: cancelled, paid, posted, final, status) are
  applied forward only, and :meth:`read` of orders shows 1C's state, so the
  orders job's follow-up sends those statuses back to the channels.

Authentication: ``checkauth`` takes HTTP Basic and answers ``success``, the
cookie's name and value, and ``sessid=…``; every later call must carry that
cookie (and, if it sends one, the same ``sessid``). Sessions live in channel
state, so any daemon on the state DB serves them. Wrong credentials, an unknown
or expired session, a file name that leaves the upload folder, a missing file:
all answer ``failure`` with the reason, as 1C expects (HTTP 200).

The exchange itself (its modes, sessions, upload folders and import steps) is :mod:`connectors.commerceml.protocol`;
what an uploaded file becomes (the import runner) is :mod:`connectors.commerceml.imports`. This module holds the
settings, the streams and the connector, which is the site the protocol serves (:class:`~.protocol.Site`).

Settings (hub.yaml ``sources.<name>``, beside ``type: commerceml_1c`` and ``inbound``):
``username``, ``password`` (``${ENV}``), ``work_dir``, ``zip``, ``file_limit``
(≤ ``inbound.max_body``; that value when omitted), ``cookie``, ``session_ttl``,
``import_step``, ``import_batch``, ``warehouse``, ``mappings``, ``values``, ``missing_goods``,
``orders_version``, ``orders_encoding``, ``answer_encoding``, ``statuses``,
``max_file``, ``max_exchange``, ``max_entries``, ``keep_uploads``, ``keep_orders``. Each is described on
:class:`OneCExchangeSettings`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from connectors.commerceml import imports
from connectors.commerceml.exchange import DEFAULT_STATUSES, ENCODINGS, FAILURE
from connectors.commerceml.imports import ORDER, CatalogImport, Step
from connectors.commerceml.items import OrderDocument
from connectors.commerceml.protocol import Exchange, Orders
from connectors.commerceml.sandbox import OneCDriver
from connectors.commerceml.writer import VERSIONS, write_orders
from hub.connector import ChannelState, ConnectorContext, Page, WriteResult
from hub.errors import InvalidRecord, UnresolvedReference
from hub.inbound import Endpoint
from hub.mapping import CompiledMapping
from hub.model import Entity, Order, OrderStatus, PriceEntry, Product, RawRecord, Record, StockLevel
from hub.settings import SourceSettings
from hub.streams import Pull, StreamConnector, Write
from hub.values import json_dumps, json_loads, utcnow

log = logging.getLogger("hub.commerceml.server")

PAGE = 1000
MAPPED = (Entity.CATALOG, Entity.PRICES, Entity.STOCK)
"""What 1C's uploads become through the source's mappings (``<mappings>/<entity>.in.yaml``)."""


class OneCExchangeSettings(SourceSettings):
    """Settings of an commerceml_1c source: hub as the site 1C's «Обмен с сайтом» calls."""

    username: str = Field(min_length=1, description="The login 1C's exchange settings name.")
    password: str = Field(min_length=1, description="Its password; write it as ${ENV_VAR}.")
    work_dir: Path = Field(description=(
        "Folder the uploaded files are kept in, one subfolder per exchange; must survive restarts."))
    zip: bool = Field(True, description="Tell 1C it may send one zip archive (zip=yes) instead of the files.")
    file_limit: PositiveInt | None = Field(None, description=(
        "Largest piece 1C may send in one request (file_limit=…); at most inbound.max_body, which it is when omitted."))
    cookie: str = Field("HUBSESSID", pattern=r"^[A-Za-z0-9_]+$", description="Name of the session cookie.")
    session_ttl: PositiveInt = Field(4 * 3600, description="Seconds an exchange session stays valid.")
    import_step: PositiveFloat = Field(20.0, description=(
        "Seconds one mode=import call works before it answers progress (Bitrix's INTERVAL); 1C asks again."))
    import_batch: PositiveInt | None = Field(None, description=(
        "At most this many records per mode=import call, besides import_step; none when omitted."))
    warehouse: str = Field("main", min_length=1, description=(
        "Warehouse id for offers that give only a total Количество, no stock per warehouse "
        "(stock.in.yaml reads it as config.warehouse)."))
    mappings: str = Field("commerceml", pattern=r"^[\w-]+(/[\w-]+)*$", description=(
        "Folder under hub's mappings folder with the catalog.in.yaml, prices.in.yaml and stock.in.yaml that "
        "turn 1C's goods and offers into hub's records."))
    values: dict[str, Any] = Field(default_factory=dict, description=(
        "Values those mappings read as {config: …} or config.…, besides warehouse."))
    missing_goods: Literal["keep", "hide"] = Field("keep", description=(
        "Goods hub holds that a full import file (СодержитТолькоИзменения=false) lacks: keep them as they are, "
        "or hide them (deleted: true), as Bitrix does by default. Use hide only when 1C sends one import file."))
    orders_version: str = Field("2.08", description=(
        f"CommerceML version of the orders document ({', '.join(VERSIONS)})."))
    orders_encoding: ENCODINGS = Field("windows-1251", description="Encoding of the orders document 1C reads.")
    answer_encoding: ENCODINGS = Field("windows-1251", description="Encoding of the status lines hub answers.")
    statuses: dict[str, OrderStatus] = Field(default_factory=lambda: dict(DEFAULT_STATUSES), description=(
        "1C's order status (Статуса заказа ИД, or the Статус заказа text) → hub's status, for statuses 1C uploads."))
    max_file: PositiveInt = Field(256 << 20, description=(
        "Bytes one file may grow to in an exchange, sent in pieces or unpacked from an archive; beyond it hub "
        "answers failure with the reason."))
    max_exchange: PositiveInt = Field(1 << 30, description=(
        "Bytes all the files of one exchange may hold together, uploaded and unpacked; beyond it hub answers "
        "failure with the reason."))
    max_entries: PositiveInt = Field(20000, description=(
        "Entries one zip archive may hold (goods' pictures travel in it, one entry each)."))
    keep_uploads: PositiveInt = Field(7, description="Days the folder of an exchange is kept, for whoever debugs it.")
    keep_orders: PositiveInt = Field(30, description=(
        "Days an order 1C confirmed is kept after it was placed (longer than the orders job's status_days)."))

    @model_validator(mode="after")
    def _limits(self) -> OneCExchangeSettings:
        if self.orders_version not in VERSIONS:
            raise ValueError(f"orders_version: one of {', '.join(VERSIONS)}")
        if self.file_limit is not None and self.file_limit > self.inbound.max_body:
            raise ValueError(f"file_limit {self.file_limit} exceeds inbound.max_body {self.inbound.max_body}: "
                             "1C's pieces would be refused")
        return self


class _Uploaded(Pull["OneCExchangeConnector"]):
    """What 1C's uploads brought of an entity, kept in the channel's state as canonical records."""

    model: ClassVar[type[Product] | type[PriceEntry] | type[StockLevel] | type[Order]]

    def read(self, *, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        yield from _pages([RawRecord(key, payload.encode()) for key, payload
                           in self.connector.state.all(self.entity.value)])

    def decode(self, record: RawRecord) -> Record:
        try:
            return self.model.model_validate_json(record.body)
        except ValueError as exc:
            raise InvalidRecord(f"{self.entity.value} {record.external_id}: {exc}") from None


class CatalogStream(_Uploaded):
    entity = Entity.CATALOG
    model = Product


class PricesStream(_Uploaded):
    entity = Entity.PRICES
    model = PriceEntry


class StockStream(_Uploaded):
    entity = Entity.STOCK
    model = StockLevel


class OrdersStream(_Uploaded, Write["OneCExchangeConnector"]):
    """Channel orders kept for 1C's next sale query, read back at the status 1C's uploads brought."""

    entity = Entity.ORDERS
    model = Order

    def read(self, *, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        kept = [(key, _order_now(json_loads(payload))) for key, payload in self.connector.state.all(ORDER)]
        yield from _pages([RawRecord(key, order.model_dump_json().encode()) for key, order in kept
                           if since is None or order.created_at >= since])

    def find(self, key: str) -> str | None:
        return key if self.connector.state.get(ORDER, key) is not None else None

    def write(self, record: Record, *, key: str, ref: str | None) -> WriteResult:
        """Keep the order for 1C's next query; a changed order is offered to 1C again."""
        assert isinstance(record, Order)
        state = self.connector.state
        order = self.connector._in_1c_terms(record)
        payload = order.model_dump_json()
        version = hashlib.sha256(payload.encode()).hexdigest()[:16]
        kept_raw = state.get(ORDER, key)
        kept = json_loads(kept_raw) if kept_raw else None
        if kept is not None and kept["version"] == version:
            return WriteResult(key, "unchanged")
        entry = {"order": payload, "version": version, "exported": False,
                 "status": kept["status"] if kept else order.status.value, "facts": (kept or {}).get("facts", {})}
        state.put_many(ORDER, {key: json_dumps(entry)})
        return WriteResult(key, "updated" if kept else "created")


def _pages(records: list[RawRecord]) -> Iterator[Page]:
    for start in range(0, len(records), PAGE):
        yield Page(records[start:start + PAGE], cursor=None)


def _order_now(kept: dict[str, Any]) -> Order:
    """The order as 1C holds it now: at the status 1C's uploads brought."""
    order = Order.model_validate_json(kept["order"])
    return order.model_copy(update={"status": OrderStatus(kept["status"])})


class OneCExchangeConnector(StreamConnector):
    """1C's goods, prices and stock taken from its uploads; channel orders served to its queries."""

    type_name = "commerceml_1c"
    settings_model = OneCExchangeSettings
    system_of_record = True
    streams: ClassVar = (CatalogStream, PricesStream, StockStream, OrdersStream)

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, OneCExchangeSettings)
        assert context.state is not None, "the runtime passes every connector its channel state"
        self.config = settings
        self.state: ChannelState = context.state
        self.mappings = self._load_mappings()
        self.exchange = Exchange(self.name, settings, file_limit=settings.file_limit or settings.inbound.max_body,
                                 state=self.state, site=self)

    def _load_mappings(self) -> dict[Entity, CompiledMapping]:
        """The mappings 1C's uploads go through; broken files stop hub at start with every problem."""
        values = {**self.config.values, "warehouse": self.config.warehouse}
        return self.context.mapping_set(
            {entity: f"{self.config.mappings}/{entity.value}.in.yaml" for entity in MAPPED}, values,
            hint=f"source {self.name!r}: every file of mappings/{self.config.mappings}/ must load; "
                 "`hub mappings check` shows the grammar problems")

    @classmethod
    def sandbox(cls) -> OneCDriver:
        return OneCDriver()

    def check(self) -> str:
        self.config.work_dir.mkdir(parents=True, exist_ok=True)
        probe = self.config.work_dir / ".hub-write-check"
        probe.write_bytes(b"")
        probe.unlink()
        path = self.config.inbound.path or f"/{self.name}"
        return f"1C calls hub daemon at {path}; uploads kept in {self.config.work_dir}"

    # --- what the orders stream writes -----------------------------------------------------------------------

    def _in_1c_terms(self, order: Order) -> Order:
        """The order with 1C's goods: each line's channel product id through the catalog job's id link."""
        links = self.context.links
        if links is None:
            return order
        lines = []
        for line in order.lines:
            good = links.resolve(order.channel, Entity.CATALOG.value, line.product)
            if good is None:
                raise UnresolvedReference(f"order {order.key}: {line.product!r} ({line.name}) is no 1C good hub knows")
            lines.append(line.model_copy(update={"product": good}))
        return order.model_copy(update={"lines": lines})

    # --- the exchange endpoint -------------------------------------------------------------------------------

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("exchange", "/", ("GET", "POST"), self.exchange.answer,
                         refuse=lambda status, reason: self.exchange.say(FAILURE, reason),
                         authenticate=self.exchange.refused)]

    # --- what the exchange asks of the site (protocol.Site) ----------------------------------------------------

    def import_catalog(self, path: Path, position: int) -> Step:
        return CatalogImport(path, position, context=self.context, state=self.state, mappings=self.mappings,
                             config=self.config).run()

    def apply_order_changes(self, path: Path) -> Step:
        return imports.apply_order_changes(path, self.state, self.context, self.config.statuses)

    def orders_for_1c(self) -> Orders:
        due = [(key, json_loads(payload)) for key, payload in self.state.all(ORDER)]
        due = [(key, kept) for key, kept in due if not kept["exported"]]
        documents = [OrderDocument(_order_now(kept).model_copy(update={
            "external_id": key, "number": Order.model_validate_json(kept["order"]).number or key}))
            for key, kept in due]
        out = io.BytesIO()
        write_orders(out, documents, timezone=self.context.timezone, version=self.config.orders_version,
                     encoding=self.config.orders_encoding)
        return Orders(out.getvalue(), f"application/xml; charset={self.config.orders_encoding}",
                      {key: kept["version"] for key, kept in due})

    def orders_confirmed(self, versions: Mapping[str, str]) -> None:
        marked: dict[str, str] = {}
        for key, version in versions.items():
            payload = self.state.get(ORDER, key)
            if payload is not None and (kept := json_loads(payload))["version"] == version:
                marked[key] = json_dumps({**kept, "exported": True})
        self.state.put_many(ORDER, marked)

    def forget_old(self) -> None:
        """Orders 1C confirmed that were placed more than ``keep_orders`` days ago."""
        placed_before = utcnow() - dt.timedelta(days=self.config.keep_orders)
        self.state.delete(ORDER, [key for key, payload in self.state.all(ORDER)
                                  if (kept := json_loads(payload))["exported"]
                                  and Order.model_validate_json(kept["order"]).created_at < placed_before])
