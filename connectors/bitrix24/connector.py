"""The Bitrix24 connector: guests as contacts, channel orders as deals, phone orders back as orders.

* customers → contacts (``crm.item.*``, entityTypeId 3): found first with ``crm.duplicate.findbycomm`` by phone
  or email, then updated, never doubled; phones and emails are multi-fields, changed by their value id with
  ``typeId`` always sent (an update without it "succeeds" changing nothing);
* orders → deals (entityTypeId 2): one per channel order, found by its key in a custom field, tied to its
  contact, its product rows set whole (``crm.deal.productrows.set``), its stage following the order's status
  forward only (``mappings/bitrix24/orders.out.yaml``);
* deals managers create (phone orders) → orders for 1C, when ``deals_to_orders`` is on: read by id and taken
  from ``ONCRM…`` events (checked by ``application_token``, kept, the deal re-read); the scheduled read catches
  what events missed, since the portal never repeats one;
* goods and prices → ``catalog.product.*`` and ``catalog.price.*``. Stock is not written: the portal keeps it
  read-only outside warehouse documents, so hub declares no stock stream rather than pretend.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError
from werkzeug.wrappers import Request, Response

from connectors.bitrix24.client import (
    BATCH_LIMIT,
    Bitrix24Client,
    CallError,
    OperatingBudget,
    Rejected,
    comparable,
    decode_query,
)
from connectors.bitrix24.sandbox import ENTERPRISE, Bitrix24Sandbox
from hub.connector import ConnectorContext, Page, WriteResult
from hub.errors import ConfigError, InvalidRecord, ProtocolError, RecordError
from hub.http import TokenAuth
from hub.inbound import BodyToken, Endpoint, Inbound, Webhook, guarded, json_response, shared
from hub.logs import add_secrets
from hub.mapping import CompiledMapping
from hub.model import (
    Customer,
    Entity,
    Order,
    OrderLine,
    OrderStatus,
    PriceEntry,
    Product,
    RawRecord,
    Record,
    moves_forward,
)
from hub.settings import RateLimit, SourceSettings
from hub.streams import BatchWrite, Pull, Push, Statuses, StreamConnector, Write
from hub.values import json_dumps, json_loads, normalize_email, normalize_phone

CONTACT, DEAL = 3, 2
LOOKUP_VALUES = 20
"""Phones or emails one ``crm.duplicate.findbycomm`` takes (fact sheet §2.6)."""
LOOKUP_BATCH = LOOKUP_VALUES * BATCH_LIMIT
"""Contacts the customers stream takes a call: their lookups fill one batch call, 50 commands of 20 values."""
FORM = "application/x-www-form-urlencoded"
OWN_DEALS = "own_deals"
"""Channel state: the deals hub created (id → the channel order's key)."""
PLANS = {"standard": RateLimit(per_second=2, burst=49), "enterprise": RateLimit(per_second=5, burst=249)}
"""The portal's leaky bucket per plan (fact sheet §2.5: 2/s with bursts of 50, 5/s and 250), one request short:
the portal counts a request when it arrives, hub when it sends it, and that one absorbs the difference."""


class Bitrix24Settings(SourceSettings):
    """Settings of a Bitrix24 source."""

    url: str = Field(description=(
        "An incoming webhook's URL, https://<portal>/rest/<user>/<secret>/ (write it as ${ENV_VAR}: the secret "
        "is in it), or, for an OAuth application, the portal's REST root https://<portal>/rest/."))
    client_id: str | None = Field(None, description="OAuth application: its client_id.")
    client_secret: str | None = Field(None, description="OAuth application: its client_secret; ${ENV_VAR}.")
    refresh_token: str | None = Field(None, description=(
        "OAuth application: the first refresh token (${ENV_VAR}); hub keeps each new one in its state."))
    oauth_url: str = Field("https://oauth.bitrix.info/oauth/token/", description="Where tokens are refreshed.")
    plan: Literal["standard", "enterprise"] = Field("standard", description=(
        "The portal's plan: its request limit is 2/s with bursts of 50, or 5/s and 250 on Enterprise. "
        "rate_limit, when set, wins."))
    operating_budget: float = Field(480.0, gt=0, description=(
        "Seconds of execution a method may spend in ten minutes before OPERATION_TIME_LIMIT; 480 is the common "
        "figure, the portal's own is not published (fact sheet: uncertain)."))
    page_size: int = Field(50, ge=1, le=50, description=(
        "Rows per list page: the portal's 50 (a sandbox may use fewer)."))
    application_token: str | None = Field(None, description=(
        "The application token the portal shows for hub's outgoing webhook (${ENV_VAR}); set, hub daemon serves "
        "POST <inbound.path>/events for ONCRM… events."))
    deals_to_orders: bool = Field(False, description=(
        "Managers' deals (phone orders) are orders for 1C: read by the orders job from this source."))
    catalog_iblock: int = Field(0, ge=0, description=(
        "The CRM catalog's iblockId, for goods (0: a catalog job to this source stops with a config error)."))
    price_type: int = Field(1, ge=1, description="The catalogGroupId of the price hub writes (1: BASE, retail).")


class CustomersStream(Write["Bitrix24Connector"], BatchWrite["Bitrix24Connector"]):
    """Guests and 1C's counterparties as contacts, found by phone or email before one is created."""

    entity = Entity.CUSTOMERS
    limit = LOOKUP_BATCH

    def find(self, key: str) -> str | None:
        kind, _, value = key.partition(":")
        if kind not in ("phone", "email") or not value:
            return None
        found = self.connector.client.call("crm.duplicate.findbycomm", _findbycomm(kind, [value]), read=True)
        return _first_contact(found.result)

    def write(self, record: Record, *, key: str, ref: str | None) -> WriteResult:
        assert isinstance(record, Customer)
        client = self.connector.client
        if ref is None:
            answer = client.call("crm.item.add", {"entityTypeId": CONTACT,
                                                  "fields": self.connector.contact_fields(record, key, held=None)})
            return WriteResult(ref=_item_id(answer.result), action="created")
        held = client.call("crm.item.get", {"entityTypeId": CONTACT, "id": ref}, read=True).result
        client.call("crm.item.update", {"entityTypeId": CONTACT, "id": ref,
                                        "fields": self.connector.contact_fields(record, key, held=_item(held))})
        return WriteResult(ref=ref, action="updated")

    def write_batch(self, records: Sequence[Record]) -> list[str | RecordError]:
        """Up to :data:`LOOKUP_BATCH` contacts: one batch call finds them all, the found ones are read and the
        contacts written, 50 a batch call each. A guest whose lookup failed is refused rather than created, so
        it is sent again next time instead of doubled; guests with one phone in one call are one contact."""
        customers = [r for r in records if isinstance(r, Customer)]
        keys = [_customer_key(c) for c in customers]
        found = self._contacts([key for key in keys if key is not None])
        writes: dict[str, tuple[str, Mapping[str, Any]]] = {}
        first = {key: str(n) for n, key in reversed(list(enumerate(keys))) if key is not None}
        for n, customer in enumerate(customers):
            known_as = keys[n]
            contact = found.get(known_as) if known_as is not None else None
            if known_as is None or isinstance(contact, CallError) or first[known_as] != str(n):
                continue  # refused below, or written as the first guest with the same phone
            hub_key = ":".join(known_as)
            if contact is None:
                writes[str(n)] = ("crm.item.add", {"entityTypeId": CONTACT, "fields": self.connector.contact_fields(
                    customer, hub_key, held=None)})
            else:
                writes[str(n)] = ("crm.item.update", {"entityTypeId": CONTACT, "id": contact["id"], "fields":
                                                      self.connector.contact_fields(customer, hub_key, held=contact)})
        written = self.connector.client.batches(writes)
        outcome: list[str | RecordError] = []
        for known_as in keys:
            contact = found.get(known_as) if known_as is not None else None
            result = written.get(first[known_as]) if known_as is not None else None
            if known_as is None:
                outcome.append(RecordError("a guest without a phone or an email: the CRM could not find it again"))
            elif isinstance(contact, CallError):
                outcome.append(RecordError(f"Bitrix24 could not look the contact up: {contact}"))
            elif isinstance(result, CallError):
                outcome.append(RecordError(f"Bitrix24 refused the contact: {result}"))
            else:
                outcome.append(str(contact["id"]) if contact is not None else _item_id(result))
        return outcome

    def _contacts(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any] | CallError]:
        """Each key's contact as the portal holds it, for the keys it has one for; a CallError where it could not
        say. ``crm.duplicate.findbycomm`` takes 20 values of one type and answers which contacts hold any of them,
        not which holds which: so the contacts found are read and each key goes to the oldest holding its value
        (a person may have made duplicates by hand). A key the portal may have matched where hub cannot tell
        (the portal ignores a phone's extension; an answer of 20 ids may be cut short) is asked alone."""
        client = self.connector.client
        chunks = [(kind, values[i:i + LOOKUP_VALUES]) for kind in ("phone", "email")
                  for values in [sorted({value for k, value in keys if k == kind})]
                  for i in range(0, len(values), LOOKUP_VALUES)]
        answers = client.batches({str(n): ("crm.duplicate.findbycomm", _findbycomm(kind, values))
                                  for n, (kind, values) in enumerate(chunks)}, read=True)
        held = self._read({i for answer in answers.values() for i in _contact_ids(answer)})
        holder = _holders(held)
        outcome: dict[tuple[str, str], dict[str, Any] | CallError] = {}
        alone: list[tuple[str, str]] = []
        for n, (kind, values) in enumerate(chunks):
            answer, chunk = answers.get(str(n)), [(kind, value) for value in values]
            outcome.update({key: holder[_held_as(key)] for key in chunk if _held_as(key) in holder})
            placed = {int(holder[_held_as(key)]["id"]) for key in chunk if _held_as(key) in holder}
            ids = _contact_ids(answer)
            if isinstance(answer, CallError):
                outcome.update({key: answer for key in chunk})
            elif answer is None or set(ids) - placed or len(ids) >= LOOKUP_VALUES:
                # None: the batch kept no answer for it (a throttled portal's empty page), which is no "not found"
                alone += [key for key in chunk if key not in outcome]
        answers = client.batches({str(n): ("crm.duplicate.findbycomm", _findbycomm(kind, [value]))
                                  for n, (kind, value) in enumerate(alone)}, read=True)
        oldest = {key: min(ids) for n, key in enumerate(alone) if (ids := _contact_ids(answers.get(str(n))))}
        held.update(self._read(set(oldest.values()) - set(held)))
        for n, key in enumerate(alone):
            answer = answers.get(str(n))
            contact = held.get(oldest[key]) if key in oldest else None
            if isinstance(answer, CallError) or answer is None:
                outcome[key] = answer or CallError("", "the portal answered the lookup with nothing")
            elif contact is not None:
                outcome[key] = contact
        return outcome

    def _read(self, ids: set[int]) -> dict[int, Any]:
        """Contact id → the contact (``crm.item.get``, 50 a batch call) or the CallError the portal answered."""
        read = self.connector.client.batches({str(i): ("crm.item.get", {"entityTypeId": CONTACT, "id": i})
                                              for i in sorted(ids)}, read=True)
        return {int(i): result if isinstance(result, CallError) else _item(result) for i, result in read.items()}


class OrdersStream(Pull["Bitrix24Connector"], Push["Bitrix24Connector"], Write["Bitrix24Connector"],
                   Statuses["Bitrix24Connector"]):
    """Channel orders as deals; managers' deals as orders, read by id and taken from events."""

    entity = Entity.ORDERS

    # --- deals for channel orders ----------------------------------------------------------------

    def find(self, key: str) -> str | None:
        return self.find_many([key]).get(key)

    def find_many(self, keys: Sequence[str]) -> dict[str, str]:
        field = self.connector.order_key
        found: dict[str, str] = {}
        for first in range(0, len(keys), self.connector.page_size):
            wanted = list(keys[first:first + self.connector.page_size])
            for page in self.connector.client.pages("crm.item.list", {
                    "entityTypeId": DEAL, "select": ["id", field], "filter": {f"@{field}": wanted}}, rows="items"):
                found.update({str(deal[field]): str(deal["id"]) for deal in page if deal.get(field)})
        return found

    def write(self, record: Record, *, key: str, ref: str | None) -> WriteResult:
        assert isinstance(record, Order)
        connector = self.connector
        client = connector.client
        fields: dict[str, Any] = {**connector.deals.apply(record, links=connector.context.links),
                                  connector.order_key: key}
        if record.customer is not None and (contact := self._contact(record.customer)) is not None:
            fields["contactId"] = int(contact)
        stage = connector.stages.get(record.status)
        if ref is None:
            if stage:
                fields["stageId"] = stage
            ref = _item_id(client.call("crm.item.add", {"entityTypeId": DEAL, "fields": fields}).result)
            if connector.context.state is not None:  # its ONCRMDEAL… events are no phone orders (see _event)
                connector.context.state.put_many(OWN_DEALS, {ref: key})
            action: Literal["created", "updated"] = "created"
        else:
            held = _item(client.call("crm.item.get", {"entityTypeId": DEAL, "id": ref}, read=True).result)
            if stage and connector.moves_forward(str(held.get("stageId", "")), record.status):
                fields["stageId"] = stage
            client.call("crm.item.update", {"entityTypeId": DEAL, "id": ref, "fields": fields})
            action = "updated"
        rows = [_row(line) for line in record.lines]
        # The set replaces every row: a line the guest removed leaves the deal too.
        client.call("crm.deal.productrows.set", {"id": ref, "rows": rows})
        return WriteResult(ref=ref, action=action)

    def _contact(self, customer: Customer) -> str | None:
        """The guest's contact: found by phone, then email; created when the portal has none."""
        key = _customer_key(customer)
        if key is None:
            return None
        stream = self.connector.stream(Entity.CUSTOMERS)
        assert isinstance(stream, CustomersStream)
        ref = stream.find(":".join(key))
        if ref is None:  # the channel's id of the guest is no 1C counterparty
            ref = stream.write(customer.model_copy(update={"ids": {}}), key=":".join(key), ref=None).ref
        return ref

    def set_status(self, external_id: str, status: OrderStatus) -> None:
        """1C's status of a manager's deal: its stage moves forward, never back."""
        stage = self.connector.stages.get(status)
        client = self.connector.client
        held = _item(client.call("crm.item.get", {"entityTypeId": DEAL, "id": external_id}, read=True).result)
        if stage and self.connector.moves_forward(str(held.get("stageId", "")), status):
            client.call("crm.item.update", {"entityTypeId": DEAL, "id": external_id, "fields": {"stageId": stage}})

    # --- managers' deals as orders ---------------------------------------------------------------

    def read(self, *, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        if not self.connector.deals_to_orders:
            raise self.unsupported(self.mode)
        # The cursor is ``<modified since>|<id after>``: a run pages by id through the deals modified since the
        # last run began reading, so a deal whose event was lost, new or changed, is read by the next run. Deals
        # modified in the very second the last run saw are read again rather than missed.
        changed_since, _, after = (cursor or "|0").partition("|")
        if not after.isdigit():  # a cursor edited or restored from elsewhere: one clear line, not a traceback
            raise ConfigError([f"{self.connector.name}: the deals' cursor {cursor!r} is not <modified since>|<id>"],
                              hint=f"hub sync --source {self.connector.name} --full reads the deals from the start")
        field = self.connector.order_key
        newest = changed_since
        params = {"entityTypeId": DEAL, "filter": {">=updatedTime": changed_since} if changed_since else {}}
        for page in self.connector.client.pages("crm.item.list", params, rows="items", after=int(after or 0)):
            theirs = [deal for deal in page if not deal.get(field)]  # hub's own deals are channel orders already
            newest = max([newest, *(str(deal.get("updatedTime") or "") for deal in page)])
            yield Page(self._whole(theirs), cursor=f"{changed_since}|{page[-1]['id']}")
        # Read through: the next run starts over by id, or a deal with a lower id changed later is never read.
        yield Page([], cursor=f"{newest}|0")

    def _whole(self, deals: list[dict[str, Any]]) -> list[RawRecord]:
        """Each deal with its rows and its contact, two batch calls for a page."""
        client = self.connector.client
        rows = client.batch({str(d["id"]): ("crm.deal.productrows.get", {"id": d["id"]}) for d in deals}, read=True)
        contacts = client.batch({str(d["id"]): ("crm.item.get", {"entityTypeId": CONTACT, "id": d["contactId"]})
                                 for d in deals if d.get("contactId")}, read=True)
        return [RawRecord(external_id=str(d["id"]), body=json_dumps({
            "deal": d, "rows": _ok(rows.get(str(d["id"]))) or [],
            "contact": _item(_ok(contacts.get(str(d["id"])))) or None}).encode()) for d in deals]

    def decode(self, record: RawRecord) -> Record:
        try:
            if record.content_type.startswith(FORM):  # an event: the deal it names, as the portal holds it now
                deal_id = _event_deal(record.body)
                try:
                    deal = self.connector.client.call("crm.item.get", {"entityTypeId": DEAL, "id": deal_id},
                                                      read=True).result
                except Rejected as exc:  # deleted since (ONCRMDEALDELETE too): a dead letter, not a stuck inbox
                    raise InvalidRecord(f"deal {deal_id} cannot be read again: {exc}") from None
                [raw] = self._whole([_item(deal)])
                return self.decode(raw)
            data = json_loads(record.body)
            deal = data["deal"]
            if deal.get(self.connector.order_key):
                raise ValueError(f"hub wrote it from order {deal[self.connector.order_key]}, "
                                 "it is no phone order")
            return _order(self.connector.name, deal, data.get("rows") or [], data.get("contact"),
                          self.connector.stage_status)
        except (ValueError, KeyError, TypeError, ArithmeticError, ValidationError) as exc:
            raise InvalidRecord(f"deal {record.external_id}: {exc}") from None

    def envelope(self, record: RawRecord) -> None:
        """An event names its deal (``data[FIELDS][ID]``); the deal is read from the portal by :meth:`decode`."""
        try:
            _event_deal(record.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRecord(f"event {record.external_id}: {exc}") from None

    def endpoints(self) -> list[Endpoint]:
        if self.connector.application_token is None or not self.connector.deals_to_orders:
            return []
        # The portal sends its application_token inside the form body, so the body is read for it first; a request
        # without the right one is answered 401 and kept nowhere, not even as rejected, or anyone who finds the URL
        # could fill the inbox. An application's events carry its OAuth tokens beside it: blanked in what is kept.
        token = BodyToken(shared(self.connector.application_token), lambda reason: _error(401, reason),
                          "auth[application_token]", beside=("auth[access_token]", "auth[refresh_token]"))
        return [Endpoint("events", "/events", ("POST",), guarded(self._event, token), entity=Entity.ORDERS,
                         refuse=_error)]

    def _event(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        """An ``ONCRMDEAL…`` event: kept as it came, its tokens aside (the portal never sends it again), read on by
        decode."""
        deal_id = _EVENTS.read(request, inbound, _event_deal)
        if isinstance(deal_id, Response):
            return deal_id
        state = self.connector.context.state
        if state is not None and state.get(OWN_DEALS, deal_id) is not None:
            # The portal tells of hub's own writes too: a deal hub made for a channel's order is no phone order.
            # (One whose event outruns hub's note of it is refused when decoded, from its order key.)
            return json_response({"result": True})
        inbound.receive(Entity.ORDERS, _EVENTS.record(request, deal_id))
        return json_response({"result": True})


class CatalogStream(BatchWrite["Bitrix24Connector"]):
    """1C's goods as the CRM catalog's products, known by 1C's reference in ``xmlId``."""

    entity = Entity.CATALOG
    limit = BATCH_LIMIT

    def write_batch(self, records: Sequence[Record]) -> list[str | RecordError]:
        iblock = self.connector.catalog_iblock
        if not iblock:  # every good would be refused one by one, each a dead letter, for one missing setting
            raise ConfigError([f"sources.{self.connector.name}.catalog_iblock: not set, so goods are not written"],
                              hint="set it to the CRM catalog's iblockId (catalog.catalog.list), or send this "
                                   "source no catalog job")
        goods = [r for r in records if isinstance(r, Product)]
        known = self.connector.products([g.id for g in goods])
        commands: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for n, good in enumerate(goods):
            fields = {"iblockId": iblock, "name": good.name, "xmlId": good.id, "code": good.article or good.id,
                      "active": "N" if good.deleted else "Y"}
            commands[str(n)] = ("catalog.product.update", {"id": known[good.id], "fields": fields}) \
                if good.id in known else ("catalog.product.add", {"fields": fields})
        written = self.connector.client.batch(commands)
        outcome: list[str | RecordError] = []
        for n, good in enumerate(goods):
            result = written.get(str(n))
            if isinstance(result, CallError):
                outcome.append(RecordError(f"Bitrix24 refused the product: {result}"))
            else:
                element = result.get("element") if isinstance(result, Mapping) else None
                outcome.append(known.get(good.id) or str((element or {}).get("id", "")))
        return outcome


class PricesStream(BatchWrite["Bitrix24Connector"]):
    """Prices of one price type (``price_type``) of the CRM catalog's products (the prices job names each by the
    product id the catalog stream wrote): the prices held are listed first, so each is updated, never added twice."""

    entity = Entity.PRICES
    limit = BATCH_LIMIT

    def write_batch(self, records: Sequence[Record]) -> list[str | RecordError]:
        prices = [r for r in records if isinstance(r, PriceEntry)]
        group = self.connector.price_type
        held: dict[str, str] = {}
        for page in self.connector.client.pages("catalog.price.list", {
                "select": ["id", "productId"],
                "filter": {"catalogGroupId": group, "@productId": [p.product for p in prices]}}, rows="prices"):
            held.update({str(price["productId"]): str(price["id"]) for price in page})
        commands: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for n, price in enumerate(prices):
            fields = {"productId": price.product, "catalogGroupId": group, "price": str(price.amount),
                      "currency": price.currency}
            commands[str(n)] = ("catalog.price.update", {"id": held[price.product], "fields": fields}) \
                if price.product in held else ("catalog.price.add", {"fields": fields})
        written = self.connector.client.batch(commands)
        return [RecordError(f"Bitrix24 refused the price: {result}") if isinstance(result := written.get(str(n)),
                                                                                   CallError) else price.product
                for n, price in enumerate(prices)]


class Bitrix24Connector(StreamConnector):
    """A Bitrix24 portal's CRM: contacts, deals, goods and prices; managers' deals back as orders."""

    type_name = "bitrix24"
    settings_model = Bitrix24Settings
    streams: ClassVar = (CustomersStream, OrdersStream, CatalogStream, PricesStream)

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, Bitrix24Settings)
        mappings = context.mapping_set({Entity.CUSTOMERS: "bitrix24/customers.out.yaml",
                                        Entity.ORDERS: "bitrix24/orders.out.yaml"},
                                       hint="hub mappings check lists them; docs/bitrix24.md has the fields")
        self.contacts, self.deals = mappings[Entity.CUSTOMERS], mappings[Entity.ORDERS]
        self.stages = _stages(self.deals)
        self.order_key = _match_by(self.deals)
        self.customer_key = _match_by(self.contacts)
        self.counterparty_field = self.contacts.options.get("counterparty")
        self.page_size = settings.page_size
        self.deals_to_orders = settings.deals_to_orders
        self.application_token = settings.application_token
        self.catalog_iblock = settings.catalog_iblock
        self.price_type = settings.price_type
        rate = settings.rate_limit or PLANS[settings.plan]
        http = context.http(settings.model_copy(update={"rate_limit": rate}), settings.url)
        add_secrets([part for part in urlsplit(settings.url).path.split("/")[3:4] if part])  # the webhook's secret
        tokens = None
        if settings.client_id is not None:
            tokens = TokenAuth(lambda: self._refresh(settings), clock=http.clock.monotonic)
        self.client = Bitrix24Client(http, tokens=tokens, budget=OperatingBudget(settings.operating_budget, http.clock),
                                     page=settings.page_size)

    @classmethod
    def sandbox(cls) -> Bitrix24Sandbox:
        # An Enterprise portal: `hub demo` and `hub sandbox` push a café's catalog without a minute of waiting for a
        # standard plan's 2 requests a second (the tests hold hub to that plan on a sandbox of their own).
        per_second, burst = ENTERPRISE
        return Bitrix24Sandbox(per_second=per_second, burst=burst)

    def check(self) -> str:
        profile = self.client.call("profile", read=True).result
        return f"Bitrix24 answers as user {profile.get('ID', '?') if isinstance(profile, dict) else '?'}"

    def close(self) -> None:
        self.client.http.close()

    # --- what the streams share ------------------------------------------------------------------

    def contact_fields(self, customer: Customer, key: str, *, held: Mapping[str, Any] | None) -> dict[str, Any]:
        """A contact's fields through its mapping; phones and emails against what the portal ``held``: each value
        hub sends that it lacks is added, none is removed (a manager may have added one); ``typeId`` always sent."""
        fields: dict[str, Any] = {**self.contacts.apply(customer, links=self.context.links), self.customer_key: key}
        # The customers job hands each counterparty over with 1C's id alone; a channel's guest comes without ids.
        counterparty = next(iter(customer.ids.values()), None)
        if counterparty and self.counterparty_field:
            fields[str(self.counterparty_field)] = counterparty
        wanted = [("PHONE", p, "MOBILE") for p in customer.phones] + [("EMAIL", e, "HOME") for e in customer.emails]
        fm = added_values((held or {}).get("fm") or [], wanted)
        if fm:
            fields["fm"] = fm
        return {name: value for name, value in fields.items() if value is not None}

    def moves_forward(self, stage: str, status: OrderStatus) -> bool:
        """Whether a deal at ``stage`` may move to ``status``'s stage: a stage the map does not know (a manager's
        own) is left as it is."""
        current = self.stage_status(stage)
        return stage == "" or (current is not None and current != status and moves_forward(current, status))

    def stage_status(self, stage: str) -> OrderStatus | None:
        return next((status for status, name in self.stages.items() if name == stage), None)

    def products(self, refs: Sequence[str]) -> dict[str, str]:
        """1C reference → the product's id, of those the CRM catalog holds."""
        found: dict[str, str] = {}
        wanted = sorted(set(refs))
        for first in range(0, len(wanted), self.page_size):
            for page in self.client.pages("catalog.product.list", {
                    "select": ["id", "iblockId", "xmlId"],
                    "filter": {"iblockId": self.catalog_iblock, "@xmlId": wanted[first:first + self.page_size]}},
                    rows="products"):
                found.update({str(p["xmlId"]): str(p["id"]) for p in page})
        return found

    def _refresh(self, settings: Bitrix24Settings) -> tuple[str, float]:
        """A new access token for the latest refresh token, the new pair kept in the channel's state first.

        The kept refresh token descends from the one in the settings; when the settings name another (the
        application was installed again after its token was lost), that one is taken, not the spent one kept."""
        state = self.context.state
        kept = state.get("oauth", "refresh_token") if state is not None else None
        origin = state.get("oauth", "from") if state is not None else None  # None: kept before hub noted it
        given = hashlib.sha256((settings.refresh_token or "").encode()).hexdigest()
        latest = kept if kept and origin in (None, given) else settings.refresh_token
        answer = self.client.http.get(settings.oauth_url, params={
            "grant_type": "refresh_token", "client_id": settings.client_id, "client_secret": settings.client_secret,
            "refresh_token": latest}, with_token=False)
        try:
            data = json_loads(answer.content)
            access, refresh, life = str(data["access_token"]), str(data["refresh_token"]), float(data["expires_in"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(f"Bitrix24's OAuth server answered without a token pair: {exc}") from None
        add_secrets([access, refresh])
        if state is not None:  # a refresh token is spent once used: lose the new one and the app must be re-installed
            state.put_many("oauth", {"refresh_token": refresh, "from": given})
        return access, max(60.0, life - 60)


def added_values(held: Sequence[Mapping[str, Any]], wanted: Sequence[tuple[str, str, str]],
                 ) -> dict[str, dict[str, str]]:
    """The ``fm`` entries adding each wanted (type, value, value type) the contact lacks, as ``n0, n1…``, each with
    its ``typeId``. ``held`` as the portal reads it, camelCase (``crm.item``) or UPPER (``crm.contact``)."""
    present = {(kind := v.get("typeId", v.get("TYPE_ID")), _same(kind, str(v.get("value", v.get("VALUE", "")))))
               for v in held}
    fm: dict[str, dict[str, str]] = {}
    for kind, value, value_type in wanted:
        if (kind, _same(kind, value)) not in present:
            fm[f"n{len(fm)}"] = {"typeId": kind, "valueType": value_type, "value": value}
            present.add((kind, _same(kind, value)))
    return fm


def _same(kind: Any, value: str) -> str:
    """A value as hub compares it: a phone in E.164 (a manager types 8 916…), an email lower-cased."""
    try:
        return normalize_phone(value) if kind == "PHONE" else normalize_email(value) if kind == "EMAIL" else value
    except ValueError:
        return comparable(value)


def _row(line: OrderLine) -> dict[str, Any]:
    """A product row: free text (PRODUCT_ID 0), since a channel's goods need not be in the CRM catalog."""
    row: dict[str, Any] = {"PRODUCT_ID": 0, "PRODUCT_NAME": line.name, "PRICE": str(line.unit_price),
                           "QUANTITY": str(line.quantity)}
    if line.discount and line.quantity:
        row.update(DISCOUNT_TYPE_ID=1, DISCOUNT_SUM=str((line.discount / line.quantity).quantize(Decimal("0.01"))))
    return row


def _match_by(mapping: CompiledMapping) -> str:
    if not mapping.match_by:
        raise ConfigError([f"{mapping.path}: match_by: missing"],
                          hint="name the user field that holds hub's key, so a record is found, never doubled")
    return mapping.match_by


def _stages(mapping: CompiledMapping) -> dict[OrderStatus, str]:
    """``options.stages``: hub's status → the deal's stage, in the order a deal moves."""
    stages = mapping.options.get("stages") or {}
    known = [status.value for status in OrderStatus]
    wrong = [str(k) for k in stages if str(k) not in known] if isinstance(stages, dict) else ["(not a mapping)"]
    if wrong:
        raise ConfigError([f"{mapping.path}: options.stages: {', '.join(wrong)} is not hub's order status"],
                          hint=f"the statuses are {', '.join(known)}")
    return {OrderStatus(str(status)): str(stage) for status, stage in stages.items()}


def _error(status: int, reason: str) -> Response:
    """The portal's error shape, for what hub refuses of its events."""
    return json_response({"error": "INVALID_REQUEST" if status < 500 else "INTERNAL_SERVER_ERROR",
                          "error_description": reason}, status)


def _event_deal(body: bytes) -> str:
    """The deal an ``ONCRMDEAL…`` event names; ValueError for anything else."""
    event = decode_query(body.decode("utf-8"))
    name = str(event.get("event", ""))
    deal = event.get("data", {}).get("FIELDS", {}).get("ID") if isinstance(event.get("data"), dict) else None
    if not name.upper().startswith("ONCRMDEAL") or not str(deal or "").isdigit():
        raise ValueError("expected an ONCRMDEAL… event with data[FIELDS][ID]")
    return str(deal)


_EVENTS = Webhook(Entity.ORDERS, _error, media=lambda mimetype: mimetype == FORM, expected=f"Content-Type {FORM}")


def _findbycomm(kind: str, values: list[str]) -> dict[str, Any]:
    return {"type": kind.upper(), "values": values, "entity_type": "CONTACT"}


def _first_contact(result: Any) -> str | None:
    ids = _contact_ids(result)
    return str(min(ids)) if ids else None  # the oldest of duplicates a person made by hand


def _contact_ids(result: Any) -> list[int]:
    """The contacts a ``crm.duplicate.findbycomm`` answer names (none: PHP's empty ``[]``, or a CallError)."""
    ids = result.get("CONTACT") if isinstance(result, Mapping) else None
    return [int(i) for i in ids] if isinstance(ids, list) else []


def _held_as(key: tuple[str, str]) -> tuple[str, str]:
    """A customer key (``phone``, value) as :func:`_holders` files a contact's value."""
    kind = key[0].upper()
    return kind, _same(kind, key[1])


def _holders(contacts: Mapping[int, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(type, value as compared) → the oldest of the read ``contacts`` holding it."""
    holders: dict[tuple[str, str], dict[str, Any]] = {}
    for _, contact in sorted(((i, c) for i, c in contacts.items() if isinstance(c, dict)), reverse=True):
        for value in contact.get("fm") or []:
            kind = value.get("typeId", value.get("TYPE_ID"))
            holders[kind, _same(kind, str(value.get("value", value.get("VALUE", ""))))] = contact
    return holders


def _customer_key(customer: Customer) -> tuple[str, str] | None:
    if customer.phones:
        return "phone", customer.phones[0]
    if customer.emails:
        return "email", customer.emails[0]
    return None


def _item(result: Any) -> dict[str, Any]:
    item = result.get("item") if isinstance(result, Mapping) else None
    return dict(item) if isinstance(item, Mapping) else {}


def _item_id(result: Any) -> str:
    item = _item(result)
    if "id" not in item:
        raise ProtocolError("Bitrix24 answered a write without the item's id")
    return str(item["id"])


def _ok(result: Any) -> Any:
    return None if isinstance(result, CallError) else result


def _order(channel: str, deal: Mapping[str, Any], rows: list[Mapping[str, Any]], contact: Mapping[str, Any] | None,
           stage_status: Any) -> Order:
    phones, emails = [], []
    for value in (contact or {}).get("fm") or []:
        # A manager types what they like ("нет", "см. комментарий"): a value that is no phone or email is left
        # out, rather than keeping the phone order from 1C.
        with contextlib.suppress(ValueError):
            if value.get("typeId") == "PHONE":
                phones.append(normalize_phone(str(value["value"])))
            elif value.get("typeId") == "EMAIL":
                emails.append(normalize_email(str(value["value"])))
    return Order.model_validate({
        "channel": channel, "external_id": str(deal["id"]), "number": str(deal["id"]),
        "created_at": dt.datetime.fromisoformat(str(deal["createdTime"])),
        "updated_at": dt.datetime.fromisoformat(str(deal["updatedTime"])) if deal.get("updatedTime") else None,
        "status": stage_status(str(deal.get("stageId", ""))) or OrderStatus.NEW,
        "customer": {"first_name": contact.get("name"), "last_name": contact.get("lastName"), "phones": phones,
                     "emails": emails, "ids": {channel: str(contact["id"])}} if contact else None,
        "lines": [{"product": str(row.get("PRODUCT_ID") or row.get("PRODUCT_NAME")), "name": row["PRODUCT_NAME"],
                   "quantity": Decimal(str(row["QUANTITY"])), "unit_price": Decimal(str(row["PRICE"])),
                   "sum": Decimal(str(row["PRICE"])) * Decimal(str(row["QUANTITY"]))} for row in rows],
        "total": Decimal(str(deal.get("opportunity") or 0)),
    })
