"""Reading offers (``Предложение``): prices, the total quantity and stock per warehouse.

This is the hot path of a big offers file (a million offers is a normal
export), measured by ``bench/commerceml.py``. So the children are walked once
without helper generators, and the canonical records are built by
:func:`~._read.trusted` from values checked here (Decimals from :func:`~._read.number`,
ids as text) instead of a pydantic validation per price and per warehouse,
which alone took longer than lxml's parsing.
"""

from __future__ import annotations

from decimal import Decimal

from connectors.commerceml._catalog import base_unit, characteristics, deleted
from connectors.commerceml._read import (
    LOCAL_NAMES,
    Context,
    Element,
    Unreadable,
    child_text,
    children,
    currency,
    local,
    number,
    source_line,
    text,
    trusted,
    values,
)
from connectors.commerceml.items import Offer, RecordKind, Values
from hub.model import PriceEntry, StockLevel

_ONE = Decimal(1)
def read_offer(element: Element, context: Context) -> Offer:
    """One offer; :class:`Unreadable` when it has no Ид, or a price or quantity that is not a number."""
    offer_id: str | None = None
    name = article = unit = marked = None
    barcodes: list[str] = []
    traits: dict[str, str] = {}
    properties: Values = {}
    prices: list[tuple[str, Decimal, str]] = []
    quantity: Decimal | None = None
    stock: list[tuple[str, Decimal]] = []
    names = LOCAL_NAMES
    for part in element:
        tag = part.tag
        if not isinstance(tag, str):
            continue
        tag = names.get(tag) or local(tag)
        if tag == "Ид":
            offer_id = text(part)
        elif tag == "Цены":
            _prices(part, context, prices)
        elif tag == "Количество":
            raw = text(part)
            if raw is not None:
                quantity = number(raw, "Количество")
        elif tag == "Склад":
            _attribute_stock(part, context, stock)
        elif tag == "Остатки":
            quantity = _rests(part, stock, quantity)
        elif tag == "Наименование":
            name = text(part)
        elif tag == "Артикул":
            article = text(part)
        elif tag == "Штрихкод":
            if code := text(part):
                barcodes.append(code)
        elif tag == "БазоваяЕдиница":
            unit = base_unit(part)[0]
        elif tag == "ХарактеристикиТовара":
            traits = characteristics(part)
        elif tag == "ЗначенияСвойств":
            properties = values(part, "ЗначенияСвойства", "Ид")
        elif tag == "ПометкаУдаления":
            marked = text(part)
    if offer_id is None:
        raise Unreadable("no Ид")
    as_of = context.as_of
    return Offer(
        offer_id, name, article, barcodes, unit, traits, properties,
        [trusted(PriceEntry, {"product": offer_id, "price_type": type_id, "amount": amount, "currency": code,
                              "venue": None})
         for type_id, amount, code in prices],
        quantity,
        [trusted(StockLevel, {"product": offer_id, "warehouse": warehouse, "quantity": count, "as_of": as_of})
         for warehouse, count in stock],
        deleted(element, marked), source_line(element))


def _prices(element: Element, context: Context, found: list[tuple[str, Decimal, str]]) -> None:
    names = LOCAL_NAMES
    for price in element:
        tag = price.tag
        if not isinstance(tag, str) or (names.get(tag) or local(tag)) != "Цена":
            continue
        type_id = raw = code = None
        for part in price:
            field = part.tag
            if not isinstance(field, str):
                continue
            field = names.get(field) or local(field)
            if field == "ИдТипаЦены":
                type_id = text(part)
            elif field == "ЦенаЗаЕдиницу":
                raw = text(part)
            elif field == "Валюта":
                code = text(part)
            elif field == "Коэффициент" and (factor := text(part)) not in (None, "1") and \
                    number(factor, "Коэффициент") != _ONE:
                # The price is then per a pack of the base unit; hub's prices are per unit, so say so.
                context.warn(RecordKind.OFFER, child_text(element.getparent(), "Ид"), source_line(part),
                             f"price is per {factor} units (Коэффициент), kept as given")
        if type_id is None:
            raise Unreadable("a price without ИдТипаЦены", source_line(price))
        if raw is None:
            raise Unreadable("a price without ЦенаЗаЕдиницу", source_line(price))
        amount = number(raw, "ЦенаЗаЕдиницу")
        found.append((type_id, amount, currency(code) if code else context.currencies.get(type_id, "RUB")))


def _attribute_stock(element: Element, context: Context, found: list[tuple[str, Decimal]]) -> None:
    """2.07's ``<Склад ИдСклада="…" КоличествоНаСкладе="…"/>``."""
    warehouse = element.get("ИдСклада")
    raw = element.get("КоличествоНаСкладе")
    if warehouse is None:
        raise Unreadable("a Склад without ИдСклада", source_line(element))
    if raw is None:  # the schema allows it: the stock there is unknown, which is not zero
        context.warn(RecordKind.OFFER, child_text(element.getparent(), "Ид"), source_line(element),
                     f"Склад {warehouse} without КоличествоНаСкладе ignored")
        return
    found.append((warehouse.strip(), number(raw, "КоличествоНаСкладе")))


def _rests(element: Element, found: list[tuple[str, Decimal]], quantity: Decimal | None) -> Decimal | None:
    """2.08+ ``Остатки/Остаток/Склад/{Ид,Количество}``; an ``Остаток/Количество`` without a warehouse is the total."""
    for tag, rest in children(element):
        if tag != "Остаток":
            continue
        for field, part in children(rest):
            if field == "Склад":
                warehouse = child_text(part, "Ид")
                raw = child_text(part, "Количество")
                if warehouse is None or raw is None:
                    raise Unreadable("an Остаток/Склад without Ид or Количество", source_line(part))
                found.append((warehouse, number(raw, "Количество")))
            elif field == "Количество" and (raw := text(part)) is not None:
                quantity = number(raw, "Количество")
    return quantity
