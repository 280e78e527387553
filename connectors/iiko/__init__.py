"""iiko, the POS of most cafés hub serves, through the iikoCloud API.

* :mod:`.client` - the API call by call (auth, menu, stop lists, orders, commands, loyalty);
* :mod:`.orders` - iiko orders (deliveries and hall orders) as canonical orders;
* :mod:`.webhooks` - iiko's webhook events and which re-read each calls for;
* :mod:`.connector` - the plug-in the jobs drive: closed sales to 1C, webhooks, goods linked by code, 1C stock
  to stop lists, menu prices for reconciliation, loyalty guests (settings and flows in its docstring);
* :mod:`.sandbox` - an iikoCloud emulator for tests and ``hub demo``;
* :mod:`.server` - the on-premise iikoServer API (OLAP sales, stock, cash shifts), one licence seat per session.
"""

from connectors.iiko.client import (
    DEFAULT_URL,
    ApiLogin,
    AppCredentials,
    CommandPending,
    CommandStatus,
    CreatedOrder,
    Credentials,
    IikoClient,
    LoyaltyCustomer,
    Menu,
    MenuProduct,
    OrdersPage,
    StopListEntry,
    StopListItem,
)
from connectors.iiko.orders import decode_order, is_closed, order_kind, product_key
from connectors.iiko.sandbox import IikoSandbox
from connectors.iiko.server import IikoServerClient, IikoServerSession
from connectors.iiko.webhooks import Reread, WebhookEvent, parse_events, webhook_token

__all__ = [
    "DEFAULT_URL",
    "ApiLogin",
    "AppCredentials",
    "CommandPending",
    "CommandStatus",
    "CreatedOrder",
    "Credentials",
    "IikoClient",
    "IikoSandbox",
    "IikoServerClient",
    "IikoServerSession",
    "LoyaltyCustomer",
    "Menu",
    "MenuProduct",
    "OrdersPage",
    "Reread",
    "StopListEntry",
    "StopListItem",
    "WebhookEvent",
    "decode_order",
    "is_closed",
    "order_kind",
    "parse_events",
    "product_key",
    "webhook_token",
]
