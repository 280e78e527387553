"""Tilda Store's importer CSV, for shops that load goods by hand instead of through the CommerceML connector.

``;``-separated, every field quoted, the 22 columns the fact sheet lists (:data:`COLUMNS`; real exports may
carry more, such as ``Characteristics:<name>``, which the importer does not need). A good with editions
(variants) is a parent row without SKU, price or stock of its own, and one row per edition tied to it by
``Parent UID``. A good is an edition when its ``attributes.parent`` names another good of the export.

Updating goods Tilda already has needs their ``Tilda UID`` (``attributes.tilda_uid``); a new good has none and
is created. What ``Parent UID`` holds for a parent Tilda does not know yet is not documented (UNCERTAIN): hub
writes the parent's Tilda UID when it has one, else the parent's ``UID`` (hub's id of it), which every row
carries in the ``UID`` column.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import TextIO

from hub.model import PriceEntry, Product, StockLevel
from hub.values import money

COLUMNS = ("Tilda UID", "Brand", "SKU", "Mark", "Category", "Title", "Description", "Text", "Photo", "Price",
           "Quantity", "Price Old", "Editions", "Modifications", "External ID", "Parent UID", "Weight", "Length",
           "Width", "Height", "Url", "UID")


def write_csv(out: TextIO, goods: Sequence[Product], *, prices: Sequence[PriceEntry],
              stock: Sequence[StockLevel]) -> int:
    """Write ``goods`` (deleted ones left out) at their ``prices`` (the first price type each has) and
    ``stock`` (summed over warehouses, 0 for a good it lacks); returns how many rows."""
    price: dict[str, Decimal] = {}
    for entry in prices:
        price.setdefault(entry.product, entry.amount)
    held: defaultdict[str, Decimal] = defaultdict(Decimal)
    for level in stock:
        held[level.product] += level.quantity
    alive = [good for good in goods if not good.deleted]
    by_id = {good.id: good for good in alive}
    parents = {str(good.attributes["parent"]) for good in alive if good.attributes.get("parent") in by_id}
    writer = csv.DictWriter(out, fieldnames=COLUMNS, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writeheader()
    for good in alive:
        extra = good.attributes
        parent = by_id.get(str(extra.get("parent")))
        own = good.id not in parents  # a parent shows its editions' stock and prices, not its own
        writer.writerow({
            "Tilda UID": extra.get("tilda_uid", ""),
            "Brand": extra.get("brand", ""),
            "SKU": (good.article or "") if own else "",
            "Category": extra.get("category", ""),
            "Title": good.name,
            "Description": extra.get("description", ""),
            "Photo": " ".join(extra.get("images", ())),
            "Price": format(money(price[good.id]), "f") if own and good.id in price else "",
            # An empty Quantity is unlimited stock to Tilda: a good 1C's warehouses do not hold is at 0, as the
            # stock job sends it; only an export without any stock leaves the column empty (stock not tracked).
            "Quantity": format(held.get(good.id, Decimal(0)), "f") if own and held else "",
            "External ID": good.id if own else "",
            "Parent UID": (parent.attributes.get("tilda_uid") or parent.id) if parent is not None else "",
            "Url": extra.get("url", ""),
            "UID": good.id,
        })
    return len(alive)
