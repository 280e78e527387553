"""The ``commerceml_site`` connector: hub is "1C" for a site that takes 1C's exchange.

1C-Bitrix (``/bitrix/admin/1c_exchange.php``), Tilda's 1C connector and the many
CMS modules that copy them are CommerceML *servers*: 1C calls them. hub calls
them the same way (:class:`~connectors.commerceml.exchange.ExchangeClient`):

* the catalog, prices and stock jobs push to the site. :meth:`write_batch`
  writes an import file (goods) or an offers file (prices, or stock with the
  prices hub last pushed, which the schema wants on every offer) with
  ``СодержитТолькоИзменения=true`` (``only_changes``: a push carries only what
  changed, and a site deletes what a *full* file lacks), then runs
  ``checkauth`` → ``init`` → the file in ``file_limit`` pieces (one zip archive
  when the site answers ``zip=yes`` and ``zip`` is on) → ``import``, asked again
  while the site answers ``progress``. A ``failure`` fails the batch with the
  site's reason; the job sends it again next run.
* the orders job pulls from the site: :meth:`read` runs ``type=sale``
  ``checkauth`` → ``init`` → ``query``, cuts the answer into one small
  CommerceML document per order (kept byte for byte in the inbox), and sends
  ``success`` - which makes the site mark them exported - in that query's
  session at the next read whose cursor shows the page was stored (see
  :meth:`CommerceMLSiteConnector.read`): never for orders hub did not keep.
* 1C's statuses go back with :meth:`set_status`: the order as the site sent it,
  at its new status (``Отменен``, ``Финальный статус``, ``Статуса заказа ИД``
  from ``statuses``), uploaded as 1C uploads its changes (``type=sale&mode=file``).

Per-site quirks are settings, not code: Tilda takes only files named
``import0_N.xml``/``offers0_N.xml`` with a fresh N each time (``import_file:
import0_{n}.xml``), ignores offers without an import file in the same exchange
(``offers_with_import: true``), allows two uploads per five minutes
(``exchanges_per_window: 2``, ``window: 300``) and takes no zip. Answers are read
as UTF-8 or windows-1251 (Bitrix), or as ``answer_encoding`` says.

Settings (beside ``type: commerceml_site``): ``url``, ``username``, ``password``,
``version``, ``encoding``, ``answer_encoding``, ``zip``, ``import_file``,
``offers_file``, ``orders_file``, ``offers_with_import``, ``stock_per_warehouse``,
``exchanges_per_window``, ``window``, ``only_changes``, ``max_progress``,
``owner``, ``catalog_id``, ``price_type_names``, ``statuses``; see
:class:`CommerceMLSiteSettings`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import secrets
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from copy import deepcopy
from decimal import Decimal
from typing import Any, ClassVar, cast

from lxml import etree
from pydantic import Field, PositiveInt, TypeAdapter

from connectors.commerceml._documents import CANCELLED, FINAL, STATUS, STATUS_ID
from connectors.commerceml.exchange import DEFAULT_STATUSES, ENCODINGS, ExchangeClient, Kind, Session
from connectors.commerceml.items import Offer, OrderDocument, Owner, PriceType, Section, SectionKind, Warehouse
from connectors.commerceml.parser import parse
from connectors.commerceml.sandbox import SiteSandbox
from connectors.commerceml.writer import VERSIONS, write_import, write_offers, write_orders
from hub.connector import ChannelState, ConnectorContext, Page
from hub.errors import AuthError, InvalidRecord, ProtocolError, RequestRejected, RetriableError
from hub.model import Entity, OrderStatus, PriceEntry, Product, RawRecord, Record, StockLevel
from hub.settings import SourceSettings
from hub.streams import BatchWrite, Pull, Statuses, StreamConnector
from hub.values import json_dumps, json_loads, utcnow

log = logging.getLogger("hub.commerceml.site")

BATCH = 5000
MEDIA = "application/xml"
PENDING = "pending_query"
"""Channel state of queries whose orders wait to be confirmed: cursor → the session and the order ids."""
_PRICES = TypeAdapter(list[PriceEntry])


class CommerceMLSiteSettings(SourceSettings):
    """Settings of a commerceml_site source: a site that takes 1C's exchange, with hub calling it as 1C."""

    url: str = Field(description="The exchange URL, e.g. https://shop.ru/bitrix/admin/1c_exchange.php.")
    username: str = Field(min_length=1, description="The login the site gives 1C's exchange.")
    password: str = Field(min_length=1, description="Its password; write it as ${ENV_VAR}.")
    version: str = Field("2.08", description=f"CommerceML version of the files sent ({', '.join(VERSIONS)}).")
    encoding: ENCODINGS = Field("UTF-8", description="Encoding of the files sent.")
    answer_encoding: ENCODINGS | None = Field(None, description=(
        "Encoding of the site's status answers; UTF-8 if they decode as it, else windows-1251, when omitted."))
    zip: bool = Field(True, description="Send one zip archive when the site answers zip=yes.")
    import_file: str = Field("import.xml", min_length=5, description=(
        "Name of the goods file; {n} is replaced by a number that grows with every exchange (Tilda: import0_{n}.xml)."))
    offers_file: str = Field("offers.xml", min_length=5, description="Name of the offers file; {n} as above.")
    orders_file: str = Field("documents_{n}.xml", min_length=5, description="Name of a file of order changes.")
    offers_with_import: bool = Field(False, description=(
        "Send the goods' import file with every prices or stock push (Tilda ignores offers without one)."))
    stock_per_warehouse: bool = Field(False, description=(
        "Send stock per warehouse (the stock job's venues) besides the total; off: the total only, as Tilda reads."))
    exchanges_per_window: PositiveInt | None = Field(None, description=(
        "Exchanges of each type (uploads, order requests) the site allows per window (Tilda: 2 and 2 per 5 "
        "minutes); unlimited when omitted."))
    window: PositiveInt = Field(300, description="That window in seconds.")
    only_changes: bool = Field(True, description=(
        "Mark files СодержитТолькоИзменения=true. A full file makes Bitrix delete every good it lacks."))
    max_progress: PositiveInt = Field(10_000, description="progress answers to one import before hub gives up.")
    owner: str = Field("hub", min_length=1, description="Name of the owner (Владелец) the files carry.")
    catalog_id: str = Field("hub-catalog", min_length=1, description=(
        "Ид of the catalog and classifier the files carry."))
    price_type_names: dict[str, str] = Field(default_factory=dict, description=(
        "Price type id → the name the site knows it by (Bitrix matches price types by name or XML_ID)."))
    statuses: dict[str, OrderStatus] = Field(default_factory=lambda: dict(DEFAULT_STATUSES), description=(
        "The site's order status (Статуса заказа ИД or the Статус заказа text) → hub's status, both ways."))


class CatalogStream(BatchWrite["CommerceMLSiteConnector"]):
    """Goods, sent as an import file (and kept: an offers file names them)."""

    entity = Entity.CATALOG
    limit = BATCH

    def write_batch(self, records: Sequence[Record]) -> list[str]:
        site = self.connector
        goods = [r for r in records if isinstance(r, Product)]
        site.state.put_many("good", {good.id: good.model_dump_json() for good in goods})
        site.state.put_many("article", {good.article: good.id for good in goods if good.article})
        site._exchange({site.config.import_file: site._import_file(goods)})
        return [good.id for good in goods]


class PricesStream(BatchWrite["CommerceMLSiteConnector"]):
    """Prices, sent as an offers file (and kept: stock goes in offers too, which want prices)."""

    entity = Entity.PRICES
    limit = BATCH

    def write_batch(self, records: Sequence[Record]) -> list[str]:
        site = self.connector
        prices = [r for r in records if isinstance(r, PriceEntry)]
        site._send_offers(site._offers(prices, []), [p.product for p in prices])
        site._keep_prices(prices)
        return [p.product for p in prices]


class StockStream(BatchWrite["CommerceMLSiteConnector"]):
    """Stock, sent as an offers file."""

    entity = Entity.STOCK
    limit = BATCH

    def write_batch(self, records: Sequence[Record]) -> list[str]:
        site = self.connector
        levels = [r for r in records if isinstance(r, StockLevel)]
        products = list(dict.fromkeys(level.product for level in levels))
        # The schema wants prices on every offer: the ones the site already has go along, unchanged.
        known = [price for product in products for price in site._kept_prices(product).values()]
        site._send_offers(site._offers(known, levels), products)
        return [f"{level.warehouse}:{level.product}" for level in levels]


class OrdersStream(Pull["CommerceMLSiteConnector"], Statuses["CommerceMLSiteConnector"]):
    """The site's orders from its sale query, and 1C's statuses uploaded back as order changes."""

    entity = Entity.ORDERS
    shown_again = False  # the sale query offers an order until hub confirms it, then never again

    def read(self, *, cursor: str | None, since: dt.datetime | None = None) -> Iterator[Page]:
        """The orders the site has not exported yet, as one page whose cursor names this query.

        ``success`` (the site marks the orders exported) is sent for a query only when a later read
        comes with that query's cursor: the pipeline stores a page's cursor in the transaction that
        stores its records, so only then are they surely in the inbox. A read for ``hub reconcile`` or a
        dry run (no cursor kept) confirms nothing, and the site offers the orders again.
        """
        site = self.connector
        site._confirm(cursor)
        site._gate("sale")
        with site.client.session("sale") as session:
            records = split_documents(site.client.query(session))
        if not records:
            yield Page([], cursor=None)
            return
        token = secrets.token_hex(8)
        site.state.put_many("order", {r.external_id: r.body.decode() for r in records})
        site.state.put_many(PENDING, {token: json_dumps({"cookie": session.cookie, "sessid": session.sessid,
                                                         "orders": [r.external_id for r in records]})})
        yield Page(records, cursor=token)

    def decode(self, record: RawRecord) -> Record:
        site = self.connector
        document = site._document(record.body, record.external_id)
        word = document.status_id or document.status
        status = document.order.status
        if status is OrderStatus.NEW and word is not None and word.strip() in site.config.statuses:
            status = site.config.statuses[word.strip()]
        return document.order.model_copy(update={"status": status})

    def set_status(self, external_id: str, status: OrderStatus) -> None:
        """Upload the order at ``status``, as 1C uploads its changes to a site's orders."""
        site = self.connector
        kept = site.state.get("order", external_id)
        if kept is None:
            log.warning("%s: no order %s read from the site; its status is not sent", site.name, external_id)
            return
        document = site._document(kept.encode(), external_id)
        letter = next((word for word, said in site.config.statuses.items() if said is status), None)
        requisites = {name: values for name, values in document.requisites.items()
                      if name not in (STATUS, STATUS_ID, CANCELLED, FINAL)}
        if letter is not None:
            requisites[STATUS_ID] = [letter]
        changed = dataclasses.replace(document, order=document.order.model_copy(update={"status": status}),
                                      status=None, status_id=letter, requisites=requisites)
        out = io.BytesIO()
        write_orders(out, [changed], timezone=site.context.timezone, version=site.config.version,
                     encoding=site.config.encoding)
        site._exchange({site.config.orders_file: out.getvalue()}, kind="sale")


class CommerceMLSiteConnector(StreamConnector):
    """Goods, prices and stock to a CommerceML site, its orders from it, 1C's statuses back to it."""

    type_name = "commerceml_site"
    settings_model = CommerceMLSiteSettings
    streams: ClassVar = (CatalogStream, PricesStream, StockStream, OrdersStream)

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, CommerceMLSiteSettings)
        assert context.state is not None, "the runtime passes every connector its channel state"
        self.config = settings
        self.state: ChannelState = context.state
        http = context.http(settings, settings.url, auth=(settings.username, settings.password))
        self.client = ExchangeClient(http, encoding=settings.answer_encoding, use_zip=settings.zip,
                                     max_progress=settings.max_progress, version=settings.version)
        self.owner = Owner(settings.catalog_id, settings.owner)

    @classmethod
    def sandbox(cls) -> SiteSandbox:
        return SiteSandbox()

    def check(self) -> str:
        with self.client.session("catalog") as session:
            return (f"site answers checkauth and init: zip={'yes' if session.zip else 'no'}, "
                    f"file_limit={session.file_limit}")

    def close(self) -> None:
        self.client.http.close()

    # --- pushes ----------------------------------------------------------------------------------------------

    def _send_offers(self, offers_file: bytes, products: list[str]) -> None:
        files = {}
        if self.config.offers_with_import:
            files[self.config.import_file] = self._import_file(
                [self._good(product) for product in dict.fromkeys(products)])
        files[self.config.offers_file] = offers_file
        self._exchange(files)

    def _exchange(self, files: Mapping[str, bytes], kind: Kind = "catalog") -> None:
        """Upload ``files`` (names may hold ``{n}``) and import each, in one session."""
        self._gate(kind)
        number = self._number() if any("{n}" in name for name in files) else 0
        named = {name.replace("{n}", str(number)): data for name, data in files.items()}
        with self.client.session(kind) as session:
            self.client.upload(session, named, archive=f"hub_{utcnow():%Y%m%d_%H%M%S_%f}.zip")
            for name in named:
                self.client.import_file(session, name)

    def _import_file(self, goods: list[Product]) -> bytes:
        out = io.BytesIO()
        catalog = Section(SectionKind.CATALOG, id=self.config.catalog_id, name="Каталог товаров",
                          classifier_id=self.config.catalog_id, only_changes=self.config.only_changes)
        write_import(out, goods, catalog=catalog, owner=self.owner, timezone=self.context.timezone,
                     version=self.config.version, encoding=self.config.encoding)
        return out.getvalue()

    def _offers(self, prices: list[PriceEntry], levels: list[StockLevel]) -> bytes:
        by_product: dict[str, tuple[list[PriceEntry], list[StockLevel]]] = defaultdict(lambda: ([], []))
        for price in prices:
            by_product[price.product][0].append(price)
        for level in levels:
            by_product[level.product][1].append(level)
        offers = []
        for product, (its_prices, its_levels) in by_product.items():
            good = self._good(product)
            quantity = sum((level.quantity for level in its_levels), Decimal(0)) if its_levels else None
            offers.append(Offer(id=product, name=good.name, article=good.article, prices=its_prices,
                                quantity=quantity, stock=its_levels if self.config.stock_per_warehouse else []))
        price_types = [PriceType(id=kind, name=self.config.price_type_names.get(kind, kind), currency=currency)
                       for kind, currency in dict.fromkeys((p.price_type, p.currency) for p in prices)]
        warehouses = ([Warehouse(id=w) for w in dict.fromkeys(level.warehouse for level in levels)]
                      if self.config.stock_per_warehouse else [])
        package = Section(SectionKind.OFFERS, id=f"{self.config.catalog_id}#", name="Пакет предложений",
                          classifier_id=self.config.catalog_id, catalog_id=self.config.catalog_id,
                          only_changes=self.config.only_changes)
        out = io.BytesIO()
        write_offers(out, offers, package=package, owner=self.owner, price_types=price_types,
                     warehouses=warehouses, timezone=self.context.timezone, version=self.config.version,
                     encoding=self.config.encoding)
        return out.getvalue()

    def _keep_prices(self, prices: list[PriceEntry]) -> None:
        """Remember the prices the site now has, by product and price type, for stock pushes to carry."""
        kept: dict[str, dict[str, PriceEntry]] = {}
        for price in prices:
            kept.setdefault(price.product, self._kept_prices(price.product))[price.price_type] = price
        self.state.put_many("prices", {product: _PRICES.dump_json(list(by_type.values())).decode()
                                       for product, by_type in kept.items()})

    def _kept_prices(self, product: str) -> dict[str, PriceEntry]:
        """The prices hub last pushed for ``product``, by price type; none when it never pushed one."""
        kept = self.state.get("prices", product)
        return {price.price_type: price for price in _PRICES.validate_json(kept)} if kept else {}

    def _good(self, product: str) -> Product:
        """The good as hub last pushed it, for the names offers carry; a bare one when hub never pushed it."""
        kept = self.state.get("good", product)
        return Product.model_validate_json(kept) if kept else Product(id=product, name=product)

    def pushed_articles(self) -> dict[str, str]:
        """Article → id of the goods hub pushed with an article: a site that shows goods by article (Tilda's
        feed) is read back by it."""
        goods = [Product.model_validate_json(kept) for _, kept in self.state.all("good")]
        return {good.article: good.id for good in goods if good.article}

    def pushed_with_article(self, article: str) -> str | None:
        """The id of the good hub pushed with ``article``, or None: what a site's order names a good by when it
        knows no id (a good made on the site by hand, with 1C's article as its SKU)."""
        return self.state.get("article", article)

    def _number(self) -> int:
        """This exchange's number for the ``{n}`` of file names: kept, so it only grows (Tilda refuses a name
        it has seen with "Import file is empty")."""
        number = int(self.state.get("counter", "exchange") or "0") + 1
        self.state.put_many("counter", {"exchange": str(number)})
        return number

    def _gate(self, kind: Kind) -> None:
        """Refuse an exchange the site would refuse for coming too soon (Tilda: "Many requests"); uploads
        (catalog) and order requests (sale) are counted apart, as Tilda counts them."""
        limit = self.config.exchanges_per_window
        if limit is None:
            return
        now = utcnow()
        recent = [stamp for stamp in json_loads(self.state.get("exchanges", kind) or "[]")
                  if now - dt.datetime.fromisoformat(stamp) < dt.timedelta(seconds=self.config.window)]
        if len(recent) >= limit:
            free = dt.datetime.fromisoformat(min(recent)) + dt.timedelta(seconds=self.config.window)
            raise RetriableError(f"{self.name} allows {limit} {kind} exchanges per {self.config.window} s; "
                                 f"the next one from {free.isoformat(timespec='seconds')}")
        self.state.put_many("exchanges", {kind: json_dumps([*recent, now.isoformat()])})

    # --- orders ----------------------------------------------------------------------------------------------

    def _confirm(self, cursor: str | None) -> None:
        """``success`` in the session of the query the stored ``cursor`` names; pending queries no cursor names
        were never stored (a reconcile, a dry run) and are forgotten."""
        pending = dict(self.state.all(PENDING))
        kept = pending.get(cursor or "")
        if kept is not None:
            query = json_loads(kept)
            try:
                self.client.call(Session("sale", query["cookie"], query["sessid"]), "sale", "success")
            except (RequestRejected, AuthError) as exc:  # the site forgot the session: it offers them again
                log.warning("%s: %d order(s) stored but not confirmed (%s); the site offers them again and the "
                            "inbox drops the repeats", self.name, len(query["orders"]), exc)
        self.state.delete(PENDING, list(pending))

    def _document(self, body: bytes, external_id: str) -> OrderDocument:
        try:
            items = list(parse(io.BytesIO(body), timezone=self.context.timezone, channel=self.name,
                               name=f"order {external_id}"))
        except ProtocolError as exc:
            raise InvalidRecord(str(exc)) from None
        found = [item for item in items if isinstance(item, OrderDocument)]
        if not found:
            problems = [str(item) for item in items if not isinstance(item, OrderDocument) and hasattr(item, "reason")]
            raise InvalidRecord("; ".join(problems) or f"order {external_id}: no order document")
        return found[0]



def split_documents(answer: bytes) -> list[RawRecord]:
    """One standalone ``КоммерческаяИнформация`` per ``Документ`` of a query answer, keyed by the document's Ид.

    The parts carry the root's version and namespace but not its ``ДатаФормирования``,
    so an order the site sends again unchanged is byte for byte what the inbox holds.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=True)
    try:
        root = etree.fromstring(answer, parser)
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"the orders answer is not well-formed XML: {exc}") from exc
    records = []
    for element in root.iter("{*}Документ", "Документ"):
        found = [child.text for child in element if etree.QName(child).localname == "Ид"]
        document_id = (found[0] or "").strip() if found else ""
        if not document_id:
            log.warning("an order document without Ид (line %s) is kept under its position", element.sourceline)
            document_id = f"line-{element.sourceline}"
        part = etree.Element(root.tag, {"ВерсияСхемы": root.get("ВерсияСхемы") or "2.05"}, nsmap=cast(Any, root.nsmap))
        copied = deepcopy(element)
        copied.tail = None
        part.append(copied)
        records.append(RawRecord(document_id, etree.tostring(part, encoding="UTF-8", xml_declaration=True),
                                 content_type=MEDIA))
    return records

