"""The organization a 1C base sells under, read from its card for the company on fiscal receipts.

The organization is the one hub writes orders under (``values.organization`` of the 1C source); the preset's
``company.in.yaml`` maps its card (``Catalog_Организации(guid'…')``) onto :class:`hub.model.Company`. A source
without an organization in ``values``, or a preset without that file, reads none, and the cash register's company
file or settings give it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from hub.connector import Mode, Page
from hub.errors import ConfigError, InvalidRecord
from hub.model import Company, Entity, RawRecord, Record
from hub.streams import Pull
from hub.values import json_dumps, json_loads

if TYPE_CHECKING:
    from connectors.onec_odata.connector import OneCConnector  # noqa: F401 - named in Pull["OneCConnector"]


class CompanyStream(Pull["OneCConnector"]):
    """One record: the organization's card, as the preset's company mapping reads it."""

    entity = Entity.COMPANY

    def read(self, *, cursor: str | None, since: dt.datetime | None = None) -> Iterator[Page]:
        onec = self.connector
        mapping = onec.mappings.get((self.entity, "in"))
        organization = onec.values.get("organization")
        if mapping is None or mapping.source is None or not organization:
            return  # a preset without a company mapping, or a base whose organization is not named: none here
        row = onec.client.get(mapping.source, str(organization))
        if row is None:
            raise ConfigError([f"values.organization of source {onec.name!r}: {organization} is not in "
                               f"{mapping.source} of this base"],
                              hint=f"copy the organization's Ref_Key from 1C into sources.{onec.name}.values "
                                   "(`hub init` offers them by name)")
        yield Page([RawRecord(external_id=str(organization), body=json_dumps(row).encode())], cursor=None)

    def decode(self, record: RawRecord) -> Record:
        mapping = self.connector.mappings.get((self.entity, "in"))
        if mapping is None:
            raise self.unsupported(Mode.PULL)
        company = mapping.apply(json_loads(record.body), links=self.connector.context.links)
        if not isinstance(company, Company):
            raise InvalidRecord(f"1C organization {record.external_id} is skipped by {mapping.path.name}")
        return company
