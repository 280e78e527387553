"""bitrix24: Bitrix24's cloud CRM over its REST API (protocol fact sheet: ../shared/protocols/tilda-bitrix.md §2).

Guests and 1C's counterparties become contacts, every channel's orders deals, 1C's goods and prices the CRM
catalog's products; managers' deals (phone orders) come back as orders, read and taken from events. See
docs/bitrix24.md.
"""

from connectors.bitrix24.connector import Bitrix24Connector, Bitrix24Settings
from connectors.bitrix24.sandbox import Bitrix24Sandbox

__all__ = ["Bitrix24Connector", "Bitrix24Sandbox", "Bitrix24Settings"]
