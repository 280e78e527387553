"""Reading order documents (``Документ``) and counterparties (``Контрагент``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from connectors.commerceml._read import (
    Context,
    Element,
    Unreadable,
    child_text,
    children,
    date_and_time,
    first,
    flag,
    local_datetime,
    number,
    source_line,
    text,
    values,
)
from connectors.commerceml.items import Counterparty, OrderDocument, RecordKind, Values
from hub.model import Customer, Order, OrderLine, OrderStatus, Payment
from hub.values import money, normalize_email, normalize_phone

ORDER_OPERATION = "Заказ товара"
"""``ХозОперация`` of an order; the XSD documentation spells it ЗаказТовара, real files use the spaced form."""
BUYER = "Покупатель"

# Requisite names exactly as Bitrix and 1C spell them (shared/protocols/1c.md §2.6).
STATUS = "Статус заказа"
STATUS_ID = "Статуса заказа ИД"
STATUS_CHANGED = "Дата изменения статуса"
PAYMENT_METHOD = "Метод оплаты"
PAID = "Заказ оплачен"
CANCELLED = "Отменен"
FINAL = "Финальный статус"
DELIVERY_METHOD = "Способ доставки"
POSTED = "Проведен"
NUMBER_1C = "Номер по 1С"
DELETION_MARK = "ПометкаУдаления"
BUYER_COMMENT = "Комментарии покупателя"


def is_order(operation: str) -> bool:
    """Whether ``ХозОперация`` names an order, in either spelling."""
    return operation.replace(" ", "").lower() == "заказтовара"


def read_document(element: Element, context: Context) -> OrderDocument:
    """An order document; :class:`Unreadable` for another operation or an order that cannot be rebuilt."""
    head: dict[str, str | None] = {}
    parties: list[Counterparty] = []
    lines: list[tuple[OrderLine, Values]] = []
    requisites: Values = {}
    discount = Decimal(0)
    marked: str | None = None
    for tag, part in children(element):
        if tag == "Контрагенты":
            parties = [read_counterparty(item, context, RecordKind.DOCUMENT)
                       for name, item in children(part) if name == "Контрагент"]
        elif tag == "Товары":
            lines = [_line(item) for name, item in children(part) if name == "Товар"]
        elif tag == "ЗначенияРеквизитов":
            requisites = values(part, "ЗначениеРеквизита", "Наименование")
        elif tag == "Скидки":
            discount = _discounts(part)
        elif tag == "ПометкаУдаления":
            marked = text(part)
        else:
            head.setdefault(tag, text(part))
    document_id, date = head.get("Ид"), head.get("Дата")
    operation = head.get("ХозОперация") or ""
    if not is_order(operation):
        raise Unreadable(f"ХозОперация {operation!r} is not an order ({ORDER_OPERATION})")
    if document_id is None:
        raise Unreadable("no Ид")
    if date is None:
        raise Unreadable("no Дата")
    try:
        created = date_and_time(date, head.get("Время"), context.timezone)
    except ValueError as exc:
        raise Unreadable(f"Дата/Время: {exc}") from None
    raw_total = head.get("Сумма")
    total = number(raw_total, "Сумма") if raw_total else sum((line.sum for line, _ in lines), Decimal(0))
    paid, cancelled = flag(first(requisites, PAID)), flag(first(requisites, CANCELLED))
    method = first(requisites, PAYMENT_METHOD)
    buyer = next((party for party in parties if party.role == BUYER), parties[0] if parties else None)
    customer = buyer.customer if buyer else None
    order = Order(
        channel=context.channel, external_id=document_id, number=head.get("Номер"), created_at=created,
        updated_at=_changed(requisites, context, document_id, element), status=_status(cancelled, requisites),
        customer=None if customer == Customer() else customer, lines=[line for line, _ in lines],
        payments=[Payment(method=method, amount=total, paid=bool(paid))] if method else [],
        discount=discount, total=total, comment=head.get("Комментарий") or first(requisites, BUYER_COMMENT))
    return OrderDocument(
        order, operation, head.get("Валюта"), first(requisites, STATUS), first(requisites, STATUS_ID), method, paid,
        cancelled, first(requisites, DELIVERY_METHOD), head.get("Номер1С") or first(requisites, NUMBER_1C),
        flag(first(requisites, POSTED)), flag(marked or first(requisites, DELETION_MARK)) is True, parties,
        requisites, [line_values for _, line_values in lines], source_line(element))


def _status(cancelled: bool | None, requisites: Values) -> OrderStatus:
    if cancelled:
        return OrderStatus.CANCELLED
    return OrderStatus.DELIVERED if flag(first(requisites, FINAL)) else OrderStatus.NEW


def _changed(requisites: Values, context: Context, document_id: str, element: Element) -> dt.datetime | None:
    raw = first(requisites, STATUS_CHANGED)
    if raw is None:
        return None
    try:
        return local_datetime(raw, context.timezone)
    except ValueError as exc:
        context.warn(RecordKind.DOCUMENT, document_id, source_line(element), f"{STATUS_CHANGED} ignored: {exc}")
        return None


def _line(element: Element) -> tuple[OrderLine, Values]:
    """One ``Товары/Товар`` of an order; ``Цена`` is the 2.09+ 1C→site spelling of ``ЦенаЗаЕдиницу``."""
    fields: dict[str, str | None] = {}
    line_values: Values = {}
    discount = Decimal(0)
    for tag, part in children(element):
        if tag == "ЗначенияРеквизитов":
            line_values = values(part, "ЗначениеРеквизита", "Наименование")
        elif tag == "Скидки":
            discount = _discounts(part)
        else:
            fields.setdefault(tag, text(part))
    product = fields.get("Ид")
    try:
        if product is None:
            raise Unreadable("no Ид")
        raw_quantity = fields.get("Количество")
        raw_price = fields.get("ЦенаЗаЕдиницу") or fields.get("Цена")
        if raw_quantity is None:
            raise Unreadable("no Количество")
        if raw_price is None:
            raise Unreadable("no ЦенаЗаЕдиницу")
        quantity, price = number(raw_quantity, "Количество"), number(raw_price, "ЦенаЗаЕдиницу")
        raw_sum = fields.get("Сумма")
        line_sum = number(raw_sum, "Сумма") if raw_sum else money(quantity * price - discount)
    except Unreadable as exc:
        raise Unreadable(f"order line {product or '?'}: {exc.reason}", exc.line or source_line(element)) from None
    line = OrderLine(product=product, name=fields.get("Наименование") or product, quantity=quantity,
                     unit_price=price, discount=discount, sum=line_sum)
    return line, line_values


def _discounts(element: Element) -> Decimal:
    total = Decimal(0)
    for tag, item in children(element):
        if tag == "Скидка" and (raw := child_text(item, "Сумма")):
            total += number(raw, "Скидка/Сумма")
    return total


def _address(element: Element | None) -> str | None:
    return child_text(element, "Представление") if element is not None else None


def read_counterparty(element: Element, context: Context, kind: RecordKind = RecordKind.COUNTERPARTY) -> Counterparty:
    """A ``Контрагент``: a person (Фамилия, Имя, contacts) or a company (ОфициальноеНаименование, ИНН)."""
    fields: dict[str, str | None] = {}
    address: str | None = None
    phones: list[str] = []
    emails: list[str] = []
    for tag, part in children(element):
        if tag in ("АдресРегистрации", "Адрес", "ЮридическийАдрес"):
            address = address or _address(part)
        elif tag == "Контакты":
            _contacts(part, phones, emails, context=context, kind=kind, party=element)
        else:
            fields.setdefault(tag, text(part))
    party_id = fields.get("Ид")
    birthday = None
    if raw_birthday := fields.get("ДатаРождения"):
        try:
            birthday = local_datetime(raw_birthday, context.timezone).date()
        except ValueError as exc:
            context.warn(kind, party_id, source_line(element), f"ДатаРождения ignored: {exc}")
    customer = Customer(first_name=fields.get("Имя"), last_name=fields.get("Фамилия"),
                        middle_name=fields.get("Отчество"), phones=phones, emails=emails, birthday=birthday,
                        ids={context.channel: party_id} if party_id else {})
    name = (fields.get("ОфициальноеНаименование") or fields.get("ПолноеНаименование")
            or fields.get("Наименование"))
    return Counterparty(party_id, customer, fields.get("Роль"), name, address, fields.get("ИНН"), fields.get("КПП"),
                        flag(fields.get("ПометкаУдаления")) is True, source_line(element))


def _contacts(element: Element, phones: list[str], emails: list[str], *, context: Context, kind: RecordKind,
              party: Element) -> None:
    """Phones and emails of ``Контакты``; a value that is neither is noted, not kept."""
    for tag, contact in children(element):
        if tag != "Контакт":
            continue
        written = child_text(contact, "Тип") or ""
        sort = written.lower()
        value = child_text(contact, "Значение") or ""
        try:
            if sort.startswith("телефон"):
                phones.append(normalize_phone(value))
            elif "@" in value and ("почт" in sort or "mail" in sort):
                emails.append(normalize_email(value))
        except ValueError as exc:
            context.warn(kind, child_text(party, "Ид"), source_line(contact), f"contact {written!r} ignored: {exc}")
