"""catalog: goods from the system of record out to the channels, only what changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.jobrun import RunContext
from hub.model import Entity, Product, Record
from hub.pipeline import snapshot
from jobs._common import MirrorJob


class CatalogOptions(BaseModel):
    """``options:`` of a catalog job."""

    model_config = ConfigDict(extra="forbid")

    deleted: Literal["hide", "skip"] = Field("hide", description=(
        "Goods deleted or marked for deletion in 1C: hide pushes them with deleted: true for the channel to hide; "
        "skip leaves them out."))


class CatalogJob(MirrorJob):
    """Read the goods of ``from`` (1C) and push new and changed ones to each of ``to``.

    Each pushed good is linked: the channel's product id ↔ the 1C reference, which
    is how channel orders find their goods in 1C. ``options.deleted``: ``hide``
    (default) pushes goods deleted or marked for deletion with ``deleted: true``
    for the channel to hide; ``skip`` leaves them out.
    """

    type_name = "catalog"
    entity = Entity.CATALOG
    options_model = CatalogOptions

    def desired(self, ctx: RunContext, target: str) -> Iterator[tuple[str, Record]]:
        skip_deleted = self.options(CatalogOptions).deleted == "skip"
        for good in snapshot(self.runtime, ctx, self.config.source, self.entity):
            if isinstance(good, Product) and not (skip_deleted and good.deleted):
                yield good.id, good
