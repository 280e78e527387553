"""OrangeData through the standard acceptance suite, over mutual TLS: the checks that apply to a service hub only
sends receipts to; its receipts' exactly-once is tests/jobs/test_receipts.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.model import Entity
from hub.sandbox import Sandbox
from hub.testing.acceptance import ConnectorAcceptance


class TestOrangeDataAcceptance(ConnectorAcceptance):
    connector_type = "orangedata"
    entity = Entity.ORDERS

    def secrets(self, settings: dict[str, Any]) -> list[str]:
        # Its secrets are the private keys in the files the settings name: a line of each must never be logged.
        return [Path(settings[name]).read_text(encoding="ascii").splitlines()[1]
                for name in ("client_key", "signing_key")]

    def bad_settings(self, sandbox: Sandbox) -> dict[str, Any]:
        # Its credential is the client certificate, issued for one INN: another organisation's INN is refused.
        return {**self.settings(sandbox), "inn": "7707083893"}
