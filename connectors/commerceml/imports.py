"""What a file 1C uploaded becomes: the import runner of the ``commerceml_1c`` connector.

A catalog file (goods, prices, stock) goes through the source's mappings into the channel state a step at a time,
resuming at the position the previous step reached (:class:`CatalogImport`); a file of changed orders moves the
orders hub kept for 1C forward (:func:`apply_order_changes`). The exchange's ``mode=import`` calls them
(:mod:`connectors.commerceml.server`) and keeps what each step did.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from connectors.commerceml._views import (
    Classifier,
    View,
    good_view,
    offer_view,
    price_views,
    stock_views,
    variant_view,
)
from connectors.commerceml.items import (
    FileHeader,
    Group,
    Offer,
    OrderDocument,
    PriceType,
    Problem,
    Property,
    RecordKind,
    Section,
    SectionKind,
    Warehouse,
)
from connectors.commerceml.parser import parse
from hub.connector import ChannelState, ConnectorContext
from hub.errors import RecordError
from hub.mapping import CompiledMapping
from hub.model import Entity, OrderStatus, Product, moves_forward
from hub.values import json_dumps, json_loads, utcnow

ORDER = "order"
"""The channel state's kind of the orders hub keeps for 1C's queries."""
_ASK_AT_MOST = 200
"""Goods a mapping skipped in one import step that are looked up one by one; more are found in one read."""


class ImportSettings(Protocol):
    """What an import reads of the source's settings."""

    import_step: float
    import_batch: int | None
    warehouse: str
    missing_goods: Literal["keep", "hide"]


@dataclass
class Step:
    """What one import call did: records read so far, whether the file is done, what was skipped."""

    position: int
    done: bool
    problems: list[Problem] = field(default_factory=list)
    left_out: int = 0
    """Goods, prices and stock levels a mapping's skip_when left out."""


class CatalogImport:
    """One step of importing a catalog file: records after ``position`` until the step's time or count is up.

    Goods, prices and stock go through the source's mappings (see :mod:`._views`) on their way to channel
    state; each is kept under the key 1C's ids give it, whatever ids the mapping gives, so a full import
    can tell which goods it lacks and a record a mapping now skips can be withdrawn.
    """

    def __init__(self, path: Path, position: int, *, context: ConnectorContext, state: ChannelState,
                 mappings: Mapping[Entity, CompiledMapping], config: ImportSettings) -> None:
        self.context = context
        self.state = state
        self.config = config
        self.mappings = mappings
        self.links = context.links
        self.path = path
        self.position = position
        self.classifier = Classifier(state)
        self.buffers: dict[str, dict[str, str | None]] = {}
        """Payloads to keep per kind and key; None for a record the mappings skipped (hidden or forgotten)."""
        self.seen_goods: set[str] = set()
        self.full_catalog = False

    def run(self) -> Step:
        # The step's time starts at its first new record: skipping what earlier steps took must not use it up,
        # or a large file would go one record per call.
        deadline: float | None = None
        limit = self.config.import_batch
        parsed = parse(self.path, timezone=self.context.timezone, channel=self.context.source,
                       name=self.path.name)
        step = Step(self.position, done=False)
        count = 0
        taken = 0
        as_of = utcnow()
        for item in parsed:
            if isinstance(item, FileHeader) and item.generated_at is not None:
                as_of = item.generated_at  # a balance is as of when 1C wrote the file, the same on every step
            if isinstance(item, Section) and item.kind is SectionKind.CATALOG:
                self.full_catalog = not item.only_changes
                continue
            if isinstance(item, Group | Property | PriceType | Warehouse):
                self.classifier.add(item)  # every step: later goods and offers read names from it
            if not isinstance(item, Product | Offer | PriceType | Warehouse | Problem):
                continue
            count += 1
            if isinstance(item, Product):
                self.seen_goods.add(item.id)
            if count <= self.position:
                continue
            if deadline is None:
                deadline = time.monotonic() + self.config.import_step
            if isinstance(item, Problem):
                step.problems.append(item)
            elif isinstance(item, Product):
                self._map(Entity.CATALOG, item.id, good_view(item, self.classifier), parsed.line, step)
            elif isinstance(item, Offer):
                self._offer(item, as_of, step)
            taken += 1
            if (limit is not None and taken >= limit) or time.monotonic() >= deadline:
                self._flush()
                step.position = count
                return step
        self._flush()
        if self.full_catalog and self.config.missing_goods == "hide":
            self._hide((key, payload) for key, payload in self.state.all(Entity.CATALOG.value)
                       if key not in self.seen_goods and "#" not in key)
        step.position = count
        step.done = True
        return step

    def _offer(self, offer: Offer, as_of: dt.datetime, step: Step) -> None:
        shared = offer_view(offer, self.classifier)
        for key, view in price_views(offer, shared, self.classifier):
            self._map(Entity.PRICES, key, view, offer.line, step)
        for key, view in stock_views(offer, shared, self.classifier, warehouse=self.config.warehouse, as_of=as_of):
            self._map(Entity.STOCK, key, view, offer.line, step)
        if offer.variant is not None and offer.name:  # a variant sells as a good of its own in the channels
            self._map(Entity.CATALOG, offer.id, variant_view(offer), offer.line, step)

    def _map(self, entity: Entity, key: str, view: View, line: int | None, step: Step) -> None:
        """Keep what the entity's mapping makes of ``view``; a record it cannot map is a problem, with the line."""
        mapping = self.mappings[entity]
        try:
            record = mapping.apply(view, links=self.links)
        except RecordError as exc:
            kind = RecordKind.PRODUCT if entity is Entity.CATALOG and "#" not in key else RecordKind.OFFER
            step.problems.append(Problem(self.path.name, line, kind, view["id"], f"{mapping.path.name}: {exc}"))
            return
        if record is None:
            step.left_out += 1
        self.buffers.setdefault(entity.value, {})[key] = None if record is None else record.model_dump_json()

    def _flush(self) -> None:
        state = self.state
        for kind, payloads in self.classifier.changed.items():
            state.put_many(kind, payloads)
        self.classifier.changed = {}
        for kind, buffered in self.buffers.items():
            state.put_many(kind, {key: payload for key, payload in buffered.items() if payload is not None})
            skipped = [key for key, payload in buffered.items() if payload is None]
            if kind == Entity.CATALOG.value and skipped:  # hidden, not forgotten: the catalog job tells the channels
                self._hide(self._held(skipped))
            elif skipped:
                state.delete(kind, skipped)
        self.buffers = {}

    def _held(self, keys: list[str]) -> Iterable[tuple[str, str | None]]:
        """The goods hub holds under ``keys``: asked one by one when few, else in one read of them all."""
        state = self.state
        if len(keys) <= _ASK_AT_MOST:
            return ((key, state.get(Entity.CATALOG.value, key)) for key in keys)
        wanted = set(keys)
        return ((key, payload) for key, payload in state.all(Entity.CATALOG.value) if key in wanted)

    def _hide(self, held: Iterable[tuple[str, str | None]]) -> None:
        """Mark deleted the goods among ``held`` (key, payload or None) that are not yet."""
        hidden: dict[str, str] = {}
        for key, payload in held:
            if payload is not None and not (good := Product.model_validate_json(payload)).deleted:
                hidden[key] = good.model_copy(update={"deleted": True}).model_dump_json()
        if hidden:
            self.state.put_many(Entity.CATALOG.value, hidden)




def apply_order_changes(path: Path, state: ChannelState, context: ConnectorContext,
                        statuses: Mapping[str, OrderStatus]) -> Step:
    """1C's file of changed orders: statuses forward only, and 1C's facts (number, paid, posted) kept."""
    step = Step(position=0, done=True)
    changed: dict[str, str] = {}
    for item in parse(path, timezone=context.timezone, channel=context.source, name=path.name):
        if isinstance(item, Problem):
            step.problems.append(item)
        if not isinstance(item, OrderDocument):
            continue
        step.position += 1
        key = item.order.external_id
        payload = changed.get(key) or state.get(ORDER, key)
        if payload is None:
            step.problems.append(Problem(path.name, item.line, RecordKind.DOCUMENT, key,
                                         "an order hub never sent to 1C"))
            continue
        kept = json_loads(payload)
        current = OrderStatus(kept["status"])
        said = _status(item, current, statuses)
        facts = {**kept.get("facts", {}), **{name: value for name, value in (
            ("number_1c", item.number_1c), ("paid", item.paid), ("posted", item.posted),
            ("status", item.status), ("cancelled", item.cancelled)) if value is not None}}
        status = said if moves_forward(current, said) else current
        changed[key] = json_dumps({**kept, "status": status.value, "facts": facts})
    state.put_many(ORDER, changed)
    return step

def _status(document: OrderDocument, current: OrderStatus, statuses: Mapping[str, OrderStatus]) -> OrderStatus:
    if document.cancelled or document.order.status is OrderStatus.CANCELLED:
        return OrderStatus.CANCELLED
    if document.order.status is OrderStatus.DELIVERED:
        return OrderStatus.DELIVERED
    for word in (document.status_id, document.status):
        if word is not None and word.strip() in statuses:
            return statuses[word.strip()]
    if document.paid or document.posted:
        return OrderStatus.ACCEPTED
    return current
