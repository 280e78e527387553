"""iikoCloud API, call by call, over :class:`hub.http.HttpClient`.

::

    http = HttpClient(base_url=DEFAULT_URL, source="iiko", timeout=30)
    iiko = IikoClient(http, ApiLogin("<key from iikoWeb>"), timezone=zone("Europe/Moscow"))
    org = iiko.organizations()[0].id
    menu = iiko.nomenclature(org)                       # everything, revision 0 → N
    menu = iiko.nomenclature(org, start_revision=menu.revision)
    menu.changed                                        # False: one call, empty arrays

How iikoCloud works, for a newcomer:

* **Everything is POST with a JSON body**, reads included, under
  ``https://api-ru.iiko.services/api/1/…``. Every answer carries a
  ``correlationId`` (the id of the operation, for iiko's support).
* **Auth.** A bearer token from ``POST /api/1/access_token`` ``{apiLogin}``
  (the deprecated scheme: one key from iikoWeb) or ``POST /api/v2/access_token``
  ``{apiKey, appId, clientSecret}`` (the current one: a key from iikoWeb plus an
  application registered on iiko's developer portal). Either way the token
  lives one hour and there is no refresh token: the client asks for a new one
  :data:`TOKEN_RENEW_AFTER` after it got one, and once more when iiko answers 401
  (a token revoked early), then gives up with :class:`~hub.errors.AuthError`.
* **Timeout header.** iiko stops working on a request after ``Timeout`` seconds
  (15 by default) and answers 408. The client sends a ``Timeout`` a little
  shorter than its own socket timeout, so a slow call ends with iiko's 408 and
  its message rather than a dropped connection whose fate is unknown.
* **Errors** are ``{correlationId, errorDescription, error}``; they become
  :mod:`hub.errors` by what the caller should do (:func:`error_for`). Order
  creation failures are not HTTP errors: they come back inside the order as
  ``creationStatus: "Error"`` with ``errorInfo``.
* **Revisions instead of pages.** The menu (``/nomenclature``) and delivery
  orders (``/deliveries/by_revision``) are read from a revision number the
  caller keeps; an unchanged menu costs one call with empty arrays.
* **Commands.** Writes such as ``/deliveries/create`` answer at once with a
  ``correlationId``; the outcome is read from ``/commands/status``
  (:meth:`IikoClient.wait_for_command` polls it until a deadline).

Being strict in what it sends and tolerant in what it reads: requests carry no
nulls and exact JSON numbers (never floats, never numbers as strings); answers
may have numbers as strings, ``null`` instead of empty arrays, unknown enum
words and missing optional fields.

Protocol: iiko's OpenAPI document (``../shared/samples/iiko/iikocloud-openapi.json``)
and ``../shared/protocols/iiko-yandex-eda.md`` Part 1; tests validate every
request this module sends against that document.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

import requests

from connectors.iiko._wire import (
    compact,
    datetime_or_none,
    decimal,
    format_datetime,
    integer,
    objects,
    text,
)
from hub.errors import (
    AuthError,
    HubError,
    ProtocolError,
    RequestRejected,
    RetriableError,
)
from hub.http import ErrorRule, ErrorShape, ErrorTable, HttpClient, Outcome, TokenAuth
from hub.logs import add_secrets, redact
from hub.values import json_dumps, json_loads, utcnow

DEFAULT_URL: Final = "https://api-ru.iiko.services"
"""iikoCloud's host in Russia; the spec has no ``servers`` block, every SDK hard-codes this."""

TOKEN_LIFETIME: Final = 3600.0
"""Seconds a token lives, as the spec says for both schemes."""
TOKEN_RENEW_AFTER: Final = 45 * 60.0
"""Seconds after which a kept token is replaced, well before it expires on the way."""
SERVER_TIMEOUT_MARGIN: Final = 2
"""Seconds the ``Timeout`` header stays under the client's own timeout."""
BY_ID_LIMIT: Final = 200
"""Most order ids one ``deliveries/by_id`` call takes."""

DELIVERY_STATUSES: Final = ("Unconfirmed", "WaitCooking", "ReadyForCooking", "CookingStarted", "CookingCompleted",
                            "Waiting", "OnWay", "Delivered", "Closed", "Cancelled")
"""iiko's delivery statuses, in the order a delivery goes through them."""
TABLE_ORDER_STATUSES: Final = ("New", "Bill", "Closed", "Deleted")
"""iiko's table (hall) order statuses."""

_ERROR_STATUSES: Final = frozenset({400, 401, 403, 404, 408, 409, 410, 415, 422})
"""Statuses whose body is iiko's error: read here, not turned into a generic error by HttpClient.

5xx stays with HttpClient, so that reads are retried with backoff."""


# --- credentials and results ---------------------------------------------------------------------


@dataclass(frozen=True)
class ApiLogin:
    """The deprecated scheme: one API login from iikoWeb (``POST /api/1/access_token``)."""

    api_login: str = field(repr=False)


@dataclass(frozen=True)
class AppCredentials:
    """The current scheme (``POST /api/v2/access_token``): an iikoWeb API key and a registered application."""

    api_key: str = field(repr=False)
    app_id: str
    client_secret: str = field(repr=False)


Credentials = ApiLogin | AppCredentials


@dataclass(frozen=True)
class Organization:
    """An organization (a restaurant or a legal entity) the API key sees."""

    id: str
    name: str
    code: str | None = None


@dataclass(frozen=True)
class TerminalGroup:
    """A group of POS terminals; orders are routed to one and stop lists are kept per one."""

    id: str
    organization_id: str
    name: str
    address: str | None = None
    time_zone: str | None = None
    asleep: bool = False


@dataclass(frozen=True)
class Table:
    """A table of a restaurant section (hall), whose id table orders are read by."""

    id: str
    terminal_group_id: str
    section: str
    number: int | None
    name: str
    deleted: bool = False


@dataclass(frozen=True)
class PaymentType:
    """A way to pay (``/payment_types``); deliveries are created with its id and ``kind``."""

    id: str
    code: str | None
    name: str
    kind: str
    deleted: bool = False


@dataclass(frozen=True)
class MenuGroup:
    """A menu folder; ``is_modifier_group`` marks a group whose products are modifiers of others."""

    id: str
    name: str
    code: str | None
    parent: str | None
    is_modifier_group: bool
    included_in_menu: bool
    deleted: bool


@dataclass(frozen=True)
class MenuSize:
    """A size of iiko's one size scale (25 cm, 30 cm); products are priced per size."""

    id: str
    name: str
    is_default: bool
    priority: int | None


@dataclass(frozen=True)
class ModifierRule:
    """A modifier a product may take: a single one (``group`` None) or a group with its children."""

    id: str
    min_amount: Decimal
    max_amount: Decimal
    default_amount: Decimal
    required: bool
    group: bool = False
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class MenuProduct:
    """A dish, a good or a modifier from ``/nomenclature``.

    ``prices`` maps a size id (None: the product has no sizes) to its current
    price, None where the size is not on sale. ``weighed`` goods (iiko's
    ``useBalanceForSell``) are sold in ``unit`` (usually kg) with fractional amounts.
    """

    id: str
    code: str | None
    name: str
    type: str | None
    group: str | None
    category: str | None
    unit: str
    weighed: bool
    deleted: bool
    prices: dict[str | None, Decimal | None]
    modifiers: tuple[ModifierRule, ...]


@dataclass(frozen=True)
class Menu:
    """What ``/nomenclature`` answered; ``changed`` is False when the revision did not move (arrays empty)."""

    revision: int
    changed: bool
    groups: list[MenuGroup]
    products: list[MenuProduct]
    sizes: list[MenuSize]
    categories: dict[str, str]
    """Product category id → name."""


@dataclass(frozen=True)
class StopListEntry:
    """One product (of one size) in a terminal group's stop list, with the balance left (0 or less: none)."""

    organization_id: str
    terminal_group_id: str
    product_id: str
    size_id: str | None
    balance: Decimal
    sku: str | None = None
    added_at: dt.datetime | None = None


@dataclass(frozen=True)
class StopListItem:
    """A product to put into a stop list (``balance`` left) or to take out of it (balance ignored)."""

    product_id: str
    balance: Decimal = Decimal(0)
    size_id: str | None = None


@dataclass(frozen=True)
class OrdersPage:
    """Orders as iiko answered them (``OrderInfo`` objects, untouched) and the highest revision among them."""

    max_revision: int
    orders: list[dict[str, Any]]


@dataclass(frozen=True)
class CreatedOrder:
    """The answer to ``/deliveries/create``: ``creation_status`` is usually ``InProgress`` at first.

    ``correlation_id`` is None when the order turned out to exist already (a repeated create).
    """

    correlation_id: str | None
    order_id: str
    creation_status: str
    info: dict[str, Any]


@dataclass(frozen=True)
class CommandStatus:
    """``/commands/status``: ``state`` is ``InProgress``, ``Success`` or ``Error`` (with ``error``)."""

    correlation_id: str
    state: str
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.state != "InProgress"


@dataclass(frozen=True)
class Wallet:
    """A loyalty wallet balance; ``type``: 0 deposit, 1 bonus, 2 products, 3 discount, 4 certificate."""

    id: str
    name: str
    type: int | None
    balance: Decimal


@dataclass(frozen=True)
class LoyaltyCustomer:
    """A guest of iiko's loyalty (iikoCard) base. Personal data: never logged."""

    id: str
    name: str | None
    surname: str | None
    middle_name: str | None
    phone: str | None
    email: str | None
    birthday: dt.date | None
    sex: int | None
    consent_status: int | None
    wallets: tuple[Wallet, ...]
    cards: tuple[str, ...]
    deleted: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    def __repr__(self) -> str:
        return f"LoyaltyCustomer(id={self.id!r}, wallets={len(self.wallets)})"


class CommandPending(RetriableError):
    """A command was still in progress when the wait ran out; poll again later with its correlation id."""

    def __init__(self, message: str, *, correlation_id: str) -> None:
        super().__init__(message)
        self.correlation_id = correlation_id


# --- the client ----------------------------------------------------------------------------------


class IikoClient:
    """Typed calls to iikoCloud; thread-safe, one token shared by every caller. No business logic."""

    def __init__(self, http: HttpClient, credentials: Credentials, *, timezone: ZoneInfo) -> None:
        """``http`` is rooted at iikoCloud's host (:data:`DEFAULT_URL`); ``timezone`` is the venues' wall clock.

        iiko writes order times in the terminal's local time without an offset;
        ``timezone`` is how they are read and how date filters are written.
        """
        self.http = http
        self.credentials = credentials
        self.tz = timezone
        self.log = http.log.getChild("iiko")
        self.auth = TokenAuth(self._obtain_token, clock=http.clock.monotonic)
        http.token_auth = self.auth
        self._menu_revisions: dict[str, int] = {}
        secrets = [credentials.api_login] if isinstance(credentials, ApiLogin) else \
            [credentials.api_key, credentials.client_secret]
        add_secrets([s for s in secrets if s])

    # --- auth ---------------------------------------------------------------------------------------

    def token(self) -> str:
        """A bearer token, fetched only when none is kept or the kept one is due for renewal."""
        return self.auth.token()

    def _obtain_token(self) -> tuple[str, float]:
        if isinstance(self.credentials, ApiLogin):
            path, body = "api/1/access_token", {"apiLogin": self.credentials.api_login}
        else:
            path, body = "api/v2/access_token", {"apiKey": self.credentials.api_key,
                                                 "appId": self.credentials.app_id,
                                                 "clientSecret": self.credentials.client_secret}
        response = self._send(path, body, with_token=False, idempotent=True)
        if response.status_code >= 400:
            error = error_for(response, f"POST /{path}")
            if isinstance(error, RequestRejected) and error.status == 400:
                # iiko answers 400 for an unknown or disabled key as often as 401.
                raise AuthError(error.message, hint=_AUTH_HINT) from None
            raise error
        data = _object(response, f"POST /{path}")
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError(f"iiko answered POST /{path} without a token")
        self.log.debug("got an iikoCloud token (%s scheme)", "v1" if isinstance(self.credentials, ApiLogin) else "v2")
        return token, min(TOKEN_RENEW_AFTER, _jwt_lifetime(token) * 0.75)

    # --- dictionaries --------------------------------------------------------------------------------

    def organizations(self, ids: Sequence[str] | None = None, *, include_disabled: bool = False) -> list[Organization]:
        """The organizations the key sees (all of them unless ``ids`` narrows it)."""
        body: dict[str, Any] = {"returnAdditionalInfo": False, "includeDisabled": include_disabled}
        if ids:
            body["organizationIds"] = list(ids)
        data = self.call("api/1/organizations", body)
        return [Organization(id=text(o.get("id")) or "", name=text(o.get("name")) or "", code=text(o.get("code")))
                for o in objects(data.get("organizations")) if text(o.get("id"))]

    def terminal_groups(self, organization_ids: Sequence[str], *,
                        include_disabled: bool = False) -> list[TerminalGroup]:
        """Terminal groups of the organizations, awake ones first, then those iiko reports asleep."""
        data = self.call("api/1/terminal_groups", {"organizationIds": list(organization_ids),
                                                   "includeDisabled": include_disabled})
        groups: list[TerminalGroup] = []
        for key, asleep in (("terminalGroups", False), ("terminalGroupsInSleep", True)):
            for wrapper in objects(data.get(key)):
                for item in objects(wrapper.get("items")):
                    if text(item.get("id")):
                        groups.append(TerminalGroup(
                            id=text(item["id"]) or "",
                            organization_id=text(item.get("organizationId")) or text(wrapper.get("organizationId"))
                            or "",
                            name=text(item.get("name")) or "", address=text(item.get("address")),
                            time_zone=text(item.get("timeZone")), asleep=asleep))
        return groups

    def tables(self, terminal_group_ids: Sequence[str]) -> list[Table]:
        """Tables of the terminal groups' restaurant sections, for reading hall orders by table."""
        data = self.call("api/1/reserve/available_restaurant_sections",
                         {"terminalGroupIds": list(terminal_group_ids), "returnSchema": False})
        return [Table(id=text(t.get("id")) or "", terminal_group_id=text(s.get("terminalGroupId")) or "",
                      section=text(s.get("name")) or "", number=integer(t.get("number")),
                      name=text(t.get("name")) or "", deleted=t.get("isDeleted") is True)
                for s in objects(data.get("restaurantSections")) for t in objects(s.get("tables"))
                if text(t.get("id"))]

    def payment_types(self, organization_ids: Sequence[str]) -> list[PaymentType]:
        """Payment types of the organizations."""
        data = self.call("api/1/payment_types", {"organizationIds": list(organization_ids)})
        return [PaymentType(id=text(p.get("id")) or "", code=text(p.get("code")), name=text(p.get("name")) or "",
                            kind=text(p.get("paymentTypeKind")) or "Unknown", deleted=p.get("isDeleted") is True)
                for p in objects(data.get("paymentTypes")) if text(p.get("id"))]

    # --- menu ----------------------------------------------------------------------------------------

    def nomenclature(self, organization_id: str, *, start_revision: int | None = None) -> Menu:
        """The menu from ``start_revision`` on (default: the last revision this client saw for the organization).

        iiko answers an unchanged menu with the same revision and empty arrays:
        that is ``Menu.changed`` False, and one call is all it cost. The
        connector keeps the revision in its state, so it passes it explicitly.
        """
        since = self._menu_revisions.get(organization_id, 0) if start_revision is None else start_revision
        data = self.call("api/1/nomenclature", {"organizationId": organization_id, "startRevision": since})
        revision = integer(data.get("revision"))
        if revision is None:
            raise ProtocolError("iiko answered /nomenclature without a revision")
        self._menu_revisions[organization_id] = revision
        groups, products = objects(data.get("groups")), objects(data.get("products"))
        changed = not (since > 0 and revision <= since and not groups and not products)
        return Menu(
            revision=revision, changed=changed,
            groups=[MenuGroup(id=text(g.get("id")) or "", name=text(g.get("name")) or "", code=text(g.get("code")),
                              parent=text(g.get("parentGroup")), is_modifier_group=g.get("isGroupModifier") is True,
                              included_in_menu=g.get("isIncludedInMenu") is not False,
                              deleted=g.get("isDeleted") is True)
                    for g in groups if text(g.get("id"))],
            products=[_product(p) for p in products if text(p.get("id"))],
            sizes=[MenuSize(id=text(s.get("id")) or "", name=text(s.get("name")) or "",
                            is_default=s.get("isDefault") is True, priority=integer(s.get("priority")))
                   for s in objects(data.get("sizes")) if text(s.get("id"))],
            categories={text(c.get("id")) or "": text(c.get("name")) or ""
                        for c in objects(data.get("productCategories")) if text(c.get("id"))},
        )

    # --- stop lists -----------------------------------------------------------------------------------

    def stop_lists(self, organization_ids: Sequence[str], *, terminal_group_ids: Sequence[str] | None = None,
                   with_sizes: bool = True) -> list[StopListEntry]:
        """Every product in the stop lists of the terminal groups (all of the organizations' by default)."""
        body: dict[str, Any] = {"organizationIds": list(organization_ids), "returnSize": with_sizes}
        if terminal_group_ids:
            body["terminalGroupsIds"] = list(terminal_group_ids)
        data = self.call("api/1/stop_lists", body)
        entries: list[StopListEntry] = []
        for org in objects(data.get("terminalGroupStopLists")):
            for group in objects(org.get("items")):
                for item in objects(group.get("items")):
                    product = text(item.get("productId"))
                    if product is None:
                        continue
                    entries.append(StopListEntry(
                        organization_id=text(org.get("organizationId")) or "",
                        terminal_group_id=text(group.get("terminalGroupId")) or "",
                        product_id=product, size_id=text(item.get("sizeId")),
                        balance=decimal(item.get("balance")) or Decimal(0), sku=text(item.get("sku")),
                        # dateAdd is UTC, unlike order times
                        added_at=datetime_or_none(item.get("dateAdd"), dt.UTC)))
        return entries

    def add_to_stop_list(self, organization_id: str, terminal_group_id: str,
                         items: Sequence[StopListItem]) -> str:
        """Put products into a terminal group's stop list with the balance left; returns the correlation id.

        Needs the ``Data: changing stoplists`` restriction group and RMS 8.6.1 or later.
        Repeating it sets the same state, so a lost answer is simply sent again.
        """
        body = {"organizationId": organization_id, "terminalGroupId": terminal_group_id,
                "items": [compact({"productId": i.product_id, "sizeId": i.size_id, "balance": i.balance})
                          for i in items]}
        return self._correlation(self.call("api/1/stop_lists/add", body, idempotent=True))

    def remove_from_stop_list(self, organization_id: str, terminal_group_id: str,
                              items: Sequence[StopListItem]) -> str:
        """Take products out of a terminal group's stop list; returns the correlation id."""
        body = {"organizationId": organization_id, "terminalGroupId": terminal_group_id,
                "items": [compact({"productId": i.product_id, "sizeId": i.size_id}) for i in items]}
        return self._correlation(self.call("api/1/stop_lists/remove", body, idempotent=True))

    def clear_stop_list(self, organization_id: str, terminal_group_id: str) -> str:
        """Empty a terminal group's stop list; returns the correlation id."""
        body = {"organizationId": organization_id, "terminalGroupId": terminal_group_id}
        return self._correlation(self.call("api/1/stop_lists/clear", body, idempotent=True))

    # --- orders ----------------------------------------------------------------------------------------

    def deliveries_by_date_and_status(self, organization_ids: Sequence[str], date_from: dt.datetime,
                                      date_to: dt.datetime | None = None, *, statuses: Iterable[str] | None = None,
                                      source_keys: Sequence[str] | None = None) -> OrdersPage:
        """Deliveries due between the two moments (terminal-local on the wire), optionally of given statuses.

        iiko guarantees orders of the last 7 days only.
        """
        body: dict[str, Any] = {"organizationIds": list(organization_ids),
                                "deliveryDateFrom": format_datetime(date_from, self.tz)}
        if date_to is not None:
            body["deliveryDateTo"] = format_datetime(date_to, self.tz)
        if statuses is not None:
            body["statuses"] = _known(statuses, DELIVERY_STATUSES, "delivery status")
        if source_keys:
            body["sourceKeys"] = list(source_keys)
        return _orders_page(self.call("api/1/deliveries/by_delivery_date_and_status", body))

    def deliveries_by_revision(self, organization_ids: Sequence[str], start_revision: int, *,
                               source_keys: Sequence[str] | None = None) -> OrdersPage:
        """Deliveries created or changed after ``start_revision`` (not including it).

        iiko looks back at most 3 hours of revisions; a cursor older than that
        needs a read by date first.
        """
        body: dict[str, Any] = {"startRevision": start_revision, "organizationIds": list(organization_ids)}
        if source_keys:
            body["sourceKeys"] = list(source_keys)
        return _orders_page(self.call("api/1/deliveries/by_revision", body))

    def deliveries_by_id(self, organization_id: str, order_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Deliveries by their ids, :data:`BY_ID_LIMIT` per call."""
        orders: list[dict[str, Any]] = []
        for start in range(0, len(order_ids), BY_ID_LIMIT):
            data = self.call("api/1/deliveries/by_id", {"organizationId": organization_id,
                                                        "orderIds": list(order_ids[start:start + BY_ID_LIMIT])})
            orders.extend(objects(data.get("orders")))
        return orders

    def table_orders_by_table(self, organization_ids: Sequence[str], table_ids: Sequence[str], *,
                              statuses: Iterable[str] | None = None, date_from: dt.datetime | None = None,
                              date_to: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Hall orders of the tables (``/order/by_table``); iiko has no revision read for them."""
        body: dict[str, Any] = {"organizationIds": list(organization_ids), "tableIds": list(table_ids)}
        if statuses is not None:
            body["statuses"] = _known(statuses, TABLE_ORDER_STATUSES, "table order status")
        if date_from is not None:
            body["dateFrom"] = format_datetime(date_from, self.tz)
        if date_to is not None:
            body["dateTo"] = format_datetime(date_to, self.tz)
        return objects(self.call("api/1/order/by_table", body).get("orders"))

    def table_orders_by_id(self, organization_ids: Sequence[str], order_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Hall orders by their ids (``/order/by_id``)."""
        orders: list[dict[str, Any]] = []
        for start in range(0, len(order_ids), BY_ID_LIMIT):
            data = self.call("api/1/order/by_id", {"organizationIds": list(organization_ids),
                                                   "orderIds": list(order_ids[start:start + BY_ID_LIMIT])})
            orders.extend(objects(data.get("orders")))
        return orders

    def create_delivery(self, organization_id: str, order: Mapping[str, Any], *,
                        terminal_group_id: str | None = None, transport_to_front_timeout: int | None = None,
                        check_stop_list: bool | None = None) -> CreatedOrder:
        """Send a delivery to iiko (a command): the answer says it is accepted, not that the POS has it.

        ``order`` is iiko's ``DeliveryOrder`` object; give it an ``id`` (a UUID):
        iiko refuses a second order with the same id (``DuplicatedOrderId``), so
        a create whose answer was lost is repeated safely. Follow the outcome
        with :meth:`wait_for_command` or :meth:`deliveries_by_id`.
        """
        settings = compact({"transportToFrontTimeout": transport_to_front_timeout,
                             "checkStopList": check_stop_list})
        body = compact({"organizationId": organization_id, "terminalGroupId": terminal_group_id,
                         "createOrderSettings": settings or None, "order": compact(dict(order))})
        try:
            data = self.call("api/1/deliveries/create", body, idempotent=False)
        except RequestRejected as exc:
            known = text(order.get("id"))
            if exc.code != "DuplicatedOrderId" or known is None:
                raise
            # Sent before, its answer lost: the order exists, and that is what the caller wanted.
            existing = self.deliveries_by_id(organization_id, [known])
            if not existing:
                raise
            data = {"correlationId": None, "orderInfo": existing[0]}
        info = data.get("orderInfo")
        if not isinstance(info, dict) or not text(info.get("id")):
            raise ProtocolError("iiko answered /deliveries/create without orderInfo.id")
        return CreatedOrder(correlation_id=text(data.get("correlationId")), order_id=text(info["id"]) or "",
                            creation_status=text(info.get("creationStatus")) or "InProgress", info=info)

    def command_status(self, organization_id: str, correlation_id: str) -> CommandStatus:
        """Where a command stands; :class:`RequestRejected` (410) when iiko no longer knows the id."""
        data = self.call("api/1/commands/status", {"organizationId": organization_id,
                                                   "correlationId": correlation_id})
        state = text(data.get("state"))
        if state is None or state not in ("InProgress", "Success", "Error"):
            raise ProtocolError(f"iiko answered /commands/status with state {state!r}")
        reason = text(data.get("errorReason")) or _describe_exception(data.get("exception"))
        return CommandStatus(correlation_id=correlation_id, state=state, error=reason if state == "Error" else None)

    def wait_for_command(self, organization_id: str, correlation_id: str, *, deadline: float = 30.0,
                         interval: float = 1.0) -> CommandStatus:
        """Poll ``/commands/status`` until the command is done or ``deadline`` seconds passed.

        Waits go through the HTTP client's clock, so tests run it without sleeping.
        Raises :class:`CommandPending` when time runs out with the command still in progress.
        """
        clock = self.http.clock
        ends = clock.monotonic() + deadline
        while True:
            status = self.command_status(organization_id, correlation_id)
            if status.done:
                return status
            left = ends - clock.monotonic()
            if left <= 0:
                raise CommandPending(f"iiko command {correlation_id} still in progress after {deadline:g} s",
                                     correlation_id=correlation_id)
            clock.sleep(min(interval, left))

    # --- webhooks ------------------------------------------------------------------------------------

    def set_webhook(self, organization_id: str, uri: str, auth_token: str) -> str:
        """Point the organization's webhooks at ``uri`` with ``auth_token`` for every event hub re-reads on.

        One URI per organization and API key: this replaces whatever was set
        before (in iikoWeb too). Needs the ``WebHooks: settings`` restriction group.
        """
        everything = {"orderStatuses": list(DELIVERY_STATUSES), "errors": True}
        body = {"organizationId": organization_id, "webHooksUri": uri, "authToken": auth_token,
                "webHooksFilter": {"deliveryOrderFilter": everything,
                                   "tableOrderFilter": {"orderStatuses": list(TABLE_ORDER_STATUSES), "errors": True},
                                   "stopListUpdateFilter": {"updates": True},
                                   "nomenclatureUpdateFilter": {"updates": True}}}
        add_secrets([auth_token])
        return self._correlation(self.call("api/1/webhooks/update_settings", body, idempotent=True))

    def webhook_uri(self, organization_id: str) -> str | None:
        """Where the organization's webhooks go now (None: nowhere); the token is not returned to callers."""
        return text(self.call("api/1/webhooks/settings", {"organizationId": organization_id}).get("webHooksUri"))

    # --- loyalty -------------------------------------------------------------------------------------

    def customer_by_phone(self, organization_id: str, phone: str) -> LoyaltyCustomer | None:
        """The loyalty guest with this phone (E.164, ``+7…``), or None when iiko has none."""
        return self._customer_info({"organizationId": organization_id, "type": "phone", "phone": phone})

    def customer_by_id(self, organization_id: str, customer_id: str) -> LoyaltyCustomer | None:
        """The loyalty guest with this id, or None when iiko has none."""
        return self._customer_info({"organizationId": organization_id, "type": "id", "id": customer_id})

    def _customer_info(self, body: dict[str, Any]) -> LoyaltyCustomer | None:
        try:
            data = self.call("api/1/loyalty/iiko/customer/info", body)
        except RequestRejected as exc:
            # iikoCard answers "no such guest" with 400 and a text, not 404 [U: wording varies by version].
            if exc.status == 400 and _means_not_found(exc.message):
                return None
            raise
        return _customer(data)

    def create_or_update_customer(self, organization_id: str, fields: Mapping[str, Any]) -> str:
        """Create a guest or update the one with the given ``id``/``phone``/card; returns the guest's id.

        ``fields`` are iiko's ``CreateOrUpdateCustomerRequest`` fields (``phone``,
        ``name``, ``surName``, ``email``, ``birthday`` as ``yyyy-MM-dd HH:mm:ss.fff``…);
        None values are not sent, so they leave iiko's data as it is.
        """
        body = compact({**fields, "organizationId": organization_id})
        if not any(body.get(key) for key in ("id", "phone", "cardTrack", "cardNumber")):
            raise RequestRejected("an iiko guest is created or updated by id, phone or card; none was given")
        data = self.call("api/1/loyalty/iiko/customer/create_or_update", body, idempotent=True)
        customer_id = text(data.get("id"))
        if customer_id is None:
            raise ProtocolError("iiko answered /customer/create_or_update without an id")
        return customer_id

    def guest_category(self, organization_id: str, customer_id: str, category_id: str, *, member: bool) -> None:
        """Put the guest in the loyalty category (``member``) or take them out of it. Sent whether or not the
        guest is in it already: both calls are idempotent by their nature (fact sheet: the answer to adding a
        category held, or removing one not held, is not documented [UNCERTAIN]; hub takes either as done)."""
        body = {"organizationId": organization_id, "customerId": customer_id, "categoryId": category_id}
        self.call(f"api/1/loyalty/iiko/customer_category/{'add' if member else 'remove'}", body, idempotent=True)

    def top_up_wallet(self, organization_id: str, customer_id: str, wallet_id: str, amount: Decimal, *,
                      comment: str | None = None) -> None:
        """Put ``amount`` (positive) on a guest's wallet.

        Not idempotent: a top-up whose answer was lost is not repeated by the HTTP
        layer; the caller compares the balance (:meth:`customer_by_phone`) first.
        """
        self._change_wallet("topup", organization_id, customer_id, wallet_id, amount, comment=comment)

    def charge_wallet(self, organization_id: str, customer_id: str, wallet_id: str, amount: Decimal, *,
                      comment: str | None = None) -> None:
        """Take ``amount`` (positive) off a guest's wallet; iiko refuses more than the balance with a 400."""
        self._change_wallet("chargeoff", organization_id, customer_id, wallet_id, amount, comment=comment)

    def _change_wallet(self, action: str, organization_id: str, customer_id: str, wallet_id: str, amount: Decimal,
                       *, comment: str | None) -> None:
        if amount <= 0:
            raise ValueError(f"a wallet {action} takes a positive amount, got {amount}")
        body = compact({"customerId": customer_id, "walletId": wallet_id, "sum": amount, "comment": comment,
                        "organizationId": organization_id})
        self.call(f"api/1/loyalty/iiko/customer/wallet/{action}", body, idempotent=False)

    # --- plumbing ------------------------------------------------------------------------------------

    def call(self, path: str, body: Mapping[str, Any], *, idempotent: bool = True,
             timeout: float | None = None) -> dict[str, Any]:
        """POST ``body`` to ``path`` with the token (renewed once on 401, by HttpClient); the answer's JSON object.

        ``idempotent`` False keeps HttpClient from repeating a POST whose answer
        was lost; reads are idempotent, so they are retried on 5xx and timeouts.
        """
        response = self._send(path, body, idempotent=idempotent, timeout=timeout)
        if response.status_code >= 400:
            raise error_for(response, f"POST /{path}")
        return _object(response, f"POST /{path}")

    def server_timeout(self, timeout: float | None = None) -> int:
        """The ``Timeout`` header for a call the client waits ``timeout`` seconds for (its default if None)."""
        client = self.http.timeout if timeout is None else timeout
        return max(1, math.floor(client) - SERVER_TIMEOUT_MARGIN)

    def _send(self, path: str, body: Mapping[str, Any], *, idempotent: bool, timeout: float | None = None,
              with_token: bool = True) -> requests.Response:
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json",
                   "Timeout": str(self.server_timeout(timeout))}
        return self.http.post(path, data=json_dumps(body).encode(), headers=headers, expect=_ERROR_STATUSES,
                              idempotent=idempotent, timeout=timeout, with_token=with_token)

    @staticmethod
    def _correlation(data: Mapping[str, Any]) -> str:
        correlation = text(data.get("correlationId"))
        if correlation is None:
            raise ProtocolError("iiko answered a command without a correlationId")
        return correlation


# --- errors --------------------------------------------------------------------------------------


_AUTH_HINT = "check the iiko credentials of this source (apiLogin, or apiKey with appId and clientSecret)"


def error_for(response: requests.Response, what: str) -> HubError:
    """iiko's error answer as the :mod:`hub.errors` class that says what to do about it (:data:`IIKO_ERRORS`),
    with iiko's description, ``error`` code and ``correlationId``."""
    status = response.status_code
    description, _, correlation = _error_body(response)
    message = f"{what} -> {status}: {description}" + (f" (correlationId {correlation})" if correlation else "")
    return IIKO_ERRORS.judge(status, response.content).error(message, status=status)


ERRORS: Final = ErrorShape(messages=(("errorDescription",), ("message",), ("error",)), code=("error",),
                           reference=("correlationId",))
"""Where iiko's error answers keep what they say."""

IIKO_ERRORS: Final = ErrorTable(read=ERRORS.read, rules=(
    ErrorRule(Outcome.FATAL, status=401, hint=_AUTH_HINT),
    ErrorRule(Outcome.FATAL, status=403, hint="enable the method's restriction group for this API key in iikoWeb"),
    ErrorRule(Outcome.RETRY, status=408),  # iiko's own Timeout ran out: the same call may finish in time
))
"""What iiko's failed answers mean: any other 4xx (410 from ``/commands/status``: do not ask again) is refused,
5xx retried."""


def _error_body(response: requests.Response) -> tuple[str, str | None, str | None]:
    error = ERRORS.read(response.content)
    if error is not None and error.message:
        return redact(" ".join(error.message.split()))[:500], error.code, error.reference
    shown = redact(" ".join(response.text.split()))[:300]
    return shown or "(empty body)", None, None


def _means_not_found(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in ("not found", "no user", "there is no", "не найден", "notfound"))


# --- reading answers ---------------------------------------------------------------------------


def _object(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        data = json_loads(response.content)
    except ValueError as exc:
        raise ProtocolError(f"iiko answered {what} with something that is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"iiko answered {what} with JSON that is not an object")
    return data


def _known(values: Iterable[str], allowed: Sequence[str], what: str) -> list[str]:
    chosen = list(values)
    unknown = [value for value in chosen if value not in allowed]
    if unknown:
        raise ValueError(f"not an iiko {what}: {', '.join(unknown)} (one of {', '.join(allowed)})")
    return chosen


def _jwt_lifetime(token: str) -> float:
    """Seconds until the token's ``exp`` claim (v2 tokens are JWTs); :data:`TOKEN_LIFETIME` when unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return TOKEN_LIFETIME
    try:
        payload = json_loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        expires = payload["exp"]
        left = float(expires) - utcnow().timestamp()
    except (ValueError, TypeError, KeyError):
        return TOKEN_LIFETIME
    return min(TOKEN_LIFETIME, max(0.0, left))


def _orders_page(data: Mapping[str, Any]) -> OrdersPage:
    orders: list[dict[str, Any]] = []
    for group in objects(data.get("ordersByOrganizations")):
        for info in objects(group.get("orders")):
            # Each order names its organization, but only the wrapper is sure to.
            info.setdefault("organizationId", group.get("organizationId"))
            orders.append(info)
    return OrdersPage(max_revision=integer(data.get("maxRevision")) or 0, orders=orders)


def _rule(item: Mapping[str, Any], *, group: bool) -> ModifierRule:
    return ModifierRule(
        id=text(item.get("id")) or "",
        min_amount=decimal(item.get("minAmount")) or Decimal(0),
        max_amount=decimal(item.get("maxAmount")) or Decimal(0),
        default_amount=decimal(item.get("defaultAmount")) or Decimal(0),
        required=item.get("required") is True, group=group,
        children=tuple(text(c.get("id")) or "" for c in objects(item.get("childModifiers")) if text(c.get("id"))))


def _product(item: Mapping[str, Any]) -> MenuProduct:
    prices: dict[str | None, Decimal | None] = {}
    for entry in objects(item.get("sizePrices")):
        price: dict[str, Any] = entry["price"] if isinstance(entry.get("price"), dict) else {}
        on_sale = price.get("isIncludedInMenu") is not False
        prices[text(entry.get("sizeId"))] = decimal(price.get("currentPrice")) if on_sale else None
    rules = [_rule(m, group=False) for m in objects(item.get("modifiers")) if text(m.get("id"))]
    rules += [_rule(m, group=True) for m in objects(item.get("groupModifiers")) if text(m.get("id"))]
    return MenuProduct(
        id=text(item.get("id")) or "", code=text(item.get("code")), name=text(item.get("name")) or "",
        type=(text(item.get("type")) or "").lower() or None, group=text(item.get("parentGroup")),
        category=text(item.get("productCategoryId")), unit=text(item.get("measureUnit")) or "порц",
        weighed=item.get("useBalanceForSell") is True, deleted=item.get("isDeleted") is True,
        prices=prices, modifiers=tuple(rules))


def _customer(data: Mapping[str, Any]) -> LoyaltyCustomer:
    customer_id = text(data.get("id"))
    if customer_id is None:
        raise ProtocolError("iiko answered /customer/info without the guest's id")
    born = datetime_or_none(data.get("birthday"), dt.UTC)
    wallets = tuple(Wallet(id=text(w.get("id")) or "", name=text(w.get("name")) or "", type=integer(w.get("type")),
                           balance=decimal(w.get("balance")) or Decimal(0))
                    for w in objects(data.get("walletBalances")) if text(w.get("id")))
    return LoyaltyCustomer(
        id=customer_id, name=text(data.get("name")), surname=text(data.get("surname")),
        middle_name=text(data.get("middleName")), phone=text(data.get("phone")), email=text(data.get("email")),
        birthday=born.date() if born else None, sex=integer(data.get("sex")),
        consent_status=integer(data.get("consentStatus")),
        wallets=wallets, cards=tuple(text(c.get("number")) or text(c.get("track")) or ""
                                     for c in objects(data.get("cards"))),
        deleted=data.get("isDeleted") is True, raw=dict(data))


def _describe_exception(value: Any) -> str | None:
    if isinstance(value, dict):
        return text(value.get("message")) or text(value.get("Message")) or json_dumps(value)[:300]
    return text(value)
