"""A published 1C base on 127.0.0.1, speaking the standard OData interface the way 1C does.

::

    with OneCSandbox(presets=("ut11",)) as onec:
        settings = onec.source_settings()   # {"url": "http://127.0.0.1:…/trade", "username": …, "password": …}

It publishes the entity sets of one or more configurations (``ut11`` for УТ 11,
``unf`` for УНФ, ``retail`` for Розница; where two presets name the same set, the
first one listed defines it), seeded with a café-and-shop (:mod:`._seed`), and
behaves like 1C where hub can tell:

* Basic auth (401 otherwise); paths outside the publication get the web server's
  HTML 404, not 1C's error;
* the service document, ``$metadata``, collections with ``$filter`` (v3 literals),
  ``$select``, ``$expand``, ``$orderby``, ``$top``/``$skip``, ``$inlinecount``,
  ``$count`` and ``allowedOnly`` - and never a next-page link;
* the virtual tables ``SliceLast`` (information registers) and ``Balance``
  (accumulation registers) with ``Period``, ``Condition`` and ``Dimensions``;
* POST, PATCH with ``If-Match`` (412 on a stale ``DataVersion``, which changes on
  every write), tabular sections replaced whole and refused without ``LineNumber``,
  the ``Post`` and ``Unpost`` actions;
* 1C's quirks on the way out: empty GUIDs and ``0001-01-01T00:00:00`` instead of
  null, fixed-length strings padded with spaces, ``LineNumber`` as a string, naive
  local datetimes, ``…@navigationLinkUrl`` annotations;
* errors as ``{"odata.error": {"code": "<string>", "message": {"lang": "ru", "value": …}}}``
  with 1C's codes. Texts seen in real answers are used verbatim; the others are
  paraphrases, since no captured body was available.

What it refuses rather than fakes (with 1C's error shape, code 0 or 21): navigation
paths and arithmetic inside ``$filter``, lambdas, Atom, PUT and DELETE, reading
accumulation registers as record sets. Posting changes ``Posted`` only; it writes
no register movements.

Beside this module: :mod:`._schema` describes the sets each configuration
publishes, :mod:`._filter` compiles ``$filter`` and virtual-table parameters, and
:mod:`._refusal` holds 1C's error answers.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID
from xml.sax.saxutils import escape, quoteattr

from werkzeug.wrappers import Request, Response

from connectors import _onec_seed as _seed
from connectors.onec_odata._filter import (
    DATETIME_TEXT,
    FilterParser,
    Predicate,
    Term,
    args_key,
    constant,
    fold,
    named_args,
)
from connectors.onec_odata._refusal import (
    INTERNAL,
    NO_RIGHTS,
    NO_ROWS_DIRECTLY,
    NOT_FOUND,
    VERSION_MISMATCH,
    Refusal,
    bad_query,
    bad_url,
    bad_value,
    method_not_allowed,
    no_entity_type,
    no_property,
    unsupported,
)
from connectors.onec_odata._schema import (
    AGREEMENTS,
    BARCODES,
    CONTACT_KINDS,
    CURRENCIES,
    CUSTOMERS,
    EDM,
    GOODS,
    ORGANIZATIONS,
    PARTNERS,
    PRESETS,
    PRICE_TYPES,
    PRICES,
    RECEIPT_DOCUMENT,
    SHOPS,
    UNITS,
    Kind,
    Preset,
    Prop,
    SetSpec,
    by_name,
    complete,
    published_sets,
)
from connectors.onec_odata.odata import EMPTY_DATE, EMPTY_GUID
from hub.inbound import json_response
from hub.sandbox import Action, ActionRefused, Param, Sandbox, number_param
from hub.values import json_loads, to_local_naive, utcnow, zone

# Re-exported: the package and the dialect tests still import these from here.
__all__ = ["PRESETS", "FilterParser", "OneCSandbox", "Prop", "Refusal"]

_ROOT = "odata/standard.odata"
_SEGMENT = re.compile(r"^(?P<set>[^/(]+)(?:\((?P<key>[^)]*)\))?(?:/(?P<rest>.*))?$", re.DOTALL)
_CALL = re.compile(r"^(?P<name>[$\w]+)(?:\((?P<args>.*)\))?$", re.DOTALL)
_KEY = re.compile(r"^guid'(?P<ref>[0-9a-fA-F-]{36})'$")
_KNOWN_OPTIONS = {"$filter", "$select", "$expand", "$orderby", "$top", "$skip", "$format", "$inlinecount"}
_HTML_404 = ("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head><title>404 Not Found</title>"
             "</head><body><h1>Not Found</h1><p>The requested URL was not found on this server.</p>"
             "<hr><address>Apache/2.4.62 (Debian) Server at 127.0.0.1</address></body></html>\n")
_CACHED_QUERIES = 8
_ORDER_STATUSES = ("НеСогласован", "КОбеспечению", "КОтгрузке", "Закрыт")
"""УТ 11's СтатусыЗаказовКлиентов a customer order can be put in."""
# The references an order is filled with, as an integrator would find them in a small УТ 11 base; the first
# of each is what preset_values() picks (config/hub.yaml copies these Ref_Keys).
_REFERENCES: dict[str, list[dict[str, Any]]] = {
    # The company on the shop's receipts: the ATOL Online sandbox's INN, so that the demo's receipts are taken.
    ORGANIZATIONS: [
        {"Ref_Key": "5a3c0e1e-0a1d-4c1e-8f00-000000000001", "Code": "00-000001", "Description": "ООО «Тверская»",
         "НаименованиеПолное": "Общество с ограниченной ответственностью «Тверская»", "ИНН": "5544332219",
         "КПП": "770101001", "СистемаНалогообложения": "ОСН",
         "КонтактнаяИнформация": [
             {"LineNumber": 1, "Тип": "Адрес", "Представление": "125009, Москва, ул. Тверская, д. 7"},
             {"LineNumber": 2, "Тип": "ВебСтраница", "Представление": "https://tverskaya.example.ru"},
             {"LineNumber": 3, "Тип": "АдресЭлектроннойПочты", "Представление": "cheki@tverskaya.example.ru"}]},
        {"Ref_Key": "5a3c0e1e-0a1d-4c1e-8f00-000000000011", "Code": "00-000002",
         "Description": "ИП Смирнова Анна Сергеевна", "ИНН": "771234567890", "СистемаНалогообложения": "Патент",
         "КонтактнаяИнформация": [
             {"LineNumber": 1, "Тип": "АдресЭлектроннойПочты", "Представление": "smirnova.ip@example.ru"}]}],
    PARTNERS: [
        {"Ref_Key": "5a3c0e1e-0a1d-4c1e-8f00-000000000002", "Code": "00-000001", "Description": "Розничный покупатель"},
        {"Ref_Key": "5a3c0e1e-0a1d-4c1e-8f00-000000000012", "Code": "00-000002", "Description": "Яндекс Еда"}],
    AGREEMENTS: [
        {"Ref_Key": "5a3c0e1e-0a1d-4c1e-8f00-000000000003", "Code": "00-000001", "Description": "Розничные продажи"},
        {"Ref_Key": "5a3c0e1e-0a1d-4c1e-8f00-000000000013", "Code": "00-000002",
         "Description": "Доставка через агрегатор"}],
    CURRENCIES: [
        {"Ref_Key": "5a3c0e1e-0a1d-4c1e-8f00-000000000004", "Code": "643", "Description": "RUB"}],
    CONTACT_KINDS: [
        {"Ref_Key": "9e2d6c43-5a1b-11f0-8c1e-00155d01c80a", "Code": "", "Description": "Телефон контрагента",
         "Predefined": True, "PredefinedDataName": "ТелефонКонтрагента"},
        {"Ref_Key": "9e2d6c44-5a1b-11f0-8c1e-00155d01c80a", "Code": "", "Description": "Email контрагента",
         "Predefined": True, "PredefinedDataName": "EmailКонтрагента"}],
}
Rows = Callable[[], Iterable[Mapping[str, Any]]]


class OneCSandbox(Sandbox):
    """A 1C base published over OData, in memory and thread-safe; deterministic for a given seed."""

    name = "1c"
    port = 8100

    def __init__(self, presets: Sequence[str] = ("ut11",), *, unpublished: Collection[str] = (),
                 forbidden: Collection[str] = (), username: str = "hub", password: str = "sandbox-secret",  # noqa: S107
                 publication: str = "trade", timezone: str = "Europe/Moscow", seed: int = 7) -> None:
        """``presets`` name the configurations whose sets are published (ut11, unf, retail).

        ``unpublished`` sets are left out of the OData composition (1C answers error 8
        for them); reading or writing a ``forbidden`` one is refused with error 20.
        """
        super().__init__()
        unknown = [name for name in presets if name not in PRESETS]
        if unknown or not presets:
            raise ValueError(f"unknown 1C presets {unknown}; choose from {sorted(PRESETS)}")
        self.presets = [PRESETS[name] for name in presets]
        self.username = username
        self.password = password
        self.publication = publication
        self.tz = zone(timezone)
        self.forbidden = frozenset(forbidden)
        self.specs: dict[str, SetSpec] = {}
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        """Catalog and document rows by set, then by reference; values as Python sees them."""
        self.records: dict[str, list[dict[str, Any]]] = {}
        """Register records by set."""
        self._store = threading.RLock()
        self._changes = 0
        """Bumped by every write; part of the query cache's key, so a write retires every cached query."""
        self._versions = 0
        self._cache: OrderedDict[tuple[Any, ...], list[Mapping[str, Any]]] = OrderedDict()
        self._refs = _seed.Refs(random.Random(seed + 1))
        self._random = random.Random(seed + 2)
        self._publish(_seed.cafe(seed), set(unpublished))

    def source_settings(self) -> dict[str, Any]:
        settings = {"url": f"{self.url}/{self.publication}", "username": self.username, "password": self.password,
                    "preset": self.preset_name, "values": self.preset_values()}
        if self.preset_name == "ut11":  # its orders carry the attributes a base adds for receipts (see _schema)
            settings["fiscal_fields"] = {kind: {"number": f"Чек{word}Номер", "sign": f"Чек{word}ФП",
                                                "time": f"Чек{word}Дата"}
                                         for kind, word in (("prepayment", "Предоплаты"), ("full", "Расчета"),
                                                            ("cancel", "Возврата"))}
        return settings

    def job_options(self, job_type: str) -> dict[str, Any] | None:
        values = self.preset_values()
        if job_type == "stock":
            return {"venues": {"main": values["venues"]["main"]["warehouse"]}}
        if job_type == "prices":
            return {"price_type": values["price_type"]}
        return {}

    @property
    def preset_name(self) -> str:
        return next(name for name, preset in PRESETS.items() if preset is self.presets[0])

    def preset_values(self) -> dict[str, Any]:
        """The references the shipped presets' mappings read (``values:`` of a 1C source), from this base."""
        preset = self.presets[0]
        warehouses = self.rows(preset.warehouses)
        retail = next(row for row in self.rows(CUSTOMERS) if row["Description"] == "Розничный покупатель")
        first = {name: rows[0]["Ref_Key"] for name, rows in _REFERENCES.items()}
        phone, email = (row["Ref_Key"] for row in _REFERENCES[CONTACT_KINDS])
        return {"organization": first[ORGANIZATIONS], "partner": first[PARTNERS], "agreement": first[AGREEMENTS],
                "currency": first[CURRENCIES], "price_type": self.rows(PRICE_TYPES)[0]["Ref_Key"],
                "retail_customer": retail["Ref_Key"], "venues": {"main": {"warehouse": warehouses[0]["Ref_Key"]}},
                "contact_kinds": {"phone": phone, "email": email}}

    # --- the base's side, for tests, the demo and the bench ---------------------------------

    @property
    def service_root(self) -> str:
        return f"{self.url}/{self.publication}/{_ROOT}/"

    def demo_activity(self) -> list[str]:
        """Goods arrive at a warehouse and a price changes, as the back office would do in 1C."""
        preset = self.presets[0]
        now = to_local_naive(utcnow(), self.tz).replace(microsecond=0)
        with self._store:
            goods = [row for row in self.objects.get(GOODS, {}).values() if not row["IsFolder"]]
            if not goods or preset.stock not in self.records or PRICES not in self.records:
                return []
            good = self._random.choice(goods)
            warehouse = self._random.choice(list(self.objects[preset.warehouses].values()))
            quantity = Decimal(self._random.randint(5, 30))
            self.receive(good["Ref_Key"], warehouse["Ref_Key"], quantity)
            repriced = self._random.choice(goods)
            current = max((r for r in self.records[PRICES] if r["Номенклатура_Key"] == repriced["Ref_Key"]),
                          key=lambda r: r["Period"])
            price = (current["Цена"] * Decimal("1.05")).quantize(Decimal("0.01"))
            self.records[PRICES].append({**current, "Period": now, "Цена": price})
            self._changes += 1
        return [f"{quantity} of {good['Description']!r} arrived at {warehouse['Description']!r}",
                f"the price of {repriced['Description']!r} went up to {price} RUB"]

    def receive(self, good: str, warehouse: str, quantity: Decimal) -> None:
        """``quantity`` of ``good`` arrives at ``warehouse`` (negative: leaves it), as a posted document would do."""
        preset = self.presets[0]
        with self._store:
            self.records[preset.stock].append(_stock_move(
                preset, recorder=self._refs(), period=to_local_naive(utcnow(), self.tz).replace(microsecond=0),
                line=1, good=good, warehouse=warehouse, quantity=quantity))
            self._changes += 1

    # --- what an integrator makes 1C do (/_sandbox/) -----------------------------------------------

    def actions(self) -> list[Action]:
        return [
            Action("set-status", "orders/{number}/status",
                   f"a manager changes a customer order's status in {self.presets[0].order}, as OData then shows it",
                   (Param("number", "the document's number (КФ00-000001) or the channel's key hub wrote "
                                    "(shop:1001)"),
                    Param("status", f"one of {', '.join(_ORDER_STATUSES)} (УТ 11's СтатусыЗаказовКлиентов)")),
                   self._set_status_action),
            Action("pick", "orders/{number}/pick",
                   "a picker weighs a good of an order: its line takes the weight, its sum and the total follow",
                   (Param("number", "the document's number or the channel's key hub wrote (shop:1001)"),
                    Param("article", "the good's Артикул, e.g. APL-GRN"), Param("quantity", "the weight, e.g. 0.312")),
                   lambda args: self.pick(args["number"], args["article"], number_param("quantity", args["quantity"]))),
            Action("cancel", "orders/{number}/cancel",
                   "a manager cancels a customer order as УТ 11 does: closed, every line marked cancelled",
                   (Param("number", "the document's number or the channel's key hub wrote (shop:1001)"),),
                   lambda args: self.cancel(args["number"])),
            Action("receive", "stock", "goods arrive at a warehouse (a negative quantity: they leave it)",
                   (Param("article", "the good's Артикул, e.g. CAP-300"), Param("quantity", "a number, e.g. 12"),
                    Param("warehouse", "the warehouse's name; the first one when left out", optional=True)),
                   self._receive_action),
        ]

    def _set_status_action(self, args: dict[str, str]) -> dict[str, Any]:
        preset = self.presets[0]
        if "Статус" not in self.specs[preset.order].all_props:
            raise ActionRefused(f"{preset.order} has no Статус in this configuration: only УТ 11's orders have one")
        if args["status"] not in _ORDER_STATUSES:
            raise ActionRefused(f"status must be one of {', '.join(_ORDER_STATUSES)}", 400)
        with self._store:
            row = next((row for row in self.objects[preset.order].values()
                        if args["number"] in (str(row["Number"]).strip(), row[preset.order_external_number])), None)
            if row is None:
                raise ActionRefused(f"no {preset.order} numbered {args['number']!r}", 404)
            row["Статус"] = args["status"]
            self._changed(row)
            return {"Ref_Key": row["Ref_Key"], "Number": row["Number"], "Статус": row["Статус"]}

    def pick(self, number: str, article: str, quantity: Decimal) -> dict[str, Any]:
        """1C's weight correction: the line of ``article`` in order ``number`` (or channel key) holds ``quantity``
        as picked, its sum and the document's total follow, as a manager's edit of the posted order does."""
        preset = self.presets[0]
        with self._store:
            row = next((row for row in self.objects[preset.order].values()
                        if number in (str(row["Number"]).strip(), row[preset.order_external_number])), None)
            good = next((g for g in self.objects[GOODS].values() if g.get("Артикул") == article), None)
            line = None if row is None or good is None else \
                next((li for li in row["Товары"] if li["Номенклатура_Key"] == good["Ref_Key"]), None)
            if row is None or line is None:
                raise ActionRefused(f"no line of {article!r} in a {preset.order} numbered {number!r}", 404)
            line.update(Количество=quantity, КоличествоУпаковок=quantity,
                        Сумма=(line["Цена"] * quantity - line.get("СуммаРучнойСкидки", 0)).quantize(Decimal("0.01")))
            row["СуммаДокумента"] = sum((li["Сумма"] for li in row["Товары"]), Decimal(0))
            self._changed(row)
            return {"Number": row["Number"], "Количество": quantity, "СуммаДокумента": row["СуммаДокумента"]}

    def cancel(self, number: str) -> dict[str, Any]:
        """Cancel order ``number`` (or channel key) as a manager does in УТ 11: Закрыт, every line Отменено."""
        preset = self.presets[0]
        with self._store:
            row = next((row for row in self.objects[preset.order].values()
                        if number in (str(row["Number"]).strip(), row[preset.order_external_number])), None)
            if row is None or "Статус" not in self.specs[preset.order].all_props:
                raise ActionRefused(f"no {preset.order} with a Статус numbered {number!r}", 404)
            row["Статус"] = "Закрыт"
            for line in row["Товары"]:
                line["Отменено"] = True
            self._changed(row)
            return {"Number": row["Number"], "Статус": row["Статус"]}

    def _receive_action(self, args: dict[str, str]) -> dict[str, Any]:
        quantity = number_param("quantity", args["quantity"])
        with self._store:
            good = next((row for row in self.objects[GOODS].values() if row.get("Артикул") == args["article"]), None)
            warehouses = list(self.objects[self.presets[0].warehouses].values())
            warehouse = next((row for row in warehouses if row["Description"] == args.get("warehouse")),
                             None if args.get("warehouse") else warehouses[0])
        if good is None:
            raise ActionRefused(f"no good with Артикул {args['article']!r}", 404)
        if warehouse is None:
            raise ActionRefused(f"no warehouse named {args['warehouse']!r}; there are "
                                f"{', '.join(row['Description'] for row in warehouses)}", 404)
        self.receive(good["Ref_Key"], warehouse["Ref_Key"], quantity)
        return {"good": good["Description"], "warehouse": warehouse["Description"], "quantity": quantity}

    def rows(self, entity_set: str) -> list[dict[str, Any]]:
        """Copies of the stored rows of a set (objects or register records)."""
        with self._store:
            stored = self.objects.get(entity_set)
            rows = list(stored.values()) if stored is not None else self.records[entity_set]
            return [dict(row) for row in rows]

    def seed_stock(self, count: int) -> str:
        """Add ``count`` goods-and-warehouse balances to the first preset's stock register; return its name.

        The goods are synthetic references (not in the catalog), so a big register
        costs one receipt record per balance and nothing else.
        """
        preset = self.presets[0]
        warehouses = list(self.objects[preset.warehouses])
        recorder = self._refs()
        moves = [_stock_move(preset, recorder=recorder, period=_seed.OPENED, line=number + 1,
                             good=f"{number // len(warehouses):08x}-0000-11f0-8000-00155d01c80b",
                             warehouse=warehouses[number % len(warehouses)], quantity=Decimal(number % 97 + 1))
                 for number in range(count)]
        with self._store:
            self.records[preset.stock].extend(moves)
            self._changes += 1
        return preset.stock

    # --- seeding -------------------------------------------------------------------------------

    def _publish(self, cafe: _seed.Cafe, unpublished: set[str]) -> None:
        for preset in self.presets:
            for spec in published_sets(preset):
                if spec.name in self.specs or spec.name in unpublished:
                    continue
                self.specs[spec.name] = spec
                if spec.is_object:
                    self.objects[spec.name] = {}
                    for row in self._seed_objects(spec.name, preset, cafe):
                        self._put(spec.name, row)
                else:
                    self.records[spec.name] = [complete(spec.all_props, record)
                                               for record in self._seed_records(spec.name, preset, cafe)]

    def _seed_objects(self, name: str, preset: Preset, cafe: _seed.Cafe) -> list[dict[str, Any]]:
        """The café's catalog items under one configuration's set names; documents start empty."""
        if name == GOODS:
            return [*(_catalog_row(group, IsFolder=True) for group in cafe.groups),
                    *(_catalog_row(good, Parent_Key=good.group, Артикул=good.sku, Весовой=good.weighed,
                                   СтавкаНДС=good.vat, ЕдиницаИзмерения_Key=cafe.units[good.weighed].ref)
                      for good in cafe.goods)]
        if name == UNITS:
            return [_catalog_row(unit) for unit in cafe.units.values()]
        if name == CUSTOMERS:
            return [_customer_row(customer) for customer in cafe.customers]
        if name == preset.warehouses:
            return [_catalog_row(warehouse, ТипСклада="РозничныйМагазин") for warehouse in cafe.warehouses]
        if name == PRICE_TYPES:
            return [_catalog_row(price_type, ЦенаВключаетНДС=True) for price_type in cafe.price_types]
        if name in _REFERENCES:
            return [dict(row) for row in _REFERENCES[name]]
        if name == SHOPS:
            return [{"Ref_Key": self._refs(), "Code": "00-000001", "Description": "Кофейня на Тверской",
                     "Склад_Key": cafe.warehouses[1].ref}]
        return []

    def _seed_records(self, name: str, preset: Preset, cafe: _seed.Cafe) -> list[dict[str, Any]]:
        """The café's prices, barcodes and stock movements as one configuration's register records."""
        if name == PRICES:
            return [{"Period": p.period, "Номенклатура_Key": p.good, f"{preset.price_type}_Key": p.price_type,
                     "Цена": p.price} for p in cafe.prices]
        if name == BARCODES:
            return [{"Штрихкод": g.barcode, "Номенклатура_Key": g.ref} for g in cafe.goods]
        if name == preset.stock:
            recorder = self._refs()
            return [_stock_move(preset, recorder=recorder, period=m.period, line=n, good=m.good,
                                warehouse=m.warehouse, quantity=m.quantity, receipt=m.receipt)
                    for n, m in enumerate(cafe.stock, start=1)]
        return []

    def _put(self, name: str, row: dict[str, Any]) -> None:
        spec = self.specs[name]
        row = {**row, "DataVersion": self._data_version()}
        complete(spec.all_props, row)
        for table, props in spec.tables.items():
            row[table] = [complete(by_name(props), dict(line)) for line in row.get(table, [])]
        self.objects[name][row["Ref_Key"]] = row

    def _data_version(self) -> str:
        self._versions += 1
        return base64.b64encode(self._versions.to_bytes(4, "big") + bytes(4)).decode()

    # --- HTTP: where a request goes --------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        rest = self._inside_publication(request.path)
        if rest is None:
            # Outside the publication Apache answers, not 1C: its HTML page, not an odata.error.
            return Response(_HTML_404, status=404, content_type="text/html; charset=iso-8859-1")
        if not self._authorized(request):
            return Response("", status=401, headers={"WWW-Authenticate": 'Basic realm="1C:Enterprise"'})
        try:
            return self._route(request, rest)
        except Refusal as refusal:
            return refusal.response()

    def _inside_publication(self, path: str) -> str | None:
        """The path below the service root, None for a path outside the publication."""
        root = f"/{self.publication}/{_ROOT}"
        if path != root and not path.startswith(root + "/"):
            return None
        return path[len(root):].lstrip("/")

    def _authorized(self, request: Request) -> bool:
        auth = request.authorization
        return (auth is not None and auth.type == "basic"
                and (auth.username, auth.password) == (self.username, self.password))

    def _route(self, request: Request, rest: str) -> Response:
        if rest in ("", "$metadata"):
            if request.method != "GET":
                raise method_not_allowed(request.method)
            return self._service_document() if rest == "" else self._metadata()
        match = _SEGMENT.match(rest)
        if match is None:
            raise bad_url(rest)
        name, key, tail = match.group("set", "key", "rest")
        spec, table = self._lookup(name)
        _check_format(request)
        if table is not None:
            return self._on_lines(request, spec, table, addressed=key is not None or bool(tail), path=rest)
        if key is not None:
            return self._on_object(request, spec, _key(key), tail)
        if tail:
            return self._virtual(request, spec, name, tail)
        return self._on_set(request, spec, name)

    def _on_lines(self, request: Request, spec: SetSpec, table: str, *, addressed: bool, path: str) -> Response:
        """A tabular section published as a set of its own (``Document_X_Товары``): read whole, never written."""
        if request.method == "POST":
            raise Refusal(400, "13", NO_ROWS_DIRECTLY)
        if request.method != "GET" or addressed:
            raise unsupported(f"{request.method} {path} (песочница)")
        name = f"{spec.name}_{table}"
        return self._collection(request, ("table", name), spec.table_props(table),
                                lambda: self._table_rows(spec, table), set_name=name)

    def _on_object(self, request: Request, spec: SetSpec, ref: str, tail: str | None) -> Response:
        if tail:
            return self._action(request, spec, ref, tail)
        if request.method == "GET":
            return self._entity(request, spec, ref)
        if request.method == "PATCH":
            return self._patch(request, spec, ref)
        raise method_not_allowed(request.method, " (песочница: только GET, PATCH)")

    def _on_set(self, request: Request, spec: SetSpec, name: str) -> Response:
        if request.method == "POST":
            return self._create(request, spec)
        if request.method != "GET":
            raise method_not_allowed(request.method)
        if spec.kind is Kind.ACCUMULATION_REGISTER and not name.endswith("_RecordType"):
            raise unsupported("чтение наборов записей регистра накопления (песочница); читайте …_RecordType")
        return self._read_set(request, spec, name, tables=spec.tables)

    def _lookup(self, name: str) -> tuple[SetSpec, str | None]:
        """The set a path names, and the tabular section when it names one; refuses what is not published."""
        base = name.removesuffix("_RecordType")
        spec = self.specs.get(base)
        table = None
        if spec is None:
            owner, _, table = name.rpartition("_")
            spec = self.specs.get(owner)
            if spec is not None and table not in spec.tables:
                spec = None
        elif base != name and spec.kind is not Kind.ACCUMULATION_REGISTER:
            spec = None  # only accumulation registers publish a …_RecordType set
        if spec is None:
            raise no_entity_type(name)
        if spec.name in self.forbidden:
            raise Refusal(403, "20", NO_RIGHTS)
        return spec, table

    # --- HTTP: the service document and $metadata ------------------------------------------------

    def _service_document(self) -> Response:
        names: list[str] = []
        for spec in self.specs.values():
            names.append(spec.name)
            names += [f"{spec.name}_{table}" for table in spec.tables]
            if spec.kind is Kind.ACCUMULATION_REGISTER:
                names.append(f"{spec.name}_RecordType")
        # The base URL without its trailing slash, exactly as in the captured service document.
        return json_response({"odata.metadata": self.service_root.rstrip("/"),
                              "value": [{"name": name, "url": name} for name in names]})

    def _metadata(self) -> Response:
        edm = _Edm(set(self.specs))
        for spec in self.specs.values():
            edm.describe(spec)
        return Response(edm.document(), content_type="application/xml; charset=utf-8")

    # --- HTTP: reading -------------------------------------------------------------------------

    def _all_rows(self, spec: SetSpec) -> Iterable[Mapping[str, Any]]:
        return self.objects[spec.name].values() if spec.is_object else self.records[spec.name]

    def _table_rows(self, spec: SetSpec, table: str) -> Iterable[Mapping[str, Any]]:
        for row in self.objects[spec.name].values():
            for line in row[table]:
                yield {**line, "Ref_Key": row["Ref_Key"]}

    def _read_set(self, request: Request, spec: SetSpec, name: str, *,
                  tables: Mapping[str, tuple[Prop, ...]] | None = None) -> Response:
        return self._collection(request, ("set", name), spec.all_props, lambda: self._all_rows(spec),
                                set_name=name, tables=tables)

    def _collection(self, request: Request, what: tuple[Any, ...], props: Mapping[str, Prop], source: Rows, *,
                    set_name: str, tables: Mapping[str, tuple[Prop, ...]] | None = None) -> Response:
        """Any readable set, real or virtual: the query options applied, then one page (or ``/$count``)."""
        args = request.args
        text_filter, orderby = args.get("$filter"), args.get("$orderby")
        selected = _selection(props, tables, args.get("$select"))
        expand = self._expansion(props, args.get("$expand"))
        top, skip = _count(args, "$top"), _count(args, "$skip") or 0
        predicate = FilterParser(text_filter, props).predicate() if text_filter else None
        sort = _sort_key(orderby, props) if orderby else None
        with self._store:
            rows = self._query((*what, text_filter, orderby), source, predicate, sort)
            page = rows[skip:] if top is None else rows[skip:skip + top]
            value = [self._render(props, row, set_name=set_name, selected=selected, expand=expand, tables=tables)
                     for row in page]
        if request.path.endswith("/$count"):
            return Response(str(len(rows)), content_type="text/plain; charset=utf-8")
        body: dict[str, Any] = {"odata.metadata": f"{self.service_root}$metadata#{set_name}"}
        if args.get("$inlinecount") == "allpages":
            body["odata.count"] = str(len(rows))
        body["value"] = value  # 1C never adds a next-page link: clients page with $top/$skip themselves
        return json_response(body)

    def _query(self, key: tuple[Any, ...], source: Rows, predicate: Predicate | None,
               sort: Callable[[list[Mapping[str, Any]]], None] | None) -> list[Mapping[str, Any]]:
        """The rows a query selects, in order; call under the store lock.

        Clients page with ``$top``/``$skip``, re-running the same query page after page,
        so the result is kept until the next write (whose count is part of the key).
        """
        key = (*key, self._changes)
        rows = self._cache.get(key)
        if rows is None:
            rows = [row for row in source() if predicate is None or predicate(row)]
            if sort is not None:
                sort(rows)
            self._cache[key] = rows
            while len(self._cache) > _CACHED_QUERIES:
                self._cache.popitem(last=False)
        return rows

    def _entity(self, request: Request, spec: SetSpec, ref: str) -> Response:
        selected = _selection(spec.all_props, spec.tables, request.args.get("$select"))
        expand = self._expansion(spec.all_props, request.args.get("$expand"))
        with self._store:
            body = self._element(spec, self._object(spec, ref), selected=selected, expand=expand)
        return json_response(body)

    def _object(self, spec: SetSpec, ref: str) -> dict[str, Any]:
        if not spec.is_object:
            raise unsupported("обращение к записи регистра по ключу (песочница)")
        row = self.objects[spec.name].get(ref)
        if row is None:
            raise Refusal(404, "9", NOT_FOUND)
        return row

    def _element(self, spec: SetSpec, row: Mapping[str, Any], *, selected: list[str] | None = None,
                 expand: Mapping[str, SetSpec] | None = None) -> dict[str, Any]:
        """One object as 1C answers for it alone (a read, or the result of a write)."""
        return {"odata.metadata": f"{self.service_root}$metadata#{spec.name}/@Element",
                **self._render(spec.all_props, row, set_name=spec.name, selected=selected, expand=expand,
                               tables=spec.tables)}

    def _expansion(self, props: Mapping[str, Prop], text: str | None) -> dict[str, SetSpec]:
        expand: dict[str, SetSpec] = {}
        for name in (n.strip() for n in (text or "").split(",") if n.strip()):
            prop = props.get(f"{name}_Key")
            target = self.specs.get(prop.ref) if prop is not None and prop.ref else None
            if target is None:
                raise Refusal(400, "10", f"Не найдено навигационное свойство: {name}")
            expand[name] = target
        return expand

    def _render(self, props: Mapping[str, Prop], row: Mapping[str, Any], *, set_name: str,
                selected: list[str] | None = None, expand: Mapping[str, SetSpec] | None = None,
                tables: Mapping[str, tuple[Prop, ...]] | None = None) -> dict[str, Any]:
        """A stored row as 1C writes it: wire values, tabular sections, expanded or linked references."""
        out: dict[str, Any] = {}
        for name in selected or [*props, *(tables or {})]:
            prop = props.get(name)
            if prop is not None:
                out[name] = _wire(prop, row.get(name))
            elif tables and name in tables:
                line_props = by_name(tables[name])
                out[name] = [{n: _wire(p, line.get(n) if n != "Ref_Key" else row["Ref_Key"])
                              for n, p in line_props.items()} for line in row[name]]
        ref = row.get("Ref_Key")
        for name, prop in props.items():
            if not (prop.ref and name.endswith("_Key")):
                continue
            nav = name.removesuffix("_Key")
            target = (expand or {}).get(nav)
            if target is not None:
                linked = self.objects[target.name].get(row.get(name) or "")
                out[nav] = (self._render(target.all_props, linked, set_name=target.name, tables=target.tables)
                            if linked is not None else None)
            elif ref is not None and selected is None:
                out[f"{nav}@navigationLinkUrl"] = f"{set_name}(guid'{ref}')/{nav}"
        return out

    # --- HTTP: virtual tables ------------------------------------------------------------------

    def _virtual(self, request: Request, spec: SetSpec, name: str, tail: str) -> Response:
        if tail == "$count":
            return self._read_set(request, spec, name)
        match = _CALL.match(tail)
        if match is None:
            raise bad_url(tail)
        function = match.group("name")
        args = named_args(match.group("args") or "")
        # The KB also shows the parameters in the query string: accept both spellings.
        args.update(named_args(",".join(f"{k}={v}" for k, v in request.args.items()
                                        if k in ("Period", "Condition", "Dimensions"))))
        if function == "Balance" and spec.kind is Kind.ACCUMULATION_REGISTER:
            return self._balance(request, spec, args)
        if function in ("SliceLast", "SliceFirst") and spec.kind is Kind.INFORMATION_REGISTER:
            return self._slice(request, spec, args, last=function == "SliceLast")
        raise Refusal(400, "6", f"Неверное имя виртуальной таблицы: {function}")

    def _balance(self, request: Request, spec: SetSpec, args: dict[str, Term]) -> Response:
        """Active movements before ``Period`` summed by the chosen dimensions; zero balances are left out."""
        period, condition = constant(args, "Period", "date"), _condition(spec, args)
        dimensions = _balance_dimensions(spec, constant(args, "Dimensions", "string"))
        props = {**by_name(dimensions),
                 **{f"{r.name}Balance": Prop(f"{r.name}Balance", "number") for r in spec.resources}}

        def balances() -> list[dict[str, Any]]:
            totals: dict[tuple[Any, ...], list[Decimal]] = {}
            for move in self.records[spec.name]:
                if not move["Active"] or (period is not None and move["Period"] >= period):
                    continue
                if condition is not None and not condition(move):
                    continue
                sums = totals.setdefault(tuple(move[d.name] for d in dimensions), [Decimal(0)] * len(spec.resources))
                sign = 1 if move["RecordType"] == "Receipt" else -1
                for i, resource in enumerate(spec.resources):
                    sums[i] += sign * move[resource.name]
            names = list(props)
            return [dict(zip(names, (*key, *sums), strict=True))
                    for key, sums in totals.items() if any(sums)]

        what = ("Balance", spec.name, args_key(args))
        return self._collection(request, what, props, balances, set_name=f"{spec.name}_Balance")

    def _slice(self, request: Request, spec: SetSpec, args: dict[str, Term], *, last: bool) -> Response:
        """Per combination of dimensions, the last (or first) record up to ``Period``."""
        period, condition = constant(args, "Period", "date"), _condition(spec, args)

        def slice_rows() -> list[dict[str, Any]]:
            chosen: dict[tuple[Any, ...], dict[str, Any]] = {}
            for record in self.records[spec.name]:
                if period is not None and record["Period"] > period:
                    continue
                if condition is not None and not condition(record):
                    continue
                key = tuple(record[d.name] for d in spec.dimensions)
                held = chosen.get(key)
                if held is None or (record["Period"] >= held["Period"] if last else record["Period"] < held["Period"]):
                    chosen[key] = record
            return list(chosen.values())

        name = "SliceLast" if last else "SliceFirst"
        return self._collection(request, (name, spec.name, args_key(args)), spec.all_props, slice_rows,
                                set_name=f"{spec.name}_{name}")

    # --- HTTP: writing -------------------------------------------------------------------------

    def _create(self, request: Request, spec: SetSpec) -> Response:
        if not spec.is_object:
            raise unsupported("запись в регистр (песочница)")
        body = _body(request)
        with self._store:
            row = _accept(spec, body)
            ref = row.get("Ref_Key") or self._refs()
            if ref in self.objects[spec.name]:
                raise Refusal(400, "15", f"Сущность с таким ключом уже существует: {ref}")
            numbering = "Code" if spec.kind is Kind.CATALOG else "Number"
            if not row.get(numbering):
                row[numbering] = f"КФ00-{len(self.objects[spec.name]) + 1:06d}"
            if spec.kind is Kind.DOCUMENT and row.get("Date") is None:
                row["Date"] = to_local_naive(utcnow(), self.tz).replace(microsecond=0)
            self._put(spec.name, {**row, "Ref_Key": ref})
            self._changes += 1
            answer = self._element(spec, self.objects[spec.name][ref])
        self.committed(request)
        return json_response(answer, 201, headers={"Location": f"{self.service_root}{spec.name}(guid'{ref}')"})

    def _patch(self, request: Request, spec: SetSpec, ref: str) -> Response:
        """A partial update; tabular sections in the body replace the stored ones whole."""
        body = _body(request)
        with self._store:
            row = self._object(spec, ref)
            wanted = request.headers.get("If-Match", "").removeprefix("W/").strip('" ')
            if wanted and wanted != "*" and wanted != row["DataVersion"]:
                raise Refusal(412, "0", VERSION_MISMATCH)
            changes = _accept(spec, body, partial=True)
            if changes.get("Ref_Key", ref) != ref:
                raise Refusal(400, "16", "Не удалось установить значение свойства 'Ref_Key'")
            row.update(changes)
            self._changed(row)
            answer = self._element(spec, row)
        self.committed(request)
        return json_response(answer)

    def _action(self, request: Request, spec: SetSpec, ref: str, action: str) -> Response:
        """``Post`` and ``Unpost``: only the ``Posted`` flag changes, no register movements are written."""
        if request.method != "POST":
            raise method_not_allowed(request.method)
        if spec.kind is not Kind.DOCUMENT or action not in ("Post", "Unpost"):
            raise Refusal(400, "11", f"Не найден метод: {action}")
        with self._store:
            row = self._object(spec, ref)
            if action == "Post" and row["DeletionMark"]:
                raise Refusal(500, "-1", "Ошибка при вызове метода контекста (Записать): "
                                         "Помеченный на удаление документ не может быть проведен!")
            row["Posted"] = action == "Post"
            self._changed(row)
        self.committed(request)
        return Response(b"", status=200)

    def _changed(self, row: dict[str, Any]) -> None:
        """After a write to a stored object: a new ``DataVersion`` makes older ``If-Match`` values stale."""
        row["DataVersion"] = self._data_version()
        self._changes += 1


# --- seeding helpers ---------------------------------------------------------------------------


def _catalog_row(item: _seed.Good | _seed.Customer | _seed.Named, **more: Any) -> dict[str, Any]:
    return {"Ref_Key": item.ref, "Code": item.code, "Description": item.name, **more}


def _customer_row(customer: _seed.Customer) -> dict[str, Any]:
    phone_kind, email_kind = (row["Ref_Key"] for row in _REFERENCES[CONTACT_KINDS])
    contacts = [{"Тип": "Телефон", "Вид_Key": phone_kind, "Представление": customer.phone,
                 "НомерТелефона": customer.phone}] if customer.phone else []
    if customer.email:
        contacts.append({"Тип": "АдресЭлектроннойПочты", "Вид_Key": email_kind,
                         "Представление": customer.email, "АдресЭП": customer.email})
    return _catalog_row(customer, НаименованиеПолное=customer.name,
                        КонтактнаяИнформация=[{"LineNumber": n, **row} for n, row in enumerate(contacts, start=1)])


def _stock_move(preset: Preset, *, recorder: str, period: dt.datetime, line: int, good: str, warehouse: str,
                quantity: Decimal, receipt: bool = True) -> dict[str, Any]:
    """A record of the stock register, complete, as a goods receipt (or a sale) leaves it."""
    return {"Recorder": recorder, "Recorder_Type": f"StandardODATA.{RECEIPT_DOCUMENT}", "Period": period,
            "LineNumber": line, "Active": True, "RecordType": "Receipt" if receipt else "Expense",
            "Номенклатура_Key": good, f"{preset.stock_warehouse}_Key": warehouse, preset.stock_resource: quantity}


# --- request helpers ---------------------------------------------------------------------------


def _key(key: str) -> str:
    match = _KEY.match(key)
    if match is None:
        raise Refusal(400, "7", f"Отсутствует элемент ключа сущности: {key}")
    try:
        return str(UUID(match.group("ref")))
    except ValueError:
        raise Refusal(400, "7", f"Неверный ключ сущности: {key}") from None


def _check_format(request: Request) -> None:
    unknown = sorted(k for k in request.args if k.startswith("$") and k not in _KNOWN_OPTIONS)
    if unknown:
        raise unsupported(f"неизвестный параметр запроса {unknown[0]}")
    wanted = request.args.get("$format") or request.headers.get("Accept", "")
    if "json" not in wanted:
        # Real 1C would answer Atom here; the sandbox speaks JSON only, so a client that
        # forgot to ask for JSON fails loudly instead of parsing XML by accident.
        raise Refusal(406, "3", "Запрошенный тип представления не поддерживается (песочница: только JSON)")


def _count(args: Mapping[str, str], name: str) -> int | None:
    text = args.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise bad_query(f"{name} должен быть неотрицательным целым, а не {text!r}")
    return int(text)


def _selection(props: Mapping[str, Prop], tables: Mapping[str, Any] | None, text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [name.strip() for name in text.split(",")]
    for name in names:
        if name not in props and name not in (tables or {}):
            raise no_property(name)
    return names


def _sort_key(text: str, props: Mapping[str, Prop]) -> Callable[[list[Mapping[str, Any]]], None]:
    order: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise bad_query(f"неверное выражение $orderby: {text!r}")
        if words[0] not in props:
            raise bad_query(f"неизвестное свойство в $orderby: {words[0]!r}")
        order.append((words[0], len(words) == 2 and words[1] == "desc"))

    def sort(rows: list[Mapping[str, Any]]) -> None:
        for name, descending in reversed(order):  # stable sorts, last key first
            rows.sort(key=lambda row: _sortable(row.get(name)), reverse=descending)

    return sort


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, fold(value))


def _condition(spec: SetSpec, args: Mapping[str, Term]) -> Predicate | None:
    text = constant(args, "Condition", "string")
    return FilterParser(text, spec.all_props).predicate() if text else None


def _balance_dimensions(spec: SetSpec, wanted: str | None) -> list[Prop]:
    """The dimensions a ``Balance`` groups by: all of them, or those named in ``Dimensions``."""
    dimensions = [d for d in spec.dimensions
                  if wanted is None or d.name.removesuffix("_Key") in {w.strip() for w in wanted.split(",")}]
    if wanted is not None and len(dimensions) != len([w for w in wanted.split(",") if w.strip()]):
        raise Refusal(400, "12", f"Неверный параметр Dimensions: {wanted}")
    return dimensions


# --- wire format -------------------------------------------------------------------------------


def _wire(prop: Prop, value: Any) -> Any:
    """A stored value as 1C writes it in JSON."""
    if prop.type == "guid":
        return value or EMPTY_GUID
    if prop.type == "date":
        return value.isoformat(timespec="seconds") if value is not None else EMPTY_DATE
    if prop.type == "int64":
        return str(value)
    if prop.type == "string" and prop.length:
        return str(value).ljust(prop.length)
    return value


class _Edm:
    """The ``$metadata`` document of the published sets, shaped as 1C writes it.

    Each set's entity type is named as the set; a reference ``X_Key`` has a
    navigation property ``X`` through an association (roles Begin and End) when the
    set it points to is published; a tabular section is a collection of its
    ``…_RowType`` and also an entity set of its own (``<Set>_<Section>``, keyed by
    ``Ref_Key`` and ``LineNumber``); an accumulation register is its record sets
    (by ``Recorder``, rows in ``RecordSet``) and its rows (``…_RecordType``).
    """

    def __init__(self, published: set[str]) -> None:
        self.published = published
        self.types: list[str] = []
        self.sets: list[str] = []
        self.associations: list[str] = []
        self.association_sets: list[str] = []

    def describe(self, spec: SetSpec) -> None:
        props = spec.all_props
        for table, table_props in spec.tables.items():
            rows = f"{spec.name}_{table}"
            self.types.append(f"<ComplexType Name={quoteattr(rows + '_RowType')}>"
                              + "".join(_edm_property(p) for p in table_props) + "</ComplexType>")
            self.entity(rows, ["Ref_Key", "LineNumber"], spec.table_props(table).values())
        collections = {table: f"{spec.name}_{table}_RowType" for table in spec.tables}
        if spec.kind is Kind.ACCUMULATION_REGISTER:
            row_props = [p for p in props.values() if p.name != "Recorder_Type"]
            self.types.append(f"<ComplexType Name={quoteattr(spec.name + '_RowType')}>"
                              + "".join(_edm_property(p) for p in row_props) + "</ComplexType>")
            self.entity(spec.name, ["Recorder"], [props["Recorder"], props["Recorder_Type"]],
                        {"RecordSet": f"{spec.name}_RowType"})
            self.entity(f"{spec.name}_RecordType", ["Recorder", "LineNumber"], props.values())
            return
        keys = ["Ref_Key"] if spec.is_object else [p.name for p in (props["Period"], *spec.dimensions)]
        self.entity(spec.name, keys, props.values(), collections)

    def entity(self, name: str, keys: list[str], props: Iterable[Prop],
               collections: Mapping[str, str] | None = None) -> None:
        props = list(props)
        lines = [_edm_property(p) for p in props]
        lines += [f"<Property Name={quoteattr(table)} Type=\"Collection(StandardODATA.{escape(rows)})\""
                  " Nullable=\"true\"/>" for table, rows in (collections or {}).items()]
        for prop in props:
            if prop.ref is not None and prop.ref in self.published and prop.name.endswith("_Key"):
                lines.append(self.navigation(name, prop.name.removesuffix("_Key"), prop.ref))
        key = "".join(f"<PropertyRef Name={quoteattr(k)}/>" for k in keys)
        self.types.append(f"<EntityType Name={quoteattr(name)} OpenType=\"true\"><Key>{key}</Key>"
                          + "".join(lines) + "</EntityType>")
        self.sets.append(f"<EntitySet Name={quoteattr(name)} EntityType=\"StandardODATA.{escape(name)}\"/>")

    def navigation(self, owner: str, name: str, target: str) -> str:
        association = f"{owner}_{name}"
        self.associations.append(
            f"<Association Name={quoteattr(association)}>"
            f"<End Role=\"Begin\" Type=\"StandardODATA.{escape(owner)}\" Multiplicity=\"*\"/>"
            f"<End Role=\"End\" Type=\"StandardODATA.{escape(target)}\" Multiplicity=\"0..1\"/></Association>")
        self.association_sets.append(
            f"<AssociationSet Name={quoteattr(association)} Association=\"StandardODATA.{escape(association)}\">"
            f"<End Role=\"Begin\" EntitySet={quoteattr(owner)}/><End Role=\"End\" EntitySet={quoteattr(target)}/>"
            "</AssociationSet>")
        return (f"<NavigationProperty Name={quoteattr(name)} Relationship=\"StandardODATA.{escape(association)}\""
                " FromRole=\"Begin\" ToRole=\"End\"/>")

    def document(self) -> str:
        return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<edmx:Edmx xmlns:edmx=\"http://schemas.microsoft.com/ado/2007/06/edmx\" Version=\"1.0\">"
                "<edmx:DataServices xmlns:m=\"http://schemas.microsoft.com/ado/2007/08/dataservices/metadata\" "
                "m:DataServiceVersion=\"3.0\"><Schema xmlns=\"http://schemas.microsoft.com/ado/2009/11/edm\" "
                "Namespace=\"StandardODATA\">" + "".join(self.types) + "".join(self.associations)
                + "<EntityContainer Name=\"StandardODATA\" m:IsDefaultEntityContainer=\"true\">"
                + "".join(self.sets) + "".join(self.association_sets)
                + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")


def _edm_property(prop: Prop) -> str:
    length = f" MaxLength=\"{prop.length}\" FixedLength=\"true\"" if prop.length else ""
    return f"<Property Name={quoteattr(prop.name)} Type=\"{EDM[prop.type]}\" Nullable=\"true\"{length}/>"


# --- accepting a request body ------------------------------------------------------------------


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json_loads(request.get_data())
    except ValueError:
        raise Refusal(400, "2", "Неверный формат запроса: тело не является JSON") from None
    if not isinstance(body, dict):
        raise Refusal(400, "2", "Неверный формат запроса: ожидался объект JSON")
    return body


def _accept(spec: SetSpec, body: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """A request body as stored values; refuses what 1C refuses."""
    props = spec.all_props
    row: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith("odata.") or "@" in name or name == "DataVersion":
            continue
        if name == "Posted":
            raise Refusal(400, "16", "Не удалось установить значение свойства 'Posted': проводите документ "
                                     "методом Post")
        if name in spec.tables:
            row[name] = _accept_lines(spec, name, value)
        elif name in props:
            row[name] = _accept_value(props[name], value)
        else:
            raise no_property(name)
    return row if partial else complete(props, row)


def _accept_lines(spec: SetSpec, table: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(line, dict) for line in value):
        raise bad_value(table, value)
    props = by_name(spec.tables[table])
    lines = []
    for line in value:
        if "LineNumber" not in line:
            # Seen in the wild: rows without LineNumber make 1C fail with an internal error.
            raise Refusal(500, "-1", INTERNAL)
        unknown = [name for name in line if name not in props and "@" not in name]
        if unknown:
            raise no_property(f"{table}.{unknown[0]}")
        lines.append(complete(props, {name: _accept_value(props[name], item) for name, item in line.items()
                                      if name in props and name != "Ref_Key"}))
    return lines


def _accept_value(prop: Prop, value: Any) -> Any:
    kind = prop.type
    if kind == "guid" and isinstance(value, str):
        try:
            ref = str(UUID(value))
        except ValueError:
            raise bad_value(prop.name, value) from None
        return None if ref == EMPTY_GUID else ref
    if kind == "string" and isinstance(value, str):
        return value[:prop.length].rstrip(" ") if prop.length else value
    if kind == "date" and isinstance(value, str) and DATETIME_TEXT.fullmatch(value):
        # 1C keeps wall-clock time only: a value with an offset is refused, not silently shifted.
        return None if value == EMPTY_DATE else dt.datetime.fromisoformat(value)
    if kind == "number" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value)
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int64" and not isinstance(value, bool):
        try:
            return int(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            pass
    raise bad_value(prop.name, value)
