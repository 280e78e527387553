"""testchannel: a small generic shop API, hub's reference connector.

It exists for two reasons: the engine's own tests and ``hub demo`` need a
channel before any real one is wired, and it is the template a newcomer copies
to write a connector (client → connector → sandbox, each in its own module).
The API it speaks is deliberately plain JSON over HTTP with a Bearer token:

* ``GET  /api/v1/ping`` - who am I talking to;
* ``GET  /api/v1/orders?after=SEQ&limit=N`` - orders changed after change number SEQ, oldest first;
* ``GET  /api/v1/orders?client_ref=KEY`` - orders created with idempotency key KEY;
* ``POST /api/v1/orders`` - create an order (201); ``PUT /api/v1/orders/ID`` - replace it;
* ``PUT  /api/v1/products`` - set goods by SKU, at most 100 a call;
* ``PUT  /api/v1/stock`` - set stock by venue and SKU, a quantity or (stop-list shops) stopped, at most 100 a call;
* ``PUT  /api/v1/prices`` - set the price of goods by SKU, at most 50 a call.
"""

from connectors.testchannel.connector import TestChannelConnector, TestChannelSettings
from connectors.testchannel.sandbox import TestChannelSandbox

__all__ = ["TestChannelConnector", "TestChannelSandbox", "TestChannelSettings"]
