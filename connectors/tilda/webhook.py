"""Tilda's cart webhook: the three body shapes Tilda posts, read into one cart.

Which Tilda setting produces which shape is not documented (UNCERTAIN in the fact sheet), so every shape is
taken, and each gives the same cart:

1. ``application/x-www-form-urlencoded`` with bracketed flat keys (``payment[products][0][name]=…``);
2. a form post whose ``payment`` field holds the payment object as JSON text;
3. ``application/json`` with a nested ``payment`` object.

Products come as objects or as ``"Name=Price"`` strings (split on the last ``=``: a name may hold one).
Numbers come as numbers or as text, ``0`` for free items; they are read as Decimals. :func:`read_cart` does
the reading, :func:`order_key` says which order a body is (Tilda retries a slow answer twice, a minute apart,
so one order arrives up to three times), and :func:`cart_record` is what the orders mapping
(``mappings/tilda/orders.in.yaml``) reads: the cart with the customer's fields found under whatever names
the form builder gave them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from hub.errors import InvalidRecord
from hub.values import json_loads, normalize_email, normalize_phone

PING = {"test": "test"}
"""The one pair Tilda posts when a webhook receiver is saved: a ping, not an order."""
FORM = "application/x-www-form-urlencoded"
MEMBERS = ("ma_name", "ma_email", "ma_phone", "ma_id")
"""What Tilda's Members area adds when the guest is logged in."""
TILDA_KEYS = frozenset({"payment", "formid", "formname", "tranid", "COOKIES", "paymentsystem", "referer",
                        *MEMBERS})
"""Top-level keys that are Tilda's own; every other one is a field of the form."""
_BRACKETS = re.compile(r"\[([^\]]*)\]")


def read_body(body: bytes, mimetype: str) -> dict[str, Any]:
    """The request body as one object, whatever its shape; ValueError for what is none of them."""
    if mimetype == "application/json" or body.lstrip()[:1] == b"{":
        found = json_loads(body)
        if not isinstance(found, dict):
            raise ValueError("the JSON body is not an object")
        return found
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except UnicodeDecodeError:
        raise ValueError("the form body is not UTF-8") from None
    return _nest(pairs)


def is_ping(data: Mapping[str, Any]) -> bool:
    """Whether ``data`` is the connect-time ``test=test``."""
    return dict(data) == PING


def read_cart(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with ``payment`` as an object and its products as objects with Decimal numbers."""
    payment = data.get("payment")
    if isinstance(payment, str):
        try:
            payment = json_loads(payment)
        except ValueError as exc:
            raise InvalidRecord(f"payment: not JSON text: {exc}") from None
    if payment is None:
        payment = {}
    if not isinstance(payment, dict):
        raise InvalidRecord(f"payment: expected an object, got {type(payment).__name__}")
    products = payment.get("products") or []
    if isinstance(products, dict):  # a form's products[0], products[1]… nest into an object by index
        products = [products[index] for index in sorted(products, key=_index)]
    if not isinstance(products, list):
        raise InvalidRecord("payment.products: expected a list")
    return {**data, "payment": {**payment, "products": [_product(item, n) for n, item in enumerate(products)]}}


def order_key(project: str, cart: Mapping[str, Any]) -> str:
    """Which order ``cart`` is: the project and Tilda's order number, else the lead id (``tranid``, already
    ``<project>:<lead>``). Tilda's retries carry the same, so a repeat is taken once."""
    orderid = str(cart["payment"].get("orderid") or "").strip()
    if orderid:
        return f"{project}:{orderid}"
    tranid = str(cart.get("tranid") or "").strip()
    if tranid:
        return tranid if ":" in tranid else f"{project}:{tranid}"
    raise InvalidRecord("neither payment.orderid nor tranid: not an order Tilda could send again")


def cart_record(cart: Mapping[str, Any], form_fields: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """What the orders mapping reads: ``cart`` with ``customer`` (each field found by the first of its names
    in ``form_fields`` the form sent), ``form`` (the form's own fields) and ``members`` (the Members area's)."""
    fields = {name: value for name, value in cart.items() if name not in TILDA_KEYS}
    folded = {name.casefold(): value for name, value in fields.items()}
    customer: dict[str, Any] = {}
    for field, names in form_fields.items():
        customer[field] = next((folded[n.casefold()] for n in names if str(folded.get(n.casefold(), "")).strip()),
                               None)
    members = {key.removeprefix("ma_"): cart[key] for key in MEMBERS if cart.get(key)}
    for found in (customer, members):  # a phone or address no one can use must not cost the order: kept as text
        for field, readable in _CONTACTS.items():
            if found.get(field) and not readable(str(found[field])):
                customer[f"unreadable_{field}"] = found.pop(field)
    return {**cart, "customer": customer, "form": fields, "members": members}


def _reads(normalize: Callable[[str], str]) -> Callable[[str], bool]:
    def readable(text: str) -> bool:
        try:
            normalize(text)
        except ValueError:
            return False
        return True
    return readable


_CONTACTS = {"phone": _reads(normalize_phone), "email": _reads(normalize_email)}


def _product(item: Any, position: int) -> dict[str, Any]:
    where = f"payment.products[{position}]"
    if isinstance(item, str):
        name, equals, price = item.rpartition("=")
        if not equals or not name.strip():
            raise InvalidRecord(f"{where}: {item!r} is not Name=Price")
        amount = _number(price, f"{where} price")
        return {"name": name.strip(), "quantity": Decimal(1), "price": amount, "amount": amount, "options": []}
    if not isinstance(item, dict):
        raise InvalidRecord(f"{where}: expected an object or Name=Price text")
    found = dict(item)
    for key in ("quantity", "price", "amount"):
        if found.get(key) not in (None, ""):
            found[key] = _number(found[key], f"{where}.{key}")
    found.setdefault("quantity", Decimal(1))
    options = found.get("options") or []
    if isinstance(options, dict):
        options = [options[index] for index in sorted(options, key=_index)]
    found["options"] = [{**option, "price": _number(option["price"], f"{where}.options price")}
                        if isinstance(option, dict) and option.get("price") not in (None, "") else option
                        for option in options if isinstance(option, dict)]
    return found


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, (bool, float)):
        raise InvalidRecord(f"{where}: {value!r} is not an exact number")
    try:
        return Decimal(str(value).strip().replace(" ", "").replace(",", "."))
    except InvalidOperation:
        raise InvalidRecord(f"{where}: {value!r} is not a number") from None


def _index(key: str) -> int:
    return int(key) if key.isdigit() else 1 << 30


def _nest(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Flat form keys (``payment[products][0][name]``) as the nested object they spell; lists stay objects
    keyed by index, which :func:`read_cart` orders."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        path = [head, *_BRACKETS.findall("[" + rest)] if rest else [head]
        node = root
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return root
