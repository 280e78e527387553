"""receipts: the two fiscal receipts of every order paid online, each printed once, by a cloud cash register.

``from:`` the system of record (1C), ``to:`` the cash register services (``atol``), ``options.channels`` the
channels whose paid orders are fiscalized::

    receipts: {type: receipts, from: onec, to: atol, options: {channels: [shop]}, schedule: {every: 1m}}

Each run, per service:

1. the receipts begun before are followed: one sent without an answer is registered again under its id (the
   service finds it, it does not print it twice), one waiting is asked for its report;
2. each paid order a channel sent 1C gets its prepayment receipt, from the lines as ordered;
3. each such order 1C holds as handed over (closed) gets its full-payment receipt, from 1C's lines (a weighed
   good as picked), offsetting the prepayment, and the refund of an overpayment where there is one; one 1C holds
   as cancelled after its prepayment was printed gets the refund of the whole prepayment.

A receipt the service failed to print (ATOL's ``fail``, OrangeData's 524) is sent again under the next id of its
order and kind (``shop:1001:full:2``), up to ``options.attempts`` in all; one the service refused for what it holds
(a validation error) is left failed for a person, and ``hub reconcile`` reports it with the service's reason.

Receipts are kept in the service's channel state (kind ``receipts``), each written before it is sent: a process
killed between the two finds it at its next run and registers it again under the same id.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import ClassVar

from pydantic import BaseModel, Field

from hub.connector import Connector, Mode
from hub.errors import ConfigError, InvalidRecord, RecordError
from hub.fiscal import (
    RECEIPTS,
    Fiscal,
    FiscalSettings,
    Kept,
    Outcome,
    PaymentType,
    Receipt,
    ReceiptKind,
    Settlement,
    cancellation,
    fiscal_stream,
    fiscalized_here,
    issuer,
    marks_stream,
    next_attempt,
    paid_orders,
    prepayment,
    settlement,
)
from hub.jobrun import Job, RunContext
from hub.model import Company, Entity, Order, OrderStatus, Product
from hub.pipeline import snapshot
from hub.runtime import Runtime
from hub.state import Event
from hub.streams import StreamConnector
from hub.values import utcnow

log = logging.getLogger("hub.jobs.receipts")


class ReceiptsOptions(BaseModel):
    """``options:`` of a receipts job."""

    channels: list[str] = Field(min_length=1, description="The channels whose paid orders get receipts.")
    days: int = Field(7, ge=1, description="How long after it was placed an order is followed to its handover.")
    overpaid: Settlement = Field(Settlement.DIFFERENCE, description=(
        "When 1C's final sum is below the prepayment: `difference` refunds the overpaid part (sell_refund), "
        "`whole` refunds the whole prepayment and sells anew. UNCERTAIN in law practice: ask the accountant."))
    extra: PaymentType = Field(PaymentType.ELECTRONIC, description=(
        "How a guest pays what 1C's final sum adds to the prepayment: `electronic` (a card at the door) or `cash`."))
    attempts: int = Field(3, ge=1, description=(
        "How many times in all a receipt the service failed to print (ATOL's fail, OrangeData's 524) is sent, each "
        "time under the next id (shop:1001:full, then shop:1001:full:2 …); one refused for what it holds is not."))


class ReceiptsJob(Job):
    """Prepayment and full-payment receipts of the channels' paid orders, through each fiscal target."""

    type_name = "receipts"
    entity = Entity.ORDERS
    source_modes: ClassVar = frozenset({Mode.PULL})
    options_model = ReceiptsOptions

    @classmethod
    def takes(cls, target: type[Connector]) -> bool:
        streams = target.streams if issubclass(target, StreamConnector) else ()
        return any(issubclass(stream, Fiscal) for stream in streams)

    def run(self, ctx: RunContext) -> None:
        if ctx.dry_run:
            return  # a receipt is printed or not: there is nothing to show without sending it
        options = self.options(ReceiptsOptions)
        for target in self.config.targets:
            connector = self.runtime.connector(target)
            fiscal = fiscal_stream(connector)
            assert fiscal is not None and isinstance(connector.settings, FiscalSettings)
            _Run(self, ctx, target, fiscal=fiscal, settings=connector.settings, options=options).run()


class _Run:
    """One run towards one cash register service."""

    def __init__(self, job: ReceiptsJob, ctx: RunContext, target: str, *, fiscal: Fiscal[Connector],
                 settings: FiscalSettings, options: ReceiptsOptions) -> None:
        self.job, self.ctx, self.target, self.fiscal = job, ctx, target, fiscal
        self.settings, self.options = settings, options
        self.runtime = job.runtime
        self.record = job.config.source
        with self.runtime.store.reading() as state:
            self.kept = {key: Kept.model_validate_json(payload)
                         for key, payload in state.channel_state.all(target, RECEIPTS)}
        self._goods: dict[str, Product] | None = None
        self._company: Company | InvalidRecord | None = None
        self.marks = marks_stream(self.runtime.connector(self.record))

    def run(self) -> None:
        for kept in list(self.kept.values()):
            if kept.outcome is None or kept.outcome.status == "wait":
                self._follow(kept)
            elif kept.outcome.status == "done" and not kept.marked:
                self._mark(kept)
            elif kept.outcome.status == "fail":
                self._resend(kept)  # a run may have stopped between a fail and its resend
        since = utcnow() - dt.timedelta(days=self.options.days)
        for channel in fiscalized_here(self.options.channels, self.runtime.connector):
            for order in self._paid(channel, since=since):
                if not self._has(order.key, ReceiptKind.PREPAYMENT):
                    self._attempt(order.key, functools.partial(self._prepayment, order, channel))
        self._settle()

    def _has(self, order_key: str, kind: ReceiptKind) -> bool:
        """Whether a receipt of ``kind`` was begun for the order, whichever attempt."""
        return any(kept.receipt.order == order_key and kept.receipt.kind is kind for kept in self.kept.values())

    def _paid(self, channel: str, *, since: dt.datetime) -> Iterator[Order]:
        """The paid orders ``channel`` queued for 1C since ``since``, as the channel sent them last."""
        with self.runtime.store.reading() as state:
            queued = list(state.outbox.last_sent(self.record, Entity.ORDERS.value, channel, since=since))
        yield from paid_orders(queued)

    def _settle(self) -> None:
        """Full-payment receipts of the prepaid orders 1C holds as handed over; refunds of those it cancelled."""
        prepaid = {kept.receipt.order: kept.receipt for kept in self.kept.values()
                   if kept.receipt.kind is ReceiptKind.PREPAYMENT and kept.outcome is not None
                   and kept.outcome.status == "done"  # offsetting a prepayment not printed would be wrong
                   and not self._has(kept.receipt.order, ReceiptKind.FULL)
                   and not self._has(kept.receipt.order, ReceiptKind.CANCELLED)}
        if not prepaid:
            return
        since = utcnow() - dt.timedelta(days=self.options.days)
        for order in snapshot(self.runtime, self.ctx, self.record, Entity.ORDERS, since=since):
            if not isinstance(order, Order) or order.key not in prepaid:
                continue
            if order.status is OrderStatus.DELIVERED:
                self._attempt(order.key, functools.partial(self._settlement, order, prepaid[order.key]))
            elif order.status is OrderStatus.CANCELLED:
                self._attempt(order.key, functools.partial(self._cancellation, prepaid[order.key]))

    def _prepayment(self, order: Order, channel: str) -> list[Receipt]:
        return [prepayment(order, self._channel_goods(channel), self.settings, self._issuer())]

    def _settlement(self, order: Order, prepaid: Receipt) -> list[Receipt]:
        return settlement(order, prepaid, self._all_goods(), self.settings, self._issuer(),
                          overpaid=self.options.overpaid, extra=self.options.extra)

    def _issuer(self) -> Company:
        """Who issues the receipts: the system of record's company (1C's organization card, where its connector
        reads one) over the company file and the settings; read once a run.

        A card that cannot be read (an INN of the wrong length) fails every receipt of the run with its reason:
        printing them with the company file's details instead would put another company, or a stale tax system,
        on documents that cannot be taken back."""
        if self._company is None:
            connector, found = self.runtime.connector(self.record), None
            if connector.can(Entity.COMPANY, Mode.PULL):
                try:
                    found = next((company for page in connector.read(Entity.COMPANY, cursor=None)
                                  for raw in page.records
                                  if isinstance(company := connector.decode(Entity.COMPANY, raw), Company)), None)
                except RecordError as exc:
                    self._company = InvalidRecord(f"{self.record}'s company cannot be read: {exc}",
                                                  hint="fix the organization's card in 1C (or the preset's "
                                                       "company.in.yaml), then run the receipts job again")
            if self._company is None:
                self._company = issuer(found, self.settings)
        if isinstance(self._company, InvalidRecord):
            raise InvalidRecord(self._company.message, hint=self._company.hint)
        return self._company

    def _cancellation(self, prepaid: Receipt) -> list[Receipt]:
        return [cancellation(prepaid)]

    def _attempt(self, key: str, build: Callable[[], list[Receipt]]) -> None:
        """Build an order's receipts (called at once), keep them all, then send each: a run killed between two
        finds the rest kept at its next run, and sends them under the same ids."""
        try:
            fresh = [Kept(receipt=receipt) for receipt in build() if receipt.id not in self.kept]
        except RecordError as exc:
            self.ctx.counts.failed += 1
            self.ctx.errors.append(f"{key}: {exc}")
            return
        for kept in fresh:
            self._keep(kept, stage="receipt_queued", detail=f"{kept.receipt.kind.value} receipt {kept.receipt.total}")
        for kept in fresh:
            self._follow(kept)

    def _follow(self, kept: Kept) -> None:
        """Send a receipt not answered yet, or ask how a waiting one stands; keep what the service says."""
        receipt = kept.receipt
        outcome = self.fiscal.outcome(receipt, kept.outcome.ref) if kept.outcome is not None else None
        if outcome is None:
            try:
                outcome = self.fiscal.register(receipt)
                self.ctx.counts.created += 1
            except RecordError as exc:  # refused before it left hub (no tax code there): this receipt, not the run
                outcome = Outcome(status="fail", reason=str(exc), refused=True)
        if kept.outcome is not None and outcome == kept.outcome:
            return
        kept = kept.model_copy(update={"outcome": outcome})
        detail = f"{receipt.kind.value} receipt {outcome.status}" + (f": {outcome.reason}" if outcome.reason else "")
        if outcome.status == "done":
            detail += f" (FD {outcome.document_number}, FP {outcome.fiscal_sign})"
        self._keep(kept, stage=f"receipt_{outcome.status}", detail=detail)
        if outcome.status == "done":
            self._mark(kept)
        elif outcome.status == "fail" and not self._resend(kept):
            self.ctx.counts.failed += 1
            self.ctx.errors.append(f"{receipt.id}: {outcome.reason}")

    def _resend(self, kept: Kept) -> bool:
        """Send a receipt the service failed to print again, under its next id, while attempts are left (or under
        its own id, when a person asked after the service refused it); whether it was. The next attempt is kept
        before it is sent, as every receipt is, so a lost state DB or a killed run finds each attempt at the service
        by its id, never printing one twice."""
        receipt, outcome = kept.receipt, kept.outcome
        try:
            again = next_attempt(kept, self.options.attempts, self._issuer, taken=self.kept)
        except RecordError as exc:  # the company to print it with is incomplete: this order waits, not the run
            self.ctx.counts.failed += 1
            self.ctx.errors.append(f"{receipt.id}: {exc}")
            return True
        if again is None:
            return False
        reason = outcome.reason if outcome is not None else None
        self._keep(Kept(receipt=again), stage="receipt_resent", detail=(
            f"{receipt.kind.value} receipt {receipt.id} failed ({reason}): sent again as {again.id}, attempt "
            f"{again.attempt} of {self.options.attempts}"))
        self._follow(Kept(receipt=again))
        return True

    def _mark(self, kept: Kept) -> None:
        """Write a printed receipt's fiscal attributes on the order in the system of record, where it keeps them."""
        assert kept.outcome is not None
        if self.marks is None or not self.marks.mark(kept.receipt.order, kept.receipt.kind, kept.outcome):
            return
        self.ctx.counts.updated += 1
        self._keep(kept.model_copy(update={"marked": True}), stage="receipt_marked",
                   detail=f"{kept.receipt.kind.value} receipt's FD {kept.outcome.document_number} written to "
                          f"{self.record}")

    def _keep(self, kept: Kept, *, stage: str, detail: str) -> None:
        self.kept[kept.receipt.id] = kept
        with self.runtime.store.transaction() as state:
            state.channel_state.put_many(self.target, RECEIPTS, {kept.receipt.id: kept.model_dump_json()})
            state.events.add(Event(at=utcnow(), source=self.target, entity=Entity.ORDERS.value,
                                   key=kept.receipt.order, stage=stage, run_id=self.ctx.run_id, detail=detail))

    def _all_goods(self) -> dict[str, Product]:
        """1C's goods by reference: names, VAT rates and whether each is weighed; read once a run."""
        if self._goods is None:
            self._goods = {good.id: good for good in snapshot(self.runtime, self.ctx, self.record, Entity.CATALOG)
                           if isinstance(good, Product)}
        return self._goods

    def _channel_goods(self, channel: str) -> dict[str, Product]:
        """1C's goods by ``channel``'s product ids, through the catalog's id links."""
        with self.runtime.store.reading() as state:
            links = state.links.all(channel, Entity.CATALOG.value)
        goods = self._all_goods()
        return {product: goods[ref] for product, ref in links.items() if ref in goods}


def ask_resend(runtime: Runtime, order_key: str, kinds: Sequence[ReceiptKind]) -> list[str]:
    """Have the receipts jobs send the failed receipts of ``kinds`` of order ``order_key`` again at their next run
    (under its own id if the service refused it, else its next: see :func:`hub.fiscal.next_attempt`): what a person
    does once the cause the service gave is fixed. The ids of the failed receipts; a :class:`ConfigError` when the
    order has no failed receipt of those kinds."""
    asked = []
    for config in runtime.config.jobs.values():
        for target in config.targets if config.type == ReceiptsJob.type_name else []:
            with runtime.store.transaction() as state:
                kept = [Kept.model_validate_json(payload) for _, payload in state.channel_state.all(target, RECEIPTS)]
                for kind in kinds:
                    last = max((k for k in kept if k.receipt.order == order_key and k.receipt.kind is kind),
                               key=lambda k: k.receipt.attempt, default=None)
                    if last is None or last.outcome is None or last.outcome.status != "fail":
                        continue
                    state.channel_state.put_many(target, RECEIPTS, {
                        last.receipt.id: last.model_copy(update={"retry": True}).model_dump_json()})
                    state.events.add(Event(at=utcnow(), source=target, entity=Entity.ORDERS.value, key=order_key,
                                           stage="receipt_resend_asked", detail=f"{last.receipt.id} is to be sent "
                                           "again at the next run"))
                    asked.append(last.receipt.id)
    if not asked:
        raise ConfigError([f"order {order_key} has no failed receipt of {', '.join(k.value for k in kinds)}"],
                          hint="hub reconcile --entity orders lists the receipts that failed, by id")
    return asked
