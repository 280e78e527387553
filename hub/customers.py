"""One customer across channels: contacts and channel ids linked to one 1C counterparty.

A guest who orders on the website, then through Yandex Eda, then at the till is
one person. hub keeps that as id links to the counterparty in the system of
record, under the entity ``customers``:

* ``phone`` → counterparty, per E.164 phone;
* ``email`` → counterparty, per lower-cased email;
* ``<channel>`` → counterparty, per customer id in that channel;
* ``hub``/``customer_orders`` → counterparty, per order key (``shop:1001``): the
  order history across channels.

A customer is matched by phone, then email, then channel id. A new one becomes
a counterparty in 1C only where the orders job allows it
(``options: {create_customers: true}``); otherwise the order goes to 1C with the
retail customer its mapping names. When a phone or email is already linked to
another counterparty, 1C's link wins and the conflict is recorded as a
discrepancy (``customer_conflict``) for a person to look at. Likewise when a
channel knows a matched guest under another name than 1C does: 1C's data is
never overwritten from a channel, and the difference is recorded
(``customer_data_conflict``). The customers job keeps each counterparty as 1C
last showed it for that comparison.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl

from hub.connector import Connector, Mode
from hub.errors import ConfigError, HubError, RecordError
from hub.guests import GuestProfile, Rule, every_profile, figures, load_segments, profile_of, rebuild, record_order
from hub.jobrun import Planned, RunContext
from hub.logs import pii
from hub.model import Customer, Entity, Order
from hub.pipeline import snapshot
from hub.runtime import Runtime
from hub.state import Event, State
from hub.state.store import Fingerprints
from hub.streams import CustomerDetails, stream_of
from hub.values import json_dumps, normalize_email, normalize_phone, utcnow

log = logging.getLogger("hub.customers")
CUSTOMERS = Entity.CUSTOMERS.value
PHONE, EMAIL = "phone", "email"
ORDER_HISTORY = ("hub", "customer_orders")
AS_IN_1C = "customers_as_read"
"""Entity under which the customers job keeps each counterparty as the system of record last showed it."""
COMPARED = ("first_name", "last_name", "middle_name", "birthday")
"""(system, entity) of the links from an order key to its customer's counterparty."""


def contact_keys(channel: str | None, customer: Customer) -> list[tuple[str, str]]:
    """The (system, id) pairs a customer is known by, in matching order: phones, emails, channel id."""
    keys = [(PHONE, phone) for phone in customer.phones] + [(EMAIL, email) for email in customer.emails]
    if channel is not None and customer.ids.get(channel):
        keys.append((channel, customer.ids[channel]))
    return keys


class CustomerBook:
    """Finds, links and (where allowed) creates the counterparty of each customer."""

    def __init__(self, runtime: Runtime, ctx: RunContext) -> None:
        record = runtime.config.system_of_record
        if record is None:
            raise ConfigError(["customers need system_of_record in hub.yaml"])
        self.runtime = runtime
        self.ctx = ctx
        self.record = record

    def match(self, channel: str | None, customer: Customer) -> str | None:
        """The counterparty already linked to any of the customer's phones, emails or channel id."""
        with self.runtime.store.reading() as state:
            for system, value in contact_keys(channel, customer):
                ref = state.links.get(system, CUSTOMERS, value)
                if ref is not None:
                    return ref
        return None

    def resolve(self, order: Order, *, create: bool) -> str | None:
        """Link the order's customer (and the order) to a counterparty; None for an anonymous guest."""
        customer = order.customer
        if customer is None or not contact_keys(order.channel, customer):
            return None
        ref = matched = self.match(order.channel, customer)
        if ref is None and create:
            ref = self._create(order.channel, customer)
        if ref is not None:
            with self.runtime.store.transaction() as state:
                self._link(state, order.channel, customer, ref)
                counted = state.links.get(*ORDER_HISTORY, order.key) is not None
                state.links.put(*ORDER_HISTORY, order.key, ref)
                if not counted:  # an order is counted into its guest's profile once, when first linked
                    record_order(state, ref, order)
                self._compare(state, order.channel, customer, ref)
                state.events.add(Event(at=utcnow(), source=order.channel, entity=Entity.ORDERS.value, key=order.key,
                                       stage="customer", run_id=self.ctx.run_id or None,
                                       detail=f"{'matched to' if matched else 'new'} counterparty {ref}"))
        return ref

    def _compare(self, state: State, channel: str, customer: Customer, ref: str) -> None:
        """Record where the channel's data differs from 1C's (1C wins: nothing is written)."""
        known = state.fingerprints.payloads(self.record, AS_IN_1C, [ref]).get(ref)
        if known is None:
            return
        held = Customer.model_validate_json(known)
        differing = {name: {"1c": getattr(held, name), "channel": getattr(customer, name)} for name in COMPARED
                     if getattr(customer, name) is not None and getattr(held, name) is not None
                     and getattr(customer, name) != getattr(held, name)}
        if differing:
            state.discrepancies.add(source=channel, entity=CUSTOMERS, key=ref, kind="customer_data_conflict",
                                    detail=differing, run_id=self.ctx.run_id or None)

    def _create(self, channel: str, customer: Customer) -> str | None:
        connector = self.runtime.connector(self.record)
        if not connector.can(Entity.CUSTOMERS, Mode.WRITE):
            return None
        system, value = contact_keys(channel, customer)[0]
        key = f"{system}:{value}"
        try:
            ref = connector.find(Entity.CUSTOMERS, key)
            if ref is None:
                ref = connector.write(Entity.CUSTOMERS, customer, key=key, ref=None).ref
                log.info("new customer %s became counterparty %s", pii(value), ref)
        except RecordError as exc:
            self.ctx.errors.append(f"customer {key}: {exc}")
            return None
        return ref

    def _link(self, state: State, channel: str | None, customer: Customer, ref: str) -> None:
        for system, value in contact_keys(channel, customer):
            linked = state.links.get(system, CUSTOMERS, value)
            if linked is None:
                state.links.put(system, CUSTOMERS, value, ref)
            elif linked != ref:  # the record's link stands; a person decides which profile is right
                state.discrepancies.add(source=channel or self.record, entity=CUSTOMERS, key=value,
                                        kind="customer_conflict", detail={"linked": linked, "offered": ref},
                                        run_id=self.ctx.run_id or None)

    def refresh(self) -> None:
        """Link every phone and email of the system of record's counterparties (1C wins over earlier links)."""
        for customer in snapshot(self.runtime, self.ctx, self.record, Entity.CUSTOMERS):
            if not isinstance(customer, Customer) or self.record not in customer.ids:
                continue
            ref = customer.ids[self.record]
            with self.runtime.store.transaction() as state:
                state.fingerprints.put_many(self.record, AS_IN_1C, {ref: customer.model_dump_json()})
                for system, value in contact_keys(None, customer):
                    linked = state.links.get(system, CUSTOMERS, value)
                    if linked is None:
                        state.links.put(system, CUSTOMERS, value, ref)
                        self.ctx.counts.created += 1
                    elif linked != ref:
                        state.links.relink(system, CUSTOMERS, value, ref)
                        self.ctx.counts.updated += 1
                    else:
                        self.ctx.counts.unchanged += 1

    def push(self, target: str) -> None:
        """Every counterparty :meth:`refresh` read that has a phone, to ``target`` (a loyalty system such as
        iiko's, a CRM), change-only. A guest is looked up there by phone before hub creates one, so a guest the
        target already knows is updated, never doubled; the guest's id is linked to the counterparty. A target that
        takes customers in batches (Bitrix24: 50 a call) gets them so."""
        connector = self.runtime.connector(target)
        limit = connector.batch_limits.get(Entity.CUSTOMERS)
        with self.runtime.store.reading() as state:  # the target's guests hub linked, by counterparty
            linked = {ref: guest for guest, ref in state.links.all(target, CUSTOMERS).items()}
        after = ""
        while True:
            with self.runtime.store.reading() as state:
                page = state.fingerprints.page(self.record, AS_IN_1C, after=after)
                known = state.fingerprints.get_many(target, CUSTOMERS, [ref for ref, _ in page])
            if not page:
                return
            due = [(ref, told) for ref, payload in page
                   if (told := self._due(target, Customer.model_validate_json(payload), known=known.get(ref),
                                         linked=linked.get(ref))) is not None]
            if limit is not None:
                for first in range(0, len(due), limit):
                    self._push_many(connector, target, due[first:first + limit])
            else:
                for ref, told in due:
                    guest = self._push_one(connector, target, ref, told, linked=linked.get(ref))
                    if guest is not None:
                        linked.setdefault(ref, guest)
            after = page[-1][0]
            self.ctx.checkpoint()

    def _due(self, target: str, customer: Customer, *, known: str | None, linked: str | None) -> Customer | None:
        """The counterparty as ``target`` is told it, unless it is as last pushed (or this is a dry run)."""
        if not customer.phones:
            return None  # loyalty systems know their guests by phone
        told = customer.model_copy(update={"ids": {}})  # compared without 1C's ids: they are not the guest's data
        if known == Fingerprints.of(told.model_dump_json()):
            self.ctx.counts.unchanged += 1
            return None
        if self.ctx.dry_run:
            self.ctx.planned.append(Planned(target, f"{PHONE}:{customer.phones[0]}",
                                            "update" if linked or known else "create"))
            return None
        return told

    def _push_one(self, connector: Connector, target: str, ref: str, told: Customer, *,
                  linked: str | None) -> str | None:
        """Write one counterparty to ``target``; the guest's id when written."""
        key = f"{PHONE}:{told.phones[0]}"
        try:
            # The counterparty's id goes along: a CRM keeps it on the contact (a POS ignores it).
            result = connector.write(Entity.CUSTOMERS, told.model_copy(update={"ids": {self.record: ref}}), key=key,
                                     ref=linked or connector.find(Entity.CUSTOMERS, key))
        except RecordError as exc:
            self.ctx.counts.failed += 1
            self.ctx.errors.append(f"{target} customer {pii(told.phones[0])}: {exc}")
            return None
        self._pushed(target, ref, told, result.ref, created=result.action == "created")
        return result.ref

    def _push_many(self, connector: Connector, target: str, due: list[tuple[str, Customer]]) -> None:
        """Write counterparties to ``target`` in one batch; the target finds each by phone before it creates one."""
        outcomes = connector.write_batch(Entity.CUSTOMERS, [told.model_copy(update={"ids": {self.record: ref}})
                                                            for ref, told in due])
        for (ref, told), outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, RecordError):
                self.ctx.counts.failed += 1
                self.ctx.errors.append(f"{target} customer {pii(told.phones[0])}: {outcome}")
                continue
            with self.runtime.store.reading() as state:
                created = state.links.get(target, CUSTOMERS, outcome) is None
            self._pushed(target, ref, told, outcome, created=created)

    def _pushed(self, target: str, ref: str, told: Customer, guest: str, *, created: bool) -> None:
        with self.runtime.store.transaction() as state:
            state.fingerprints.put_many(target, CUSTOMERS, {ref: told.model_dump_json()})
            if state.links.get(target, CUSTOMERS, guest) is None:
                state.links.put(target, CUSTOMERS, guest, ref)
        if created:
            self.ctx.counts.created += 1
        else:
            self.ctx.counts.updated += 1


@dataclass
class Profile:
    """What hub knows of one person: the counterparty, contacts, channel ids and orders from every channel."""

    ref: str
    contacts: list[tuple[str, str]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Mapping[str, str]] = field(default_factory=dict)
    """What each channel that knows the person holds beyond hub's fields (loyalty wallets), by source."""
    figures: GuestProfile | None = None
    """The guest's running profile: orders and spend per channel, favourite goods, segments."""


def contact_of(phone_or_email: str) -> tuple[str, str]:
    """(``phone``, E.164) or (``email``, lower-cased) as a person typed it; ConfigError when it is neither."""
    try:
        return (EMAIL, normalize_email(phone_or_email)) if "@" in phone_or_email else \
            (PHONE, normalize_phone(phone_or_email))
    except ValueError as exc:
        raise ConfigError([f"{phone_or_email!r}: {exc}"], hint="give a phone (+7 916 …) or an email") from None


def _guest(state: State, phone_or_email: str) -> str:
    system, value = contact_of(phone_or_email)
    ref = state.links.get(system, CUSTOMERS, value)
    if ref is None:
        raise ConfigError([f"no customer with {system} {value}"],
                          hint="customers are linked when their orders reach 1C, or by the customers job")
    return ref


def profile(runtime: Runtime, phone_or_email: str) -> Profile:
    """The profile of the person with this phone or email; ConfigError when hub knows nobody by it."""
    with runtime.store.transaction() as state:
        ref = _guest(state, phone_or_email)
        linked = state.links.linked_to(CUSTOMERS, ref)
        order_keys = [key for system_, key in state.links.linked_to(ORDER_HISTORY[1], ref)
                      if system_ == ORDER_HISTORY[0]]
        orders = []
        for key in order_keys:
            channel, _, external_id = key.partition(":")
            document = state.links.get(channel, Entity.ORDERS.value, external_id)
            orders.append({"order": key, "channel": channel, "document": document})
        running = profile_of(state, ref)
    facts: dict[str, Mapping[str, str]] = {}
    for system, external_id in linked:
        if system in runtime.config.sources:
            try:
                customers = stream_of(runtime.connector(system), Entity.CUSTOMERS)
                told = customers.about(external_id) if isinstance(customers, CustomerDetails) else {}
            except HubError as exc:  # the profile is still worth showing without this channel's part
                told = {"unavailable": str(exc)}
            if told:
                facts[system] = told
    return Profile(ref=ref, contacts=linked, orders=orders, facts=facts, figures=running)


FORGOTTEN_BODY = b'{"forgotten": "personal data removed on the guest\'s request (152-FZ)"}'


@dataclass
class Forgotten:
    """What ``hub customers forget`` did, and where the guest's data still is."""

    anonymous: str
    """The id the guest's order totals are kept under now."""
    contacts: int
    orders: int
    still_held: list[str]


def forget(runtime: Runtime, phone_or_email: str, *, user: str) -> Forgotten:
    """Remove the guest's personal data from hub's state (152-FZ, art. 21): contacts and channel ids, names in the
    counterparty hub read, the guest in their orders' payloads, received bodies and dead letters, discrepancies
    quoting them.
    Order totals stay, under an anonymous id, in the figures. What other systems hold is listed, not touched:
    erasing a counterparty in 1C or a contact in a CRM is a person's decision there."""
    record = runtime.config.system_of_record
    with runtime.store.transaction() as state:
        ref = _guest(state, phone_or_email)
        anonymous = f"anon:{secrets.token_hex(8)}"
        contacts = state.links.linked_to(CUSTOMERS, ref)
        for system, value in contacts:
            state.links.unlink(system, CUSTOMERS, value)
        order_keys = [key for system, key in state.links.linked_to(ORDER_HISTORY[1], ref)
                      if system == ORDER_HISTORY[0]]
        for key in order_keys:
            state.links.relink(*ORDER_HISTORY, key, anonymous)
            for payload in state.outbox.payloads(Entity.ORDERS.value, key)[-1:]:
                order = Order.model_validate_json(payload)
                delivery = order.delivery and order.delivery.model_copy(update={"address": None})
                state.outbox.rewrite(Entity.ORDERS.value, key, order.model_copy(
                    update={"customer": None, "delivery": delivery, "comment": None}).model_dump_json())
            channel, _, external_id = key.partition(":")
            for item in state.inbox.named(external_id, channel):
                state.inbox.scrub(item.id, FORGOTTEN_BODY)
            state.dead_letters.scrub(channel, external_id, FORGOTTEN_BODY)
        for source in {record, *runtime.config.sources} - {None}:
            for entity in (AS_IN_1C, CUSTOMERS, SEGMENTS_TOLD):
                state.fingerprints.drop(str(source), entity, [ref])
        state.discrepancies.forget(CUSTOMERS, [ref, *(value for _, value in contacts)])
        kept = profile_of(state, ref)
        if kept is not None:
            state.guests.rename(ref, anonymous)
            kept.guest, kept.consent, kept.consent_at = anonymous, None, None
            state.guests.put(kept.row())
        state.audit.add(user=user, role="admin", action="forget guest", subject=anonymous)
    still = [f"{record}: counterparty {ref}"] if record else []
    still += [f"{system}: customer {value}" for system, value in contacts if system in runtime.config.sources]
    channels = sorted({key.partition(":")[0] for key in order_keys})
    still += [f"{channel}: the guest's orders there" for channel in channels]
    log.info("forgot a guest (now %s, %d order(s))", anonymous, len(order_keys))
    return Forgotten(anonymous=anonymous, contacts=len(contacts), orders=len(order_keys), still_held=still)


# --- the guests' segments where people act on them ----------------------------------------------

SEGMENTS_TOLD = "guest_segments"
"""Fingerprint entity: each guest's segments and figures as last written to a target."""


def guest_as_told(state: State, record: str, guest: GuestProfile, tz: dt.tzinfo) -> Customer | None:
    """The guest as a CRM or a mailing list is told: 1C's counterparty as last read (else the phones and emails
    hub linked to it), with the profile's figures; None when hub has no phone or email to find the guest by."""
    held = state.fingerprints.payloads(record, AS_IN_1C, [guest.guest]).get(guest.guest)
    customer = Customer.model_validate_json(held) if held else Customer()
    if not customer.phones and not customer.emails:
        contacts = state.links.linked_to(CUSTOMERS, guest.guest)
        customer = customer.model_copy(update={"phones": [v for s, v in contacts if s == PHONE],
                                               "emails": [v for s, v in contacts if s == EMAIL]})
    if not customer.phones and not customer.emails:
        return None
    return customer.model_copy(update={"ids": {record: guest.guest}, "attributes": figures(guest, tz)})


def deliver_segments(runtime: Runtime, ctx: RunContext, target: str) -> None:
    """Each guest's segments and key figures to ``target``'s contact (Bitrix24's fields, through its customers
    mapping), only where they changed since last written; a contact is found by phone or email before one is
    created, and linked to the counterparty."""
    record = runtime.config.system_of_record
    assert record is not None  # the segments job's source is the system of record
    connector = runtime.connector(target)
    with runtime.store.reading() as state:
        linked = {ref: guest for guest, ref in state.links.all(target, CUSTOMERS).items()}
    for guest in every_profile(runtime.store):
        with runtime.store.reading() as state:
            told = guest_as_told(state, record, guest, runtime.config.timezone)
            known = state.fingerprints.get_many(target, SEGMENTS_TOLD, [guest.guest]).get(guest.guest)
        if told is None:
            continue
        payload = json_dumps(told.attributes)
        if known == Fingerprints.of(payload):
            ctx.counts.unchanged += 1
            continue
        key = f"{PHONE}:{told.phones[0]}" if told.phones else f"{EMAIL}:{told.emails[0]}"
        if ctx.dry_run:
            ctx.planned.append(Planned(target, key, "update"))
            continue
        try:
            result = connector.write(Entity.CUSTOMERS, told, key=key,
                                     ref=linked.get(guest.guest) or connector.find(Entity.CUSTOMERS, key))
        except RecordError as exc:
            ctx.counts.failed += 1
            ctx.errors.append(f"{target} guest {pii(key)}: {exc}")
            continue
        with runtime.store.transaction() as state:
            state.fingerprints.put_many(target, SEGMENTS_TOLD, {guest.guest: payload})
            if state.links.get(target, CUSTOMERS, result.ref) is None:
                state.links.put(target, CUSTOMERS, result.ref, guest.guest)
        linked.setdefault(guest.guest, result.ref)
        ctx.counts.updated += 1
        ctx.checkpoint()


EXPORT_COLUMNS = ("first_name", "last_name", "phone", "email", "segments", "orders", "spend", "average_check",
                  "first_order", "last_order", "favourites")


def export_guests(runtime: Runtime, path: Path) -> tuple[int, bool]:
    """The guests who agreed to marketing, with their segments and figures, for a mailing service at ``path``: an
    XLSX workbook when its name ends ``.xlsx``, else a CSV; rewritten only when its content changed. (Rows, whether
    the file was written.)"""
    record = runtime.config.system_of_record
    assert record is not None
    table = [list(EXPORT_COLUMNS)]
    for guest in every_profile(runtime.store):
        if guest.consent is not True:  # 152-FZ, 38-FZ: no mailing without the guest's consent
            continue
        with runtime.store.reading() as state:
            told = guest_as_told(state, record, guest, runtime.config.timezone)
        if told is None:
            continue
        shown = {"first_name": told.first_name, "last_name": told.last_name,
                 "phone": told.phones[0] if told.phones else None, "email": told.emails[0] if told.emails else None,
                 **told.attributes}
        table.append(["" if shown[c] is None else str(shown[c]) for c in EXPORT_COLUMNS])
    if path.is_file() and _table_in(path) == table:
        return len(table) - 1, False
    temporary = path.with_name(path.name + ".tmp")
    if path.suffix.lower() == ".xlsx":
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("guests")
        for row in table:
            sheet.append(row)
        book.save(temporary)
    else:
        out = io.StringIO()
        csv.writer(out).writerows(table)
        temporary.write_text(out.getvalue(), encoding="utf-8")
    temporary.replace(path)  # a mailing service reading it meanwhile sees the old file or the new, never half
    return len(table) - 1, True


def _table_in(path: Path) -> list[list[str]]:
    """The rows of an export written before (an XLSX's cells as text, as they were written)."""
    if path.suffix.lower() != ".xlsx":
        with path.open(encoding="utf-8", newline="") as file:
            return list(csv.reader(file))
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return [["" if cell is None else str(cell) for cell in row] for row in book.worksheets[0].iter_rows(
            values_only=True)]
    finally:
        book.close()


def segment_rules(runtime: Runtime) -> dict[str, Rule]:
    """The rules the (first) segments job of hub.yaml reads; hub's own when it names none or there is none."""
    for job in runtime.config.jobs.values():
        if job.type == "segments" and job.options.get("rules"):
            folder = runtime.config.file.parent if runtime.config.file else Path()
            return load_segments(folder / str(job.options["rules"]))
    return load_segments()


def rebuild_profiles(runtime: Runtime) -> int:
    """Every guest's profile again from the whole order history hub holds (``hub customers rebuild``); how many."""
    with runtime.store.reading() as state:
        history = state.links.all(*ORDER_HISTORY)

    def orders() -> Iterator[tuple[str, Order]]:
        for key, guest in history.items():
            with runtime.store.reading() as state:
                payloads = state.outbox.payloads(Entity.ORDERS.value, key)
            if payloads:
                yield guest, Order.model_validate_json(payloads[-1])

    return rebuild(runtime.store, orders())
