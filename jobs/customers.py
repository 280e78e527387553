"""customers: index the system of record's counterparties by phone and email, so channels' guests match them."""

from __future__ import annotations

from typing import ClassVar

from hub.connector import Mode
from hub.customers import CustomerBook
from hub.jobrun import Job, RunContext
from hub.model import Entity


class CustomersJob(Job):
    """Read every counterparty of ``from`` (1C) and link its phones and emails to it; 1C wins over old links.

    With ``to:`` (a loyalty system: iiko), every counterparty with a phone is also written there, change-only,
    so each guest is one profile across 1C and the POS.
    """

    type_name = "customers"
    entity = Entity.CUSTOMERS
    source_modes: ClassVar = frozenset({Mode.PULL})
    outbound: ClassVar = True  # orders find their guests' counterparties in the index it makes

    def run(self, ctx: RunContext) -> None:
        book = CustomerBook(self.runtime, ctx)
        book.refresh()
        for target in self.config.targets:
            book.push(target)
