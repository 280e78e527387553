"""orders: every order from a channel into the system of record, exactly once."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hub.customers import CustomerBook
from hub.jobs import Job, RunContext
from hub.model import Entity, Order
from hub.pipeline import Pipeline


class OrdersOptions(BaseModel):
    """``options:`` of an orders job."""

    model_config = ConfigDict(extra="forbid")

    create_customers: bool = Field(False, description="Create a 1C counterparty for a guest 1C does not know.")


class OrdersJob(Job):
    """Pull (or take pushed) orders from ``from``, write them to each of ``to``.

    Before orders reach the system of record, each guest is matched to a
    counterparty (phone, then email, then channel id; see :mod:`hub.customers`).
    ``options.create_customers: true`` lets hub create a counterparty for a
    guest 1C does not know yet; otherwise the order's mapping decides (the УТ 11
    preset books it to the retail customer).
    """

    type_name = "orders"
    entity = Entity.ORDERS
    options_model = OrdersOptions

    def run(self, ctx: RunContext) -> None:
        create = self.options(OrdersOptions).create_customers
        pipeline = Pipeline(self.runtime, ctx)
        fresh = pipeline.ingest(self.config.source, self.entity)
        if ctx.dry_run:
            pipeline.plan(self.config.source, self.entity, self.config.targets, fresh)
            return
        pipeline.stage(self.config.source, self.entity, self.config.targets)
        for target in self.config.targets:
            if target == self.runtime.config.system_of_record:
                self._match_customers(ctx, target, create=create)
            pipeline.deliver(target, self.entity)

    def _match_customers(self, ctx: RunContext, target: str, *, create: bool) -> None:
        book = CustomerBook(self.runtime, ctx)
        after = 0
        while True:
            with self.runtime.store.transaction() as state:
                due = state.outbox.due(target, entity=self.entity.value, after_id=after)
            if not due:
                return
            for item in due:
                book.resolve(Order.model_validate_json(item.payload), create=create)
            after = due[-1].id
