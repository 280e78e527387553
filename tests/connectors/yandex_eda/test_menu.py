"""Yandex Eda's menu documents (connectors/yandex_eda/menu.py) against Yandex's published examples.

The samples are Yandex's own doc examples (``../shared/samples/yandex-eda/SOURCES.md`` says where
each one comes from); they are read from there, never copied. A shape check walks hub's document
after a trip through JSON and requires every key path in it to exist in the sample with the same
JSON type: hub may send less than the sample shows, never something else.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.yandex_eda.menu import (
    DEFAULT_CATEGORY_ID,
    DEFAULT_CATEGORY_NAME,
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
from hub.mapping import load_mapping
from hub.model import PriceEntry, Product
from hub.values import json_dumps, json_loads
from tests._shared import SAMPLES as SHARED_SAMPLES

REPO = Path(__file__).parents[3]
SAMPLES = SHARED_SAMPLES / "yandex-eda"
MENU_ITEM = load_mapping(REPO / "mappings" / "yandex_eda" / "menu" / "catalog.out.yaml")
NOMENCLATURE_ITEM = load_mapping(REPO / "mappings" / "yandex_eda" / "nomenclature" / "catalog.out.yaml")
YANDEX_VAT = {20, 10, 7, 5, -1}
MOMENT = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))

VENUE, OTHER_VENUE = "venue-1", "venue-2"
CHEESE, LATTE, BREAD, OLD, FREE, UNPRICED, FRESH = (
    "cheese-kg", "latte", "bread", "old-cake", "free-water", "unpriced", "fresh-juice")


def _product(id: str, name: str, **fields: Any) -> Product:
    return Product(id=id, name=name, **fields)


def _price(product: str, amount: str, venue: str | None = None) -> tuple[tuple[str | None, str], PriceEntry]:
    return (venue, product), PriceEntry(product=product, price_type="yandex", amount=Decimal(amount), venue=venue)


def _catalog() -> Catalog:
    """Goods covering every rule: see each good's comment."""
    dairy = {"group": "g-dairy", "attributes": {"group_name": "Молочное"}}
    drinks = {"group": "g-drinks", "attributes": {"group_name": "Напитки"}}
    products = [
        # weighed, 0.305 kg left at VENUE, a price of its own there and an all-venues one
        _product(CHEESE, "Сыр российский", unit="kg", weighed=True, vat_rate=Decimal(10),
                 barcodes=["2200001000000"], **dairy),
        _product(LATTE, "Латте", vat_rate=Decimal(20), **drinks),                # all-venues price only, stock 0
        _product(BREAD, "Хлеб", article="BR-1", attributes={"measure": "400"}),   # no group, no VAT rate
        _product(OLD, "Торт", deleted=True, vat_rate=Decimal(20), **dairy),       # deleted, priced and in stock
        _product(FREE, "Вода", vat_rate=Decimal(20), **drinks),                  # priced 0
        _product(UNPRICED, "Кефир", vat_rate=Decimal(10), **dairy),              # no price at all
        _product(FRESH, "Сок", vat_rate=Decimal(0), **drinks),                   # no stock record anywhere
    ]
    prices = dict([_price(CHEESE, "899.90", VENUE), _price(CHEESE, "950.00"), _price(LATTE, "87.03"),
                   _price(BREAD, "45"), _price(OLD, "100.00"), _price(FREE, "0.00"), _price(FRESH, "120.00")])
    stock = {(VENUE, CHEESE): Decimal("0.305"), (VENUE, LATTE): Decimal(0), (VENUE, BREAD): Decimal("12.5"),
             (VENUE, OLD): Decimal(5), (VENUE, FREE): Decimal(3), (VENUE, UNPRICED): Decimal(-2),
             (OTHER_VENUE, LATTE): Decimal(-1)}
    return Catalog(products=products, prices=prices, stock=stock)


# --- the shape check ------------------------------------------------------------------------------------


def _sample(name: str) -> Any:
    return json_loads((SAMPLES / name).read_text(encoding="utf-8"))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):  # before int: a bool is an int to Python, not to JSON
        return "boolean"
    if isinstance(value, int | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    raise TypeError(f"{type(value).__name__} is no JSON type")


def _paths(value: Any, at: str = "$") -> Iterator[tuple[str, str]]:
    """Every key path in a JSON value with its type; list items share the path ``list[]``."""
    yield at, _json_type(value)
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, f"{at}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from _paths(inner, f"{at}[]")


def _strays(document: Any, sample: Any) -> list[str]:
    """Key paths of ``document``, as Yandex receives it, that the sample lacks or types differently."""
    known: dict[str, set[str]] = {}
    for path, kind in _paths(sample):
        known.setdefault(path, set()).add(kind)
    wire = json_loads(json_dumps(document))
    return [f"{path}: {kind} (sample: {sorted(known.get(path, ())) or 'absent'})"
            for path, kind in _paths(wire) if kind not in known.get(path, set())]


@pytest.mark.samples
def test_the_shape_check_catches_a_wrong_key_and_a_wrong_type() -> None:
    sample = _sample("restaurant/menu-composition-response.v2.json")
    assert _strays({"items": [{"isCatchWeight": True, "price": "10.00", "vat": 20}]}, sample) == [
        "$.items[].isCatchWeight: boolean (sample: absent)", "$.items[].price: string (sample: ['number'])"]


# --- restaurants -----------------------------------------------------------------------------------------


@pytest.mark.samples
def test_restaurants_lists_venues_as_the_sample_does() -> None:
    document = restaurants([Venue(id="123", title="Кафе на Ленина", address="Екатеринбург, Ленина, 1")])
    assert document == {"places": [{"id": "123", "title": "Кафе на Ленина", "address": "Екатеринбург, Ленина, 1"}]}
    assert _strays(document, _sample("restaurant/restaurants-response.json")) == []


@pytest.mark.samples
def test_composition_has_the_sample_shape() -> None:
    document = restaurant_composition(_catalog(), VENUE, MENU_ITEM, last_change=MOMENT)
    assert document["items"] and document["categories"]
    assert _strays(document, _sample("restaurant/menu-composition-response.v2.json")) == []


def test_composition_offers_goods_priced_above_zero_that_are_not_deleted() -> None:
    document = restaurant_composition(_catalog(), VENUE, MENU_ITEM, last_change=MOMENT)
    assert {item["id"] for item in document["items"]} == {CHEESE, LATTE, BREAD, FRESH}


def test_a_venue_price_wins_over_the_all_venues_price() -> None:
    catalog = _catalog()
    here = {i["id"]: i["price"] for i in restaurant_composition(catalog, VENUE, MENU_ITEM, last_change=MOMENT)["items"]}
    there = {i["id"]: i["price"]
             for i in restaurant_composition(catalog, OTHER_VENUE, MENU_ITEM, last_change=MOMENT)["items"]}
    assert (here[CHEESE], there[CHEESE]) == (Decimal("899.90"), Decimal("950.00"))
    assert here[LATTE] == there[LATTE] == Decimal("87.03")
    assert here[BREAD] == Decimal("45.00") and str(here[BREAD]) == "45.00"  # money: kopecks always written


def test_catalog_price_falls_back_to_the_all_venues_price() -> None:
    catalog = _catalog()
    own, shared = catalog.price(VENUE, CHEESE), catalog.price(OTHER_VENUE, CHEESE)
    assert own is not None and (own.venue, own.amount) == (VENUE, Decimal("899.90"))
    assert shared is not None and (shared.venue, shared.amount) == (None, Decimal("950.00"))
    assert catalog.price(VENUE, UNPRICED) is None


def test_categories_come_from_1c_groups_and_ungrouped_goods_share_the_default() -> None:
    document = restaurant_composition(_catalog(), VENUE, MENU_ITEM, last_change=MOMENT)
    assert document["categories"] == [
        {"id": "g-dairy", "name": "Молочное", "sortOrder": 0},
        {"id": "g-drinks", "name": "Напитки", "sortOrder": 1},
        {"id": DEFAULT_CATEGORY_ID, "name": DEFAULT_CATEGORY_NAME, "sortOrder": 2},  # the default comes last
    ]
    assert {item["id"]: item["categoryId"] for item in document["items"]} == {
        CHEESE: "g-dairy", LATTE: "g-drinks", FRESH: "g-drinks", BREAD: DEFAULT_CATEGORY_ID}
    assert {item["id"]: item["sortOrder"] for item in document["items"] if item["categoryId"] == "g-drinks"} == {
        LATTE: 0, FRESH: 1}  # by name within the category: Латте, Сок
    assert document["schedules"] == {}


def test_a_weighed_good_is_a_catch_weight_item_priced_per_kilogram() -> None:
    items = {i["id"]: i for i in restaurant_composition(_catalog(), VENUE, MENU_ITEM, last_change=MOMENT)["items"]}
    cheese = items[CHEESE]
    assert (cheese["isCatchweight"], cheese["measure"], cheese["measureUnit"], cheese["weightQuantum"]) == (
        True, Decimal(1000), "g", Decimal("0.1"))
    assert cheese["price"] == Decimal("899.90")
    assert items[LATTE]["isCatchweight"] is False and "weightQuantum" not in items[LATTE]
    assert (items[BREAD]["measure"], items[BREAD]["measureUnit"]) == (Decimal(400), "g")
    assert "measure" not in items[LATTE]  # no portion weight known: none claimed


def test_last_change_is_rfc3339_with_microseconds_and_offset() -> None:
    document = restaurant_composition(_catalog(), VENUE, MENU_ITEM, last_change=MOMENT)
    assert document["lastChange"] == "2026-11-20T09:30:00.000000+03:00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d", document["lastChange"])
    with pytest.raises(ValueError, match="aware"):
        restaurant_composition(_catalog(), VENUE, MENU_ITEM, last_change=MOMENT.replace(tzinfo=None))


@pytest.mark.samples
def test_restaurant_availability_lists_only_stopped_goods() -> None:
    document = restaurant_availability(_catalog(), VENUE)
    # Latte is at 0. Not listed: cheese (0.305 kg left), bread, the juice without a stock record
    # (not pushed yet: available), the deleted cake and the unpriced kefir at -2 (not on the menu).
    assert document == {"items": [{"itemId": LATTE, "stock": Decimal(0)}], "modifiers": [], "combos": []}
    assert restaurant_availability(_catalog(), OTHER_VENUE)["items"] == [{"itemId": LATTE, "stock": Decimal(0)}]
    assert _strays(document, _sample("restaurant/menu-availability-response.v2.json")) == []


@pytest.mark.samples
def test_promos_are_empty_in_the_sample_shape() -> None:
    document = restaurant_promos()
    assert document == {"promoItems": []}
    assert _strays(document, _sample("restaurant/menu-promos-response.json")) == []


# --- shops -----------------------------------------------------------------------------------------------


@pytest.mark.samples
def test_retail_composition_has_the_brand_sample_shape_and_no_prices() -> None:
    document = retail_composition(_catalog(), NOMENCLATURE_ITEM)
    assert _strays(document, _sample("retail/nomenclature-brand-composition-response.json")) == []
    assert not [item for item in document["items"] if "price" in item or "oldPrice" in item]
    assert {item["id"] for item in document["items"]} == {CHEESE, LATTE, BREAD, FREE, UNPRICED, FRESH}
    assert all("sortOrder" not in category for category in document["categories"])


def test_retail_composition_describes_weighed_goods_with_retail_casing() -> None:
    items = {item["id"]: item for item in retail_composition(_catalog(), NOMENCLATURE_ITEM)["items"]}
    cheese = items[CHEESE]
    assert cheese["isCatchWeight"] is True and "isCatchweight" not in cheese
    assert cheese["measure"] == {"value": Decimal(1000), "unit": "GRM", "quantum": Decimal("0.1")}
    assert cheese["barcode"] == {"type": "ean13", "value": "2200001000000", "values": ["2200001000000"],
                                 "weightEncoding": "ean13-tail-gram-4"}
    assert items[BREAD]["measure"] == {"value": Decimal(400), "unit": "GRM", "quantum": Decimal(1)}
    assert items[BREAD]["vendorCode"] == "BR-1" and "barcode" not in items[BREAD]


def test_prices_a_mapping_adds_reach_the_prices_but_never_the_brand_composition(tmp_path: Path) -> None:
    marked_up = tmp_path / "catalog.out.yaml"
    marked_up.write_text("system: yandex_eda\nfields:\n  name: name\n  vat: {value: -1}\n"
                         "  price: {expr: 'money(coalesce(attributes.yandex_eda.price, 0) * 1.1)'}\n"
                         "  oldPrice: {value: 999}\n", encoding="utf-8")
    mapping = load_mapping(marked_up)
    catalog = Catalog(products=[_product("x", "Товар")], prices=dict([_price("x", "100")]))
    [item] = retail_composition(catalog, mapping)["items"]
    assert "price" not in item and "oldPrice" not in item
    assert retail_prices(catalog, VENUE, mapping)["items"] == [
        {"id": "x", "price": Decimal("110.00"), "vat": -1, "oldPrice": 999}]


@pytest.mark.samples
def test_retail_availability_lists_every_good_with_stopped_ones_at_zero() -> None:
    document = retail_availability(_catalog(), VENUE)
    assert _strays(document, _sample("retail/nomenclature-availability-response.json")) == []
    assert {item["id"]: item["stock"] for item in document["items"]} == {
        CHEESE: Decimal("0.305"),  # kilograms
        LATTE: Decimal(0),
        BREAD: Decimal(12),        # 12.5 pieces in 1C: 12 whole ones to sell
        OLD: Decimal(0),           # deleted: stopped, whatever 1C holds
        FREE: Decimal(3),
        UNPRICED: Decimal(0),      # -2 in 1C
        FRESH: Decimal(0),         # no stock record: a shop must not sell it
    }
    assert '{"id": "cheese-kg", "stock": 0.305}' in json_dumps(document)


@pytest.mark.samples
def test_retail_prices_are_per_kilogram_and_leave_out_unpriced_goods() -> None:
    document = retail_prices(_catalog(), VENUE, NOMENCLATURE_ITEM)
    assert _strays(document, _sample("retail/nomenclature-prices-response.json")) == []
    assert {row["id"]: (row["price"], row["vat"]) for row in document["items"]} == {
        CHEESE: (Decimal("899.90"), 10),  # the price of 1 kg, however much is left
        LATTE: (Decimal("87.03"), 20),
        BREAD: (Decimal("45.00"), -1),    # no VAT rate in 1C
        FRESH: (Decimal("120.00"), -1),   # 0 % is not a Yandex code
    }
    assert '"price": 899.90' in json_dumps(document)


@pytest.mark.parametrize(("rate", "code"), [(None, -1), (Decimal(0), -1), (Decimal("20.00"), 20), (Decimal(22), 20),
                                            (Decimal(10), 10), (Decimal(7), 7), (Decimal(5), 5)])
def test_vat_codes_are_never_0_and_always_in_yandex_set(rate: Decimal | None, code: int) -> None:
    catalog = Catalog(products=[_product("x", "Товар", vat_rate=rate)], prices=dict([_price("x", "10")]))
    [item] = restaurant_composition(catalog, VENUE, MENU_ITEM, last_change=MOMENT)["items"]
    [row] = retail_prices(catalog, VENUE, NOMENCLATURE_ITEM)["items"]
    assert item["vat"] == row["vat"] == code
    assert type(item["vat"]) is int and code in YANDEX_VAT


def test_a_good_whose_mapping_fails_is_left_out_and_reported() -> None:
    catalog = _catalog()
    catalog.products.append(_product("odd-vat", "Товар", group="g-odd", vat_rate=Decimal(12),
                                     attributes={"group_name": "Прочее"}))
    catalog.prices.update([_price("odd-vat", "10")])
    problems: list[str] = []
    document = restaurant_composition(catalog, VENUE, MENU_ITEM, last_change=MOMENT, problems=problems)
    assert "odd-vat" not in {item["id"] for item in document["items"]}
    assert "g-odd" not in {category["id"] for category in document["categories"]}  # nothing left in it
    assert problems == ["good odd-vat: vat: Decimal('12') is not in table 'vat'"]
    retail_problems: list[str] = []
    assert "odd-vat" not in {row["id"] for row in retail_prices(catalog, VENUE, NOMENCLATURE_ITEM,
                                                                 problems=retail_problems)["items"]}
    assert len(retail_problems) == 1


def test_a_price_that_rounds_to_zero_kopecks_is_left_out() -> None:
    catalog = Catalog(products=[_product("x", "Товар")], prices=dict([_price("x", "0.004")]))
    problems: list[str] = []
    assert restaurant_composition(catalog, VENUE, MENU_ITEM, last_change=MOMENT, problems=problems)["items"] == []
    assert retail_prices(catalog, VENUE, NOMENCLATURE_ITEM)["items"] == []
    assert problems == ["good x: price 0.00 is not above 0; Yandex would ignore it"]


# --- numbers on the wire -----------------------------------------------------------------------------------


@given(price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2),
       stock=st.decimals(min_value=Decimal(-1000), max_value=Decimal(100000), places=3))
def test_prices_and_stock_reach_the_wire_as_the_exact_decimals(price: Decimal, stock: Decimal) -> None:
    catalog = Catalog(products=[_product("w", "Сыр", unit="kg", weighed=True)], prices=dict([_price("w", str(price))]),
                      stock={(VENUE, "w"): stock})
    expected_stock = stock if stock > 0 else Decimal(0)
    documents = [restaurant_composition(catalog, VENUE, MENU_ITEM, last_change=MOMENT),
                 retail_prices(catalog, VENUE, NOMENCLATURE_ITEM), retail_availability(catalog, VENUE)]
    composition, prices, availability = (json_loads(json_dumps(document)) for document in documents)
    assert str(composition["items"][0]["price"]) == str(prices["items"][0]["price"]) == str(price)
    assert str(availability["items"][0]["stock"]) == str(expected_stock)
    assert Decimal(str(availability["items"][0]["stock"])) == max(stock, Decimal(0))
