"""iiko orders (deliveries and hall orders) read into hub's canonical :class:`~hub.model.Order`.

iikoCloud returns both kinds wrapped in an ``OrderInfo``::

    {"id": …, "organizationId": …, "timestamp": 1566650122, "creationStatus": "Success",
     "errorInfo": null, "order": {"status": "Closed", "sum": 530, "number": 42, "items": [...], "payments": [...]}}

the same object ``/deliveries/by_id``, ``/deliveries/by_revision``,
``/order/by_table`` and the ``DeliveryOrderUpdate``/``TableOrderUpdate``
webhooks carry. :func:`decode_order` turns one into an :class:`Order`:

* **lines**: each item not deleted at the POS. A ``Product`` item is one line; a
  ``Compound`` (half-and-half pizza) is a line per half; a ``Service`` (delivery
  fee) is a line too. A product sold in a size gets the line product key
  ``<productId>:<sizeId>`` (:func:`product_key`), the same key the menu gives it, so
  that id links tell the sizes apart; the size name is added to the line name;
* **money**: iiko's ``price`` is per unit, ``resultSum`` what the guest pays for
  the item after discounts and surcharges (``cost`` when ``resultSum`` is absent).
  A line's discount is ``amount × price − resultSum`` (negative for a surcharge).
  Modifiers are listed on their line at their own price; what the order's
  ``sum`` is below the lines and modifiers together is the order-level discount.
  Everything is :class:`~decimal.Decimal`, rounded to kopecks;
* **weighed goods**: iiko counts them in the product's measure unit, kilograms as
  a rule; given the menu's units (``units``), amounts in grams are turned into
  kilograms and their prices into prices per kilogram;
* **times**: iiko writes them in the terminal's local time without an offset;
  ``timezone`` is that wall clock;
* **statuses**: :data:`DELIVERY_STATUS` and :data:`TABLE_STATUS` map iiko's words
  to hub's; an order is *closed* (a sale for the books) at ``Closed``
  (:func:`is_closed`);
* **payments**: method by iiko's payment kind (:data:`PAYMENT_METHODS`), paid when
  the order is closed or the payment was processed outside the POS (prepaid online).

An ``OrderInfo`` that is not an order yet (``creationStatus`` ``InProgress`` or
``Error``) raises :class:`~hub.errors.InvalidRecord`, as does a missing field
the canonical order needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from connectors.iiko._wire import datetime_or_none, decimal, integer, member, objects, text
from hub.errors import InvalidRecord
from hub.model import Customer, Delivery, DeliveryType, Modifier, Order, OrderLine, OrderStatus, Payment
from hub.values import money, normalize_phone

OrderKind = Literal["delivery", "table"]

DELIVERY_STATUS: Final[dict[str, OrderStatus]] = {
    "Unconfirmed": OrderStatus.NEW,
    "WaitCooking": OrderStatus.ACCEPTED,
    "ReadyForCooking": OrderStatus.ACCEPTED,
    "CookingStarted": OrderStatus.IN_PROGRESS,
    "CookingCompleted": OrderStatus.READY,
    "Waiting": OrderStatus.READY,
    "OnWay": OrderStatus.IN_DELIVERY,
    "Delivered": OrderStatus.DELIVERED,
    "Closed": OrderStatus.DELIVERED,
    "Cancelled": OrderStatus.CANCELLED,
}
"""iiko delivery statuses in hub's vocabulary (``Waiting``: cooked, waiting for the courier)."""

TABLE_STATUS: Final[dict[str, OrderStatus]] = {
    "New": OrderStatus.IN_PROGRESS,
    "Bill": OrderStatus.READY,
    "Closed": OrderStatus.DELIVERED,
    "Deleted": OrderStatus.CANCELLED,
}
"""iiko hall order statuses: an open table is being served, ``Bill`` is the printed guest bill."""

SERVICE_TYPES: Final[dict[str, DeliveryType]] = {
    "DeliveryByCourier": DeliveryType.COURIER,
    "DeliveryByClient": DeliveryType.PICKUP,
    "Common": DeliveryType.DINE_IN,
}

PAYMENT_METHODS: Final[dict[str, str]] = {
    "Cash": "cash",
    "Card": "card",
    "External": "online",
    "IikoCard": "loyalty",
    "LoyaltyCard": "loyalty",
}
"""iiko payment kinds as hub payment methods; other kinds pass lower-cased (``credit``, ``writeoff``…)."""

GRAM_UNITS: Final = frozenset({"г", "гр", "g", "gr", "gram", "грамм"})
"""Measure units (lower-cased) whose amounts are turned into kilograms."""

_KILO: Final = Decimal(1000)


def product_key(product_id: str, size_id: str | None) -> str:
    """The product key of an order line or menu entry: the product id, with ``:<sizeId>`` when sold in a size."""
    return f"{product_id}:{size_id}" if size_id else product_id


def order_kind(info: Mapping[str, Any]) -> OrderKind:
    """Whether an ``OrderInfo`` is a hall order (it lists tables or has a tab) or a delivery."""
    order = info.get("order")
    if isinstance(order, Mapping) and ("tableIds" in order or "tabName" in order or "waiter" in order):
        return "table"
    return "delivery"


def is_closed(info: Mapping[str, Any]) -> bool:
    """Whether the order is closed at the POS: paid and done, a sale for the books."""
    order = info.get("order")
    return info.get("creationStatus") == "Success" and isinstance(order, Mapping) and order.get("status") == "Closed"


def decode_order(info: Mapping[str, Any], *, channel: str, timezone: ZoneInfo, kind: OrderKind | None = None,
                 units: Mapping[str, str] | None = None) -> Order:
    """One ``OrderInfo`` as a canonical order of ``channel``; ``units`` maps product ids to menu measure units.

    ``kind`` is guessed by :func:`order_kind` when not given. Raises
    :class:`~hub.errors.InvalidRecord` for an order iiko has not created (yet) or
    one that lacks what a canonical order needs.
    """
    order_id = text(info.get("id"))
    if order_id is None:
        raise InvalidRecord("iiko order: no id")
    status_word = text(info.get("creationStatus"))
    order = info.get("order")
    if status_word != "Success" or not isinstance(order, Mapping):
        reason = _creation_error(info.get("errorInfo"))
        raise InvalidRecord(f"iiko order {order_id} is not created: creationStatus {status_word or 'missing'}"
                            + (f" ({reason})" if reason else ""))
    kind = kind or order_kind(info)
    where = f"iiko {kind} order {order_id}"
    statuses = TABLE_STATUS if kind == "table" else DELIVERY_STATUS
    word = text(order.get("status"))
    if word not in statuses:
        raise InvalidRecord(f"{where}: unknown status {word!r}")
    created = _when(order, ("whenCreated", "whenReceivedFromFront", "whenReceivedByApi"), timezone)
    if created is None:
        raise InvalidRecord(f"{where}: no creation time")
    total = decimal(order.get("sum"))
    if total is None:
        raise InvalidRecord(f"{where}: no sum")
    lines = [line for item in objects(order.get("items")) if not item.get("deleted")
             for line in _lines(item, units or {}, where)]
    goods = sum((line.sum + sum((_modifier_sum(m) for m in line.modifiers), Decimal(0)) for line in lines),
                Decimal(0))
    total = money(total)
    return Order(
        channel=channel,
        external_id=order_id,
        number=str(number) if (number := integer(order.get("number"))) is not None else text(order.get("number")),
        created_at=created,
        updated_at=_timestamp(info.get("timestamp")),
        status=statuses[word],
        customer=_customer(order),
        lines=lines,
        delivery=_delivery(order, kind, timezone),
        payments=_payments(order, closed=word == "Closed"),
        discount=max(Decimal(0), money(goods - total)),
        total=total,
        comment=text(order.get("comment")),
    )


# --- parts ---------------------------------------------------------------------------------------


def _lines(item: Mapping[str, Any], units: Mapping[str, str], where: str) -> list[OrderLine]:
    kind = text(item.get("type")) or "Product"
    amount = decimal(item.get("amount"))
    if amount is None:
        raise InvalidRecord(f"{where}: an item without an amount")
    size = member(item, "size") or None
    if kind == "Compound":
        halves = [part for part in (item.get("primaryComponent"), item.get("secondaryComponent"))
                  if isinstance(part, Mapping)]
        if not halves:
            raise InvalidRecord(f"{where}: a compound item without components")
        # [U] iiko does not say how a half's price relates to the whole: each half is taken as its own line of
        # amount / halves, priced as iiko priced it, and its resultSum is what counts.
        share = amount / len(halves)
        lines = [_line(part, "product", amount=share, size=size, units=units, where=where) for part in halves]
        common = [_modifier(m) for m in objects(item.get("commonModifiers")) if not m.get("deleted")]
        return [lines[0].model_copy(update={"modifiers": [*lines[0].modifiers, *common]}), *lines[1:]]
    return [_line(item, "service" if kind == "Service" else "product", amount=amount, size=size, units=units,
                  where=where)]


def _line(part: Mapping[str, Any], key: str, *, amount: Decimal, size: Mapping[str, Any] | None,
          units: Mapping[str, str], where: str) -> OrderLine:
    product = member(part, key)
    product_id = text(product.get("id"))
    if product_id is None:
        raise InvalidRecord(f"{where}: an item without a {key} id")
    name = text(product.get("name")) or ""
    size_id = text(size.get("id")) if size else None
    size_name = text(size.get("name")) if size else None
    price = decimal(part.get("price"))
    paid = decimal(part.get("resultSum"))
    if paid is None:
        paid = decimal(part.get("cost"))
    if price is None:
        # a service (delivery fee) has no unit price, only its cost
        price = (paid or Decimal(0)) / amount if amount else Decimal(0)
    if paid is None:
        paid = amount * price
    if (units.get(product_id) or "").strip().lower() in GRAM_UNITS:
        amount, price = amount / _KILO, price * _KILO
    line_sum, unit_price = money(paid), money(price)
    return OrderLine(
        product=product_key(product_id, size_id),
        name=f"{name} ({size_name})" if size_name else name,
        quantity=amount,
        unit_price=unit_price,
        discount=money(amount * unit_price) - line_sum,
        sum=line_sum,
        modifiers=[_modifier(m) for m in objects(part.get("modifiers")) if not m.get("deleted")],
    )


def _modifier(item: Mapping[str, Any]) -> Modifier:
    product = member(item, "product")
    quantity = decimal(item.get("amount"))
    price = decimal(item.get("price"))
    if price is None:
        paid, count = decimal(item.get("resultSum")), quantity or Decimal(1)
        price = paid / count if paid is not None and count else Decimal(0)
    return Modifier(product=text(product.get("id")), name=text(product.get("name")) or "",
                    quantity=Decimal(1) if quantity is None else quantity, unit_price=money(price))


def _modifier_sum(modifier: Modifier) -> Decimal:
    return money(modifier.quantity * modifier.unit_price)


def _customer(order: Mapping[str, Any]) -> Customer | None:
    raw = member(order, "customer")
    phones = [phone for phone in (_phone(order.get("phone")),) if phone]
    if not raw and not phones:
        return None
    ids = {}
    # A one-time (aggregator) customer is not in iiko's base: its id, if any, links to nothing.
    customer_id = text(raw.get("id"))
    if customer_id and raw.get("type", "regular") == "regular":
        ids["iiko"] = customer_id
    born = datetime_or_none(raw.get("birthdate"), dt.UTC)
    return Customer(first_name=text(raw.get("name")), last_name=text(raw.get("surname")), phones=phones,
                    emails=[], birthday=born.date() if born else None, ids=ids)


def _phone(value: Any) -> str | None:
    written = text(value)
    if written is None:
        return None
    try:
        return normalize_phone(written)
    except ValueError:
        return None  # a placeholder such as "string" or "0": the order stays readable


def _delivery(order: Mapping[str, Any], kind: OrderKind, timezone: ZoneInfo) -> Delivery:
    if kind == "table":
        return Delivery(type=DeliveryType.DINE_IN)
    order_type = member(order, "orderType")
    service = SERVICE_TYPES.get(text(order_type.get("orderServiceType")) or "", DeliveryType.COURIER)
    point = member(order, "deliveryPoint")
    return Delivery(type=service, address=_address(point) if service is DeliveryType.COURIER else None,
                    time=_when(order, ("completeBefore",), timezone))


def _address(point: Mapping[str, Any]) -> str | None:
    address = member(point, "address")
    line1 = text(address.get("line1"))
    if line1:
        return line1
    street = member(address, "street")
    city = street.get("city")
    city_name = text(city.get("name")) if isinstance(city, Mapping) else text(city)
    parts = [city_name, text(street.get("name")), text(address.get("house")),
             f"корп. {address['building']}" if text(address.get("building")) else None,
             f"кв. {address['flat']}" if text(address.get("flat")) else None]
    joined = ", ".join(part for part in parts if part)
    return joined or None


def _payments(order: Mapping[str, Any], *, closed: bool) -> list[Payment]:
    payments: list[Payment] = []
    for item in objects(order.get("payments")):
        amount = decimal(item.get("sum"))
        if amount is None:
            continue
        kind_holder = member(item, "paymentType")
        kind = text(kind_holder.get("kind")) or text(item.get("paymentTypeKind")) or "Unknown"
        paid = closed or item.get("isProcessedExternally") is True or item.get("isPrepay") is True
        payments.append(Payment(method=PAYMENT_METHODS.get(kind, kind.lower()), amount=money(amount), paid=paid))
    return payments


def _when(order: Mapping[str, Any], keys: tuple[str, ...], timezone: ZoneInfo) -> dt.datetime | None:
    for key in keys:
        # whenReceivedByApi / whenReceivedFromFront are UTC; the others the terminal's wall clock
        when = datetime_or_none(order.get(key), dt.UTC if key.startswith("whenReceived") else timezone)
        if when is not None:
            return when
    return None


def _timestamp(value: Any) -> dt.datetime | None:
    seconds = integer(value)
    if seconds is None or seconds <= 0:
        return None
    if seconds > 10**11:  # [U] the spec does not give the unit; milliseconds are read as such
        seconds //= 1000
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _creation_error(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    code, message = text(value.get("code")), text(value.get("message")) or text(value.get("description"))
    return ": ".join(part for part in (code, message) if part) or None
