"""Fiscal receipts (54-FZ) for orders paid online: what every cloud cash register service shares.

An order paid online gets two receipts. At payment, a *prepayment* receipt ("предоплата 100 %") of the goods as
ordered; at handover, a *full payment* receipt ("полный расчёт") of the goods as 1C finally holds them (a weighed
good picked at 312 g where 300 g were paid), which offsets the prepayment and settles the difference: the guest
pays the extra, or the overpaid part is refunded (see :class:`Settlement`).

A receipt's id at the service is derived from the order's key and the receipt's kind (``shop:1001:full``), so the
same receipt is never registered twice: the services refuse a second document with an id they hold (OrangeData
409, ATOL's duplicate ``external_id``), and a receipt whose answer was lost is registered again under its id and
found, not printed again. A receipt the service failed to print is sent again under the next id of its order and
kind (``shop:1001:full:2``): 54-FZ services never take an id twice, even a failed one's.

Each service is a connector whose orders stream is also a :class:`Fiscal`; the ``receipts`` job builds receipts with
:func:`prepayment` and :func:`settlement` and hands them to it. The company on a receipt comes from 1C's organization
card through its company mapping, what that leaves empty from a company file or the fiscal source's settings
(:func:`issuer`); a good's VAT rate, whether it is weighed and its unit come from 1C's catalog (``vat_rate``,
``vat_free``, ``weighed``, ``unit`` of :class:`hub.model.Product`), the unit's measure code from the settings.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, ValidationInfo, model_validator
from werkzeug.wrappers import Request, Response

from hub.connector import ChannelState, Connector
from hub.errors import ConfigError, InvalidRecord, suggest
from hub.inbound import Endpoint, Inbound, json_response
from hub.model import Amount, Company, Entity, Order, Product, TaxSystem
from hub.settings import SourceSettings
from hub.streams import Stream, stream_of
from hub.values import KOPECK, json_loads, money
from hub.yamlsource import load_yaml_file

Vat = Literal["none", "vat0", "vat5", "vat7", "vat10", "vat20", "vat22", "vat105", "vat107", "vat110", "vat120",
              "vat122"]
"""VAT rate (tag 1199) in ATOL's words, the richest vocabulary; other services translate from it."""

_C_co = TypeVar("_C_co", bound=Connector, covariant=True)

_VAT_BY_PERCENT: dict[Decimal, Vat] = {Decimal(0): "vat0", Decimal(5): "vat5", Decimal(7): "vat7",
                                       Decimal(10): "vat10", Decimal(20): "vat20", Decimal(22): "vat22"}


class ReceiptKind(StrEnum):
    """Which receipt of an order: the prepayment, the full payment at handover, the refund of an overpayment, the
    refund of the whole prepayment of an order cancelled before its handover."""

    PREPAYMENT = "prepayment"
    FULL = "full"
    REFUND = "refund"
    CANCELLED = "cancel"


class Method(StrEnum):
    """Settlement method of a line (tag 1214)."""

    FULL_PREPAYMENT = "full_prepayment"
    FULL_PAYMENT = "full_payment"


class PaymentType(StrEnum):
    """How a receipt is paid (tags 1031, 1081, 1215); each service numbers these its own way."""

    CASH = "cash"
    ELECTRONIC = "electronic"
    PREPAID = "prepaid"
    """The prepayment offset (зачёт аванса): ATOL type 2, OrangeData type 14."""


class Measure(IntEnum):
    """Quantity measure (FFD 1.2 tag 2108), the codes both services use."""

    PIECE = 0
    GRAM = 10
    KILOGRAM = 11
    LITRE = 41
    MILLILITRE = 40
    OTHER = 255


class Settlement(StrEnum):
    """What happens when the guest prepaid more than 1C's final sum.

    The fact sheet marks the accounting rule UNCERTAIN: the common practice (``difference``, the default) is a
    ``sell_refund`` of the overpaid part with method full prepayment beside the full-payment receipt that offsets
    the rest; some OFDs advise refunding the whole prepayment and selling anew (``whole``).
    """

    DIFFERENCE = "difference"
    WHOLE = "whole"


REQUIRED: dict[str, str] = {"inn": "ИНН", "tax_system": "the tax system", "payment_address": "the site (ВебСтраница)",
                            "email": "the email (АдресЭлектроннойПочты)"}
"""The company's fields every receipt needs, with where 1C's organization card holds each."""


def load_company(path: Path) -> dict[str, Any]:
    """The company fields the company file at ``path`` sets, each written ``name: {value: ...}`` under ``fields:``.

    The file is 1C's organization card (Catalog_Организации) copied by the integrator, for a base whose company
    mapping cannot find a field (the tax system, where the base keeps it elsewhere). Raises :class:`ConfigError`
    listing every problem with ``file:line:column``.
    """
    doc = load_yaml_file(path, substitute_env=False)
    problems = list(doc.problems)
    known = list(REQUIRED)  # what a receipt prints: a name or КПП here would be read by nothing
    fields = doc.data.get("fields") if isinstance(doc.data, dict) else None
    if not doc.problems and not isinstance(fields, dict):
        problems.append(f"{doc.position(('fields',), key=True)}: expected fields: with the company's "
                        f"{', '.join(known)}")
    values: dict[str, Any] = {}
    for name, spec in (fields or {}).items():
        at = doc.position(("fields", name), key=True)
        if name not in known:
            problems.append(f"{at}: unknown company field {name!r} ({suggest(str(name), known)})")
        elif not isinstance(spec, dict) or set(spec) != {"value"}:
            problems.append(f"{at}: write {name} as {{value: ...}}, copied from 1C's organization card")
        else:
            values[name] = spec["value"]
    try:
        Company.model_validate(values)
    except ValidationError as exc:
        problems += [f"{doc.position(('fields', *error['loc'], 'value'))}: {error['loc'][0]}: {error['msg']}"
                     for error in exc.errors()]
    if problems:
        raise ConfigError(problems, hint="fix the company file named by the cash register's company setting")
    return {name: value for name, value in values.items() if value is not None}


class FiscalSettings(SourceSettings):
    """What every fiscal source's settings hold beside the service's own: the company and how goods are taxed."""

    company: Path | None = Field(None, description=(
        "A company file (see docs/fiscal.md): the INN, tax system, payment address and email of 1C's organization, "
        "for what the system of record's company mapping leaves empty; what it sets wins over the same fields here."))
    inn: str | None = Field(None, pattern=r"^\d{10}(\d{2})?$", description=(
        "The company's INN (tag 1018), where neither 1C nor the company file gives it."))
    tax_system: TaxSystem | None = Field(None, description=(
        "Taxation system (tag 1055): osn, usn_income, usn_income_outcome…, where neither 1C nor the company file "
        "gives it."))
    payment_address: str | None = Field(None, description=(
        "Where settlements are made (tag 1187): the shop's site for online sales, where neither 1C nor the company "
        "file gives it."))
    email: str | None = Field(None, description=(
        "The company's email printed on receipts (tag 1117), where neither 1C nor the company file gives it."))
    vat_default: Vat = Field("none", description=(
        "VAT of a good 1C's catalog gives no rate for (empty, or a word its mapping does not list): `none` under "
        "the simplified tax system, the usual rate otherwise. A good sold without VAT (vat_free) prints none."))
    measures: dict[str, Measure] = Field(
        default_factory=lambda: {"pcs": Measure.PIECE, "kg": Measure.KILOGRAM, "g": Measure.GRAM,
                                 "l": Measure.LITRE, "ml": Measure.MILLILITRE},
        description="1C's unit code (`unit` of a good, after the catalog mapping) → FFD 1.2 measure code.")

    _filed: Company = PrivateAttr(default_factory=Company)

    @model_validator(mode="after")
    def _company_file(self, info: ValidationInfo) -> Self:
        # Read as the settings load, so that a broken file stops hub at its start with the file's lines. Kept
        # apart from the fields of the same name: OrangeData's inn names its account, whatever company prints.
        if self.company is not None:
            folder = (info.context or {}).get("folder", Path())
            self._filed = Company.model_validate(load_company(folder / self.company))
        return self

    @property
    def filed(self) -> Company:
        """What the company file sets (nothing without one)."""
        return self._filed


def issuer(from_source: Company | None, settings: FiscalSettings) -> Company:
    """The company receipts are issued by: what the system of record's company mapping gives (``from_source``, 1C's
    organization card) wins where it is not empty, then the company file, then the fiscal source's settings."""
    own = {name: getattr(settings, name) for name in REQUIRED}
    given = from_source.model_dump(exclude_none=True) if from_source is not None else {}
    return Company.model_validate({**{name: value for name, value in own.items() if value is not None},
                                   **settings.filed.model_dump(exclude_none=True), **given})


class Issuer(BaseModel):
    """The company on a receipt: a :class:`hub.model.Company` with every field a receipt needs."""

    inn: str = Field(pattern=r"^\d{10}(\d{2})?$")
    tax_system: TaxSystem
    payment_address: str
    email: str
    kpp: str | None = None
    name: str | None = None


def _complete(company: Company, order_key: str) -> Issuer:
    missing = [name for name in REQUIRED if getattr(company, name) is None]
    if missing:
        raise InvalidRecord(
            f"order {order_key}: no {', '.join(missing)} of the company to print on its receipt",
            hint=f"fill {', '.join(REQUIRED[name] for name in missing)} on 1C's organization card (read through "
                 f"the preset's company.in.yaml), or set {', '.join(missing)} in the company file or the cash "
                 "register's settings")
    return Issuer.model_validate(company.model_dump())


def issued_by(receipt: Receipt, settings: FiscalSettings) -> Issuer:
    """The company on ``receipt``. One kept by a hub that did not yet keep the company with its receipts was sent
    with the company file's and the settings' company, so it is sent again with theirs: the same body."""
    return receipt.company or _complete(issuer(None, settings), receipt.order)


class Line(BaseModel):
    """One line of a receipt."""

    name: str
    quantity: Amount
    price: Amount
    sum: Amount
    vat: Vat
    measure: Measure
    method: Method


class Paid(BaseModel):
    """One payment of a receipt."""

    type: PaymentType
    amount: Amount


class Receipt(BaseModel):
    """A receipt as hub sends it to any service; each connector writes it in its service's terms."""

    id: str = Field(description="The service's document id, derived from the order's key and the kind.")
    order: str = Field(description="The order's key in hub (`shop:1001`).")
    kind: ReceiptKind
    company: Issuer | None = Field(None, description=(
        "Who issues it, kept with it so that a receipt sent again after a crash has the same body; None only in a "
        "receipt kept before receipts carried their company (see :func:`issued_by`)."))
    attempt: int = Field(1, ge=1, description="Which attempt at printing it: the first, or a resend after a fail.")
    refund: bool = Field(False, description="A refund of income (tag 1054 = 2: ATOL `sell_refund`), not a sale.")
    lines: list[Line]
    payments: list[Paid]
    contact: str = Field(description="The buyer's email or phone (tag 1008), where the service sends the receipt.")

    @property
    def total(self) -> Decimal:
        return money(sum((line.sum for line in self.lines), Decimal(0)))


class Fiscal(Stream[_C_co]):
    """A cloud cash register: it registers receipts under hub's ids and tells how each stands."""

    @abstractmethod
    def register(self, receipt: Receipt) -> Outcome:
        """Send ``receipt`` for printing; safe to repeat: a receipt the service holds under its id is found, not
        printed again. Returns how it stands (usually waiting)."""

    @abstractmethod
    def outcome(self, receipt: Receipt, ref: str | None) -> Outcome | None:
        """How ``receipt`` stands at the service (``ref`` is what :meth:`register` answered); None when the service
        does not know it."""


class FiscalMarks(Stream[_C_co]):
    """The system of record keeps each order's fiscal attributes (1C, in attributes the integrator names)."""

    @abstractmethod
    def mark(self, order_key: str, kind: ReceiptKind, outcome: Outcome) -> bool:
        """Write the number, fiscal sign and time of ``outcome`` (a printed receipt of ``kind``) on order
        ``order_key``; False when the source is not set up to keep them or holds no such order."""


class Outcome(BaseModel):
    """How a receipt stands at the service, and what it was printed with once done."""

    status: Literal["wait", "done", "fail"]
    ref: str | None = Field(None, description="The service's own reference (ATOL's uuid), where it gives one.")
    reason: str | None = Field(None, description="Why it failed or still waits, in the service's words.")
    fn_number: str | None = Field(None, description="Fiscal drive number (tag 1041).")
    document_number: str | None = Field(None, description="Fiscal document number (tag 1040).")
    fiscal_sign: str | None = Field(None, description="Fiscal sign of the document (tag 1077).")
    printed_at: dt.datetime | None = Field(None, description="When it was printed, as the service says.")
    total: Amount | None = Field(None, description="The sum the service printed.")
    resend: bool = Field(False, description=(
        "A fail of the service's printing (its register, its queue), not of what was sent: the same receipt may be "
        "sent again under a new id. A receipt the service refused at registration (a validation error) is not."))
    refused: bool = Field(False, description=(
        "Refused at registration (a validation error): the service holds nothing under the id, so once a person "
        "fixed the cause the receipt is sent again under the same id, which a lost state DB then finds."))

    @property
    def holds_nothing(self) -> bool:
        """A fail that left nothing at the service under the receipt's id: a refusal, or a fail without the
        service's reference it does not call a printing fail (receipts refused before hub said ``refused``)."""
        return self.refused or (self.status == "fail" and not self.resend and self.ref is None)


RECEIPTS = "receipts"
"""The kind of channel state a fiscal source's receipts are kept under, by their id (the receipts job keeps them,
``hub reconcile`` reads them)."""


class Kept(BaseModel):
    """A receipt as hub keeps it: what was sent, and how it stands."""

    receipt: Receipt
    outcome: Outcome | None = None
    """None until the service answered (the receipt may have reached it all the same)."""
    marked: bool = False
    """Its fiscal attributes are written on the order in the system of record."""
    retry: bool = False
    """Failed, and a person asked for it to be sent again (``hub receipts resend``) once its cause was fixed."""


def callback_endpoint(fiscal: Fiscal[Connector], state: ChannelState, ref_of: Callable[[Any], object],
                      error: Callable[[int, str], Response]) -> Endpoint:
    """``POST <inbound.path>/callback``, where a service posts a printed receipt's report (``ref_of`` finds the
    receipt's id or the service's reference in the body; ``error`` words a refusal as the service would).

    Neither service signs its callbacks, so the body is not taken on trust: the receipt it names is asked of the
    service, and what the service answers is kept before the callback is answered. The receipts job writes it on
    to 1C at its next run; without callbacks, the job asks for the report itself.
    """

    def handle(request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        try:
            ref = ref_of(json_loads(request.get_data()))
        except (ValueError, AttributeError):
            return error(400, "the body is not a JSON report")
        kept = next((k for _, payload in state.all(RECEIPTS) if (k := Kept.model_validate_json(payload)).receipt.id
                     == ref or (k.outcome is not None and k.outcome.ref == ref)), None)
        if kept is None or not isinstance(ref, str):
            return error(404, f"no receipt {ref!r} was sent from here")
        outcome = fiscal.outcome(kept.receipt, None if kept.outcome is None else kept.outcome.ref)
        if outcome is not None and outcome != kept.outcome:
            state.put_many(RECEIPTS, {kept.receipt.id: kept.model_copy(update={"outcome": outcome}).model_dump_json()})
        return json_response({"status": "ok"})

    return Endpoint("callback", "/callback", ("POST",), handle)


def paid_orders(queued: Iterable[tuple[str, str]]) -> Iterator[Order]:
    """The orders of ``queued`` (key, payload as a channel queued it for 1C) the channel says were paid."""
    for _, payload in queued:
        order = Order.model_validate_json(payload)
        if any(payment.paid for payment in order.payments):
            yield order


def fiscalized_here(channels: Iterable[str], connector: Callable[[str], Connector | type[Connector]]) -> list[str]:
    """The ``channels`` whose paid orders hub fiscalizes: not those that print their guests' receipts themselves."""
    return [channel for channel in channels if not connector(channel).prints_own_receipts]


def receipt_id(order_key: str, kind: ReceiptKind, attempt: int = 1) -> str:
    """The id a receipt of ``order_key`` has at the service: the same whichever run sends it. The first attempt's
    is ``shop:1001:full`` (as before resends existed, so receipts kept then stay found), the next ``…:full:2``."""
    return f"{order_key}:{kind.value}" + (f":{attempt}" if attempt > 1 else "")


def next_attempt(kept: Kept, attempts: int, company: Callable[[], Company], *,
                 taken: Container[str] = ()) -> Receipt | None:
    """The same receipt under the next id of its order and kind, to send after the service failed to print it;
    None when it is not to be sent again: printed, waiting, refused for what it holds, sent ``attempts`` times, or
    sent again already (its next id among ``taken``).
    A person's :attr:`Kept.retry` sends any failed receipt once more, whatever the count.

    A receipt the service refused at registration holds no id there, so a person's resend of it keeps its id: a
    later attempt's id would leave the first free, and a run that lost hub's state would print the first anew.

    Its lines are the failed one's. A refused receipt's company is asked of ``company`` anew, since a company the
    service refused (a wrong INN) is what a person fixes in 1C or the company file; a refund keeps the company that
    took the prepayment."""
    outcome, receipt = kept.outcome, kept.receipt
    if outcome is None or outcome.status != "fail" or not (
            kept.retry or (outcome.resend and receipt.attempt < attempts)):
        return None
    refused = outcome.holds_nothing
    attempt = receipt.attempt + (0 if refused else 1)
    if attempt != receipt.attempt and receipt_id(receipt.order, receipt.kind, attempt) in taken:
        return None  # that attempt is followed on its own
    # A refund is the prepayment's company's; a receipt the service failed to print goes again as it was; one it
    # refused takes the company as it is now, the fix a person made.
    issued = receipt.company if receipt.company is not None and (receipt.refund or not refused) \
        else _complete(company(), receipt.order)
    return receipt.model_copy(update={"id": receipt_id(receipt.order, receipt.kind, attempt), "attempt": attempt,
                                      "company": issued})


def fiscal_stream(connector: Connector) -> Fiscal[Connector] | None:
    """The fiscal stream of a connector to a cash register service; None for any other connector."""
    found = stream_of(connector, Entity.ORDERS)
    return found if isinstance(found, Fiscal) else None


def marks_stream(connector: Connector) -> FiscalMarks[Connector] | None:
    """The orders stream of a system of record that keeps fiscal attributes; None when it keeps none."""
    found = stream_of(connector, Entity.ORDERS)
    return found if isinstance(found, FiscalMarks) else None


def prepayment(order: Order, goods: Mapping[str, Product], settings: FiscalSettings, company: Company) -> Receipt:
    """The receipt of an order's online payment: every line as ordered, prepaid in full by card.

    ``goods`` are 1C's goods by the order's product ids (the channel's ids resolved through the id links);
    ``company`` is who issues it (see :func:`issuer`), refused when a field a receipt needs is empty.
    """
    issued_by = _complete(company, order.key)
    # As 1C holds it: a paid option that is a good of its own (a syrup) is a line of its own.
    ordered = order.paid_modifiers_as_lines(lambda product: product in goods).lines
    lines = [_line(_name(line.name, goods.get(line.product)), line.quantity, line.unit_price, total,
                   good=goods.get(line.product), settings=settings, method=Method.FULL_PREPAYMENT)
             for line, total in zip(ordered, _less(order.discount, [line.sum for line in ordered]), strict=True)]
    receipt = Receipt(id=receipt_id(order.key, ReceiptKind.PREPAYMENT), order=order.key, kind=ReceiptKind.PREPAYMENT,
                      company=issued_by, lines=lines, payments=[], contact=_contact(order))
    paid = money(sum((payment.amount for payment in order.payments if payment.paid), Decimal(0)))
    if paid != receipt.total:
        raise InvalidRecord(f"order {order.key}: {paid} was paid online, but its lines less its discount come to "
                            f"{receipt.total}", hint="a charge beside the lines (delivery) or a part paid at the door "
                            "is not fiscalized by hub: print this order's receipt at the till")
    return receipt.model_copy(update={"payments": [Paid(type=PaymentType.ELECTRONIC, amount=paid)]})


def _less(discount: Decimal, sums: Sequence[Decimal]) -> list[Decimal]:
    """``sums`` less an order-level ``discount`` (a promo code) spread over them in proportion, to the kopeck: a
    receipt's lines must come to what the guest paid, and the last line takes what the rounding leaves."""
    whole = sum(sums, Decimal(0))
    if not discount or not whole:
        return list(sums)
    shares = [money(discount * line / whole) for line in sums[:-1]]
    return [line - share for line, share in zip(sums, [*shares, discount - sum(shares, Decimal(0))], strict=True)]


def settlement(final: Order, prepaid: Receipt, goods: Mapping[str, Product], settings: FiscalSettings,
               company: Company, *, overpaid: Settlement = Settlement.DIFFERENCE,
               extra: PaymentType = PaymentType.ELECTRONIC) -> list[Receipt]:
    """The receipts at handover of ``final`` (the order as 1C holds it, weights corrected) after ``prepaid``.

    The full-payment receipt offsets what was prepaid (up to its own total) and takes the rest as ``extra``;
    an overpayment is refunded as ``overpaid`` says (see :class:`Settlement`). ``company`` issues the full
    receipt; a refund is issued by the company that took the prepayment, should 1C's card have changed since.
    """
    issued_by = _complete(company, prepaid.order)
    unknown = sorted({line.product for line in final.lines} - goods.keys())
    if unknown:
        # 1C's order names 1C's goods: one not among them was not read (its catalog record refused), and a line
        # printed without it would guess its VAT and measure on a document that cannot be taken back.
        raise InvalidRecord(f"order {prepaid.order}: 1C's goods {', '.join(unknown)} were not read",
                            hint="see the receipts run's errors for why 1C's catalog refused them; fix, then run again")
    lines = [_line(_name(line.name, goods.get(line.product)), line.quantity, line.unit_price, line.sum,
                   good=goods.get(line.product), settings=settings, method=Method.FULL_PAYMENT)
             for line in final.lines]
    full = Receipt(id=receipt_id(prepaid.order, ReceiptKind.FULL), order=prepaid.order, kind=ReceiptKind.FULL,
                   company=issued_by, lines=lines, payments=[], contact=prepaid.contact)
    total, paid = full.total, prepaid.total
    if total >= paid or overpaid is Settlement.DIFFERENCE:
        offset = min(total, paid)
        payments = [Paid(type=PaymentType.PREPAID, amount=offset)]
        if total > paid:
            payments.append(Paid(type=extra, amount=total - paid))
        receipts = [full.model_copy(update={"payments": payments})]
        if paid > total:
            receipts.append(_refund(prepaid, final_lines=lines, amount=paid - total))
        return receipts
    # Refund the whole prepayment, then sell anew at 1C's sum, paid as the extra payments are.
    whole = prepaid.model_copy(update={"id": receipt_id(prepaid.order, ReceiptKind.REFUND),
                                       "kind": ReceiptKind.REFUND, "refund": True, "attempt": 1})
    return [whole, full.model_copy(update={"payments": [Paid(type=extra, amount=total)]})]


def cancellation(prepaid: Receipt) -> Receipt:
    """The refund of the whole of ``prepaid`` (the printed prepayment receipt, whichever attempt printed it) when the
    order is cancelled before its handover: its lines, method «предоплата 100 %», paid back electronically, by the
    company that printed it."""
    return prepaid.model_copy(update={
        "id": receipt_id(prepaid.order, ReceiptKind.CANCELLED), "kind": ReceiptKind.CANCELLED, "attempt": 1,
        "refund": True, "payments": [Paid(type=PaymentType.ELECTRONIC, amount=prepaid.total)]})


def _refund(prepaid: Receipt, *, final_lines: Sequence[Line], amount: Decimal) -> Receipt:
    """The refund of ``amount`` overpaid: per line, the part prepaid beyond what 1C finally holds."""
    final = {line.name: line for line in final_lines}
    lines = []
    for line in prepaid.lines:
        kept = final.get(line.name)
        quantity = line.quantity - (kept.quantity if kept else Decimal(0))
        returned = money(line.sum - (kept.sum if kept else Decimal(0)))
        if returned > 0:
            lines.append(line.model_copy(update={"quantity": max(quantity, Decimal("0.001")), "sum": returned}))
    if money(sum((line.sum for line in lines), Decimal(0))) != amount:
        raise InvalidRecord(f"order {prepaid.order}: its lines moved both up and down at handover, so the overpaid "
                            f"{amount} cannot be refunded line by line", hint="set the receipts job's "
                            "options.overpaid: whole to refund the whole prepayment and sell anew")
    return Receipt(id=receipt_id(prepaid.order, ReceiptKind.REFUND), order=prepaid.order, kind=ReceiptKind.REFUND,
                   company=prepaid.company, refund=True, lines=lines,
                   payments=[Paid(type=PaymentType.ELECTRONIC, amount=amount)], contact=prepaid.contact)


def _line(name: str, quantity: Decimal, price: Decimal, total: Decimal, *, good: Product | None,
          settings: FiscalSettings, method: Method) -> Line:
    if good is None:
        if quantity != quantity.to_integral_value():
            # A fraction of a good 1C does not know here (its id link not made yet, say after hub's state was lost)
            # would print as a fraction of a piece: a fiscal document cannot be taken back, so wait for the link.
            raise InvalidRecord(f"{name}: {quantity} of a good with no link to 1C's catalog: its measure is unknown",
                                hint="sync the channel's catalog (its id links) and run the receipts job again")
        vat, measure = settings.vat_default, Measure.PIECE
    else:
        vat = "none" if good.vat_free else settings.vat_default if good.vat_rate is None \
            else _VAT_BY_PERCENT.get(good.vat_rate, "none")
        # The measure is the good's unit as the catalog mapping gives it, never guessed from "weighed".
        measure = settings.measures.get(good.unit, Measure.OTHER)
        if good.weighed and measure in (Measure.PIECE, Measure.OTHER):
            raise InvalidRecord(f"{good.name} ({good.id}) is sold by weight, but its unit {good.unit!r} is "
                                f"measured {'in pieces' if measure is Measure.PIECE else 'in no known unit'}: a "
                                f"receipt would print {quantity} {'pieces' if measure is Measure.PIECE else 'of it'}",
                                hint="give the good a unit of weight in 1C (кг), or map its unit to kg in the "
                                     "catalog mapping's units table or the cash register's measures")
    if money(total) > money(price * quantity):
        # Options that are no goods of their own are paid within the line: the unit price carries them, rounded up
        # to the kopeck so that price × quantity is never below the sum (a cash register refuses that).
        price = (total / quantity).quantize(KOPECK, rounding=ROUND_CEILING)
    return Line(name=name, quantity=quantity, price=price, sum=money(total), vat=vat, measure=measure, method=method)


def _name(given: str, good: Product | None) -> str:
    """A line's name as 1C names the good, so both receipts of an order name it alike."""
    return given if good is None else good.name


def _contact(order: Order) -> str:
    """Where the buyer gets the receipt (tag 1008): the email, else the phone; 54-FZ needs one online."""
    customer = order.customer
    found = (customer.emails + customer.phones) if customer is not None else []
    if not found:
        raise InvalidRecord(f"order {order.key}: no email or phone to send its receipt to",
                            hint="54-FZ asks for the buyer's contact on an online sale; have the channel send it")
    return found[0]
