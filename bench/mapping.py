"""How fast compiled mappings are next to hand-written Python doing the same work.

Maps realistic iikoCloud delivery orders (5 lines each, modifiers, a payment)
to canonical Orders with ``mappings/examples/iiko/orders.in.yaml``, then to
1C:УТ 11 customer orders with ``mappings/examples/onec/ut11/orders.out.yaml``
(product and counterparty lookups, money conversions, config values); then
does the same with plain functions written by hand, and prints records per
second for both and their ratio. The goal is a ratio of at least 0.7.

    python bench/mapping.py [--orders 100000]

A benchmark, not a test: nothing here fails when it is slow.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.mapping import DictLinks, load_mapping
from hub.model import Order
from hub.values import money, normalize_phone, to_decimal, to_local_naive

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "mappings" / "examples"
MOSCOW = ZoneInfo("Europe/Moscow")
CONFIG: dict[str, Any] = {
    "organization": "6f1c2a36-0d44-11ef-8b4d-0050569f0001", "partner": "6f1c2a36-0d44-11ef-8b4d-0050569f0002",
    "retail_customer": "6f1c2a36-0d44-11ef-8b4d-0050569f0003", "agreement": "6f1c2a36-0d44-11ef-8b4d-0050569f0004",
    "currency": "6f1c2a36-0d44-11ef-8b4d-0050569f0005", "price_type": "6f1c2a36-0d44-11ef-8b4d-0050569f0006",
    "venues": {"main": {"warehouse": "6f1c2a36-0d44-11ef-8b4d-0050569f0007"}},
}
STATUSES = ["Unconfirmed", "WaitCooking", "CookingStarted", "CookingCompleted", "OnWay", "Delivered"]
PRODUCTS = [f"dish-{n:03d}" for n in range(200)]
POOL = 1000  # distinct orders, cycled: the mapping does the same work, memory stays small


# --- input ------------------------------------------------------------------------------


def make_order(n: int) -> dict[str, Any]:
    """One iikoCloud delivery order, as json_loads reads it (Decimals, ints, text)."""
    items: list[dict[str, Any]] = []
    for i in range(5):
        price = Decimal(150 + (n * 7 + i * 13) % 600) + Decimal("0.50") * (i % 2)
        amount = Decimal(1 + (n + i) % 3) if i != 4 else Decimal("0.35")
        cost = money(price * amount)
        items.append({
            "product": {"id": PRODUCTS[(n * 5 + i) % len(PRODUCTS)], "name": f"Блюдо {i} "},
            "amount": amount, "price": price, "cost": cost, "resultSum": cost - (Decimal(10) if i == 0 else 0),
            "modifiers": [{"product": {"id": "sauce", "name": "Соус"}, "amount": 1, "price": Decimal(30)}]
            if i % 2 == 0 else [],
        })
    total = sum((item["resultSum"] for item in items), Decimal(0))
    return {
        "id": f"6d2b7c1e-0000-4000-8000-{n:012d}", "organizationId": "7bc05553-4b68-44e8-b7bc-37be63c6d9e9",
        "creationStatus": "Success",
        "order": {
            "status": STATUSES[n % len(STATUSES)], "number": 10000 + n, "sum": total, "isDeleted": False,
            "whenCreated": f"2024-05-{1 + n % 28:02d} {8 + n % 14:02d}:{n % 60:02d}:15.250",
            "completeBefore": f"2024-05-{1 + n % 28:02d} {9 + n % 14:02d}:{n % 60:02d}:00.000",
            "phone": f"8 (916) {n % 1000:03d}-{n % 100:02d}-{(n // 100) % 100:02d}",
            "comment": "Позвонить за 10 минут" if n % 3 else None,
            "customer": {"id": f"c-{n}", "name": "Анна ", "surname": "Смирнова",
                         "birthdate": "1990-03-09 00:00:00.000"},
            "orderType": {"orderServiceType": "DeliveryByCourier" if n % 4 else "DeliveryByClient"},
            "deliveryPoint": {"address": {"street": {"name": "Тверская", "city": {"name": "Москва"}},
                                          "house": str(1 + n % 30), "flat": str(n % 90) if n % 5 else None}},
            "items": items,
            "payments": [{"paymentType": {"kind": "Card" if n % 2 else "Cash"}, "sum": total,
                          "isProcessedExternally": n % 2 == 1}],
        },
    }


def make_links() -> DictLinks:
    links = {f"iiko:catalog:{product}": f"ref-{product}" for product in PRODUCTS}
    links.update({f"phone:customers:+7916{n % 1000:03d}{n % 100:02d}{(n // 100) % 100:02d}": f"cp-{n}"
                  for n in range(0, POOL, 3)})
    return DictLinks(links)


# --- the same work, by hand -----------------------------------------------------------------

IIKO_STATUS = {"Unconfirmed": "new", "WaitCooking": "accepted", "ReadyForCooking": "accepted",
               "CookingStarted": "in_progress", "CookingCompleted": "ready", "Waiting": "ready",
               "OnWay": "in_delivery", "Delivered": "delivered", "Closed": "delivered", "Cancelled": "cancelled"}
SERVICE_TYPE = {"DeliveryByCourier": "courier", "DeliveryByClient": "pickup", "Common": "dine_in"}
PAYMENT = {"Cash": "cash", "Card": "card", "External": "online", "IikoCard": "online"}
UT_STATUS = {"new": "НеСогласован", "accepted": "КОбеспечению", "in_progress": "КОбеспечению",
             "ready": "КОтгрузке", "in_delivery": "КОтгрузке", "delivered": "Закрыт", "cancelled": "Закрыт"}
PAYMENT_FORM = {"cash": "Наличная", "card": "ПлатежнаяКарта", "online": "Безналичная"}
IIKO_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _iiko_time(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.strptime(text, IIKO_TIME).replace(tzinfo=MOSCOW)


def _blank(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None


def iiko_by_hand(record: Mapping[str, Any]) -> Order | None:
    """What orders.in.yaml does, written out."""
    order = record["order"]
    comment = order.get("comment")
    if record.get("creationStatus") != "Success" or order.get("isDeleted") or "тест" in (comment or "").lower():
        return None
    status = IIKO_STATUS.get(order["status"])
    if status is None:
        raise ValueError(f"{order['status']!r} is not in table 'status'")
    customer = order.get("customer") or {}
    address = (order.get("deliveryPoint") or {}).get("address") or {}
    street = address.get("street") or {}
    flat = address.get("flat")
    parts = [(street.get("city") or {}).get("name"), street.get("name"), address.get("house"),
             f"кв. {flat}" if flat else None]
    lines = []
    for item in order.get("items") or []:
        if item.get("deleted") is not None:
            continue
        line_sum = item.get("resultSum") if item.get("resultSum") is not None else item["cost"]
        lines.append({
            "product": item["product"]["id"], "name": item["product"]["name"].strip(),
            "quantity": to_decimal(item["amount"]), "unit_price": money(item["price"]),
            "sum": money(line_sum), "discount": money(item["amount"] * item["price"] - line_sum),
            "modifiers": [{"product": m["product"]["id"], "name": m["product"].get("name") or "",
                           "quantity": to_decimal(m["amount"]), "unit_price": money(m["price"])}
                          for m in item.get("modifiers") or [] if m.get("deleted") is None],
        })
    phone = order.get("phone")
    return Order.model_validate({
        "channel": "iiko", "external_id": record["id"], "number": str(order["number"]),
        "created_at": _iiko_time(order["whenCreated"]), "status": status,
        "customer": {
            "first_name": _blank(customer.get("name")), "last_name": _blank(customer.get("surname")),
            "phones": [normalize_phone(phone)] if phone else [],
            "birthday": dt.datetime.fromisoformat(customer["birthdate"]).date(),
            "ids": {"iiko": customer["id"]},
        },
        "delivery": {
            "type": SERVICE_TYPE.get((order.get("orderType") or {}).get("orderServiceType") or "", "courier"),
            "address": ", ".join(part for part in parts if part), "time": _iiko_time(order.get("completeBefore")),
        },
        "lines": lines,
        "payments": [{"method": PAYMENT.get(p["paymentType"]["kind"], p["paymentType"]["kind"]),
                      "amount": money(p["sum"]), "paid": bool(p.get("isProcessedExternally"))}
                     for p in order.get("payments") or []],
        "total": money(order["sum"]),
        "comment": _blank(comment),
    })


def ut11_by_hand(order: Order, links: DictLinks, config: Mapping[str, Any]) -> dict[str, Any] | None:
    """What orders.out.yaml does, written out."""
    if not order.lines:
        return None
    warehouse = config["venues"]["main"]["warehouse"]
    counterparty = None
    if order.customer is not None and order.customer.phones:
        counterparty = links.resolve("phone", "customers", order.customer.phones[0])
    created = to_local_naive(order.created_at, MOSCOW).isoformat(timespec="seconds")
    lines = []
    for index, line in enumerate(order.lines):
        ref = links.resolve(order.channel, "catalog", line.product)
        if ref is None:
            raise LookupError(f"no id link for catalog {line.product!r} from {order.channel}")
        quantity = line.quantity.quantize(Decimal("0.001"))
        lines.append({"LineNumber": str(index + 1), "Номенклатура_Key": ref, "Количество": quantity,
                      "КоличествоУпаковок": quantity, "Цена": money(line.unit_price),
                      "СуммаРучнойСкидки": money(line.discount), "Сумма": money(line.sum), "Склад_Key": warehouse,
                      "ВидЦены_Key": config["price_type"], "Отменено": False})
    document: dict[str, Any] = {
        "Date": created, "Организация_Key": config["organization"], "Партнер_Key": config["partner"],
        "Контрагент_Key": counterparty or config["retail_customer"], "Соглашение_Key": config["agreement"],
        "Валюта_Key": config["currency"], "Склад_Key": warehouse, "ХозяйственнаяОперация": "РеализацияКлиенту",
        "Статус": UT_STATUS[order.status.value], "ЦенаВключаетНДС": True,
        "ФормаОплаты": PAYMENT_FORM.get(order.payments[0].method, "Безналичная") if order.payments else "Безналичная",
        "СуммаДокумента": money(order.total), "НомерПоДаннымКлиента": f"{order.channel}:{order.external_id}",
        "ДатаПоДаннымКлиента": created,
        "ЖелаемаяДатаОтгрузки": to_local_naive(order.delivery.time, MOSCOW).isoformat(timespec="seconds")
        if order.delivery is not None and order.delivery.time is not None else "0001-01-01T00:00:00",
    }
    if order.delivery is not None and order.delivery.type == "courier" and order.delivery.address:
        document["АдресДоставки"] = order.delivery.address
    number = order.number if order.number is not None else order.external_id
    document["Комментарий"] = " | ".join(p for p in (f"{order.channel} №{number}", order.comment) if p)
    document["Товары"] = lines
    return document


# --- the run ---------------------------------------------------------------------------------


def race(count: int, pool: list[Any], contenders: dict[str, Callable[[Any], Any]]) -> dict[str, float]:
    """Records per second of each contender over ``count`` records.

    The contenders take turns over the pool, so a machine that gets busier
    halfway slows them alike instead of skewing the ratio.
    """
    spent = dict.fromkeys(contenders, 0.0)
    for work in contenders.values():
        work(pool[0])  # warm up
    done = 0
    while done < count:
        batch = pool[:min(len(pool), count - done)]
        for name, work in contenders.items():
            started = time.perf_counter()
            for record in batch:
                work(record)
            spent[name] += time.perf_counter() - started
        done += len(batch)
    return {name: count / seconds for name, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders to map (default 100000)")
    count = parser.parse_args().orders
    pool = [make_order(n) for n in range(POOL)]
    links = make_links()
    iiko = load_mapping(EXAMPLES / "iiko" / "orders.in.yaml", timezone=MOSCOW)
    ut11 = load_mapping(EXAMPLES / "onec" / "ut11" / "orders.out.yaml", timezone=MOSCOW, config=CONFIG)
    canonical = [iiko.apply(record) for record in pool]
    assert all(mine == iiko_by_hand(record) for mine, record in zip(canonical, pool, strict=True))
    assert all(ut11.apply(order, links=links) == ut11_by_hand(order, links, CONFIG) for order in canonical), \
        "the compiled mappings and the hand-written code must do the same work"

    print(f"{count:,} iikoCloud orders × 5 lines → canonical Order → 1C Document_ЗаказКлиента\n")
    stages: list[tuple[str, list[Any], dict[str, Callable[[Any], Any]]]] = [
        ("iiko → Order → 1C", pool, {
            "compiled": lambda record: ut11.apply(iiko.apply(record), links=links),
            "hand-written": lambda record: ut11_by_hand(iiko_by_hand(record), links, CONFIG),  # type: ignore[arg-type]
        }),
        ("  iiko → Order", pool, {"compiled": iiko.apply, "hand-written": iiko_by_hand}),
        ("  Order → 1C", canonical, {
            "compiled": lambda order: ut11.apply(order, links=links),
            "hand-written": lambda order: ut11_by_hand(order, links, CONFIG),
        }),
    ]
    print(f"{'':<22}{'compiled':>14}{'hand-written':>16}{'ratio':>8}   (records/s)")
    for title, records, contenders in stages:
        rates = race(count, records, contenders)
        compiled, manual = rates["compiled"], rates["hand-written"]
        print(f"{title:<22}{compiled:>14,.0f}{manual:>16,.0f}{compiled / manual:>8.2f}")
    print("\ngoal: compiled ≥ 0.70 × hand-written for the whole chain")


if __name__ == "__main__":
    main()
