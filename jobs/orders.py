"""orders: every order from a channel into the system of record, exactly once."""

from __future__ import annotations

import datetime as dt
import logging

from pydantic import BaseModel, Field

from hub.connector import Mode
from hub.customers import CustomerBook
from hub.jobs import Job, RunContext
from hub.model import Entity, Order, OrderStatus, moves_forward
from hub.pipeline import Pipeline, snapshot
from hub.plausibility import OrderRules
from hub.reconcile import reconcile_listed
from hub.state import Event
from hub.values import utcnow

log = logging.getLogger("hub.jobs.orders")


class OrdersOptions(OrderRules):
    """``options:`` of an orders job; which unusual orders it takes is :class:`OrderRules`."""

    create_customers: bool = Field(False, description="Create a 1C counterparty for a guest 1C does not know.")
    status_days: int = Field(7, ge=1, description=(
        "How many days of 1C's orders are read to send their statuses back to a channel that takes them."))


class _Queued(BaseModel):
    """The one field of a queued order the status flow-back needs; the rest is not parsed."""

    status: OrderStatus


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
        """1C's statuses back to the channel. Only reads and notifies, so it runs after the lease is released:
        orders that arrive meanwhile are not held up by reading a week of 1C's orders."""
        if ctx.received_only or ctx.dry_run:
            return
        days = self.options(OrdersOptions).status_days
        for target in self.config.targets:
            if target == self.runtime.config.system_of_record:
                self._statuses_back(ctx, target, days=days)
                self._missing_in(target, days=days)

    def _statuses_back(self, ctx: RunContext, record: str, *, days: int) -> None:
        """Send 1C's status of each recent order to the channel, forward only: 1C runs the kitchen and the couriers."""
        channel = self.runtime.connector(self.config.source)
        if not (channel.can(Entity.ORDERS, Mode.STATUS) and self.runtime.connector(record).can(Entity.ORDERS,
                                                                                               Mode.PULL)):
            return
        since = utcnow() - dt.timedelta(days=days)
        # An order is queued after it was placed, so orders placed since ``since`` were queued since then too.
        with self.runtime.store.reading() as state:
            sent = {key: status for key, payload
                    in state.outbox.last_sent(record, self.entity.value, self.config.source, since=since)
                    if not (status := _Queued.model_validate_json(payload).status).final}
        if not sent:
            return  # every order is delivered or cancelled where the guest sees it: nothing 1C says is news
        side = RunContext(run_id=ctx.run_id, job=ctx.job)  # 1C's orders are read, not this job's records
        for order in snapshot(self.runtime, side, record, self.entity, since=since):
            if isinstance(order, Order) and order.channel == self.config.source and order.key in sent \
                    and order.created_at >= since and moves_forward(sent[order.key], order.status):
                channel.set_status(order.external_id, order.status)
                ctx.counts.updated += 1
                with self.runtime.store.transaction() as state:
                    state.events.add(Event(at=utcnow(), source=self.config.source, entity=self.entity.value,
                                           key=order.key, stage="status_sent", run_id=ctx.run_id,
                                           detail=f"{order.status.value} to {self.config.source}"))
        ctx.errors += side.errors
        ctx.counts.failed += side.counts.failed

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
