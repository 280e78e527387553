"""orders: every order from a channel into the system of record, exactly once."""

from __future__ import annotations

import datetime as dt
import logging

from pydantic import Field

from hub.connector import Mode
from hub.customers import CustomerBook
from hub.jobrun import Job, RunContext
from hub.model import Entity, Order
from hub.pipeline import Pipeline
from hub.plausibility import OrderRules
from hub.reconcile import reconcile_listed
from hub.values import utcnow

log = logging.getLogger("hub.jobs.orders")


class OrdersOptions(OrderRules):
    """``options:`` of an orders job; which unusual orders it takes is :class:`OrderRules`."""

    create_customers: bool = Field(False, description="Create a 1C counterparty for a guest 1C does not know.")
    listed_days: int = Field(7, ge=1, description=(
        "How many days of the orders a channel lists (Yandex's order history) are compared with 1C's after a run."))


class OrdersJob(Job):
    """Pull (or take pushed) orders from ``from``, write them to each of ``to``.

    Before orders reach the system of record, each guest is matched to a
    counterparty (phone, then email, then channel id; see :mod:`hub.customers`).
    ``options.create_customers: true`` lets hub create a counterparty for a
    guest 1C does not know yet; otherwise the order's mapping decides (the УТ 11
    preset books it to the retail customer). An implausible order (quantity 0,
    a negative price, no lines; see :mod:`hub.plausibility`) is refused to dead
    letters instead of being queued.
    """

    type_name = "orders"
    entity = Entity.ORDERS
    options_model = OrdersOptions

    def run(self, ctx: RunContext) -> None:
        options = self.options(OrdersOptions)
        create = options.create_customers
        pipeline = Pipeline(self.runtime, ctx, check=options.check)
        # Orders a channel pushed are already in the inbox; pulling and sending 1C's statuses back can wait
        # for the scheduled run, so a received order reaches 1C within seconds.
        fresh = []
        if not ctx.received_only:
            with ctx.unleased():  # orders pushed meanwhile go on to 1C: the inbox drops what both bring
                fresh = pipeline.ingest(self.config.source, self.entity)
        if ctx.dry_run:
            pipeline.plan(self.config.source, self.entity, self.config.targets, fresh)
            return
        pipeline.stage(self.config.source, self.entity, self.config.targets)
        for target in self.config.targets:
            if target == self.runtime.config.system_of_record:
                self._match_customers(ctx, target, create=create)
            pipeline.deliver(target, self.entity)

    def follow_up(self, ctx: RunContext) -> None:
        """Orders the channel lists that 1C lacks. Only reads and warns, so it runs after the lease is released:
        orders that arrive meanwhile are not held up by it. (1C's statuses go back in the statuses job.)"""
        if ctx.received_only or ctx.dry_run:
            return
        days = self.options(OrdersOptions).listed_days
        for target in self.config.targets:
            if target == self.runtime.config.system_of_record:
                self._missing_in(target, days=days)

    def _missing_in(self, record: str, *, days: int) -> None:
        """Orders the channel lists (Yandex's order history) that ``record`` lacks, reported as ``hub reconcile``
        reports them; a channel hub pulls from is compared in full by ``hub reconcile`` instead."""
        if self.runtime.connector(self.config.source).can(Entity.ORDERS, Mode.PULL):
            return
        since = (utcnow() - dt.timedelta(days=days)).astimezone(self.runtime.config.timezone).date()
        report = reconcile_listed(self.runtime, self.config.source, since=since)
        missing = [f.key for f in report.findings if f.kind == "missing_in_system_of_record"] if report else []
        if missing:
            log.warning("%d order(s) %s lists are missing in %s: %s%s", len(missing), self.config.source, record,
                        ", ".join(missing[:5]), " …" if len(missing) > 5 else "")

    def _match_customers(self, ctx: RunContext, target: str, *, create: bool) -> None:
        book = CustomerBook(self.runtime, ctx)
        after = 0
        while True:
            with self.runtime.store.reading() as state:
                due = state.outbox.due(target, entity=self.entity.value, after_id=after)
            if not due:
                return
            for item in due:
                book.resolve(Order.model_validate_json(item.payload), create=create)
            after = due[-1].id
