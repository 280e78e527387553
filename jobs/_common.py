"""What the jobs that push 1C's data to channels share: the mirror job, the goods a channel knows, and those
it does not."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Iterator
from typing import ClassVar

from hub.connector import Connector, Mode
from hub.jobrun import Job, Planned, RunContext
from hub.model import Entity, Record
from hub.pipeline import Push
from hub.reconcile import compare_mirror
from hub.runtime import Runtime


def channel_goods(runtime: Runtime, target: str) -> dict[str, list[str]]:
    """Every good ``target`` knows: 1C reference → the target's product ids, from the catalog job's id links."""
    with runtime.store.transaction() as state:
        links = state.links.all(target, Entity.CATALOG.value)
    goods: defaultdict[str, list[str]] = defaultdict(list)
    for product_id, good in sorted(links.items()):
        goods[good].append(product_id)
    return goods


def report_unlinked(ctx: RunContext, target: str, goods: list[str], entity: Entity) -> None:
    """Goods with data for ``target`` that it does not know yet: logged once, planned as skips in a dry run."""
    if not goods:
        return
    logging.getLogger(f"hub.jobs.{entity.value}").warning(
        "%d good(s) with %s are not in %s's catalog (no id link), skipped; the catalog job links them",
        len(goods), entity.value, target)
    if ctx.dry_run:
        ctx.planned.extend(Planned(target, good, "skip (not in the channel's catalog)") for good in goods)


class MirrorJob(Job):
    """A job that mirrors the system of record's state (goods, stock, prices) into each target, change-only.

    Subclasses say what a target should hold (:meth:`desired`); :meth:`run` pushes
    what differs from the last push, and ``hub reconcile`` compares the same
    ``desired`` with what the target actually shows. A target that shows the
    entity but takes no writes of it (iiko's prices: only iiko's own price lists
    set them) is compared instead, and what differs is reported as ``hub
    reconcile`` reports it.
    """

    source_modes: ClassVar = frozenset({Mode.PULL})
    outbound: ClassVar = True

    @classmethod
    def takes(cls, target: type[Connector]) -> bool:
        return super().takes(target) or target.can(cls.entity, Mode.PULL)

    @abstractmethod
    def desired(self, ctx: RunContext, target: str) -> Iterator[tuple[str, Record]]:
        """``(key, record)`` for everything ``target`` should hold, in its own ids."""

    def run(self, ctx: RunContext) -> None:
        for target in self.config.targets:  # read again per target: memory stays flat for any catalog size
            if self.runtime.connector(target).can(self.entity, Mode.WRITE):
                Push(self.runtime, ctx, target, self.entity).run(self.desired(ctx, target))
            elif not ctx.dry_run:
                self._compare(ctx, target)

    def _compare(self, ctx: RunContext, target: str) -> None:
        report = compare_mirror(self.runtime, self, target)
        ctx.counts.read += sum(report.compared.values())
        if report.findings:
            logging.getLogger(f"hub.jobs.{self.entity.value}").warning(
                "%s cannot take %s from hub: %d differ from 1C (open discrepancies; hub status, hub reconcile)",
                target, self.entity.value, len(report.findings))
