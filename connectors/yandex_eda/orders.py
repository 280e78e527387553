"""Yandex Eda orders on the wire: the bodies Yandex sends hub, read and checked.

hub is the partner server of the Yandex Eda partner API: Yandex creates an
order with ``POST /order``, replaces it with ``PUT /order/{orderId}``, cancels
it with ``DELETE /order/{orderId}`` and reports the courier's progress with
``PUT /order/{orderId}/status``. This module turns those bodies into checked
Python values; the connector owns the endpoints and the stored state, and
``mappings/yandex_eda/orders.in.yaml`` turns a checked order into a canonical
:class:`~hub.model.Order`.

A body that cannot be used raises :class:`~hub.errors.InvalidRecord` whose
message names the offending place like a JSON path
(``items[1].quantity: expected a positive number, got 'abc'``), for the
``[{code, description}]`` answer Yandex expects with a 400. Money and
quantities stay exact: JSON numbers are read as ``int`` or
:class:`~decimal.Decimal`, and a number sent as text is refused rather than
guessed at. Fields hub does not know are kept, and the ``null`` and ``{}``
elements Yandex's own examples put into arrays are dropped.

Protocol: https://yandex.ru/dev/eda-vendor/doc/ru/ref/Zakazy/ (``partner.order.create``,
``.update``, ``.cancel``, ``.status``, ``.status.put``) for restaurants, and
https://yandex.ru/support/picker-app/ru/ref/ (``partner.order.create`` and the
status pages) for shops; the tests read the published examples from
``../shared/samples/yandex-eda/``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from hub.errors import InvalidRecord
from hub.model import OrderStatus
from hub.model import moves_forward as model_moves_forward
from hub.values import json_loads

MEDIA_ORDER: Final = "application/vnd.eats.order.v2+json"
"""Media type of ``POST /order`` and ``PUT /order/{orderId}`` bodies (and of ``GET /order/{orderId}``)."""

MEDIA_STATUS_V1: Final = "application/vnd.eats.order.status.v1+json"
"""Media type of the retail ``PUT /order/{orderId}/status`` body; restaurants send ``application/json``."""

STATUS_WORDS: Final[dict[str, OrderStatus]] = {
    "NEW": OrderStatus.NEW,
    "ACCEPTED_BY_RESTAURANT": OrderStatus.ACCEPTED,
    "COOKING": OrderStatus.IN_PROGRESS,
    "READY": OrderStatus.READY,
    "TAKEN_BY_COURIER": OrderStatus.IN_DELIVERY,
    "DELIVERED": OrderStatus.DELIVERED,
    "CANCELLED": OrderStatus.CANCELLED,
}
"""Yandex's order status words in hub's vocabulary: the partner API's status enum, in its own order."""

WORDS: Final[dict[OrderStatus, str]] = {status: word for word, status in STATUS_WORDS.items()}
"""hub's statuses as Yandex words, for ``GET /order/{orderId}/status``."""

PUSHED_WORDS: Final = frozenset({"CANCELLED", "TAKEN_BY_COURIER", "DELIVERED"})
"""The only statuses Yandex sends with ``PUT /order/{orderId}/status``; the others are the partner's to set."""

COMMENT_LIMIT: Final = 500
"""Longest status comment the partner API allows, in characters."""

_MISSING: Final = object()
"""What a key that is not there reads as, so a message can tell "got nothing" from "got null"."""


@dataclass(frozen=True)
class StatusUpdate:
    """A ``PUT /order/{orderId}/status`` body: Yandex telling hub what happened to an order.

    ``reason`` comes with CANCELLED only (``place.unable_to_call`` and the
    like, kept verbatim: the list is not closed); ``attributes`` carries flags
    such as ``paid``, "the order was paid when it was cancelled". Retail
    bodies add ``platform`` (``YE``, ``DC``, …).
    """

    status: str
    reason: str | None
    comment: str | None
    attributes: list[str]
    updated_at: dt.datetime | None
    platform: str | None


@dataclass(frozen=True)
class Cancel:
    """A ``DELETE /order/{orderId}`` body: the only cancellation reason is free text in ``comment``."""

    eats_id: str
    comment: str


# --- the bodies ----------------------------------------------------------------------------------


def parse_order(body: bytes) -> dict[str, Any]:
    """The ``POST /order`` or ``PUT /order/{orderId}`` body, checked and cleaned.

    Required: ``eatsId`` (Yandex's end-to-end id, kept as an opaque string),
    ``restaurantId``, ``discriminator`` (``yandex``, ``marketplace``,
    ``pickup``; any other text is accepted, for schemes to come) and at least
    one item, each with an ``id``, a positive ``quantity`` (fractional for
    weighed goods) and a ``price``. Everything else is optional; what the
    order mapping reads must have the right type when it is present (a price
    sent as text is refused here, with 400, rather than failing later). Arrays
    lose their ``null`` and ``{}`` elements; positions in messages are the
    ones Yandex sent.
    """
    order = _load_object(body)
    for key in ("eatsId", "restaurantId", "discriminator"):
        _require_text(order, key, key)
    for key in ("platform", "comment", "brand"):
        _optional_text(order, key, key)
    delivery = _optional_object(order, "deliveryInfo", "deliveryInfo")
    if delivery is not None:
        _check_delivery(delivery)
    payment = _optional_object(order, "paymentInfo", "paymentInfo")
    if payment is not None:
        for key in ("itemsCost", "deliveryFee", "total", "change"):
            _optional_amount(payment, key, f"paymentInfo.{key}")
        _optional_text(payment, "paymentType", "paymentInfo.paymentType")
    _check_promos(order, "promos")
    items = order.get("items", _MISSING)
    if not isinstance(items, list):
        raise _invalid("items", "a non-empty array", items)
    kept = _clean_array(order, "items", "items")
    if not kept:
        raise InvalidRecord("items: expected at least one item, got none")
    for index, item in kept:
        _check_item(item, f"items[{index}]")
    return order


def parse_status_update(body: bytes) -> StatusUpdate:
    """The ``PUT /order/{orderId}/status`` body Yandex sends (restaurant and retail).

    Only CANCELLED, TAKEN_BY_COURIER and DELIVERED may arrive this way; a
    comment is at most 500 characters; ``updatedAt`` is RFC 3339 with an
    offset (``1937-01-01T12:00:27.870000+00:20``).
    """
    data = _load_object(body)
    status = data.get("status", _MISSING)
    if not isinstance(status, str) or status not in PUSHED_WORDS:
        raise _invalid("status", f"one of {', '.join(sorted(PUSHED_WORDS))}", status)
    comment = _optional_text(data, "comment", "comment")
    if comment is not None and len(comment) > COMMENT_LIMIT:
        raise InvalidRecord(f"comment: expected at most {COMMENT_LIMIT} characters, got {len(comment)}")
    attributes = [_text_element(value, f"attributes[{index}]")
                  for index, value in _clean_array(data, "attributes", "attributes")]
    updated = _optional_text(data, "updatedAt", "updatedAt")
    return StatusUpdate(
        status=status,
        reason=_optional_text(data, "reason", "reason"),
        comment=comment,
        attributes=attributes,
        updated_at=None if updated is None else _timestamp(updated, "updatedAt"),
        platform=_optional_text(data, "platform", "platform"),
    )


def parse_cancel(body: bytes) -> Cancel:
    """The ``DELETE /order/{orderId}`` body ``{eatsId, comment}``; the comment may be empty or absent."""
    data = _load_object(body)
    return Cancel(eats_id=_require_text(data, "eatsId", "eatsId"),
                  comment=_optional_text(data, "comment", "comment") or "")


def moves_forward(current: str, new: str) -> bool:
    """Whether the Yandex status ``new`` is news for an order at ``current``.

    The way is NEW, ACCEPTED_BY_RESTAURANT, COOKING, READY, TAKEN_BY_COURIER,
    DELIVERED; CANCELLED may follow any state but DELIVERED; nothing leaves
    CANCELLED or DELIVERED, and nothing goes back. An older or repeated status
    (Yandex echoes the CANCELLED it read from hub) is no news. Raises
    ValueError for a word that is not a Yandex status.
    """
    return model_moves_forward(_status(current), _status(new))


def _status(word: str) -> OrderStatus:
    try:
        return STATUS_WORDS[word]
    except KeyError:
        raise ValueError(f"not a Yandex Eda order status: {word!r}") from None


# --- the parts of an order -------------------------------------------------------------------------


def _check_delivery(delivery: dict[str, Any]) -> None:
    for key in ("clientName", "phoneNumber", "realPhoneNumber", "pickupCode"):
        _optional_text(delivery, key, f"deliveryInfo.{key}")
    for key in ("additionalPhoneNumbers", "batches"):
        for index, value in _clean_array(delivery, key, f"deliveryInfo.{key}"):
            _text_element(value, f"deliveryInfo.{key}[{index}]")
    for key in ("courierArrivementDate", "deliveryDate"):
        when = _optional_text(delivery, key, f"deliveryInfo.{key}")
        if when is not None:
            _timestamp(when, f"deliveryInfo.{key}")
    address = _optional_object(delivery, "deliveryAddress", "deliveryInfo.deliveryAddress")
    if address is not None:
        _optional_text(address, "full", "deliveryInfo.deliveryAddress.full")


def _check_item(item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise _invalid(where, "an object", item)
    _require_text(item, "id", f"{where}.id")
    _optional_text(item, "name", f"{where}.name")
    _require_number(item, "quantity", f"{where}.quantity", positive=True)
    _require_number(item, "price", f"{where}.price")
    _optional_amount(item, "originPrice", f"{where}.originPrice")
    for index, modifier in _clean_array(item, "modifications", f"{where}.modifications"):
        at = f"{where}.modifications[{index}]"
        if not isinstance(modifier, dict):
            raise _invalid(at, "an object", modifier)
        for key in ("id", "group_id", "name"):
            _optional_text(modifier, key, f"{at}.{key}")
        if modifier.get("quantity") is not None:
            _require_number(modifier, "quantity", f"{at}.quantity", positive=True)
        _optional_amount(modifier, "price", f"{at}.price")
    _check_promos(item, "promos", where)
    _optional_object(item, "comboInfo", f"{where}.comboInfo")


def _check_promos(record: dict[str, Any], key: str, where: str = "") -> None:
    """Order-level or item-level ``promos``: ``{type, discount, partner_discount, yandex_discount}``."""
    path = f"{where}.{key}" if where else key
    for index, promo in _clean_array(record, key, path):
        at = f"{path}[{index}]"
        if not isinstance(promo, dict):
            raise _invalid(at, "an object", promo)
        _optional_text(promo, "type", f"{at}.type")
        for amount in ("discount", "partner_discount", "yandex_discount"):
            _optional_amount(promo, amount, f"{at}.{amount}")


# --- reading values ----------------------------------------------------------------------------------

def _load_object(body: bytes) -> dict[str, Any]:
    try:
        data = json_loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidRecord(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _invalid("body", "a JSON object", data)
    return data


def _require_text(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key, _MISSING)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(where, "a non-empty string", value)
    return value


def _optional_text(record: dict[str, Any], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    return _text_element(value, where)


def _text_element(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _invalid(where, "a string", value)
    return value


def _optional_object(record: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = record.get(key)
    if value is not None and not isinstance(value, dict):
        raise _invalid(where, "an object", value)
    return value


def _is_number(value: Any) -> bool:
    # json_loads gives int or Decimal; bool is an int to Python but never a number to JSON.
    return type(value) is int or type(value) is Decimal


def _require_number(record: dict[str, Any], key: str, where: str, *, positive: bool = False) -> None:
    value = record.get(key, _MISSING)
    if positive and not (_is_number(value) and value > 0):
        raise _invalid(where, "a positive number", value)
    if not (_is_number(value) and value >= 0):
        raise _invalid(where, "a non-negative number", value)


def _optional_amount(record: dict[str, Any], key: str, where: str) -> None:
    if record.get(key) is not None:
        _require_number(record, key, where)


def _clean_array(record: dict[str, Any], key: str, where: str) -> list[tuple[int, Any]]:
    """Drop the ``null`` and ``{}`` elements of the array ``record[key]``, in place.

    Returns the elements kept, each with the position Yandex sent it at, for
    messages; an absent or null array keeps nothing and stays as it is.
    """
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(where, "an array", value)
    kept = [(index, element) for index, element in enumerate(value) if element is not None and element != {}]
    record[key] = [element for _, element in kept]
    return kept


def _timestamp(text: str, where: str) -> dt.datetime:
    """An RFC 3339 timestamp with an offset; the partner API writes six fractional digits."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise _invalid(where, "an RFC 3339 date-time with an offset", text)
    return value


def _invalid(where: str, expected: str, value: Any) -> InvalidRecord:
    return InvalidRecord(f"{where}: expected {expected}, got {_describe(value)}")


_SHOWN: Final = 40
"""Characters of a wrong value a message quotes; the rest is cut (it may be personal data)."""


def _describe(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "an array" if value else "an empty array"
    if isinstance(value, dict):
        return "an object"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
