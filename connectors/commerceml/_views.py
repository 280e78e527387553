"""The records the ``commerceml_1c`` mappings read: plain dict views of what the parser yields.

``mappings/commerceml/{catalog,prices,stock}.in.yaml`` turn these views into
hub's Product, PriceEntry and StockLevel; their header comments list the keys
for integrators, so a key added here is described there too. The views are
dicts of plain values (text, Decimals, lists, dicts) because the mapping
engine's generated code reads dicts inline, and because a mapping file must
not depend on the parser's classes.

The classifier (groups, properties, price types, warehouses) gives names to
the ids goods and offers carry. 1C may send it in another file than the goods
(2.08+ splits them), so what was seen is kept in channel state and read back
at each import step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from connectors.commerceml.items import Group, Offer, PriceType, Property, Values, Warehouse
from hub.connector import ChannelState
from hub.model import Product
from hub.values import json_dumps, json_loads

View = dict[str, Any]
CLASSIFIER_KINDS = ("group", "property", "price_type", "warehouse")
"""Channel state kinds the classifier is kept under."""


class Classifier:
    """Names for the ids of goods and offers, from every classifier 1C uploaded so far."""

    def __init__(self, state: ChannelState) -> None:
        self._kept = {kind: dict(state.all(kind)) for kind in CLASSIFIER_KINDS}
        self.changed: dict[str, dict[str, str]] = {}
        """Payloads to put in channel state: what this import saw that state does not hold yet."""
        loaded = {kind: {key: json_loads(payload) for key, payload in kept.items()}
                  for kind, kept in self._kept.items()}
        self._groups: dict[str, tuple[str, str | None]] = {
            key: (group["name"], group.get("parent")) for key, group in loaded["group"].items()}
        self._properties: dict[str, tuple[str, dict[str, str]]] = {
            key: (prop["name"], prop.get("values", {})) for key, prop in loaded["property"].items()}
        self._price_types: dict[str, str | None] = {key: kept.get("name") for key, kept in loaded["price_type"].items()}
        self._warehouses: dict[str, str | None] = {key: kept.get("name") for key, kept in loaded["warehouse"].items()}
        self._ancestry: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}

    def add(self, item: Group | Property | PriceType | Warehouse) -> None:
        """Take one entry of a classifier (or of an offers package's price types and warehouses)."""
        if isinstance(item, Group):
            self._groups[item.id] = (item.name, item.parent)
            self._ancestry.clear()
            self._keep("group", item.id, {"id": item.id, "name": item.name, "parent": item.parent})
        elif isinstance(item, Property):
            self._properties[item.id] = (item.name, item.values)
            self._keep("property", item.id, {"id": item.id, "name": item.name, "values": item.values})
        elif isinstance(item, PriceType):
            self._price_types[item.id] = item.name
            self._keep("price_type", item.id, {"id": item.id, "name": item.name, "currency": item.currency})
        else:
            self._warehouses[item.id] = item.name
            self._keep("warehouse", item.id, {"id": item.id, "name": item.name})

    def _keep(self, kind: str, key: str, entry: dict[str, Any]) -> None:
        payload = json_dumps(entry)
        if self._kept[kind].get(key) != payload:
            self._kept[kind][key] = payload
            self.changed.setdefault(kind, {})[key] = payload

    def group_name(self, group: str | None) -> str | None:
        known = self._groups.get(group) if group is not None else None
        return known[0] if known is not None else None

    def ancestry(self, groups: list[str]) -> tuple[list[str], list[str]]:
        """The groups and every group above them (ids, then names): shared lists, cached per set of groups."""
        key = tuple(groups)
        found = self._ancestry.get(key)
        if found is None:
            ids: list[str] = []
            for group in groups:
                current: str | None = group
                while current is not None and current not in ids:  # a cycle in a broken file ends here
                    ids.append(current)
                    known = self._groups.get(current)
                    current = known[1] if known is not None else None
            names = [known[0] for group in ids if (known := self._groups.get(group)) is not None]
            found = self._ancestry[key] = (ids, names)
        return found

    def by_name(self, properties: Values) -> Values:
        """Property values by the property's name, Справочник value ids replaced by their text."""
        named: Values = {}
        for prop, values in properties.items():
            known = self._properties.get(prop)
            if known is None:
                named[prop] = values
            else:
                name, options = known
                named[name] = [options.get(value, value) for value in values] if options else values
        return named

    def price_type_name(self, price_type: str) -> str | None:
        return self._price_types.get(price_type)

    def warehouse_name(self, warehouse: str) -> str | None:
        return self._warehouses.get(warehouse)


def good_view(good: Product, classifier: Classifier) -> View:
    """A good of the import file, as ``catalog.in.yaml`` reads it."""
    extra = good.attributes
    groups = extra.get("groups")
    properties = extra.get("properties")
    all_groups, all_names = classifier.ancestry(groups) if groups else ([], [])
    return {
        "id": good.id, "name": good.name, "article": good.article, "unit": good.unit,
        "unit_code": extra.get("unit_code"), "barcodes": good.barcodes, "group": good.group, "groups": groups,
        "group_name": classifier.group_name(good.group), "all_groups": all_groups, "all_group_names": all_names,
        "vat_rate": good.vat_rate, "vat_free": good.vat_free, "deleted": good.deleted,
        "requisites": extra.get("requisites"),
        "properties": properties, "properties_by_name": classifier.by_name(properties) if properties else None,
        "images": extra.get("images"), "description": extra.get("description"),
        "characteristics": extra.get("characteristics"), "manufacturer": extra.get("manufacturer"),
        "version": extra.get("version"), "product": None, "variant": None,
    }


def variant_view(offer: Offer) -> View:
    """A variant of a good named by the offers file, as ``catalog.in.yaml`` reads it.

    Offers name no groups, so a variant is in none; the lists are empty rather than null so that a
    ``skip_when`` testing them works for goods and variants alike.
    """
    return {"id": offer.id, "name": offer.name, "article": offer.article, "unit": offer.unit,
            "barcodes": offer.barcodes, "all_groups": [], "all_group_names": [],
            "characteristics": offer.characteristics or None, "deleted": offer.deleted, "product": offer.product,
            "variant": offer.variant}


def offer_view(offer: Offer, classifier: Classifier) -> View:
    """What every price and stock view of ``offer`` shares."""
    return {
        "id": offer.id, "product": offer.product, "variant": offer.variant, "name": offer.name,
        "article": offer.article, "barcodes": offer.barcodes, "unit": offer.unit,
        "characteristics": offer.characteristics, "properties": offer.properties,
        "properties_by_name": classifier.by_name(offer.properties) if offer.properties else None,
        "deleted": offer.deleted, "total": offer.quantity,
        "prices": {price.price_type: {"amount": price.amount, "currency": price.currency} for price in offer.prices},
        "stock": {level.warehouse: level.quantity for level in offer.stock},
    }


def price_views(offer: Offer, shared: View, classifier: Classifier) -> Iterator[tuple[str, View]]:
    """Each price of ``offer`` as ``prices.in.yaml`` reads it, with the key hub keeps it under."""
    for price in offer.prices:
        yield f"{price.price_type}:{offer.id}", {
            **shared, "price_type": price.price_type, "price_type_name": classifier.price_type_name(price.price_type),
            "amount": price.amount, "currency": price.currency}


def stock_views(offer: Offer, shared: View, classifier: Classifier, *, warehouse: str,
                as_of: dt.datetime) -> Iterator[tuple[str, View]]:
    """Each stock level of ``offer`` as ``stock.in.yaml`` reads it, with the key hub keeps it under.

    An offer that counts no warehouse gives one view of its total, warehouse null, kept under the source's
    ``warehouse`` setting.
    """
    for level in offer.stock:
        yield f"{level.warehouse}:{offer.id}", _level(shared, level.warehouse, classifier, level.quantity, level.as_of)
    if not offer.stock and offer.quantity is not None:
        yield f"{warehouse}:{offer.id}", {**shared, "warehouse": None, "warehouse_name": None,
                                          "quantity": offer.quantity, "as_of": as_of}


def _level(shared: View, warehouse: str, classifier: Classifier, quantity: Decimal, as_of: dt.datetime) -> View:
    return {**shared, "warehouse": warehouse, "warehouse_name": classifier.warehouse_name(warehouse),
            "quantity": quantity, "as_of": as_of}
