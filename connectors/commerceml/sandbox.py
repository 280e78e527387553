"""The two sides of the CommerceML exchange hub does not play, on 127.0.0.1.

* :class:`SiteSandbox` - a site that takes 1C's exchange, behaving like
  1C-Bitrix's ``/bitrix/admin/1c_exchange.php``: HTTP Basic on ``checkauth``,
  then the ``PHPSESSID`` cookie and the ``sessid`` line; ``init`` answers
  ``zip`` and ``file_limit`` (pieces over it are refused); uploads are appended,
  zip archives unpacked; ``import`` answers ``progress`` ``progress_steps``
  times before it reads the file and answers ``success``; every status answer
  is windows-1251. It keeps what it imported (:attr:`~SiteSandbox.goods`,
  :attr:`~SiteSandbox.prices`, :attr:`~SiteSandbox.stock`), answers
  ``type=sale&mode=query`` with its orders not yet exported (a windows-1251
  2.05 document, as Bitrix does), marks them exported on ``success``, and
  applies the order changes uploaded to it (:attr:`~SiteSandbox.status_changes`).
  :meth:`~SiteSandbox.add_order` places an order as a guest would. It is the
  ``commerceml_site`` connector's sandbox. Other sites' quirks are options
  (:class:`SiteQuirks`): the Tilda sandbox runs one with Tilda's.
* :class:`OneCDriver` - 1C's side: it calls hub's ``commerceml_1c`` endpoint
  (:meth:`~OneCDriver.attach`) as «Обмен с сайтом» does: a full catalog
  exchange of the import and offers files it writes from its own goods, prices
  and stock (:meth:`~OneCDriver.catalog_exchange`, or any files, such as the
  real samples of :meth:`~OneCDriver.sample_files`), the sale exchange
  (:meth:`~OneCDriver.sale_exchange`: query, then success) and uploads of its
  changes to orders (:meth:`~OneCDriver.upload_order_changes`). It serves only a
  JSON summary of what it holds. It is the ``commerceml_1c`` connector's sandbox.
"""

from __future__ import annotations

import dataclasses
import hmac
import io
import random
import secrets
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree
from werkzeug.wrappers import Request, Response

from connectors.commerceml._documents import NUMBER_1C, POSTED, STATUS, STATUS_ID
from connectors.commerceml.exchange import FAILURE, PROGRESS, SUCCESS, ExchangeClient, answer, safe_name
from connectors.commerceml.items import (
    Counterparty,
    Offer,
    OrderDocument,
    Owner,
    PriceType,
    Problem,
    Section,
    SectionKind,
    Warehouse,
)
from connectors.commerceml.parser import parse
from connectors.commerceml.writer import write_import, write_offers, write_orders
from hub.http import HttpClient
from hub.inbound import json_response
from hub.model import Customer, Order, OrderLine, Payment, PriceEntry, Product, StockLevel
from hub.sandbox import Action, ActionRefused, Param, Sandbox, attach_action, items_param, needs_attach, number_param
from hub.values import money, utcnow, zone

EXCHANGE_PATH = "/bitrix/admin/1c_exchange.php"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "1c" / "commerceml"
"""Real exchange files, beside the repository (never copied into it)."""
SAMPLE_FILES = ("dobromyslov_import0_1_2.07.xml", "dobromyslov_offers0_1_2.07.xml")
_MOSCOW = zone("Europe/Moscow")
_NEW = ("N", "[N] Принят, ожидается оплата")


# --- the site ---------------------------------------------------------------------------------------------------


@dataclass
class SiteOrder:
    """An order on the site: what the sale query answers, and what 1C later said of it."""

    document: OrderDocument
    exported: bool = False


@dataclass(frozen=True)
class SiteQuirks:
    """How a site's exchange departs from Bitrix's; the defaults are Bitrix."""

    path: str = EXCHANGE_PATH
    """Where the exchange is served."""
    sessid: bool = True
    """Whether checkauth answers a ``sessid=`` line (Tilda's does not)."""
    offers_need_import: bool = False
    """Tilda: an offers import fails "Import file is empty" unless an import file came in the same session, and
    applies only offers for goods that import file lists; the others are left, and the import says success."""
    changes_ignored: bool = False
    """Tilda: rows under ``ИзмененияПакетаПредложений`` are ignored; only ``ПакетПредложений`` is applied."""
    update_stock: bool = True
    """Whether imports change stock (Tilda's import settings have a toggle per field)."""
    uploads_per_window: int | None = None
    """Exchanges that upload files allowed per ``window`` (Tilda: 2 per 5 minutes); unlimited when None."""
    window: float = 300.0


@dataclass
class _SiteSession:
    sessid: str
    files: dict[str, bytearray] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    queried: list[str] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)
    """Goods the import files of this session listed."""


class SiteSandbox(Sandbox):
    """A 1C-Bitrix site's CommerceML exchange endpoint, ``/bitrix/admin/1c_exchange.php``.

    See the module docstring.
    """

    name = "commerceml_site"
    port = 8110

    def __init__(self, *, username: str = "hub-as-1c", password: str = "sandbox-site-secret",  # noqa: S107
                 file_limit: int = 204_800, zip: bool = True, progress_steps: int = 2,
                 encoding: str = "windows-1251", seed: int = 5, quirks: SiteQuirks | None = None) -> None:
        super().__init__()
        self.quirks = quirks or SiteQuirks()
        self.username, self.password = username, password
        self.file_limit = file_limit
        self.zip = zip
        self.progress_steps = progress_steps
        self.encoding = encoding
        self.goods: dict[str, Product] = {}
        """Goods imported, by Ид (1C's id: Bitrix's XML_ID)."""
        self.prices: dict[tuple[str, str], Decimal] = {}
        """Prices imported, by (offer Ид, price type Ид)."""
        self.stock: dict[str, Decimal] = {}
        """Quantity imported, by offer Ид."""
        self.imported: list[str] = []
        """Names of the files imported, in order."""
        self.problems: list[Problem] = []
        """What the parser could not read in the files imported."""
        self.orders: dict[str, SiteOrder] = {}
        self.status_changes: list[OrderDocument] = []
        """Order documents uploaded to the site (``type=sale&mode=file``), in order."""
        self.history: list[str] = []
        """One line per import: what it found and what it applied (Tilda's «История синхронизации»)."""
        self.refuse_imports: list[str] = []
        """Reasons the next imports fail with, one each (Bitrix's ``OnBeforeCatalogImport1C`` returning a text)."""
        self._sessions: dict[str, _SiteSession] = {}
        self._uploads: list[float] = []
        """When each exchange that uploaded began uploading (monotonic seconds), for ``uploads_per_window``."""
        self._data_lock = threading.Lock()
        self._random = random.Random(seed)
        self._next_order = 100 + self._random.randrange(900)

    def source_settings(self) -> dict[str, Any]:
        return {"url": self.url + self.quirks.path, "username": self.username, "password": self.password}

    def job_options(self, job_type: str) -> dict[str, Any] | None:
        return None  # a site takes 1C's data, it feeds no job

    # --- the guests' side ---------------------------------------------------------------------------------

    def add_order(self, lines: Sequence[tuple[str, str, Decimal, Decimal]], *, phone: str = "+79165550101",
                  name: str = "Анна Смирнова") -> str:
        """A guest's order of ``(good Ид, name, quantity, price)`` lines; returns its id (Bitrix's order ID)."""
        with self._data_lock:
            self._next_order += 1
            order_id = str(self._next_order)
        first, _, last = name.partition(" ")
        order_lines = [OrderLine(product=good, name=title, quantity=quantity, unit_price=price,
                                 sum=money(quantity * price)) for good, title, quantity, price in lines]
        total = sum((line.sum for line in order_lines), Decimal(0))
        customer = Customer(first_name=first, last_name=last or None, phones=[phone], ids={"site": f"{order_id}#guest"})
        order = Order(channel="site", external_id=order_id, number=order_id, total=total, lines=order_lines,
                      created_at=utcnow().replace(microsecond=0), customer=customer,
                      payments=[Payment(method="Наличные", amount=total, paid=False)])
        requisites = {STATUS_ID: [_NEW[0]], STATUS: [_NEW[1]], "Сайт": ["[s1] Интернет-магазин"]}
        document = OrderDocument(order, currency="руб", status=_NEW[1], status_id=_NEW[0], requisites=requisites,
                                 counterparties=[Counterparty(f"{order_id}#guest", customer, "Покупатель", name)])
        with self._data_lock:
            self.orders[order_id] = SiteOrder(document)
        return order_id

    def actions(self) -> list[Action]:
        return [Action("place-order", "orders", "a guest orders on the site; 1C's next sale query "
                       "(hub's orders job) takes it",
                       (Param("items", "ARTICLE:QUANTITY,… of the goods the site imported; random ones when left "
                                       "out", optional=True),
                        Param("phone", "the guest's phone; +79165550101 when left out", optional=True)),
                       self._place_order_action)]

    def _place_order_action(self, args: dict[str, str]) -> dict[str, Any]:
        with self._data_lock:
            goods = {good.article or good.id: good for good in self.goods.values() if not good.deleted}
            prices = {offer: price for (offer, _), price in self.prices.items()}
        if not goods:
            raise ActionRefused("the site has imported no goods yet: run hub's catalog job to it first")
        if args.get("items"):
            wanted = items_param(args["items"])
            if unknown := [article for article, _ in wanted if article not in goods]:
                raise ActionRefused(f"the site has no {', '.join(unknown)}; it has {', '.join(goods)}", 404)
        else:
            wanted = [(article, Decimal(1)) for article in self._random.sample(sorted(goods), k=min(2, len(goods)))]
        lines = [(goods[article].id, goods[article].name, quantity, prices.get(goods[article].id, Decimal(100)))
                 for article, quantity in wanted]
        order_id = self.add_order(lines, phone=args.get("phone") or "+79165550101")
        return {"id": order_id, "total": self.orders[order_id].document.order.total}

    def forget_sessions(self) -> None:
        """Drop every exchange session, as PHP's session clean-up does after a while."""
        with self._data_lock:
            self._sessions.clear()

    def demo_activity(self) -> list[str]:
        goods = [good for good in self.goods.values() if not good.deleted]
        if not goods:
            return []
        chosen = self._random.sample(goods, k=min(2, len(goods)))
        lines = [(good.id, good.name, Decimal(self._random.randint(1, 3)),
                  next((p for (offer, _), p in self.prices.items() if offer == good.id), Decimal(100)))
                 for good in chosen]
        order_id = self.add_order(lines)
        return [f"a guest ordered {', '.join(good.name for good in chosen)} on the site (order {order_id})"]

    # --- the exchange -------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path != self.quirks.path:
            return Response("<html><body><h1>404 Not Found</h1></body></html>", 404, content_type="text/html")
        kind, mode = request.args.get("type", ""), request.args.get("mode", "")
        if mode == "checkauth":
            return self._checkauth(request)
        session = self._sessions.get(request.cookies.get("PHPSESSID", ""))
        if session is None or request.args.get("sessid", session.sessid) != session.sessid:
            return self._say(FAILURE, "Ошибка авторизации. Нет прав на обмен.")
        if mode == "init":
            return self._say(f"zip={'yes' if self.zip else 'no'}", f"file_limit={self.file_limit}")
        if mode == "file":
            return self._file(request, session)
        if mode == "import":
            return self._import(request, session, kind)
        if kind == "sale" and mode == "query":
            return self._query(session)
        if kind == "sale" and mode == "success":
            with self._data_lock:
                for order_id in session.queried:
                    self.orders[order_id].exported = True
            self.committed(request)
            return self._say(SUCCESS)
        if mode in ("deactivate", "complete"):
            return self._say(SUCCESS)
        return self._say(FAILURE, f"Неизвестная команда {mode}")

    def _say(self, status: str, *lines: str) -> Response:
        return answer(status, *lines, encoding=self.encoding)

    def _checkauth(self, request: Request) -> Response:
        auth = request.authorization
        if auth is None or not (hmac.compare_digest((auth.username or "").encode(), self.username.encode())
                                and hmac.compare_digest((auth.password or "").encode(), self.password.encode())):
            return self._say(FAILURE, "Неверный логин или пароль")
        cookie, sessid = secrets.token_hex(16), secrets.token_hex(16)
        with self._data_lock:
            self._sessions[cookie] = _SiteSession(sessid)
        return self._say(SUCCESS, "PHPSESSID", cookie, *([f"sessid={sessid}"] if self.quirks.sessid else []))

    def _file(self, request: Request, session: _SiteSession) -> Response:
        body = request.get_data()
        name = safe_name(request.args.get("filename", ""))
        if name is None:
            return self._say(FAILURE, "Недопустимое имя файла")
        if len(body) > self.file_limit:
            return self._say(FAILURE, f"Размер файла больше {self.file_limit} байт")
        if not session.files and not self._upload_allowed():
            return self._say(FAILURE, "Many requests")
        with self._data_lock:
            kept = session.files.setdefault(str(name), bytearray())
            kept.extend(body)
            if str(name).endswith(".zip") and zipfile.is_zipfile(io.BytesIO(kept)):
                with zipfile.ZipFile(io.BytesIO(bytes(kept))) as packed:
                    for member in packed.namelist():
                        if (inner := safe_name(member)) is not None:
                            session.files[str(inner)] = bytearray(packed.read(member))
        self.committed(request)
        return self._say(SUCCESS)

    def _upload_allowed(self) -> bool:
        """Whether an exchange may begin uploading now; counted when it does."""
        limit, now = self.quirks.uploads_per_window, time.monotonic()
        with self._data_lock:
            self._uploads = [began for began in self._uploads if now - began < self.quirks.window]
            if limit is not None and len(self._uploads) >= limit:
                return False
            self._uploads.append(now)
        return True

    def _import(self, request: Request, session: _SiteSession, kind: str) -> Response:
        name = str(safe_name(request.args.get("filename", "")))
        data = session.files.get(name)
        if data is None:
            return self._say(FAILURE, f"Не найден файл {name}")
        if self.refuse_imports:
            return self._say(FAILURE, self.refuse_imports.pop(0))
        done = session.steps.get(name, 0)
        if done < self.progress_steps:
            session.steps[name] = done + 1
            return self._say(PROGRESS, f"Обработано {int(100 * (done + 1) / (self.progress_steps + 1))}%")
        if done == self.progress_steps:  # asked again after success (a lost answer): read once only
            if self.quirks.offers_need_import and not any("Каталог" in _sections(bytes(file))
                                                           for file in session.files.values()):
                return self._say(FAILURE, "Import file is empty")
            session.steps[name] = done + 1
            self._read(name, bytes(data), kind, session)
            self.committed(request)
        return self._say(SUCCESS)

    def _read(self, name: str, data: bytes, kind: str, session: _SiteSession) -> None:
        parsed = parse(io.BytesIO(data), timezone=_MOSCOW, channel="site", name=name)
        ignored = self.quirks.changes_ignored and "ИзмененияПакетаПредложений" in _sections(data)
        goods = offers = 0
        with self._data_lock:
            for item in parsed:
                if isinstance(item, Problem):
                    self.problems.append(item)
                elif isinstance(item, Product):
                    self.goods[item.id] = item
                    session.listed.add(item.id)
                    goods += 1
                elif isinstance(item, Offer):
                    if ignored or (self.quirks.offers_need_import and item.id not in session.listed):
                        continue  # the site's success says nothing of it: only what it shows does
                    offers += 1
                    for price in item.prices:
                        self.prices[(item.id, price.price_type)] = price.amount
                    if item.quantity is not None and self.quirks.update_stock:
                        self.stock[item.id] = item.quantity
                elif isinstance(item, OrderDocument) and kind == "sale":
                    self.status_changes.append(item)
            self.imported.append(name)
            self.history.append(f"{name}: found products: {goods}, offers: {offers}")

    def _query(self, session: _SiteSession) -> Response:
        with self._data_lock:
            due = [order for order in self.orders.values() if not order.exported]
            session.queried = [order.document.order.external_id for order in due]
        out = io.BytesIO()
        write_orders(out, [order.document for order in due], timezone=_MOSCOW, version="2.05",
                     encoding="windows-1251", currency="руб")
        return Response(out.getvalue(), content_type="application/xml; charset=windows-1251")


def _sections(data: bytes) -> set[str]:
    """The names of the elements under a CommerceML file's root (Классификатор, Каталог, ПакетПредложений, …)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return set()
    return {str(etree.QName(child).localname) for child in root if isinstance(child.tag, str)}


# --- 1C ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Good:
    id: str
    name: str
    article: str
    price: Decimal
    quantity: Decimal
    unit: str = "шт"


_GOODS = (("Капучино 300 мл", "CAP-300", "180"), ("Латте 400 мл", "LAT-400", "220"),
          ("Американо 250 мл", "AME-250", "150"), ("Круассан", "CRS-001", "140"),
          ("Чизкейк", "CHZ-001", "260"), ("Зерно эфиопия 250 г", "ETH-250", "890"))


class OneCDriver(Sandbox):
    """A 1C base running «Обмен с сайтом» (CommerceML) against hub's ``commerceml_1c`` endpoint.

    See the module docstring.
    """

    name = "commerceml_1c"
    port = 8111
    PRICE_TYPE = "bd72d8f9-55bc-11d9-848a-00112f43529a"
    WAREHOUSE = "1e7e8e8a-2b7a-11e0-9a1b-00112f43529a"

    def __init__(self, *, username: str = "site-exchange", password: str = "sandbox-1c-secret",  # noqa: S107
                 work_dir: Path | None = None, file_limit: int = 65_536, seed: int | None = None) -> None:
        super().__init__()
        self.username, self.password = username, password
        self._work_dir = work_dir
        self.file_limit = file_limit
        self._random = random.Random(seed)
        self.goods: dict[str, _Good] = {}
        for title, article, price in _GOODS:
            ref = str(uuid.uuid5(uuid.NAMESPACE_URL, f"hub-sandbox-good:{article}"))
            self.goods[ref] = _Good(ref, title, article, Decimal(price), Decimal(self._random.randint(0, 40)))
        self.hub_url: str | None = None
        self.orders: dict[str, OrderDocument] = {}
        """Orders 1C took from hub's sale query, by document Ид (the order's key in hub)."""
        self.progress_answers = 0
        """``progress`` answers hub gave to this driver's imports."""

    @property
    def work_dir(self) -> Path:
        """Where hub keeps what this 1C uploads: the one given, or a temporary folder made on first use."""
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="hub-commerceml-1c-"))
        return self._work_dir

    def source_settings(self) -> dict[str, Any]:
        return {"username": self.username, "password": self.password, "work_dir": str(self.work_dir),
                "file_limit": self.file_limit, "import_batch": 3,
                "inbound": {"path": "/1c_exchange", "max_body": max(self.file_limit, 1 << 20)}}

    def job_options(self, job_type: str) -> dict[str, Any] | None:
        if job_type == "stock":
            return {"venues": {"main": self.WAREHOUSE}}
        if job_type == "prices":
            return {"price_type": self.PRICE_TYPE}
        return {}

    def attach(self, partner_url: str) -> None:
        self.hub_url = partner_url

    def handle(self, request: Request) -> Response:
        return json_response({"goods": len(self.goods), "orders": len(self.orders), "hub": self.hub_url})

    def actions(self) -> list[Action]:
        return [attach_action(self, "http://127.0.0.1:8080/1c_exchange (the source's inbound.path)"),
                Action("exchange", "exchange", "1C runs a full catalog exchange with hub: goods, prices and "
                       "stock in import.xml and offers.xml",
                       (Param("article", "a good whose stock changes first, e.g. CAP-300", optional=True),
                        Param("quantity", "its new stock", optional=True)), self._exchange_action),
                Action("take-orders", "orders", "1C takes the site's new orders from hub (the sale query), "
                       "posts them and uploads its numbers back", (), self._take_orders_action)]

    def _exchange_action(self, args: dict[str, str]) -> dict[str, Any]:
        needs_attach(self.hub_url)
        if args.get("article"):
            good = next((g for g in self.goods.values() if g.article == args["article"]), None)
            if good is None:
                raise ActionRefused(f"1C has no {args['article']!r}; it has "
                                    f"{', '.join(g.article for g in self.goods.values())}", 404)
            quantity = number_param("quantity", args.get("quantity") or "0")
            self.goods[good.id] = dataclasses.replace(good, quantity=quantity)
        return {"uploaded": self.catalog_exchange(), "goods": len(self.goods)}

    def _take_orders_action(self, args: dict[str, str]) -> dict[str, Any]:
        needs_attach(self.hub_url)
        taken = self.sale_exchange()
        numbers = {key: f"ЗК-{len(self.orders) - len(taken) + n:05d}" for n, key in enumerate(taken, start=1)}
        if taken:
            self.upload_order_changes({key: {POSTED: "true", NUMBER_1C: number} for key, number in numbers.items()})
        return {"taken": numbers}

    def demo_activity(self) -> list[str]:
        if self.hub_url is None:
            return []
        good = self._random.choice(list(self.goods.values()))
        self.goods[good.id] = dataclasses.replace(good, quantity=Decimal(self._random.randint(0, 40)))
        self.catalog_exchange()
        said = [f"1C uploaded {len(self.goods)} goods with prices and stock to hub ({good.name}: now "
                f"{self.goods[good.id].quantity})"]
        taken = self.sale_exchange()
        if taken:
            self.upload_order_changes({key: {POSTED: "true", NUMBER_1C: f"ЗК-{n:05d}"}
                                       for n, key in enumerate(taken, start=1)})
            said.append(f"1C took {len(taken)} order(s) from hub and posted them")
        return said

    # --- 1C's side of the exchange --------------------------------------------------------------------------

    def client(self) -> ExchangeClient:
        if self.hub_url is None:
            raise RuntimeError("attach() the driver to hub's endpoint first")
        http = HttpClient(base_url=self.hub_url, source="1c-driver", timeout=30,
                          auth=(self.username, self.password))
        return ExchangeClient(http)

    def catalog_exchange(self, files: Mapping[str, bytes] | None = None) -> list[str]:
        """A full catalog exchange: checkauth, init, the files uploaded, each imported until ``success``."""
        files = files if files is not None else {"import.xml": self.import_xml(), "offers.xml": self.offers_xml()}
        client = self.client()
        try:
            with client.session("catalog") as session:
                client.upload(session, files, archive=f"v8_{secrets.token_hex(2).upper()}_1.zip")
                for name in files:
                    client.import_file(session, name)
            self.progress_answers += client.progress_answers
            return list(files)
        finally:
            client.http.close()

    def sale_exchange(self, *, confirm: bool = True) -> list[str]:
        """The sale query (and ``success`` when ``confirm``); returns the Ид of the orders taken."""
        client = self.client()
        try:
            with client.session("sale") as session:
                body = client.query(session)
                documents = [item for item in parse(io.BytesIO(body), timezone=_MOSCOW, channel="hub",
                                                    name="orders.xml") if isinstance(item, OrderDocument)]
                if confirm:
                    client.call(session, "sale", "success")
        finally:
            client.http.close()
        for document in documents:
            self.orders[document.order.external_id] = document
        return [document.order.external_id for document in documents]

    def upload_order_changes(self, changes: Mapping[str, Mapping[str, str]]) -> None:
        """Upload 1C's changes to orders it took: document Ид → requisites (``Отменен``, ``Проведен``, …)."""
        documents = []
        for key, requisites in changes.items():
            document = self.orders[key]
            merged = {**document.requisites, **{name: [value] for name, value in requisites.items()}}
            documents.append(dataclasses.replace(document, requisites=merged))
        out = io.BytesIO()
        write_orders(out, documents, timezone=_MOSCOW, version="2.08")
        client = self.client()
        try:
            with client.session("sale") as session:
                name = f"documents___{uuid.uuid4()}.xml"
                client.upload(session, {name: out.getvalue()})
                client.import_file(session, name)
        finally:
            client.http.close()

    # --- the files 1C writes -------------------------------------------------------------------------------

    def import_xml(self) -> bytes:
        goods = [Product(id=good.id, name=good.name, article=good.article, unit=good.unit)
                 for good in self.goods.values()]
        out = io.BytesIO()
        write_import(out, goods, catalog=Section(SectionKind.CATALOG, id="catalog", name="Основной каталог товаров",
                                                 classifier_id="classifier"),
                     owner=_OWNER, timezone=_MOSCOW, version="2.08")
        return out.getvalue()

    def offers_xml(self) -> bytes:
        now = utcnow()
        offers = [Offer(id=good.id, name=good.name, article=good.article,
                        prices=[PriceEntry(product=good.id, price_type=self.PRICE_TYPE, amount=good.price)],
                        quantity=good.quantity,
                        stock=[StockLevel(product=good.id, warehouse=self.WAREHOUSE, quantity=good.quantity,
                                          as_of=now)])
                  for good in self.goods.values()]
        out = io.BytesIO()
        write_offers(out, offers, package=Section(SectionKind.OFFERS, id="catalog#", catalog_id="catalog",
                                                  classifier_id="classifier"),
                     owner=_OWNER, price_types=[PriceType(self.PRICE_TYPE, "Розничная", "RUB")],
                     warehouses=[Warehouse(self.WAREHOUSE, "Основной склад")], timezone=_MOSCOW, version="2.08")
        return out.getvalue()

    @staticmethod
    def sample_files() -> dict[str, bytes]:
        """The real import and offers files of a 2.07 exchange, under the names 1C gives them."""
        return {name.removeprefix("dobromyslov_").replace("_2.07", ""): (SAMPLES / name).read_bytes()
                for name in SAMPLE_FILES}


_OWNER = Owner("5f8e5fbe-0a55-11e4-8a1c-00112f43529a", "ООО «Кофейня»")

