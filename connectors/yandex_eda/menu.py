"""Yandex Eda's menu documents, built from the goods, prices and stock the jobs pushed.

Yandex pulls the menu from hub (hub is the partner server), in one of two variants:

* **restaurants** (``yandex.ru/dev/eda-vendor/doc/ru/ref``): ``GET /restaurants``,
  ``GET /menu/{restaurantId}/composition``, ``…/availability`` and ``…/promos``;
* **shops** (``yandex.ru/support/picker-app/ru/ref``): ``GET /nomenclature/composition``
  (brand-wide, no prices), ``GET /nomenclature/{placeId}/availability`` and ``…/prices``.

Every function here is pure: it takes a :class:`Catalog` (what the catalog, prices and
stock jobs pushed, as the connector keeps it) and returns the JSON document as plain
dicts and lists, with money and quantities as :class:`~decimal.Decimal` for
:func:`hub.values.json_dumps` to write as exact JSON numbers. The samples cited as
``restaurant/…`` and ``retail/…`` are Yandex's published examples
(``../shared/samples/yandex-eda/``); ``tests/connectors/yandex_eda/test_menu.py`` checks
every document against them.

What a guest sees of a good (name, description, price, VAT code, weight) comes from a
mapping, so a business changes it in YAML: ``mappings/yandex_eda/menu/catalog.out.yaml``
(restaurants) and ``mappings/yandex_eda/nomenclature/catalog.out.yaml`` (shops). Each maps
a :class:`~hub.model.Product` to one Yandex item; the good's price at the venue and its
position in its category reach the mapping as ``attributes.yandex_eda.price`` and
``attributes.yandex_eda.sort_order``. The item's ``id`` and ``categoryId`` are set here,
not by the mapping: they tie the menu to availability, prices and orders, where
``Product.id`` is the Yandex item id.

A good the mapping skips (its ``skip_when``), whose mapping fails (say a VAT rate the
mapping's table lacks) or that it prices at 0 is left out of the document rather than
failing the whole menu; pass ``problems`` to hear about failures and zero prices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from hub.errors import RecordError
from hub.mapping import CompiledMapping
from hub.model import PriceEntry, Product

DEFAULT_CATEGORY_ID = "hub-default"
"""The category of goods that have no group in 1C."""

DEFAULT_CATEGORY_NAME = "Меню"
"""Its name, and the name of a group whose goods carry no ``attributes.group_name``."""

CONTEXT = "yandex_eda"
"""The key under ``Product.attributes`` where the mapping finds what this module adds (price, sort order)."""

_ZERO = Decimal(0)


@dataclass(frozen=True)
class Venue:
    """A restaurant or shop as Yandex knows it: ``id`` is the partner's venue id in every path and order."""

    id: str
    title: str
    address: str


@dataclass
class Catalog:
    """What the jobs pushed to the connector: goods, prices and stock.

    ``prices`` is keyed ``(venue, product id)``, the venue ``None`` for a price that
    holds at every venue; ``stock`` is keyed ``(venue, product id)`` and holds the
    quantity in the good's unit (kilograms for weighed goods).
    """

    products: list[Product]
    prices: dict[tuple[str | None, str], PriceEntry] = field(default_factory=dict)
    stock: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def price(self, venue: str, product_id: str) -> PriceEntry | None:
        """The price of a good at ``venue``: the venue's own, else the one for every venue, else None."""
        own = self.prices.get((venue, product_id))
        return own if own is not None else self.prices.get((None, product_id))


# --- restaurants ---------------------------------------------------------------------------------------


def restaurants(venues: list[Venue]) -> dict[str, Any]:
    """``GET /restaurants``: the venues Yandex may order from (``partner.restaurants.get``).

    ``{"places": [{"id", "title", "address"}]}``, as ``restaurant/restaurants-response.json``.
    """
    return {"places": [{"id": venue.id, "title": venue.title, "address": venue.address} for venue in venues]}


def restaurant_composition(catalog: Catalog, venue: str, item_mapping: CompiledMapping, *,
                           last_change: dt.datetime, problems: list[str] | None = None) -> dict[str, Any]:
    """``GET /menu/{restaurantId}/composition``: the menu of one venue (``partner.menu.get``, v2).

    The shape of ``restaurant/menu-composition-response.v2.json``. On the menu is every
    good that is not deleted and has a price above zero at ``venue`` (its own price,
    else the all-venues one): Yandex silently ignores items priced 0. Categories are the
    goods' 1C groups (``Product.group``, named by ``attributes.group_name``); goods
    without one go to :data:`DEFAULT_CATEGORY_ID`. ``schedules`` is empty and
    categories name none: a schedule limits a category to certain hours (breakfasts),
    and without one the venue's own working hours apply. ``lastChange`` is
    ``last_change`` in RFC 3339 with microseconds, as Yandex writes its own times.
    """
    offered = {product.id: price for product in catalog.products
               if (price := _offer_price(catalog, venue, product)) is not None}
    categories, items = _categorised([product for product in catalog.products if product.id in offered],
                                     item_mapping, lambda product: {"price": offered[product.id]}, problems)
    return {"schedules": {},
            "categories": [{**category, "sortOrder": order} for order, category in enumerate(categories)],
            "items": items,
            "lastChange": _rfc3339(last_change)}


def restaurant_availability(catalog: Catalog, venue: str) -> dict[str, Any]:
    """``GET /menu/{restaurantId}/availability``: the stop list of one venue (``partner.availability.get``, v2).

    Yandex reads only what is unavailable or limited: a listed item with ``stock`` 0 is
    hidden, an item not listed is available (the opposite of shops). So only goods on
    the venue's menu whose stock is zero or below are listed, each with ``stock`` 0.
    A good with no stock record for the venue is *not* listed, so it stays available:
    the stock job sends every linked good at every venue, zero where 1C holds none, so
    a missing record means its stock has not been pushed yet, and a restaurant would
    rather sell a dish it then has to refuse than hide its whole menu after a restart.
    hub sends no modifiers and no combos, so both lists are empty.
    """
    stopped = [product.id for product in catalog.products
               if _offer_price(catalog, venue, product) is not None
               and (venue, product.id) in catalog.stock and catalog.stock[(venue, product.id)] <= _ZERO]
    return {"items": [{"itemId": item, "stock": _ZERO} for item in sorted(stopped)],
            "modifiers": [],
            "combos": []}


def restaurant_promos() -> dict[str, Any]:
    """``GET /menu/{restaurantId}/promos``: "a dish as a gift" pairs (``partner.promos.get``); hub runs none."""
    return {"promoItems": []}


# --- shops ---------------------------------------------------------------------------------------------


def retail_composition(catalog: Catalog, item_mapping: CompiledMapping, *,
                       problems: list[str] | None = None) -> dict[str, Any]:
    """``GET /nomenclature/composition``: every good of the brand (``partner.nomenclature.brand.composition.get``).

    The shape of ``retail/nomenclature-brand-composition-response.json``: categories as
    for restaurants (without ``sortOrder``, which the retail schema lacks) and every good
    that is not deleted, whatever its price or stock. The brand-wide form carries no
    ``price`` and no ``oldPrice``: prices come from :func:`retail_prices` only, so they
    are removed here even if the mapping produces them.
    """
    goods = [product for product in catalog.products if not product.deleted]
    categories, items = _categorised(goods, item_mapping, lambda product: {}, problems)
    for item in items:
        item.pop("price", None)
        item.pop("oldPrice", None)
    return {"categories": categories, "items": items}


def retail_availability(catalog: Catalog, place: str) -> dict[str, Any]:
    """``GET /nomenclature/{placeId}/availability``: stock of every good (``partner.nomenclature.availability.get``).

    ``{"items": [{"id", "stock"}]}`` as ``retail/nomenclature-availability-response.json``.
    Yandex keeps the last positive stock of a good that is not listed, so *every* good is
    listed, deleted ones too (with 0, so they stop selling before the once-a-day
    composition drops them). ``stock`` is in pieces, or in kilograms for weighed goods;
    zero or below means unavailable and is sent as 0, as is a good with no stock record
    for the place (a shop must not sell what it may not have). Pieces are rounded down:
    2.5 pieces in 1C are 2 a courier can take.
    """
    return {"items": [{"id": product.id, "stock": _retail_stock(catalog, place, product)}
                      for product in sorted(catalog.products, key=lambda product: product.id)]}


def retail_prices(catalog: Catalog, place: str, item_mapping: CompiledMapping, *,
                  problems: list[str] | None = None) -> dict[str, Any]:
    """``GET /nomenclature/{placeId}/prices``: the price of every good at a place (``partner.nomenclature.prices.get``).

    ``{"items": [{"id", "price", "vat", "oldPrice"?}]}`` as
    ``retail/nomenclature-prices-response.json``. ``price`` and ``vat`` come from the
    retail item mapping, so the VAT table lives in one file; a weighed good's price is
    per kilogram, as 1C holds it (``PriceEntry.amount``). Deleted goods, goods without
    a price and goods priced 0 are left out (Yandex ignores zero prices).
    """
    rows: list[dict[str, Any]] = []
    for product in sorted(catalog.products, key=lambda product: product.id):
        price = _offer_price(catalog, place, product)
        if price is None:
            continue
        item = _item(item_mapping, product, {"price": price}, problems)
        if item is None:
            continue
        row = {"id": product.id, "price": item["price"], "vat": item.get("vat")}
        if "oldPrice" in item:
            row["oldPrice"] = item["oldPrice"]
        rows.append(row)
    return {"items": rows}


# --- shared --------------------------------------------------------------------------------------------


def _offer_price(catalog: Catalog, venue: str, product: Product) -> Decimal | None:
    """The good's price at ``venue`` when it may be offered there: not deleted, priced above zero."""
    if product.deleted:
        return None
    entry = catalog.price(venue, product.id)
    return entry.amount if entry is not None and entry.amount > _ZERO else None


def _retail_stock(catalog: Catalog, place: str, product: Product) -> Decimal:
    quantity = _ZERO if product.deleted else catalog.stock.get((place, product.id), _ZERO)
    if quantity <= _ZERO:
        return _ZERO
    return quantity if product.weighed else quantity.to_integral_value(rounding=ROUND_FLOOR)


def _categorised(goods: Iterable[Product], item_mapping: CompiledMapping,
                 context: Callable[[Product], dict[str, Any]],
                 problems: list[str] | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Categories (``{id, name}``) and mapped items of ``goods``.

    Categories are sorted by name with the default one last, goods by name within their
    category; ``context(product)`` adds to what the mapping finds under
    ``attributes.yandex_eda``. A category whose every good failed its mapping is left out.
    """
    members: dict[str, list[Product]] = {}
    names: dict[str, str] = {}
    for product in goods:
        category = product.group or DEFAULT_CATEGORY_ID
        members.setdefault(category, []).append(product)
        group_name = product.attributes.get("group_name")
        if category not in names and isinstance(group_name, str) and group_name.strip():
            names[category] = group_name.strip()
    ordered = sorted(members, key=lambda category: (category == DEFAULT_CATEGORY_ID,
                                                    names.get(category, DEFAULT_CATEGORY_NAME).casefold(), category))
    categories: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for category in ordered:
        mapped = 0
        for position, product in enumerate(sorted(members[category], key=lambda p: (p.name.casefold(), p.id))):
            item = _item(item_mapping, product, {**context(product), "sort_order": position}, problems)
            if item is not None:
                items.append({"id": product.id, "categoryId": category, **item})
                mapped += 1
        if mapped:
            categories.append({"id": category, "name": names.get(category, DEFAULT_CATEGORY_NAME)})
    return categories, items


def _item(item_mapping: CompiledMapping, product: Product, context: dict[str, Any],
          problems: list[str] | None) -> dict[str, Any] | None:
    """The mapped item of one good, without ``id``/``categoryId``.

    None when the mapping skips the good (its ``skip_when``), fails, or, given the good's
    price at a venue, prices it at 0 or below (or not at all).
    """
    record = product.model_dump()
    record["attributes"] = {**product.attributes, CONTEXT: context}
    try:
        item = item_mapping.apply(record)
    except RecordError as exc:
        if problems is not None:
            problems.append(f"good {product.id}: {exc.message}")
        return None
    if item is None:
        return None
    if "price" in context and item.get("price", _ZERO) <= _ZERO:  # below a kopeck, or a mapping's formula
        if problems is not None:
            problems.append(f"good {product.id}: price {item.get('price')} is not above 0; Yandex would ignore it")
        return None
    item.pop("id", None)
    item.pop("categoryId", None)
    return dict(item)


def _rfc3339(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("lastChange needs an aware datetime: Yandex reads the offset")
    return moment.isoformat(timespec="microseconds")
