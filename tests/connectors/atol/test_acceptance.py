"""ATOL Online through the standard acceptance suite: the checks that apply to a service hub only sends receipts to
(logging in, retries, 4xx, no secret in a log); its receipts' exactly-once is tests/jobs/test_receipts.py."""

from __future__ import annotations

from hub.model import Entity
from hub.testing.acceptance import ConnectorAcceptance


class TestAtolAcceptance(ConnectorAcceptance):
    connector_type = "atol"
    entity = Entity.ORDERS
