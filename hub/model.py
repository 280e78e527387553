"""The canonical model: what every connector reads into and writes from.

Connectors never talk to each other; they translate between their system and
these types (through mappings), and jobs move these types between connectors.
Money and quantities are :class:`~decimal.Decimal` (a float is refused, see
:func:`hub.values.to_decimal`); every datetime is timezone-aware. Fields carry
their documentation in ``description`` so ``hub`` can show it and the mapping
language (``docs/mappings.md``) can check canonical field names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from hub.values import money, normalize_email, normalize_phone, to_decimal

Amount = Annotated[Decimal, BeforeValidator(to_decimal)]
"""Money or a quantity: Decimal, built from Decimal, int or a numeric string, never a float."""

Phone = Annotated[str, BeforeValidator(normalize_phone)]
"""A phone number, normalised to E.164 on the way in."""

Email = Annotated[str, BeforeValidator(normalize_email)]
"""An email address, trimmed and lower-cased on the way in."""


class Entity(StrEnum):
    """The kinds of records hub moves."""

    ORDERS = "orders"
    STOCK = "stock"
    PRICES = "prices"
    CATALOG = "catalog"
    CUSTOMERS = "customers"
    COMPANY = "company"


class OrderStatus(StrEnum):
    """The one status vocabulary every channel's statuses map to (mappings hold the tables)."""

    NEW = "new"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    READY = "ready"
    IN_DELIVERY = "in_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """Nothing comes after it where the guest sees it (see :func:`moves_forward`)."""
        return self in (OrderStatus.CANCELLED, OrderStatus.DELIVERED)


class DeliveryType(StrEnum):
    """How the order reaches the guest."""

    COURIER = "courier"
    PICKUP = "pickup"
    DINE_IN = "dine_in"


class _Model(BaseModel):
    # Unknown fields are a bug in a mapping, not data to carry silently.
    model_config = ConfigDict(extra="forbid", validate_assignment=False, frozen=False)


class Product(_Model):
    """A good or a dish as 1C knows it."""

    id: str = Field(description="The product's id in the system the record came from (1C: Ref_Key).")
    article: str | None = Field(None, description="Article / SKU (1C: Артикул).")
    name: str = Field(description="Display name.")
    unit: str = Field("pcs", description="Unit of measure code as the source names it: pcs, kg, l, portion.")
    barcodes: list[str] = Field(default_factory=list, description="EAN/UPC or in-house barcodes.")
    group: str | None = Field(None, description="Id of the product group (folder) it belongs to.")
    vat_rate: Amount | None = Field(None, description=(
        "VAT rate in percent (20, 10, 0); None when the source gives none. A mapping may give `none` for a good "
        "sold without VAT (1C's БезНДС): it reads as vat_free."))
    vat_free: bool = Field(False, description=(
        "Sold without VAT (1C's БезНДС): a receipt prints VAT none, whatever the cash register's default rate."))
    weighed: bool = Field(False, description="Sold by weight: quantities are fractional kilograms.")
    deleted: bool = Field(False, description="Deleted or marked for deletion in its source.")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Extra attributes a business adds.")

    @model_validator(mode="before")
    @classmethod
    def _without_vat(cls, data: Any) -> Any:
        # A mapping's VAT table says `none` for "without VAT", a word an integrator reads better than a flag.
        if isinstance(data, dict) and data.get("vat_rate") == WITHOUT_VAT:
            return {**data, "vat_rate": None, "vat_free": True}
        return data


WITHOUT_VAT = "none"
"""What a catalog mapping gives as a good's ``vat_rate`` when the good is sold without VAT."""

TaxSystem = Literal["osn", "usn_income", "usn_income_outcome", "envd", "esn", "patent"]
"""Taxation system (tag 1055 of a receipt) in ATOL Online's words."""


class Company(_Model):
    """The organization a shop sells under, as a fiscal receipt names it (1C: Catalog_Организации).

    Every field may be empty: 1C's card may lack one (where a base keeps its tax system differs), and a company
    file or the cash register's settings fill what it leaves out (see :func:`hub.fiscal.issuer`).
    """

    inn: str | None = Field(None, pattern=r"^\d{10}(\d{2})?$", description="ИНН (tag 1018): 10 or 12 digits.")
    kpp: str | None = Field(None, description="КПП, for a legal entity.")
    name: str | None = Field(None, description="The organization's name (full where 1C has it).")
    tax_system: TaxSystem | None = Field(None, description="Taxation system (tag 1055): osn, usn_income…")
    payment_address: str | None = Field(None, description=(
        "Where settlements are made (tag 1187): the shop's site for online sales."))
    email: str | None = Field(None, description="The organization's email printed on receipts (tag 1117).")


class PriceEntry(_Model):
    """The price of a product under one price type."""

    product: str = Field(description="Product id.")
    price_type: str = Field(description="Price type id (1C: ВидЦены), e.g. retail or delivery.")
    amount: Amount = Field(description="Price per unit (per kilogram for weighed goods).")
    currency: str = Field("RUB", description="ISO 4217 currency code.")
    venue: str | None = Field(None, description="The channel venue this price is for; None means every venue.")


class StockLevel(_Model):
    """How much of a product one warehouse holds."""

    product: str = Field(description="Product id.")
    warehouse: str = Field(description="Warehouse id (1C: Склад).")
    quantity: Amount = Field(description="Quantity on hand in the product's unit; may be negative in 1C.")
    as_of: AwareDatetime = Field(description="When this balance was read.")


class Consents(_Model):
    """What the customer agreed to."""

    sms: bool = Field(False, description="Agreed to receive SMS.")
    email: bool = Field(False, description="Agreed to receive email.")
    personal_data: bool = Field(False, description="Agreed to personal data processing.")
    marketing: bool | None = Field(None, description=(
        "Agreed to marketing (mailings, offers; 152-FZ, 38-FZ); None: the channel does not say."))


class Customer(_Model):
    """A guest or a buyer. Personal data: masked in logs, shown only by ``hub customers show``."""

    first_name: str | None = Field(None, description="Given name.")
    last_name: str | None = Field(None, description="Family name.")
    middle_name: str | None = Field(None, description="Patronymic.")
    phones: list[Phone] = Field(default_factory=list, description="Phones in E.164, the first is the main one.")
    emails: list[Email] = Field(default_factory=list, description="Emails, lower-cased.")
    birthday: dt.date | None = Field(None, description="Date of birth.")
    consents: Consents = Field(default_factory=Consents, description="Marketing and data consents.")
    ids: dict[str, str] = Field(default_factory=dict, description="The customer's id in each system, by source.")
    attributes: dict[str, Any] = Field(default_factory=dict, description=(
        "What hub knows of the guest beyond contacts, for a CRM's own fields: segments, orders, spend."))

    def __repr__(self) -> str:  # names and contacts must not leak through a stray repr in a log
        return f"Customer(ids={self.ids!r}, phones={len(self.phones)}, emails={len(self.emails)})"


class Modifier(_Model):
    """An option added to an order line (extra cheese, size, no onions)."""

    product: str | None = Field(None, description="Product id of the modifier, if it is a good.")
    name: str = Field(description="Name as the guest saw it.")
    quantity: Amount = Field(Decimal(1), description="How many, for the whole line (not per unit of it).")
    unit_price: Amount = Field(Decimal(0), description="Price of one.")


class OrderLine(_Model):
    """One line of an order."""

    product: str = Field(description="Product id in the channel (resolved to 1C through id links).")
    name: str = Field(description="Name as the guest saw it.")
    quantity: Amount = Field(description="Quantity; fractional kilograms for weighed goods.")
    unit_price: Amount = Field(description="Price of one unit before the discount.")
    discount: Amount = Field(Decimal(0), description="Discount on the whole line, in money.")
    sum: Amount = Field(description="What the guest pays for the line: quantity × unit price − discount.")
    modifiers: list[Modifier] = Field(default_factory=list, description="Options added to the line.")


class Delivery(_Model):
    """How and when the order is handed over."""

    type: DeliveryType = Field(description="Courier, pickup or dine-in.")
    address: str | None = Field(None, description="Address as one line, for couriers.")
    time: AwareDatetime | None = Field(None, description="Promised hand-over time.")


class Payment(_Model):
    """One payment of an order."""

    method: str = Field(description="Payment method: cash, card, online, or a channel's own word via mapping.")
    amount: Amount = Field(description="Amount of this payment.")
    paid: bool = Field(False, description="Already paid (online prepayment) or to be collected.")


class Order(_Model):
    """An order from a channel, on its way into 1C (or a 1C order on its way back)."""

    channel: str = Field(description="Source name of the channel the order came from (hub.yaml).")
    external_id: str = Field(description="The order's id in the channel; with channel, the idempotency key.")
    number: str | None = Field(None, description="Human-facing order number.")
    created_at: AwareDatetime = Field(description="When the guest placed the order.")
    updated_at: AwareDatetime | None = Field(None, description="When the channel last changed it.")
    status: OrderStatus = Field(OrderStatus.NEW, description="Status in hub's vocabulary.")
    customer: Customer | None = Field(None, description="Who ordered.")
    lines: list[OrderLine] = Field(default_factory=list, description="What was ordered.")
    delivery: Delivery | None = Field(None, description="How it is handed over.")
    payments: list[Payment] = Field(default_factory=list, description="Payments made or due.")
    discount: Amount = Field(Decimal(0), description="Order-level discount in money, beyond line discounts.")
    total: Amount = Field(description="What the guest pays in all.")
    comment: str | None = Field(None, description="The guest's comment.")

    @property
    def key(self) -> str:
        """The idempotency key of this order across hub: ``channel:external_id``."""
        return f"{self.channel}:{self.external_id}"

    def paid_modifiers_as_lines(self, is_good: Callable[[str], bool]) -> Order:
        """This order with each paid modifier that ``is_good`` (by its product id) as a line of its own, after
        the line it belongs to: how a system without modifiers (1C's documents) holds it, so that its lines add
        up to the total. Free options (no onions) and those that are no good of its stay on their lines."""
        lines: list[OrderLine] = []
        for line in self.lines:
            paid = [m for m in line.modifiers if m.product is not None and m.unit_price > 0 and is_good(m.product)]
            lines.append(line.model_copy(update={"modifiers": [m for m in line.modifiers if m not in paid]}))
            lines += [OrderLine(product=m.product, name=m.name, quantity=m.quantity, unit_price=m.unit_price,
                                sum=money(m.quantity * m.unit_price)) for m in paid if m.product is not None]
        return self.model_copy(update={"lines": lines})


FORWARD = (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.IN_PROGRESS, OrderStatus.READY,
           OrderStatus.IN_DELIVERY, OrderStatus.DELIVERED)
"""The way an order goes; a status is news only if it is further along."""


def moves_forward(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether ``new`` is news to a side whose order is at ``current``: forward only, and a cancellation is kept."""
    if current.final:
        return False
    return new is OrderStatus.CANCELLED or FORWARD.index(new) > FORWARD.index(current)


CANONICAL_TYPES: dict[Entity, type[_Model]] = {
    Entity.ORDERS: Order,
    Entity.STOCK: StockLevel,
    Entity.PRICES: PriceEntry,
    Entity.CATALOG: Product,
    Entity.CUSTOMERS: Customer,
    Entity.COMPANY: Company,
}
"""The canonical record type of each entity."""

Record = Order | StockLevel | PriceEntry | Product | Customer | Company


def personal_names(entity: Entity, payload: str | bytes, *, address: bool = False) -> list[str]:
    """The names of the person a canonical record is about (an order's guest, a customer), for masking them
    in errors; with ``address``, an order's delivery address too, for masking a payload as a channel sent it.
    None when ``payload`` does not read as a record of ``entity``."""
    try:
        record = CANONICAL_TYPES[entity].model_validate_json(payload)
    except ValueError:  # pydantic's ValidationError is one
        return []
    person = record if isinstance(record, Customer) else getattr(record, "customer", None)
    names = [] if not isinstance(person, Customer) else \
        [name for name in (person.first_name, person.last_name, person.middle_name) if name]
    if address and isinstance(record, Order) and record.delivery is not None and record.delivery.address:
        names.append(record.delivery.address)
    return names


@dataclass(frozen=True)
class RawRecord:
    """One record as the system sent it: kept byte for byte in the inbox."""

    external_id: str
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
