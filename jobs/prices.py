"""prices: one 1C price type out to the channels, in the channels' product ids, only what changed."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.config import JobConfig
from hub.jobrun import OptionReference, RunContext
from hub.model import Entity, PriceEntry, Record
from hub.pipeline import snapshot
from jobs._common import MirrorJob, channel_goods, report_unlinked

log = logging.getLogger("hub.jobs.prices")


class PricesOptions(BaseModel):
    """``options:`` of a prices job."""

    model_config = ConfigDict(extra="forbid")

    price_type: str | None = Field(None, min_length=1, description=(
        "The 1C price type (ВидЦены Ref_Key) the channels sell at, at every venue."))
    venues: dict[str, str] | None = Field(None, min_length=1, description=(
        "Instead of price_type, per venue: the channel's venue id → the 1C price type it sells at "
        "(a delivery venue dearer than the hall, say). Prices are then keyed <venue>:<product id>."))

    @model_validator(mode="after")
    def _one_of(self) -> PricesOptions:
        if (self.price_type is None) == (self.venues is None):
            raise ValueError("give exactly one of price_type or venues")
        return self


class PricesJob(MirrorJob):
    """Read 1C's current prices of ``options.price_type`` and push the changed ones to each of ``to``.

    Each price is keyed by the channel's product id, found through the id link the
    catalog job recorded; goods the channel does not know yet are skipped and
    counted in the log. Goods deleted in 1C are hidden by the catalog job
    (``options.deleted``), not here: a hidden good's price is kept for when it returns.
    """

    type_name = "prices"
    entity = Entity.PRICES
    options_model = PricesOptions

    @classmethod
    def references(cls, config: JobConfig) -> list[OptionReference]:
        options = PricesOptions.model_validate(config.options)
        if options.venues is None:
            return [OptionReference("options.price_type", "price_type", str(options.price_type))]
        return [OptionReference(f"options.venues.{venue}", "price_type", price_type)
                for venue, price_type in options.venues.items()]

    def desired(self, ctx: RunContext, target: str) -> Iterator[tuple[str, Record]]:
        options = self.options(PricesOptions)
        venues: dict[str | None, str] = {None: str(options.price_type)} if options.venues is None else {
            venue: price_type for venue, price_type in options.venues.items()}
        wanted = set(venues.values())
        prices = [price for price in snapshot(self.runtime, ctx, self.config.source, self.entity)
                  if isinstance(price, PriceEntry) and price.price_type in wanted]
        missing = wanted - {price.price_type for price in prices}
        if missing and ctx.counts.read:
            log.warning("%s: 1C has no prices of price type(s) %s; check the job's options", self.name,
                        ", ".join(sorted(missing)))
        goods = channel_goods(self.runtime, target)
        report_unlinked(ctx, target, sorted({p.product for p in prices if p.product not in goods}), self.entity)
        for venue, price_type in venues.items():
            for price in prices:
                if price.price_type != price_type:
                    continue
                for product_id in goods.get(price.product, []):
                    key = product_id if venue is None else f"{venue}:{product_id}"
                    yield key, price.model_copy(update={"product": product_id, "venue": venue})
