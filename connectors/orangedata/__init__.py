"""orangedata: OrangeData, the cloud cash register service (API v2, FFD 1.2), printing hub's receipts.

Every call goes over mutual TLS (a client certificate signed by OrangeData's CA); every document-creating POST is
signed: RSA-SHA256 of the exact body, base64, in header ``X-Signature``.

* ``POST /api/v2/documents/`` ``{id, inn, group, key, content, callbackUrl?}`` → 201 queued, **409** the id exists,
  400 ``{"errors": [...]}``, 503 queue full with ``Retry-After``;
* ``GET /api/v2/documents/{inn}/status/{id}`` → 202 still queued, 200 with the fiscal data, 400 not found,
  524 expired before processing.
"""

from connectors.orangedata.connector import OrangeDataConnector, OrangeDataSettings
from connectors.orangedata.sandbox import OrangeDataSandbox

__all__ = ["OrangeDataConnector", "OrangeDataSandbox", "OrangeDataSettings"]
