"""Tilda Store's public catalog feed: what the storefront shows, read back after a push.

``GET https://store.tildaapi.com/api/getproductslist/?storepartuid=<catalog part>&slice=<n>&size=<k>`` answers
``total``, ``slice``, ``nextslice`` and ``products[]`` (``uid``, ``title``, ``quantity``, ``price``,
``editions[]``). It is the endpoint Tilda's own storefront calls, not a documented API (UNCERTAIN in the fact
sheet): it is read tolerantly. ``quantity: ""`` means unlimited stock; a product with editions shows its stock
and prices on the editions, not on itself; a good is known by its ``externalid`` (1C's id when hub pushed it)
and, where a feed lacks that, by its ``sku``. Edge caches may show the old rows a while after an import, so the
connector reads again for a while before it calls a push not applied.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.errors import ProtocolError
from hub.http import HttpClient
from hub.values import json_loads

UNLIMITED = ""
"""The quantity Tilda shows for a good whose stock is not tracked."""


@dataclass(frozen=True)
class Row:
    """One good as the storefront shows it: a product without editions, or one edition."""

    id: str
    """Its External ID, else its SKU: the id hub pushed it under."""
    uid: str
    title: str
    quantity: Decimal | None
    """None: unlimited (not tracked)."""
    price: Decimal | None
    """None when the feed shows none."""


class FeedClient:
    """Reads every page of one catalog part's feed."""

    def __init__(self, http: HttpClient, storepartuid: str, *, size: int = 100) -> None:
        self.http = http
        self.storepartuid = storepartuid
        self.size = size

    def rows(self) -> Iterator[Row]:
        """Every good the catalog part shows, page by page."""
        page: int | None = 1
        seen = 0
        while page is not None:
            response = self.http.get("", params={"storepartuid": self.storepartuid, "slice": page,
                                                 "size": self.size})
            try:
                body = json_loads(response.content)
            except ValueError as exc:
                raise ProtocolError(f"{self.http.source}: the catalog feed is not JSON: {exc}") from None
            if not isinstance(body, dict):
                raise ProtocolError(f"{self.http.source}: the catalog feed answered {type(body).__name__}")
            products = body.get("products") or []
            for product in products:
                yield from rows_of(product)
            seen += len(products)
            following = _int(body.get("nextslice"))
            total = _int(body.get("total"))
            done = not products or (total is not None and seen >= total)
            # A nextslice that does not move forward (or is no number) ends the read: the feed is not a
            # documented API, and reading the same page again would never end.
            page = None if done or following is None or following <= page else following


def rows_of(product: Mapping[str, Any]) -> Iterator[Row]:
    """A product's rows: its editions when it has any (the parent has no stock of its own), else itself."""
    editions = [e for e in product.get("editions") or [] if isinstance(e, dict)]
    for item in editions or [dict(product)]:
        found = str(item.get("externalid") or item.get("sku") or "").strip()
        if found:
            yield Row(id=found, uid=str(item.get("uid") or ""), title=str(product.get("title") or ""),
                      quantity=_decimal(item.get("quantity")), price=_decimal(item.get("price")))


def _decimal(value: Any) -> Decimal | None:
    if value is None or str(value).strip() == UNLIMITED:
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
