"""atol: ATOL Online, the cloud cash register service (API v5, FFD 1.2), printing hub's receipts.

* ``POST {url}getToken`` ``{login, pass}`` → ``{token, error, timestamp}``; the token (24 h) goes in header ``Token``;
* ``POST {url}{group}/sell`` (``sell_refund``) ``{external_id, timestamp, service, receipt}`` → ``{uuid, status}``;
* ``GET  {url}{group}/report/{uuid}`` → ``wait`` (with error 34 while queued), ``done`` with the fiscal payload, or
  ``fail`` with the error; ATOL also POSTs the report to ``service.callback_url`` when it is done.

Errors are ``{error_id, code, text, type}`` objects, whatever the HTTP status (see ``client.py``).
"""

from connectors.atol.connector import AtolConnector, AtolSettings
from connectors.atol.sandbox import AtolSandbox

__all__ = ["AtolConnector", "AtolSandbox", "AtolSettings"]
