"""Reconciliation: proof that each channel and the system of record agree.

``hub reconcile`` reads both sides in full and compares them:

* **orders** - orders a channel has that 1C lacks, and the reverse; orders 1C
  holds more than one document of; for orders both have, the total and the
  quantity of each good (channel goods are translated to 1C references through
  the id links the catalog job records); and each day's sales total per channel
  against the sum of every document 1C holds from it. A channel that pushes
  its orders and cannot be read whole (Yandex Eda) may list the ids it holds
  (:class:`~hub.streams.Listed`): its orders that 1C lacks are found.
  A channel that keeps books of its own (a POS's back office,
  :class:`~hub.streams.DailySales`) has each complete day's sales in
  them held against 1C's orders from it;
* **stock** and **prices** - what each channel shows against what the stock and
  prices jobs say it should show (1C's balances and prices in the channel's ids),
  beyond a tolerance;
* **customers** - counterparties in 1C that share a phone or an email: one
  person, several profiles.

Findings are stored as discrepancies. A finding of an earlier run that is not
found again is marked resolved, so ``hub status`` and the daemon's metrics show
what is open now. ``--fix`` applies 1C-as-truth corrections where hub can (an
order missing from 1C is read from the channel again and delivered; stock and
prices that differ are pushed again in full) and reports what it did; what needs
a person (a total that differs, a second document of one order) stays open.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol, runtime_checkable

from hub.connector import Connector, Mode
from hub.errors import ConfigError, HubError
from hub.fiscal import RECEIPTS, Fiscal, Kept, ReceiptKind, fiscal_stream, fiscalized_here, paid_orders
from hub.jobrun import RunContext, run_job
from hub.model import Customer, Entity, Order, OrderLine, OrderStatus, PriceEntry, Product, Record, StockLevel
from hub.operations import sync
from hub.pipeline import snapshot
from hub.registry import job_types
from hub.runtime import Runtime
from hub.streams import DailySales, Listed, Pull, stream_of
from hub.values import from_local_naive, utcnow

MONEY_TOLERANCE = Decimal("0.01")
TOLERANCE = {Entity.STOCK: Decimal("0.001"), Entity.PRICES: MONEY_TOLERANCE}
PICKING_TOLERANCE = Decimal("0.2")
"""How far (a share of the weight ordered) a picker's weighing of a weighed good may stray and still be a weighing:
312 g for 300 g ordered is; 99 kg is a disagreement."""
SUPPORTED = (Entity.ORDERS, Entity.STOCK, Entity.PRICES, Entity.CUSTOMERS)
BOOKS_DAYS = dt.timedelta(days=7)
"""How far back a channel's own books are compared with 1C when reconcile is given no start day."""
SETTLING = dt.timedelta(minutes=10)
"""Orders a channel listed that were placed this recently may still be on their way to 1C: not compared yet."""


@runtime_checkable
class Mirror(Protocol):
    """A job that knows what a target should hold (the stock and prices jobs)."""

    name: str
    entity: ClassVar[Entity]

    def desired(self, ctx: RunContext, target: str) -> Iterable[tuple[str, Record]]: ...


@dataclass(frozen=True)
class Finding:
    """One disagreement between a channel and the system of record."""

    source: str
    entity: str
    key: str
    kind: str
    detail: dict[str, Any]


@dataclass
class Report:
    """What a reconciliation found, fixed and left open."""

    findings: list[Finding] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    compared: Counter[str] = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)
    """Records that could not be decoded on either side, with the reason."""


def reconcile(runtime: Runtime, *, source: str | None = None, entity: Entity | None = None,
              since: dt.date | None = None, fix: bool = False) -> Report:
    """Compare the channels (or ``source``) with the system of record; store and return the findings."""
    record = runtime.config.system_of_record
    if record is None:
        raise ConfigError(["reconcile needs system_of_record in hub.yaml"], hint="name the 1C source there")
    if entity is not None and entity not in SUPPORTED:
        raise ConfigError([f"reconcile compares {', '.join(e.value for e in SUPPORTED)}, not {entity.value}"])
    channels = [source] if source else [n for n in runtime.config.sources if n != record]
    report = _compare(runtime, channels, record, entity, since)
    if fix and _fix(runtime, report):
        fixed = report.fixed
        report = _compare(runtime, channels, record, entity, since)  # what is still open after the fixes
        report.fixed = fixed
    _store(runtime, report, [*channels, record], entity)
    return report


def _compare(runtime: Runtime, channels: list[str], record: str, entity: Entity | None,
             since: dt.date | None) -> Report:
    report = Report()
    ctx = RunContext(run_id=0, job="reconcile")
    if entity in (None, Entity.ORDERS):
        start = _start(runtime, since)
        held = [o for o in snapshot(runtime, ctx, record, Entity.ORDERS, since=start) if isinstance(o, Order)]
        weighed = functools.cache(lambda: {good.id for good in snapshot(runtime, ctx, record, Entity.CATALOG)
                                           if isinstance(good, Product) and good.weighed})
        for channel in [c for c in channels if _orders_reach(runtime, c, record)]:
            report.findings += _duplicates(channel, held)
            connector = runtime.connector(channel)
            if connector.can(Entity.ORDERS, Mode.PULL):
                if not isinstance(orders := stream_of(connector, Entity.ORDERS), Pull) or orders.shown_again:
                    report.findings += _orders(runtime, ctx, channel, held=held, since=since, report=report,
                                               weighed=weighed)
            else:
                listed = _listed(runtime, channel, start)
                if listed is not None:
                    report.findings += _listed_orders(channel, listed, held=held, report=report)
            report.findings += _books(runtime, ctx, channel, held=held, since=since, report=report)
        report.findings += _receipts(runtime, ctx, channels, record, held=held, start=start, report=report)
    for mirrored in (Entity.STOCK, Entity.PRICES):
        if entity in (None, mirrored):
            report.findings += _mirrored(runtime, ctx, channels, mirrored, report)
    if entity in (None, Entity.CUSTOMERS):
        report.findings += _duplicate_customers(runtime, ctx, record, report)
    report.unreadable = ctx.errors
    return report


# --- orders ------------------------------------------------------------------------------------


def _orders(runtime: Runtime, ctx: RunContext, channel: str, *, held: list[Order], since: dt.date | None,
            report: Report, weighed: Callable[[], set[str]]) -> list[Finding]:
    tz = runtime.config.timezone

    def wanted(order: Order) -> bool:
        return order.channel == channel and (since is None or order.created_at.astimezone(tz).date() >= since)

    theirs = {o.external_id: o for o in snapshot(runtime, ctx, channel, Entity.ORDERS)
              if isinstance(o, Order) and wanted(o)}
    documents = [o for o in held if wanted(o)]  # duplicates included: 1C's takings count every one
    ours: dict[str, Order] = {}
    for document in documents:
        ours.setdefault(document.external_id, document)  # the first of an order's documents is compared
    report.compared[f"{channel} orders"] += len(theirs)
    found: list[Finding] = []
    for missing in sorted(theirs.keys() - ours.keys()):
        order = theirs[missing]
        found.append(Finding(channel, "orders", f"{channel}:{missing}", "missing_in_system_of_record",
                             {"number": order.number, "total": order.total, "created_at": order.created_at}))
    for extra in sorted(ours.keys() - theirs.keys()):
        found.append(Finding(channel, "orders", f"{channel}:{extra}", "missing_in_channel",
                             {"number": ours[extra].number, "total": ours[extra].total}))
    goods = {product for order in theirs.values() for line in order.lines
             for product in (line.product, *(m.product for m in line.modifiers)) if product is not None}
    with runtime.store.transaction() as state:
        products = state.links.get_many(channel, "catalog", goods)
    # As 1C holds them: a paid modifier 1C knows is a line of its own there.
    theirs = {key: order.paid_modifiers_as_lines(products.__contains__) for key, order in theirs.items()}
    for external_id in theirs.keys() & ours.keys():
        theirs[external_id] = _as_picked(theirs[external_id], ours[external_id], products, weighed)
    for external_id in sorted(theirs.keys() & ours.keys()):
        found += _compare_order(channel, theirs[external_id], ours[external_id], products)
    found += _daily_totals(channel, theirs.values(), documents, tz)
    return found


def _as_picked(theirs: Order, ours: Order, products: dict[str, str], weighed: Callable[[], set[str]]) -> Order:
    """``theirs`` with each weighed good as 1C weighed it at picking (0.312 kg where 0.300 kg were ordered, within
    :data:`PICKING_TOLERANCE`): the channel keeps showing the weight ordered, and the difference is settled at
    handover (the full-payment receipt), so it is no disagreement. Only a good on one line of each side is taken
    so; ``weighed`` (1C's weighed goods by reference) is read only when some quantity differs."""
    held: defaultdict[str, list[OrderLine]] = defaultdict(list)
    for line in ours.lines:
        held[line.product].append(line)
    picked = {line.product: ones[0] for line in theirs.lines
              if len(ones := held.get(products.get(line.product, ""), [])) == 1 and ones[0].quantity != line.quantity
              and abs(ones[0].quantity - line.quantity) <= PICKING_TOLERANCE * line.quantity}
    if picked:
        picked = {product: line for product, line in picked.items() if products[product] in weighed()}
    if not picked or sum(1 for line in theirs.lines if line.product in picked) != len(picked):
        return theirs  # nothing weighed anew, or a good on two of the channel's lines: which one was, is not known
    lines = [line.model_copy(update={"quantity": picked[line.product].quantity, "sum": picked[line.product].sum})
             if line.product in picked else line for line in theirs.lines]
    total = theirs.total + sum((picked[line.product].sum - line.sum for line in theirs.lines if line.product in picked),
                               Decimal(0))
    return theirs.model_copy(update={"lines": lines, "total": total})


def _duplicates(channel: str, held: list[Order]) -> list[Finding]:
    """Orders of ``channel`` that 1C holds more than one document of: sold once, counted twice in 1C."""
    documents: defaultdict[str, list[Order]] = defaultdict(list)
    for order in held:
        if order.channel == channel:
            documents[order.external_id].append(order)
    return [Finding(channel, "orders", f"{channel}:{external_id}", "duplicate_in_system_of_record",
                    {"documents": len(orders), "numbers": [o.number for o in orders],
                     "totals": [o.total for o in orders]})
            for external_id, orders in sorted(documents.items()) if len(orders) > 1]


def _orders_reach(runtime: Runtime, channel: str, record: str) -> bool:
    """Whether an orders job takes ``channel``'s orders to ``record``: only then must 1C hold them."""
    return any(job_types()[job.type].entity is Entity.ORDERS and job.source == channel and record in job.targets
               for job in runtime.config.jobs.values())


def reconcile_listed(runtime: Runtime, channel: str, *, since: dt.date) -> Report | None:
    """The orders ``channel`` lists from ``since`` on that 1C lacks, stored as ``hub reconcile`` stores them;
    None when the channel is not set up to list its orders (see :class:`~hub.streams.Listed`)."""
    record = runtime.config.system_of_record
    start = _start(runtime, since)
    listed = _listed(runtime, channel, start)
    if record is None or listed is None:
        return None
    report = Report()
    ctx = RunContext(run_id=0, job="reconcile")
    held = [o for o in snapshot(runtime, ctx, record, Entity.ORDERS, since=start) if isinstance(o, Order)]
    report.findings = _listed_orders(channel, listed, held=held, report=report)
    report.unreadable = ctx.errors
    _store(runtime, report, [channel], Entity.ORDERS)
    return report


def _start(runtime: Runtime, since: dt.date | None) -> dt.datetime | None:
    """The start of day ``since`` where the business is."""
    return None if since is None else from_local_naive(dt.datetime.combine(since, dt.time()), runtime.config.timezone)


def _listed(runtime: Runtime, channel: str, since: dt.datetime | None) -> Iterable[str] | None:
    orders = stream_of(runtime.connector(channel), Entity.ORDERS)
    return orders.listed(since=since, until=utcnow() - SETTLING) if isinstance(orders, Listed) else None


def _listed_orders(channel: str, listed: Iterable[str], *, held: list[Order], report: Report) -> list[Finding]:
    """Orders a channel that pushes its orders lists (its history of ids) and 1C lacks."""
    theirs = set(listed)
    report.compared[f"{channel} orders"] += len(theirs)
    ours = {o.external_id for o in held if o.channel == channel}
    return [Finding(channel, "orders", f"{channel}:{missing}", "missing_in_system_of_record", {"listed_by": channel})
            for missing in sorted(theirs - ours)]


def _compare_order(channel: str, theirs: Order, ours: Order, products: dict[str, str]) -> list[Finding]:
    key = f"{channel}:{theirs.external_id}"
    found = []
    if abs(theirs.total - ours.total) > MONEY_TOLERANCE:
        found.append(Finding(channel, "orders", key, "total_mismatch", {"channel": theirs.total, "1c": ours.total}))
    wanted: defaultdict[str, Decimal] = defaultdict(Decimal)
    for line in theirs.lines:
        wanted[products.get(line.product, f"unlinked:{line.product}")] += line.quantity
    held: defaultdict[str, Decimal] = defaultdict(Decimal)
    for line in ours.lines:
        held[line.product] += line.quantity
    differing = {product: {"channel": wanted[product], "1c": held[product]}
                 for product in sorted(wanted.keys() | held.keys()) if wanted[product] != held[product]}
    if differing:
        found.append(Finding(channel, "orders", key, "line_mismatch", {"goods": differing}))
    return found


def _daily_totals(channel: str, theirs: Iterable[Order], ours: Iterable[Order], tz: dt.tzinfo) -> list[Finding]:
    days: defaultdict[dt.date, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for side, orders in enumerate((theirs, ours)):
        for order in orders:
            days[order.created_at.astimezone(tz).date()][side] += order.total
    return [Finding(channel, "orders", f"{channel}:{day.isoformat()}", "daily_total_mismatch",
                    {"day": day, "channel": total, "1c": held})
            for day, (total, held) in sorted(days.items()) if abs(total - held) > MONEY_TOLERANCE]


def _books(runtime: Runtime, ctx: RunContext, channel: str, *, held: list[Order], since: dt.date | None,
           report: Report) -> list[Finding]:
    """Each settled business day in the channel's own books (:class:`~hub.streams.DailySales`)
    against the totals of 1C's orders from the channel that day.

    Today is left out (its sales go on), and so is yesterday until :data:`SETTLING` past midnight. Without
    ``since``, days before the first order 1C holds from the channel are left out too: hub was not there yet.
    """
    tz = runtime.config.timezone
    ours: defaultdict[dt.date, Decimal] = defaultdict(Decimal)
    for order in held:
        if order.channel == channel:
            ours[order.created_at.astimezone(tz).date()] += order.total
    current = (utcnow() - SETTLING).astimezone(tz).date()  # the day whose sales may still be on their way
    first, last = since or max(current - BOOKS_DAYS, min(ours, default=current)), current - dt.timedelta(days=1)
    if first > last:
        return []
    try:
        orders = stream_of(runtime.connector(channel), Entity.ORDERS)
        books = orders.daily_sales(first, last) if isinstance(orders, DailySales) else None
    except HubError as exc:  # the books are away (no free licence seat): the rest of reconcile goes on
        ctx.errors.append(f"{channel} sales books: {exc}")
        return []
    if books is None:
        return []
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    report.compared[f"{channel} sales days"] += len(days)
    return [Finding(channel, "orders", f"{channel}:books:{day.isoformat()}", "books_total_mismatch",
                    {"day": day, "books": books.get(day, Decimal(0)), "1c": ours[day]})
            for day in days if abs(books.get(day, Decimal(0)) - ours[day]) > MONEY_TOLERANCE]


def _receipts(runtime: Runtime, ctx: RunContext, channels: list[str], record: str, *, held: list[Order],
              start: dt.datetime | None, report: Report) -> list[Finding]:
    """For each receipts job: every paid order of the channels it follows has its prepayment receipt and, once
    1C holds it as handed over, its full-payment receipt for 1C's total, or once 1C holds it as cancelled after its
    prepayment was printed, the refund of it; a receipt not printed (waiting, failed, never answered) is reported
    with the service's reason, asked anew (only the last attempt of each: an earlier one failed and was resent)."""
    found: list[Finding] = []
    orders = {order.key: order for order in held}
    since = start or utcnow() - BOOKS_DAYS
    for config in runtime.config.jobs.values():
        followed = fiscalized_here([str(c) for c in config.options.get("channels", [])], runtime.connector) \
            if config.type == "receipts" else []
        for target in [t for t in config.targets if followed and ({t, *followed} & set(channels))]:
            fiscal = fiscal_stream(runtime.connector(target))
            if fiscal is None:
                continue
            with runtime.store.reading() as state:
                kept = [Kept.model_validate_json(payload) for _, payload in state.channel_state.all(target, RECEIPTS)]
                paid = [order for channel in followed for order in
                        paid_orders(state.outbox.last_sent(record, Entity.ORDERS.value, channel, since=since))]
            by_order: defaultdict[str, dict[ReceiptKind, Kept]] = defaultdict(dict)
            for receipt in sorted(kept, key=lambda k: k.receipt.attempt):
                by_order[receipt.receipt.order][receipt.receipt.kind] = receipt  # the last attempt stays
            for last in (receipt for kinds in by_order.values() for receipt in kinds.values()):
                found += _stuck(ctx, target, fiscal, last)
            report.compared[f"{target} receipts"] += len(kept)
            for order in paid:
                has = by_order.get(order.key, {})
                final = orders.get(order.key)
                status = final.status if final is not None else None
                prepaid = has.get(ReceiptKind.PREPAYMENT)
                printed = prepaid is not None and prepaid.outcome is not None and prepaid.outcome.status == "done"
                wanted = [ReceiptKind.PREPAYMENT] + ([ReceiptKind.FULL] if status is OrderStatus.DELIVERED else []) + (
                    [ReceiptKind.CANCELLED] if status is OrderStatus.CANCELLED and printed
                    and ReceiptKind.FULL not in has else [])
                found += [Finding(target, "orders", order.key, "receipt_missing", {"receipt": kind.value})
                          for kind in wanted if kind not in has]
                full = has.get(ReceiptKind.FULL)
                if full is not None and final is not None and abs(full.receipt.total - final.total) > MONEY_TOLERANCE:
                    found.append(Finding(target, "orders", order.key, "receipt_total_mismatch",
                                         {"receipt": full.receipt.total, "1c": final.total}))
    return found


def _stuck(ctx: RunContext, target: str, fiscal: Fiscal[Connector], kept: Kept) -> list[Finding]:
    """A receipt that is not printed, with the service's reason as it says it now."""
    outcome = kept.outcome
    if outcome is None or outcome.status == "wait":
        try:
            outcome = fiscal.outcome(kept.receipt, None if outcome is None else outcome.ref) or outcome
        except HubError as exc:  # the service is away: say so, and report what hub last heard
            ctx.errors.append(f"{target} receipt {kept.receipt.id}: {exc}")
    if outcome is not None and outcome.status == "done":
        return []
    status = "unanswered" if outcome is None else outcome.status
    return [Finding(target, "orders", kept.receipt.id, f"receipt_{status}",
                    {"reason": outcome.reason if outcome is not None else "sent, no answer kept"})]


# --- stock and prices ----------------------------------------------------------------------------


def _mirrors(runtime: Runtime, entity: Entity) -> Iterator[Mirror]:
    for name, config in runtime.config.jobs.items():
        job = runtime.job_class(name)(name, config, runtime)
        if isinstance(job, Mirror) and job.entity is entity:
            yield job


def _mirrored(runtime: Runtime, ctx: RunContext, channels: list[str], entity: Entity,
              report: Report) -> list[Finding]:
    found = []
    for job in _mirrors(runtime, entity):
        for target in runtime.job_config(job.name).targets:
            if target in channels and runtime.connector(target).can(entity, Mode.PULL):
                found += _mirror_findings(runtime, ctx, job, target, report)
    return found


def compare_mirror(runtime: Runtime, job: Mirror, target: str) -> Report:
    """What ``target`` shows against what ``job`` says it should hold, stored as ``hub reconcile`` stores it:
    how a mirror job reports on a channel it can read but not write (iiko's prices)."""
    report = Report()
    ctx = RunContext(run_id=0, job="reconcile")
    report.findings = _mirror_findings(runtime, ctx, job, target, report)
    report.unreadable = ctx.errors
    _store(runtime, report, [target], job.entity)
    return report


def _mirror_findings(runtime: Runtime, ctx: RunContext, job: Mirror, target: str, report: Report) -> list[Finding]:
    entity, connector = job.entity, runtime.connector(target)
    shown = {_key(record): _amount(record) for record in snapshot(runtime, ctx, target, entity)}
    report.compared[f"{target} {entity.value}"] += len(shown)
    found = []
    for key, record in job.desired(ctx, target):
        expected, actual = _amount(connector.as_written(entity, record)), shown.get(key)
        if actual is None:
            found.append(Finding(target, entity.value, key, "missing_in_channel", {"1c": expected}))
        elif abs(actual - expected) > TOLERANCE[entity]:
            found.append(Finding(target, entity.value, key, f"{entity.value}_mismatch",
                                 {"channel": actual, "1c": expected}))
    return found


def _key(record: Record) -> str:
    return f"{record.warehouse}:{record.product}" if isinstance(record, StockLevel) else getattr(record, "product", "")


def _amount(record: Record) -> Decimal:
    if isinstance(record, StockLevel):
        return record.quantity
    if isinstance(record, PriceEntry):
        return record.amount
    raise TypeError(f"no amount in {type(record).__name__}")


# --- customers ---------------------------------------------------------------------------------


def _duplicate_customers(runtime: Runtime, ctx: RunContext, record: str, report: Report) -> list[Finding]:
    if not runtime.connector(record).can(Entity.CUSTOMERS, Mode.PULL):
        return []
    by_contact: defaultdict[str, list[str]] = defaultdict(list)
    for customer in snapshot(runtime, ctx, record, Entity.CUSTOMERS):
        if isinstance(customer, Customer):
            report.compared[f"{record} customers"] += 1
            for contact in {*customer.phones, *customer.emails}:
                by_contact[contact].append(customer.ids.get(record, "?"))
    return [Finding(record, "customers", contact, "duplicate_customer", {"customers": sorted(refs)})
            for contact, refs in sorted(by_contact.items()) if len(refs) > 1]


# --- fixing and storing ------------------------------------------------------------------------


def _fix(runtime: Runtime, report: Report) -> bool:
    """Apply what hub can correct with 1C as the truth; whether anything was attempted."""
    missing = Counter(f.source for f in report.findings if f.kind == "missing_in_system_of_record")
    for channel, count in sorted(missing.items()):
        # Read the channel's orders again from the start: the inbox drops what it already holds and
        # delivery finds the documents 1C already has, so only the missing ones are created.
        runs = sync(runtime, channel, entity=Entity.ORDERS, full=True)
        created = sum(info.counts.created for info, _ in runs)
        failed = sum(info.counts.failed for info, _ in runs)
        report.fixed.append(f"{channel}: {count} order(s) missing in 1C: read the channel again, created "
                            f"{created} document(s)" + (f", {failed} went to dead letters" if failed else ""))
    stale = sorted({(f.source, f.entity) for f in report.findings
                    if f.entity in (Entity.STOCK.value, Entity.PRICES.value)})
    for target, entity in stale:
        # Forget what was pushed, so the next push sends everything the channel should hold.
        with runtime.store.transaction() as state:
            state.fingerprints.forget(target, entity)
        for job in _mirrors(runtime, Entity(entity)):
            if target in runtime.job_config(job.name).targets:
                info, _ = run_job(runtime, job.name)
                report.fixed.append(f"{target}: {entity} differed from 1C: pushed again in full "
                                    f"({info.counts.created + info.counts.updated} record(s) sent)")
    return bool(missing or stale)


def _store(runtime: Runtime, report: Report, sources: list[str], entity: Entity | None) -> None:
    entities = [e.value for e in SUPPORTED if entity in (None, e)]
    with runtime.store.transaction() as state:
        for stale in state.discrepancies.open():
            if stale["source"] in sources and stale["entity"] in entities:
                state.discrepancies.resolve(stale["id"])
        for finding in report.findings:
            state.discrepancies.add(source=finding.source, entity=finding.entity, key=finding.key,
                                    kind=finding.kind, detail=finding.detail)
