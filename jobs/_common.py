"""What the jobs that push 1C's data to channels share: the goods a channel knows, and those it does not."""

from __future__ import annotations

import logging
from collections import defaultdict

from hub.jobs import Planned, RunContext
from hub.model import Entity
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
