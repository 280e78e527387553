"""commerceml_site (hub as 1C, calling a site's exchange) runs the standard acceptance suite over a real port
against the 1C-Bitrix site sandbox: its check logs in, the sale query's orders are read each once, and the
retry, refusal and secret checks hold for the exchange's own calls."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from connectors.commerceml.sandbox import SiteSandbox
from hub.model import Entity
from hub.sandbox import Sandbox
from hub.testing.acceptance import ConnectorAcceptance


class TestCommerceMLSiteAcceptance(ConnectorAcceptance):
    connector_type = "commerceml_site"
    entity = Entity.ORDERS
    incremental: ClassVar[bool] = False
    """The sale query hands out the orders the site has not yet exported, whole, until hub confirms them."""

    def seed(self, sandbox: Sandbox, count: int) -> list[str]:
        assert isinstance(sandbox, SiteSandbox)
        return [sandbox.add_order([("good-1", "Сыр Российский, вес", Decimal("0.305"), Decimal("899.90"))])
                for _ in range(count)]
