"""Streaming CommerceML writers: order documents for 1C, import and offers files for sites.

::

    from connectors.commerceml.writer import write_orders
    from hub.values import zone

    with open("orders.xml", "wb") as out:
        write_orders(out, orders, timezone=zone("Europe/Moscow"), version="2.05", encoding="windows-1251")

* :func:`write_orders` - the answer to 1C's ``type=sale&mode=query``: one
  ``Документ`` ("Заказ товара") per order with its buyer (``Контрагенты``), lines
  (``Товары``) and the requisites 1C's "Обмен с сайтом" reads (``Метод оплаты``,
  ``Заказ оплачен``, ``Отменен``, ``Статус заказа``, …); a line's modifiers
  (extra cheese) follow it as lines of their own, marked ``Модификатор для``;
* :func:`write_import` - ``Классификатор`` (groups, properties) and ``Каталог``
  (goods) for a site that takes 1C's exchange;
* :func:`write_offers` - ``ПакетПредложений``: price types, warehouses and
  offers with prices, quantity and stock per warehouse.

Records are written one at a time with lxml's incremental ``xmlfile``, so the
input can be a generator of any length. Element order and types follow the
CommerceML XSD of the chosen version (2.08, 2.09 and 2.10 are checked against
the published schemas in the tests, 2.05 against 2.08's once namespaced); versions from 2.07 on declare the
``urn:1C.ru:commerceml_2`` namespace, older ones (Bitrix still answers 2.05)
declare none. The schema's ``СуммаТип`` has two decimals, so money is written in
kopecks (rounded half up); quantities are written exactly. Characters the
encoding lacks (windows-1251 has no emoji) become character references. The
schema's ``Товар`` has one ``Штрихкод`` and no place for a manufacturer or
``НомерВерсии``, so a good's further barcodes and those two attributes are not
written.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from lxml import etree

from connectors.commerceml._documents import (
    BUYER,
    CANCELLED,
    DELIVERY_METHOD,
    FINAL,
    ORDER_OPERATION,
    PAID,
    PAYMENT_METHOD,
    STATUS,
    STATUS_CHANGED,
)
from connectors.commerceml.items import Group, Offer, OrderDocument, Owner, PriceType, Property, Section, Warehouse
from hub.model import Customer, Modifier, Order, OrderLine, OrderStatus, Product
from hub.values import money, to_local_naive, utcnow

NAMESPACE = "urn:1C.ru:commerceml_2"
VERSIONS = ("2.03", "2.04", "2.05", "2.07", "2.08", "2.09", "2.10")
"""Schema versions the writers speak; the structure they write is the same, the root says which."""
FIRST_NAMESPACED = "2.07"
"""1C's files declare the namespace from 2.07 on; Bitrix's 2.05 answers declare none."""

# OKEI codes 1C expects in БазоваяЕдиница/@Код, for the unit words hub's catalog uses.
UNIT_CODES = {"pcs": "796", "шт": "796", "kg": "166", "кг": "166", "g": "163", "г": "163", "l": "112", "л": "112",
              "portion": "796"}

MODIFIER_OF = "Модификатор для"
"""Line requisite naming the product a modifier line belongs to."""

Target = str | os.PathLike[str] | IO[bytes]
"""A file name, or a binary stream the XML is written to."""


def write_orders(target: Target, documents: Iterable[Order | OrderDocument], *, timezone: ZoneInfo,
                 version: str = "2.10", encoding: str = "UTF-8", currency: str = "RUB",
                 generated_at: dt.datetime | None = None) -> int:
    """Write order documents for 1C; returns how many.

    A bare :class:`~hub.model.Order` gets the requisites derived from its
    canonical fields; an :class:`~.items.OrderDocument` (as the parser reads one)
    keeps its own requisites and adds only the missing ones.
    """
    count = 0
    with _document(target, version, encoding, timezone, generated_at) as out:
        for document in documents:
            out.order(document if isinstance(document, OrderDocument) else OrderDocument(document), currency)
            count += 1
    return count


def write_import(target: Target, products: Iterable[Product], *, catalog: Section, owner: Owner,
                 timezone: ZoneInfo, groups: Iterable[Group] = (), properties: Iterable[Property] = (),
                 version: str = "2.10", encoding: str = "UTF-8", generated_at: dt.datetime | None = None) -> int:
    """Write an import file: the classifier (groups, properties) and the catalog's goods; returns how many goods.

    ``catalog`` names the catalog (``id``, ``name``, ``classifier_id``,
    ``only_changes``). The schema wants at least one good in a catalog.
    """
    count = 0
    with _document(target, version, encoding, timezone, generated_at) as out:
        classifier_id = catalog.classifier_id or catalog.id or owner.id
        with out.block("Классификатор"):
            out.leaf("Ид", classifier_id)
            out.leaf("Наименование", f"Классификатор ({catalog.name or classifier_id})")
            out.owner(owner)
            out.groups(list(groups))
            out.properties(properties)
        with out.block("Каталог", {"СодержитТолькоИзменения": _flag(catalog.only_changes)}):
            out.leaf("Ид", catalog.id or classifier_id)
            out.leaf("ИдКлассификатора", classifier_id)
            out.leaf("Наименование", catalog.name or "Каталог товаров")
            out.owner(owner)
            with out.block("Товары"):
                for product in products:
                    out.product(product)
                    count += 1
    return count


def write_offers(target: Target, offers: Iterable[Offer], *, package: Section, owner: Owner,
                 price_types: Iterable[PriceType], timezone: ZoneInfo, warehouses: Iterable[Warehouse] = (),
                 version: str = "2.10", encoding: str = "UTF-8", generated_at: dt.datetime | None = None) -> int:
    """Write an offers file: price types, warehouses and offers; returns how many offers.

    ``package`` names the offers package (``id``, ``name``, ``catalog_id``,
    ``classifier_id``, ``only_changes``). The schema wants at least one price type,
    and at least one price on every offer: without price types there is no
    ``ТипыЦен``, and an offer without prices has no ``Цены`` (an empty one is
    invalid too). Sites take such a stock-only file; only the schema refuses it.
    """
    count = 0
    with _document(target, version, encoding, timezone, generated_at) as out, \
            out.block("ПакетПредложений", {"СодержитТолькоИзменения": _flag(package.only_changes)}):
        package_id = package.id or package.catalog_id or owner.id
        out.leaf("Ид", package_id)
        out.leaf("Наименование", package.name or "Пакет предложений")
        out.leaf("ИдКаталога", package.catalog_id or package_id)
        out.leaf("ИдКлассификатора", package.classifier_id)
        out.owner(owner)
        types = list(price_types)
        if types:
            with out.block("ТипыЦен"):
                for price_type in types:
                    out.price_type(price_type)
        stores = list(warehouses)
        if stores:
            with out.block("Склады"):
                for warehouse in stores:
                    with out.block("Склад"):
                        out.leaf("Ид", warehouse.id)
                        out.leaf("Наименование", warehouse.name)
        with out.block("Предложения"):
            for offer in offers:
                out.offer(offer)
                count += 1
    return count


@contextmanager
def _document(target: Target, version: str, encoding: str, timezone: ZoneInfo,
              generated_at: dt.datetime | None) -> Iterator[_Writer]:
    """The ``КоммерческаяИнформация`` root around whatever the caller writes into the yielded writer."""
    if version not in VERSIONS:
        raise ValueError(f"CommerceML {version} is not one the writer speaks ({', '.join(VERSIONS)})")
    namespaced = version >= FIRST_NAMESPACED
    stamp = to_local_naive(generated_at or utcnow(), timezone).replace(microsecond=0).isoformat()
    with etree.xmlfile(target, encoding=encoding) as xf:
        xf.write_declaration()
        root = _Writer(xf, f"{{{NAMESPACE}}}" if namespaced else "", timezone)
        with xf.element(root.tag("КоммерческаяИнформация"), {"ВерсияСхемы": version, "ДатаФормирования": stamp},
                        nsmap={None: NAMESPACE} if namespaced else None):
            yield root


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _number(value: Decimal) -> str:
    """A quantity as ``xsd:decimal`` text: never an exponent (``1E+1``)."""
    return format(value, "f")


def _money(value: Decimal) -> str:
    return format(money(value), "f")


class _Writer:
    """Writes the parts of a CommerceML file in the schema's element order."""

    def __init__(self, xf: Any, namespace: str, timezone: ZoneInfo) -> None:
        self._xf = xf
        self._ns = namespace
        self._tz = timezone

    def tag(self, name: str) -> str:
        return self._ns + name

    def block(self, name: str, attributes: Mapping[str, str] | None = None) -> Any:
        return self._xf.element(self._ns + name, attributes or {})

    def leaf(self, name: str, value: str | None, attributes: Mapping[str, str] | None = None) -> None:
        """``<name>value</name>``; nothing when the value is None."""
        if value is None:
            return
        with self._xf.element(self._ns + name, attributes or {}):
            self._xf.write(value)

    def values(self, name: str, entry: str, key: str, found: Mapping[str, list[str]]) -> None:
        """A list such as ``ЗначенияРеквизитов/ЗначениеРеквизита/{Наименование,Значение+}``."""
        if not found:
            return
        with self.block(name):
            for item, texts in found.items():
                with self.block(entry):
                    self.leaf(key, item)
                    for value in texts or [""]:
                        self.leaf("Значение", value)

    # --- catalog and offers -------------------------------------------------------------------------------

    def owner(self, owner: Owner) -> None:
        with self.block("Владелец"):
            self.leaf("Ид", owner.id)
            self.leaf("Наименование", owner.name)
            self.leaf("ОфициальноеНаименование", owner.name)

    def groups(self, groups: list[Group]) -> None:
        if not groups:
            return
        known = {group.id for group in groups}
        by_parent: dict[str | None, list[Group]] = {}
        for group in groups:
            by_parent.setdefault(group.parent if group.parent in known else None, []).append(group)
        self._group_level(by_parent, None)

    def _group_level(self, by_parent: dict[str | None, list[Group]], parent: str | None) -> None:
        with self.block("Группы"):
            for group in by_parent[parent]:
                with self.block("Группа"):
                    self.leaf("Ид", group.id)
                    self.leaf("Наименование", group.name)
                    if group.id in by_parent:
                        self._group_level(by_parent, group.id)

    def properties(self, properties: Iterable[Property]) -> None:
        found = list(properties)  # a classifier's properties are few, and the block must not be empty
        if not found:
            return
        with self.block("Свойства"):
            for prop in found:
                with self.block("Свойство"):
                    self.leaf("Ид", prop.id)
                    self.leaf("Наименование", prop.name)
                    self.leaf("ТипЗначений", prop.value_type)
                    if prop.values:
                        with self.block("ВариантыЗначений"):
                            for value_id, value in prop.values.items():
                                with self.block("Справочник"):
                                    self.leaf("ИдЗначения", value_id)
                                    self.leaf("Значение", value)

    def _unit(self, unit: str | None, code: str | None) -> None:
        code = code or UNIT_CODES.get((unit or "").lower())
        self.leaf("БазоваяЕдиница", unit or "", {"Код": code} if code else None)

    def product(self, product: Product) -> None:
        extra = product.attributes
        with self.block("Товар", {"Статус": "Удален"} if product.deleted else None):
            self.leaf("Ид", product.id)
            self.leaf("Штрихкод", product.barcodes[0] if product.barcodes else None)
            self.leaf("Артикул", product.article)
            self.leaf("Наименование", product.name)
            self._unit(product.unit, extra.get("unit_code") or (UNIT_CODES["kg"] if product.weighed else None))
            groups = extra.get("groups") or ([product.group] if product.group else [])
            if groups:
                with self.block("Группы"):
                    for group in groups:
                        self.leaf("Ид", group)
            self.leaf("Описание", extra.get("description"))
            for image in extra.get("images", ()):
                self.leaf("Картинка", image)
            self.values("ЗначенияСвойств", "ЗначенияСвойства", "Ид", extra.get("properties", {}))
            with self.block("СтавкиНалогов"), self.block("СтавкаНалога"):
                self.leaf("Наименование", "НДС")
                self.leaf("Ставка", "Без НДС" if product.vat_rate is None else _number(product.vat_rate))
            self._characteristics(extra.get("characteristics", {}))
            self.values("ЗначенияРеквизитов", "ЗначениеРеквизита", "Наименование", extra.get("requisites", {}))

    def _characteristics(self, traits: Mapping[str, str]) -> None:
        if not traits:
            return
        with self.block("ХарактеристикиТовара"):
            for name, value in traits.items():
                with self.block("ХарактеристикаТовара"):
                    self.leaf("Наименование", name)
                    self.leaf("Значение", value)

    def price_type(self, price_type: PriceType) -> None:
        with self.block("ТипЦены"):
            self.leaf("Ид", price_type.id)
            self.leaf("Наименование", price_type.name)
            self.leaf("Валюта", price_type.currency)
            if price_type.tax_included is not None:
                with self.block("Налог"):
                    self.leaf("Наименование", "НДС")
                    self.leaf("УчтеноВСумме", _flag(price_type.tax_included))

    def offer(self, offer: Offer) -> None:
        with self.block("Предложение", {"Статус": "Удален"} if offer.deleted else None):
            self.leaf("Ид", offer.id)
            self.leaf("Штрихкод", offer.barcodes[0] if offer.barcodes else None)
            self.leaf("Артикул", offer.article)
            self.leaf("Наименование", offer.name or offer.id)
            self._unit(offer.unit, None)
            self.values("ЗначенияСвойств", "ЗначенияСвойства", "Ид", offer.properties)
            self._characteristics(offer.characteristics)
            if offer.prices:
                with self.block("Цены"):
                    for price in offer.prices:
                        with self.block("Цена"):
                            self.leaf("ИдТипаЦены", price.price_type)
                            self.leaf("ЦенаЗаЕдиницу", _money(price.amount))
                            self.leaf("Валюта", price.currency)
            quantity = offer.quantity
            if quantity is None and offer.stock:
                quantity = sum((level.quantity for level in offer.stock), Decimal(0))
            self.leaf("Количество", None if quantity is None else _number(quantity))
            for level in offer.stock:
                self.leaf("Склад", "", {"ИдСклада": level.warehouse, "КоличествоНаСкладе": _number(level.quantity)})

    # --- orders -------------------------------------------------------------------------------------------

    def order(self, document: OrderDocument, currency: str) -> None:
        order = document.order
        created = to_local_naive(order.created_at, self._tz)
        with self.block("Документ"):
            self.leaf("Ид", order.external_id)
            self.leaf("Номер", order.number or order.external_id)
            self.leaf("Дата", created.date().isoformat())
            self.leaf("ХозОперация", ORDER_OPERATION)
            self.leaf("Роль", "Продавец")
            self.leaf("Валюта", document.currency or currency)
            self.leaf("Курс", "1")
            self.leaf("Сумма", _money(order.total))
            with self.block("Контрагенты"):
                self._buyer(order, document)
            self.leaf("Время", created.time().replace(microsecond=0).isoformat())
            self.leaf("Комментарий", order.comment)
            self._discount(order.discount)
            if order.lines:
                with self.block("Товары"):
                    for number, line in enumerate(order.lines):
                        extra = document.line_requisites[number] if number < len(document.line_requisites) else {}
                        self._line(line, extra)
                        for modifier in line.modifiers:
                            self._modifier(modifier, line)
            self.values("ЗначенияРеквизитов", "ЗначениеРеквизита", "Наименование", self._requisites(document))

    def _buyer(self, order: Order, document: OrderDocument) -> None:
        customer = order.customer or Customer()
        party = next((party for party in document.counterparties if party.role == BUYER), None)
        full = " ".join(part for part in (customer.last_name, customer.first_name, customer.middle_name) if part)
        name = full or (party.name if party else None) or (customer.phones[0] if customer.phones else "Покупатель")
        with self.block("Контрагент"):
            self.leaf("Ид", (party.id if party else None) or customer.ids.get(order.channel)
                      or next(iter(customer.ids.values()), None))
            self.leaf("Наименование", name)
            self.leaf("ПолноеНаименование", name)
            self.leaf("Фамилия", customer.last_name)
            self.leaf("Имя", customer.first_name)
            self.leaf("Отчество", customer.middle_name)
            address = (order.delivery.address if order.delivery else None) or (party.address if party else None)
            if address:
                with self.block("АдресРегистрации"):
                    self.leaf("Представление", address)
            if customer.phones or customer.emails:
                with self.block("Контакты"):
                    for kind, value in [*(("Телефон мобильный", p) for p in customer.phones),
                                        *(("Почта", e) for e in customer.emails)]:
                        with self.block("Контакт"):
                            self.leaf("Тип", kind)
                            self.leaf("Значение", value)
            self.leaf("Роль", BUYER)

    def _discount(self, amount: Decimal) -> None:
        if not amount:
            return
        with self.block("Скидки"), self.block("Скидка"):
            self.leaf("Наименование", "Скидка")
            self.leaf("Сумма", _money(amount))
            self.leaf("УчтеноВСумме", "true")

    def _line(self, line: OrderLine, extra: Mapping[str, list[str]]) -> None:
        with self.block("Товар"):
            self.leaf("Ид", line.product)
            self.leaf("Наименование", line.name)
            self.leaf("БазоваяЕдиница", "шт", {"Код": "796", "НаименованиеПолное": "Штука",
                                              "МеждународноеСокращение": "PCE"})
            self.values("ЗначенияРеквизитов", "ЗначениеРеквизита", "Наименование",
                        extra or {"ВидНоменклатуры": ["Товар"], "ТипНоменклатуры": ["Товар"]})
            self.leaf("ЦенаЗаЕдиницу", _money(line.unit_price))
            self.leaf("Количество", _number(line.quantity))
            self.leaf("Сумма", _money(line.sum))
            self._discount(line.discount)

    def _modifier(self, modifier: Modifier, line: OrderLine) -> None:
        """A modifier as a line of its own: 1C's order has no options, and a paid one must reach the total."""
        self._line(OrderLine(product=modifier.product or modifier.name, name=modifier.name,
                             quantity=modifier.quantity, unit_price=modifier.unit_price,
                             sum=money(modifier.quantity * modifier.unit_price)),
                   {MODIFIER_OF: [line.product], "ВидНоменклатуры": ["Товар"], "ТипНоменклатуры": ["Товар"]})

    def _requisites(self, document: OrderDocument) -> dict[str, list[str]]:
        """The document's own requisites, then those its canonical order implies and it lacks."""
        order = document.order
        found = dict(document.requisites)
        derived = {
            PAYMENT_METHOD: order.payments[0].method if order.payments else None,
            PAID: _flag(bool(order.payments) and all(payment.paid for payment in order.payments)),
            CANCELLED: _flag(order.status is OrderStatus.CANCELLED),
            FINAL: _flag(order.status in (OrderStatus.DELIVERED, OrderStatus.CANCELLED)),
            STATUS: document.status or order.status.value,
            DELIVERY_METHOD: document.delivery_method or (order.delivery.type.value if order.delivery else None),
            STATUS_CHANGED: (to_local_naive(order.updated_at, self._tz).replace(microsecond=0).isoformat(" ")
                             if order.updated_at else None),
        }
        for name, value in derived.items():
            if value is not None and name not in found:
                found[name] = [value]
        return found
