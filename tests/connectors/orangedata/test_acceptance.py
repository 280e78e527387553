"""OrangeData through the standard acceptance suite, over mutual TLS: the checks that apply to a service hub only
sends receipts to; its receipts' exactly-once is tests/jobs/test_receipts.py."""

from __future__ import annotations

from typing import Any

from hub.model import Entity
from hub.sandbox import Sandbox
from hub.testing.acceptance import ConnectorAcceptance


class TestOrangeDataAcceptance(ConnectorAcceptance):
    connector_type = "orangedata"
    entity = Entity.ORDERS

    def bad_settings(self, sandbox: Sandbox) -> dict[str, Any]:
        # Its credential is the client certificate, issued for one INN: another organisation's INN is refused.
        return {**self.settings(sandbox), "inn": "7707083893"}
