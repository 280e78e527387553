"""statuses: 1C's status of each order a channel sent, back to that channel, forward only, on its own schedule."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, Field

from hub.connector import Mode
from hub.jobrun import Job, RunContext
from hub.model import Entity, Order, OrderStatus, moves_forward
from hub.pipeline import linked_as, snapshot
from hub.state import Event
from hub.values import utcnow


class StatusesOptions(BaseModel):
    """``options:`` of a statuses job."""

    days: int = Field(7, ge=1, description=(
        "How long after it was placed an order's status is still followed; older open orders are left alone."))


class _Queued(BaseModel):
    """The fields of a queued order the flow-back needs; the rest is not parsed."""

    status: OrderStatus
    created_at: AwareDatetime


class StatusesJob(Job):
    """Send the status the system of record (``from``) holds of each order a channel (each of ``to``) sent it.

    Forward only: 1C runs the kitchen and the couriers, but a channel that is ahead
    (the courier marked it delivered there) is never set back. Only orders still
    open where the guest sees them are followed, and the system of record is read
    from the oldest of them on: 1C's OData keeps no modification times, so its
    documents are filtered by their date, and a café whose orders close within the
    hour reads an hour of documents, not the week an orders run once read.

    A channel that received other channels' orders too (a CRM, to which every orders job also writes) is told
    1C's status of those as well, by the id it gave each.
    """

    type_name = "statuses"
    entity = Entity.ORDERS
    source_modes: ClassVar = frozenset({Mode.PULL})
    target_mode: ClassVar = Mode.STATUS
    options_model = StatusesOptions

    def run(self, ctx: RunContext) -> None:
        if ctx.dry_run:
            return  # sending a status is the whole job: a dry run has nothing it could show without doing it
        days = self.options(StatusesOptions).days
        for channel in self.config.targets:
            self._send(ctx, channel, since=utcnow() - dt.timedelta(days=days))

    def _send(self, ctx: RunContext, channel: str, *, since: dt.datetime) -> None:
        record = self.config.source
        # An order is queued after it was placed, so orders placed since ``since`` were queued since then too.
        with self.runtime.store.reading() as state:
            queued = {key: _Queued.model_validate_json(payload) for key, payload
                      in state.outbox.last_sent(record, self.entity.value, channel, since=since)}
            # Orders of other channels ``channel`` received too (a CRM's deals), known there by the id it gave them.
            gathered = {key: (source, _Queued.model_validate_json(payload))
                        for source in self.runtime.config.sources if source not in (record, channel)
                        for key, payload in state.outbox.last_sent(channel, self.entity.value, source, since=since)}
        open_ = {key: order for key, order in queued.items() if not order.status.final}
        open_gathered = {key: order for key, (_, order) in gathered.items() if not order.status.final}
        if not open_ and not open_gathered:
            return  # every order is delivered or cancelled where the guest sees it: nothing 1C says is news
        oldest = min(order.created_at for order in [*open_.values(), *open_gathered.values()])
        connector = self.runtime.connector(channel)
        for order in snapshot(self.runtime, ctx, record, self.entity, since=oldest):
            if isinstance(order, Order) and order.key in open_gathered \
                    and moves_forward(open_gathered[order.key].status, order.status):
                with self.runtime.store.reading() as state:
                    there = state.links.get(linked_as(order.channel, channel, record), self.entity.value,
                                            order.external_id)
                if there is not None:
                    connector.set_status(there, order.status)
                    ctx.counts.updated += 1
                continue
            if isinstance(order, Order) and order.channel == channel and order.key in open_ \
                    and moves_forward(open_[order.key].status, order.status):
                connector.set_status(order.external_id, order.status)
                ctx.counts.updated += 1
                with self.runtime.store.transaction() as state:
                    # The channel shows the order again with 1C's status: sent back to 1C, that echo would rewrite
                    # the document with the channel's lines, undoing 1C's weight correction of a picked good.
                    if (sent := state.outbox.payload_of(record, self.entity.value, order.key)) is not None:
                        echoed = Order.model_validate_json(sent).model_copy(update={"status": order.status})
                        state.outbox.restate(record, self.entity.value, order.key, echoed.model_dump_json())
                    state.events.add(Event(at=utcnow(), source=channel, entity=self.entity.value, key=order.key,
                                           stage="status_sent", run_id=ctx.run_id,
                                           detail=f"{order.status.value} to {channel}"))
