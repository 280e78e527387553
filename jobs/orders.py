"""orders: every order from a channel into the system of record, exactly once."""

from __future__ import annotations

from hub.jobs import Job, RunContext
from hub.model import Entity
from hub.pipeline import Pipeline


class OrdersJob(Job):
    """Pull (or take pushed) orders from ``from``, write them to each of ``to``."""

    type_name = "orders"
    entity = Entity.ORDERS

    def run(self, ctx: RunContext) -> None:
        pipeline = Pipeline(self.runtime, ctx)
        fresh = pipeline.ingest(self.config.source, self.entity)
        if ctx.dry_run:
            pipeline.plan(self.config.source, self.entity, self.config.targets, fresh)
            return
        pipeline.stage(self.config.source, self.entity, self.config.targets)
        for target in self.config.targets:
            pipeline.deliver(target, self.entity)
