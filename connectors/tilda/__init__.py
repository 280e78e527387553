"""Tilda (Tilda Publishing + Tilda Store): cart orders by webhook, goods, stock and prices through Tilda's
CommerceML connector, read back from the store's public feed; see :mod:`.connector`."""

from connectors.tilda.connector import TildaConnector, TildaSettings
from connectors.tilda.sandbox import TildaSandbox

__all__ = ["TildaConnector", "TildaSandbox", "TildaSettings"]
