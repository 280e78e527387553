"""The receipts of an order paid online: prepayment, then full payment offsetting it and settling the difference."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ConfigError, InvalidRecord
from hub.fiscal import (
    FiscalSettings,
    Measure,
    Method,
    Paid,
    PaymentType,
    ReceiptKind,
    Settlement,
    fiscalized_here,
    prepayment,
    settlement,
)
from hub.model import Order, Product
from hub.registry import connector_types
from hub.values import money

SETTINGS = FiscalSettings(type="atol", inn="5544332219", tax_system="osn", payment_address="https://shop.example.ru",
                          email="a@b.ru", vat_default="vat20")
GOODS = {"APL": Product(id="APL", name="Яблоки", weighed=True, vat_rate=Decimal(10)),
         "CRO": Product(id="CRO", name="Круассан")}


def order(apples: Decimal, *, croissants: int = 1, status: str = "new") -> Order:
    lines = [{"product": "APL", "name": "apples", "quantity": apples, "unit_price": "149.50",
              "sum": money(apples * Decimal("149.50"))}]
    if croissants:
        lines.append({"product": "CRO", "name": "croissant", "quantity": croissants, "unit_price": "145",
                      "sum": 145 * croissants})
    total = sum((Decimal(str(line["sum"])) for line in lines), Decimal(0))
    return Order.model_validate({"channel": "shop", "external_id": "1", "created_at": "2026-01-05T10:00:00+03:00",
                                 "status": status, "total": total, "lines": lines,
                                 "customer": {"phones": ["+79160000000"]},
                                 "payments": [{"method": "card", "amount": total, "paid": True}]})


def test_the_prepayment_takes_1cs_names_vat_and_measures_and_is_paid_by_card() -> None:
    receipt = prepayment(order(Decimal("0.300")), GOODS, SETTINGS)
    assert receipt.id == "shop:1:prepayment" and receipt.contact == "+79160000000"
    assert [(line.name, line.vat, line.measure, line.method) for line in receipt.lines] == [
        ("Яблоки", "vat10", Measure.KILOGRAM, Method.FULL_PREPAYMENT),
        ("Круассан", "vat20", Measure.PIECE, Method.FULL_PREPAYMENT)]
    assert receipt.payments == [Paid(type=PaymentType.ELECTRONIC, amount=Decimal("189.85"))]


def test_a_heavier_pick_offsets_the_prepayment_and_takes_the_rest_as_the_extra_payment() -> None:
    prepaid = prepayment(order(Decimal("0.300")), GOODS, SETTINGS)
    full, = settlement(order(Decimal("0.312")), prepaid, GOODS, SETTINGS, extra=PaymentType.CASH)
    assert full.kind is ReceiptKind.FULL and full.total == Decimal("191.64")
    assert full.payments == [Paid(type=PaymentType.PREPAID, amount=Decimal("189.85")),
                             Paid(type=PaymentType.CASH, amount=Decimal("1.79"))]


def test_a_lighter_pick_refunds_the_difference_line_by_line_by_default() -> None:
    prepaid = prepayment(order(Decimal("0.300")), GOODS, SETTINGS)
    full, refund = settlement(order(Decimal("0.288")), prepaid, GOODS, SETTINGS)
    assert full.payments == [Paid(type=PaymentType.PREPAID, amount=Decimal("188.06"))]
    assert (refund.id, refund.refund, refund.total) == ("shop:1:refund", True, Decimal("1.79"))
    assert [(line.quantity, line.method) for line in refund.lines] == [(Decimal("0.012"), Method.FULL_PREPAYMENT)]


def test_a_lighter_pick_refunds_the_whole_prepayment_and_sells_anew_when_so_configured() -> None:
    prepaid = prepayment(order(Decimal("0.300")), GOODS, SETTINGS)
    refund, full = settlement(order(Decimal("0.288")), prepaid, GOODS, SETTINGS, overpaid=Settlement.WHOLE)
    assert (refund.refund, refund.total, refund.lines) == (True, prepaid.total, prepaid.lines)
    assert full.payments == [Paid(type=PaymentType.ELECTRONIC, amount=Decimal("188.06"))]


def test_lines_moving_both_ways_cannot_be_refunded_line_by_line_and_say_what_to_set() -> None:
    prepaid = prepayment(order(Decimal("0.300"), croissants=2), GOODS, SETTINGS)
    with pytest.raises(InvalidRecord) as raised:
        settlement(order(Decimal("0.400"), croissants=1), prepaid, GOODS, SETTINGS)
    assert raised.value.hint is not None and "overpaid: whole" in raised.value.hint


def test_an_order_without_a_contact_gets_no_receipt() -> None:
    bare = order(Decimal("0.3")).model_copy(update={"customer": None})
    with pytest.raises(InvalidRecord, match="no email or phone"):
        prepayment(bare, GOODS, SETTINGS)


@given(paid=st.integers(1, 5000), picked=st.integers(1, 5000), whole=st.booleans())
def test_whatever_is_picked_the_money_adds_up(paid: int, picked: int, whole: bool) -> None:
    grams = Decimal(1000)
    prepaid = prepayment(order(paid / grams), GOODS, SETTINGS)
    receipts = settlement(order(picked / grams), prepaid, GOODS, SETTINGS,
                          overpaid=Settlement.WHOLE if whole else Settlement.DIFFERENCE)
    full = next(r for r in receipts if r.kind is ReceiptKind.FULL)
    refunded = sum((r.total for r in receipts if r.refund), Decimal(0))
    for receipt in receipts:
        assert sum((p.amount for p in receipt.payments), Decimal(0)) == receipt.total  # every receipt is paid in full
    offset = sum((p.amount for p in full.payments if p.type is PaymentType.PREPAID), Decimal(0))
    extra = full.total - offset
    # What the guest paid in the end: the prepayment, plus what was taken at handover, less what was returned.
    assert prepaid.total + extra - refunded == full.total


def test_an_aggregator_that_prints_its_own_receipts_is_not_fiscalized_again() -> None:
    types = connector_types()
    assert fiscalized_here(["testchannel", "yandex_eda", "tilda"], types.__getitem__) == ["testchannel", "tilda"]


def test_an_order_level_discount_is_spread_over_the_lines_so_the_receipt_is_what_was_paid() -> None:
    full = order(Decimal("0.300"))  # 44.85 + 145.00
    promo = full.model_copy(update={"discount": Decimal("10.00"), "total": Decimal("179.85"), "payments": [
        full.payments[0].model_copy(update={"amount": Decimal("179.85")})]})
    receipt = prepayment(promo, GOODS, SETTINGS)
    assert [line.sum for line in receipt.lines] == [Decimal("42.49"), Decimal("137.36")]
    assert receipt.total == Decimal("179.85")
    assert receipt.payments == [Paid(type=PaymentType.ELECTRONIC, amount=Decimal("179.85"))]


def test_a_payment_the_lines_do_not_account_for_gets_no_receipt_and_says_why() -> None:
    full = order(Decimal("0.300"))
    with_fee = full.model_copy(update={"total": Decimal("289.85"), "payments": [
        full.payments[0].model_copy(update={"amount": Decimal("289.85")})]})  # 100 for the courier
    with pytest.raises(InvalidRecord, match=r"289.85 was paid online, but its lines less its discount come to 189.85"):
        prepayment(with_fee, GOODS, SETTINGS)


def test_a_company_file_gives_the_company_and_the_settings_only_fill_what_it_leaves_out(tmp_path: Path) -> None:
    company = tmp_path / "company.yaml"
    company.write_text('fields:\n  inn: {value: "7701234567"}\n  tax_system: {value: usn_income}\n')
    settings = FiscalSettings(type="atol", company=company, inn="5544332219", tax_system="osn",
                              payment_address="https://shop.example.ru", email="a@b.ru")
    assert (settings.inn, settings.tax_system, settings.payment_address) == (
        "7701234567", "usn_income", "https://shop.example.ru")


def test_the_shipped_company_file_is_complete() -> None:
    settings = FiscalSettings.model_validate(
        {"type": "atol", "company": Path(__file__).parent.parent / "config" / "company.yaml"})
    assert (settings.inn, settings.tax_system) == ("7701234567", "usn_income")


def test_a_wrong_company_file_is_told_with_its_file_and_line(tmp_path: Path) -> None:
    company = tmp_path / "company.yaml"
    company.write_text('fields:\n  inn: {value: "77012"}\n  tax_sytem: {value: osn}\n  email: shop@example.ru\n')
    with pytest.raises(ConfigError) as caught:
        FiscalSettings.model_validate({"type": "atol", "company": company, "tax_system": "osn",
                                       "payment_address": "x", "email": "a@b.ru"})
    assert caught.value.problems == [
        f"{company}:3:3: unknown company field 'tax_sytem' (did you mean 'tax_system'?)",
        f"{company}:4:3: write email as {{value: ...}}, copied from 1C's organization card",
        f"{company}:2:16: inn: String should match pattern '^\\d{{10}}(\\d{{2}})?$'"]


def test_a_company_file_is_found_from_hub_yamls_folder(tmp_path: Path) -> None:
    (tmp_path / "company.yaml").write_text('fields:\n  inn: {value: "7701234567"}\n  tax_system: {value: osn}\n'
                                           '  payment_address: {value: x}\n  email: {value: a@b.ru}\n')
    settings = FiscalSettings.model_validate({"type": "atol", "company": "company.yaml"},
                                             context={"folder": tmp_path})
    assert settings.inn == "7701234567"
