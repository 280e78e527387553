"""stock: balances per warehouse from the system of record out to each channel's venues, only what changed.

A channel speaks its own ids, so every balance is translated before it leaves:
the 1C good becomes the channel's product id through the id link the catalog
job recorded, and the 1C warehouse becomes the channel's venue through
``options.venues``. Goods the channel does not know (no link yet) are skipped
and counted in the log, not failed: the next catalog run links them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from hub.config import JobConfig
from hub.jobrun import OptionReference, RunContext
from hub.model import Entity, Record, StockLevel
from hub.pipeline import snapshot
from hub.values import utcnow
from jobs._common import MirrorJob, channel_goods, report_unlinked


class StockOptions(BaseModel):
    """``options:`` of a stock job."""

    model_config = ConfigDict(extra="forbid")

    venues: dict[str, str] = Field(min_length=1, description=(
        "The channel's venue id → the 1C warehouse (Ref_Key) whose balances it shows. Every venue gets a level "
        "for every good the channel knows: a good the warehouse does not hold is at zero."))


class StockJob(MirrorJob):
    """Read 1C's balances and push each channel's changed stock levels, keyed ``<venue>:<product id>``.

    1C leaves zero balances out of what it reports, so the levels pushed are not
    the balances read but every linked good at every venue, at zero where 1C
    reported nothing: a good that sold out goes to zero in the channel (stopped,
    in a stop-list channel) instead of keeping its last quantity.
    """

    type_name = "stock"
    entity = Entity.STOCK
    options_model = StockOptions

    @classmethod
    def references(cls, config: JobConfig) -> list[OptionReference]:
        return [OptionReference(f"options.venues.{venue}", "warehouse", warehouse)
                for venue, warehouse in StockOptions.model_validate(config.options).venues.items()]

    def desired(self, ctx: RunContext, target: str) -> Iterator[tuple[str, Record]]:
        venues = self.options(StockOptions).venues
        balances, as_of = self._balances(ctx, set(venues.values()))
        return self._levels(ctx, target, venues, balances, as_of)

    def _balances(self, ctx: RunContext, warehouses: set[str]) -> tuple[dict[tuple[str, str], Decimal], dt.datetime]:
        """What the venues' warehouses hold, by (1C good, warehouse), and when it was read."""
        held: dict[tuple[str, str], Decimal] = {}
        as_of = utcnow()
        for level in snapshot(self.runtime, ctx, self.config.source, self.entity):
            if isinstance(level, StockLevel) and level.warehouse in warehouses:
                held[(level.product, level.warehouse)] = level.quantity
                as_of = level.as_of
        return held, as_of

    def _levels(self, ctx: RunContext, target: str, venues: dict[str, str],
                balances: dict[tuple[str, str], Decimal], as_of: dt.datetime) -> Iterator[tuple[str, Record]]:
        goods = channel_goods(self.runtime, target)
        unlinked = sorted({good for good, _ in balances if good not in goods})
        report_unlinked(ctx, target, unlinked, self.entity)
        for good, product_ids in goods.items():
            for venue, warehouse in venues.items():
                quantity = balances.get((good, warehouse), Decimal(0))
                for product_id in product_ids:
                    level = StockLevel(product=product_id, warehouse=venue, quantity=quantity, as_of=as_of)
                    yield f"{venue}:{product_id}", level
