"""segments: each guest's segments worked out from the profile, and delivered where people act on them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from hub.connector import Mode
from hub.customers import deliver_segments, export_guests
from hub.guests import assign_segments, load_segments
from hub.jobrun import Job, RunContext
from hub.model import Entity

log = logging.getLogger("hub.jobs.segments")


class SegmentsOptions(BaseModel):
    """``options:`` of a segments job."""

    model_config = ConfigDict(extra="forbid")

    rules: str | None = Field(None, description=(
        "A YAML file of segment rules, relative to hub.yaml's folder; hub's own config/segments.yaml when unset."))
    export: str | None = Field(None, description=(
        "A file for a mailing service, relative to hub.yaml's folder: the guests who agreed to marketing, "
        "with their segments and figures, as an XLSX workbook when the name ends .xlsx, else CSV; rewritten only "
        "when it changes."))


class SegmentsJob(Job):
    """Put every guest of ``from`` (the system of record, whose counterparties the guests are) in the segments
    whose rules hold today, recording who entered and who left; write each guest's segments and figures to each
    of ``to`` (a CRM's contact fields, through its customers mapping), only where they changed; and, with
    ``options.export``, a CSV or XLSX of the guests who agreed to marketing.

    Run it daily: a guest falls asleep with the days, not with an order.
    """

    type_name = "segments"
    entity = Entity.CUSTOMERS
    source_modes: ClassVar = frozenset({Mode.PULL})
    options_model = SegmentsOptions

    def run(self, ctx: RunContext) -> None:
        options = self.options(SegmentsOptions)
        rules = load_segments(self._path(options.rules) if options.rules else None)
        if not ctx.dry_run:
            moved = assign_segments(self.runtime.store, rules)
            log.info("%d segment(s) entered, %d left", moved.entered, moved.left)
        for target in self.config.targets:
            deliver_segments(self.runtime, ctx, target)
        if options.export and not ctx.dry_run:
            export_guests(self.runtime, self._path(options.export))

    def _path(self, name: str) -> Path:
        config = self.runtime.config.file
        return (config.parent if config else Path()) / name
