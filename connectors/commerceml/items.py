"""What the CommerceML parser yields and the writers take.

A CommerceML file is read as a stream of items, each one of :data:`Item`:

* canonical records from :mod:`hub.model` where hub has a type for the thing:
  :class:`~hub.model.Product` for a good of the catalog (``Каталог/Товары/Товар``);
* small types of this module for what only CommerceML has, or what carries
  canonical records inside it: :class:`Offer` (an offer with its canonical
  :class:`~hub.model.PriceEntry` and :class:`~hub.model.StockLevel` records),
  :class:`OrderDocument` (a canonical :class:`~hub.model.Order` with the
  document's 1C-side facts), :class:`Counterparty` (a canonical
  :class:`~hub.model.Customer` with the counterparty's company facts), the
  classifier's :class:`Group`, :class:`Property`, :class:`PriceType`,
  :class:`Warehouse` and :class:`Unit`;
* :class:`FileHeader` first, then a :class:`Section` before the records of each
  ``Классификатор``, ``Каталог``, ``ПакетПредложений`` or ``Контрагенты`` block
  (it carries the ``СодержитТолькоИзменения`` flag);
* :class:`Problem` for a record that could not be understood and was skipped.

Facts of a good that :class:`~hub.model.Product` has no field for are kept in
``Product.attributes`` under these keys (absent when the file has none):
``groups`` (every group id, the first is ``Product.group``), ``properties``
(property id → values), ``requisites`` (``ЗначенияРеквизитов``: name → values),
``images`` (``Картинка`` paths), ``description``, ``unit_code`` (OKEI code of the
base unit), ``characteristics`` (name → value), ``manufacturer`` and
``version`` (``НомерВерсии``). Requisites and properties map to lists because
1C repeats names (``ОписаниеФайла`` once per image).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from hub.model import Customer, Order, PriceEntry, Product, StockLevel

Values = dict[str, list[str]]
"""Name (or id) → values, in file order: requisites and property values repeat names."""


class RecordKind(StrEnum):
    """The kinds of records a file holds; problems and counts are kept per kind."""

    FILE = "file"
    """The file itself: its header, or XML that is not well-formed."""
    PRODUCT = "product"
    OFFER = "offer"
    DOCUMENT = "document"
    COUNTERPARTY = "counterparty"
    GROUP = "group"
    PROPERTY = "property"
    PRICE_TYPE = "price_type"
    WAREHOUSE = "warehouse"
    UNIT = "unit"


class SectionKind(StrEnum):
    """The blocks a ``КоммерческаяИнформация`` is made of."""

    CLASSIFIER = "classifier"
    """``Классификатор``: groups, properties, price types, warehouses, units."""
    CATALOG = "catalog"
    """``Каталог``: goods."""
    OFFERS = "offers"
    """``ПакетПредложений`` (or ``ИзмененияПакетаПредложений``): offers with prices and stock."""
    COUNTERPARTIES = "counterparties"
    """``Контрагенты`` at the top level (2.09+ ``contractors`` files)."""


@dataclass(frozen=True, slots=True)
class FileHeader:
    """The root's facts: the first item of every file."""

    file: str
    schema_version: str | None
    """``ВерсияСхемы`` (``2.03`` … ``2.10``, ``3.1``); None for a bare ``Классификатор`` fragment."""
    generated_at: dt.datetime | None
    """``ДатаФормирования``, made aware with the zone the caller passed."""
    namespace: str | None
    """``urn:1C.ru:commerceml_2`` (or ``_210``, ``_3``), None when the file declares none."""


@dataclass(frozen=True, slots=True)
class Section:
    """The header of one block, yielded before its records (or at its end when it has none)."""

    kind: SectionKind
    id: str | None = None
    name: str | None = None
    classifier_id: str | None = None
    catalog_id: str | None = None
    only_changes: bool = False
    """``СодержитТолькоИзменения``: true means records missing from the block are unchanged, not gone."""
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Group:
    """A group (folder) of goods; groups nest, ``parent`` is None at the top."""

    id: str
    name: str
    parent: str | None = None
    deleted: bool = False
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Property:
    """A property goods or offers carry (``Свойство``): colour, brand, size."""

    id: str
    name: str
    value_type: str | None = None
    """``ТипЗначений``: Строка, Число, Время or Справочник (values are ids of :attr:`values`)."""
    values: dict[str, str] = field(default_factory=dict)
    """For Справочник: value id → text (``ВариантыЗначений/Справочник``)."""
    deleted: bool = False
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class PriceType:
    """A price type (``ТипЦены``): retail, wholesale; prices refer to it by id."""

    id: str
    name: str | None = None
    currency: str | None = None
    tax_included: bool | None = None
    """``Налог/УчтеноВСумме``: whether the price already includes the tax."""
    deleted: bool = False
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Warehouse:
    """A warehouse (``Склад``) stock is counted in."""

    id: str
    name: str | None = None
    deleted: bool = False
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit of measure of the classifier (2.08+ ``ЕдиницаИзмерения``)."""

    id: str | None
    code: str | None
    """OKEI code: 796 piece, 166 kilogram."""
    name: str | None = None
    full_name: str | None = None
    international: str | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer (``Предложение``): what a product or one of its variants sells for and how much is left.

    ``id`` is the product's 1C id, or ``<product id>#<characteristic id>`` for a
    variant; prices and stock records carry the whole ``id`` as their product.
    ``quantity`` is the total (``Количество``); ``stock`` splits it per warehouse
    when the file does.
    """

    id: str
    name: str | None = None
    article: str | None = None
    barcodes: list[str] = field(default_factory=list)
    unit: str | None = None
    characteristics: dict[str, str] = field(default_factory=dict)
    properties: Values = field(default_factory=dict)
    prices: list[PriceEntry] = field(default_factory=list)
    quantity: Decimal | None = None
    stock: list[StockLevel] = field(default_factory=list)
    deleted: bool = False
    line: int | None = field(default=None, compare=False)

    @property
    def product(self) -> str:
        """The product part of :attr:`id`."""
        return self.id.partition("#")[0]

    @property
    def variant(self) -> str | None:
        """The characteristic (variant) part of :attr:`id`, None for the product itself."""
        return self.id.partition("#")[2] or None


@dataclass(frozen=True, slots=True)
class Counterparty:
    """A counterparty (``Контрагент``): the buyer of an order, or an entry of a ``Контрагенты`` file.

    Personal data stays out of ``repr``; the canonical :class:`~hub.model.Customer` masks its own.
    """

    id: str | None
    customer: Customer
    role: str | None = None
    """``Роль``: Покупатель for the buyer of an order."""
    name: str | None = field(default=None, repr=False)
    """``Наименование`` or ``ПолноеНаименование`` (``ОфициальноеНаименование`` of a company)."""
    address: str | None = field(default=None, repr=False)
    """The address as one line (``АдресРегистрации`` or ``Адрес``)."""
    inn: str | None = None
    kpp: str | None = None
    deleted: bool = False
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class OrderDocument:
    """An order document (``Документ`` of ``ХозОперация`` "Заказ товара") and what 1C or the site says of it.

    :attr:`order` is the canonical order; its status is ``cancelled`` when the
    document says ``Отменен``, ``delivered`` when it says ``Финальный статус``, and
    ``new`` otherwise - the site's own status is in :attr:`status` for mappings.
    """

    order: Order
    operation: str = "Заказ товара"
    currency: str | None = None
    """``Валюта`` as written: RUB, or Bitrix's руб."""
    status: str | None = None
    """``Статус заказа``: Bitrix writes ``[N] Принят, ожидается оплата``."""
    status_id: str | None = None
    """``Статуса заказа ИД`` (sic): Bitrix's status letter."""
    payment_method: str | None = None
    paid: bool | None = None
    cancelled: bool | None = None
    delivery_method: str | None = None
    number_1c: str | None = None
    """``Номер1С`` or the requisite ``Номер по 1С``: the number 1C gave its own document."""
    posted: bool | None = None
    """``Проведен``: 1C posted its document."""
    deleted: bool = False
    counterparties: list[Counterparty] = field(default_factory=list)
    requisites: Values = field(default_factory=dict)
    """Every ``ЗначенияРеквизитов`` entry of the document, the known ones above included."""
    line_requisites: list[Values] = field(default_factory=list)
    """``ЗначенияРеквизитов`` of each order line, parallel to ``order.lines``."""
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Owner:
    """The company whose catalog and offers a file carries (``Владелец``); the schema requires one."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that could not be understood (and was skipped), or a value of a kept record that was not."""

    file: str
    line: int | None
    kind: RecordKind
    record: str | None
    """The record's ``Ид`` when it has one."""
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        what = f"{self.kind} {self.record}" if self.record else str(self.kind)
        return f"{where}: {what}: {self.reason}"


Item = (FileHeader | Section | Group | Property | PriceType | Warehouse | Unit | Product | Offer | Counterparty
        | OrderDocument | Problem)
"""Everything :func:`connectors.commerceml.parser.parse` yields."""

KEPT_PROBLEMS = 1000
"""How many problems and warnings a report keeps in full; the counts go on past it."""


@dataclass
class ParseReport:
    """What a parse yielded and what it could not understand, filled in as the parse goes."""

    file: str
    records: Counter[RecordKind] = field(default_factory=Counter)
    """Records yielded, per kind."""
    skipped: Counter[RecordKind] = field(default_factory=Counter)
    """Records skipped because they could not be understood, per kind (each one is a :class:`Problem`)."""
    problems: list[Problem] = field(default_factory=list)
    """The skipped records' problems, the first :data:`KEPT_PROBLEMS`."""
    warnings: list[Problem] = field(default_factory=list)
    """Values of kept records that were ignored (a phone that is not a phone), the first :data:`KEPT_PROBLEMS`."""
    warning_count: int = 0

    @property
    def clean(self) -> bool:
        """Nothing skipped and nothing ignored."""
        return not self.skipped and not self.warning_count

    def note_problem(self, problem: Problem) -> None:
        self.skipped[problem.kind] += 1
        if len(self.problems) < KEPT_PROBLEMS:
            self.problems.append(problem)

    def note_warning(self, problem: Problem) -> None:
        self.warning_count += 1
        if len(self.warnings) < KEPT_PROBLEMS:
            self.warnings.append(problem)
