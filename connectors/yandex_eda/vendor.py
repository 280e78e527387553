"""The Vendor Management API: the one place where hub calls Yandex Eda rather than being called.

::

    vendor = VendorClient(context.http(settings, "https://dc-partner.eda.yandex.net"),
                          client_id, client_secret, partner_name="my-cafe")
    vendor.initiate_menu_import("937c57f6-4508-4858-be7f-20691a16fbb0")   # Yandex pulls the menu now

Three calls are used:

* ``POST /oauth2/token`` (form: ``client_id`` and ``client_secret``, nothing
  else) gives a bearer token for ``expires_in`` seconds (120 in the docs). It is
  kept until :data:`TOKEN_MARGIN` before it runs out, so a request never
  leaves with a token that expires on the way;
* ``POST /menu/import/initiation`` (JSON ``{restaurantId, operationType}``, headers
  ``Authorization: Bearer …`` and ``Partner-Name``) asks Yandex to pull a venue's
  menu or stop list again instead of waiting for its next poll;
* ``POST /v1/orders-history`` (subscription only; JSON ``{origin_ids, from, to,
  status, pagination}``) lists the orders Yandex placed at the partner's venues,
  at most 1,000 an answer, kept for 180 days. Reconciliation asks it for the
  orders that were not cancelled and reports those 1C lacks.

These credentials are not the ones Yandex uses to call hub. A 401 on the
initiation gets one fresh token and one more try (Yandex may revoke a token
early); a second 401, or a 401 on the token call itself, is an
:class:`~hub.errors.AuthError` carrying Yandex's ``message``. Everything else
(429, 5xx, timeouts) is :class:`~hub.http.HttpClient`'s business: a repeated
initiation is harmless, but a POST whose answer was lost is still not repeated
blindly, and the caller decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from hub.errors import HubError, ProtocolError
from hub.http import ErrorRule, ErrorShape, ErrorTable, HttpClient, Outcome, TokenAuth
from hub.logs import add_secrets, redact
from hub.values import json_loads, utcnow

DEFAULT_URL = "https://dc-partner.eda.yandex.net"
"""Where the Vendor Management API lives, unless hub.yaml says otherwise."""
TOKEN_MARGIN = timedelta(seconds=20)
"""A token is renewed this long before Yandex says it expires."""

HISTORY_PAGE = 1000
"""The most orders one ``/v1/orders-history`` answer holds."""
HISTORY_KEPT = timedelta(days=180)
"""How far back Yandex keeps the order history."""
HISTORY_STATUSES = ("NEW", "DELIVERED")
"""Yandex's history statuses (NEW, CANCELLED, DELIVERED) of orders 1C must hold: a cancelled one need not be there."""

ERRORS = ErrorShape(messages=(("message",),), code=("code",))
"""Where the vendor API's error answers (``{message, code, details}``) keep what they say."""

_AUTH_HINT = "check the vendor client_id and client_secret of this source (they are not the pull-API clients)"
VENDOR_ERRORS = ErrorTable(read=ERRORS.read, rules=(ErrorRule(Outcome.FATAL, status=401, hint=_AUTH_HINT),))
"""What the vendor API's failed answers mean: a 401 that a new token did not cure is the credentials; the others
mean what they do over HTTP."""


@dataclass(frozen=True)
class VendorToken:
    """A bearer token as ``POST /oauth2/token`` answered it."""

    access_token: str
    expires_in: int
    """Seconds, from the moment it was issued."""
    scope: str
    token_type: str


class VendorClient:
    """Calls to Yandex's Vendor Management API; thread-safe, one token shared by every caller."""

    def __init__(self, http: HttpClient, client_id: str, client_secret: str, partner_name: str,
                 now: Callable[[], datetime] = utcnow) -> None:
        self.http = http
        self.client_id = client_id
        self.partner_name = partner_name
        self.log = http.log.getChild("vendor")
        self._client_secret = client_secret
        self.auth = TokenAuth(self._obtain_token, clock=lambda: now().timestamp())
        http.token_auth = self.auth
        add_secrets([client_secret])  # Yandex may echo it in an error body, which ends up in messages

    def token(self) -> str:
        """A bearer token, fetched only when the one kept is missing or about to expire."""
        return self.auth.token()

    def initiate_menu_import(self, restaurant_id: str, operation: str = "menu") -> None:
        """Ask Yandex to pull ``restaurant_id``'s menu (``operation`` "menu") or other data again now."""
        self._call("menu/import/initiation", {"restaurantId": restaurant_id, "operationType": operation},
                   f"the menu import of venue {restaurant_id}")
        self.log.info("asked Yandex Eda to import the %s of venue %s again", operation, restaurant_id)

    def orders_history(self, venues: Sequence[str], since: datetime, until: datetime) -> Iterator[str]:
        """The eatsIds of the orders placed at ``venues`` from ``since`` to ``until`` that were not cancelled.

        UNCERTAIN: the sources document this call's request in full but its answer only as far as
        ``{"orders": [{"eats_id": …``, so hub reads ``orders[].eats_id`` and nothing more, and pages on
        while an answer comes back full.
        """
        offset = 0
        while True:
            body = {"origin_ids": [{"origin_id": venue} for venue in venues], "from": _rfc3339(since),
                    "to": _rfc3339(until), "status": list(HISTORY_STATUSES),
                    "pagination": {"offset": offset, "limit": HISTORY_PAGE}}
            page = _history_page(self._call("v1/orders-history", body, "the order history"))
            yield from page
            if len(page) < HISTORY_PAGE:
                return
            offset += len(page)

    # --- internals ----------------------------------------------------------------------------

    def _call(self, path: str, body: dict[str, Any], what: str) -> requests.Response:
        """POST ``body`` with the kept token; a 401 gets one fresh token and one more try (HttpClient's)."""
        response = self.http.post(path, json=body, headers={"Partner-Name": self.partner_name}, expect={401})
        if response.status_code == 401:
            raise _error(response, f"Yandex Eda refused {what} even with a new token")
        if not 200 <= response.status_code < 300:
            raise ProtocolError(f"Yandex Eda answered {what} with {response.status_code}: {_message(response)}")
        return response

    def _obtain_token(self) -> tuple[str, float]:
        response = self.http.post("oauth2/token", data={"client_id": self.client_id,
                                                        "client_secret": self._client_secret}, expect={401},
                                  with_token=False, idempotent=True)  # a repeat only issues another token
        if response.status_code == 401:
            raise _error(response, f"Yandex Eda refused the vendor API credentials of client {self.client_id}")
        token = _parse_token(response)
        self.log.debug("got a vendor API token for %d s (scope %s)", token.expires_in, token.scope)
        return token.access_token, (timedelta(seconds=token.expires_in) - TOKEN_MARGIN).total_seconds()


def _parse_token(response: requests.Response) -> VendorToken:
    try:
        body = json_loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProtocolError(f"Yandex Eda answered POST /oauth2/token with something other than a JSON object: "
                            f"{_message(response)}")
    access_token, expires_in = body.get("access_token"), body.get("expires_in")
    token_type, scope = body.get("token_type", "bearer"), body.get("scope", "")
    if not isinstance(access_token, str) or not access_token:
        raise ProtocolError("Yandex Eda's token answer has no access_token")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        raise ProtocolError(f"Yandex Eda's token answer has no usable expires_in (got {expires_in!r})")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ProtocolError(f"Yandex Eda issued a {token_type!r} token; hub sends only bearer tokens")
    return VendorToken(access_token=access_token, expires_in=expires_in, scope=str(scope), token_type=token_type)


def _history_page(response: requests.Response) -> list[str]:
    try:
        body = json_loads(response.content)
    except ValueError:
        body = None
    orders = body.get("orders") if isinstance(body, dict) else None
    if not isinstance(orders, list):
        raise ProtocolError(f"Yandex Eda's order history has no orders list: {_message(response)}")
    ids = [order["eats_id"] for order in orders if isinstance(order, dict) and isinstance(order.get("eats_id"), str)]
    if len(ids) != len(orders) or not all(ids):
        raise ProtocolError("Yandex Eda's order history lists an order without an eats_id")
    return ids


def _error(response: requests.Response, what: str) -> HubError:
    return VENDOR_ERRORS.judge(response.status_code, response.content, method=response.request.method or "GET"
                               ).error(f"{what}: {_message(response)}", status=response.status_code)


def _rfc3339(moment: datetime) -> str:
    """As the docs write them: ``2024-01-01T12:00:05.125+03:00``."""
    return moment.isoformat(timespec="milliseconds")


def _message(response: requests.Response) -> str:
    """Yandex's ``message`` from an error body (``{message, code, details}``), else the start of the body."""
    error = ERRORS.read(response.content)
    text = error.message if error is not None and error.message else response.text
    return redact(" ".join(text.split()))[:300] or "(empty body)"
