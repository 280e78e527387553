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
    Receipt,
    ReceiptKind,
    Settlement,
    fiscalized_here,
    issued_by,
    issuer,
    prepayment,
    settlement,
)
from hub.model import Company, Order, Product
from hub.registry import connector_types
from hub.values import money

SETTINGS = FiscalSettings(type="atol", inn="5544332219", tax_system="osn", payment_address="https://shop.example.ru",
                          email="a@b.ru", vat_default="vat20")
COMPANY = issuer(None, SETTINGS)
GOODS = {"APL": Product(id="APL", name="Яблоки", unit="kg", weighed=True, vat_rate=Decimal(10)),
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
    receipt = prepayment(order(Decimal("0.300")), GOODS, SETTINGS, COMPANY)
    assert receipt.id == "shop:1:prepayment" and receipt.contact == "+79160000000"
    assert [(line.name, line.vat, line.measure, line.method) for line in receipt.lines] == [
        ("Яблоки", "vat10", Measure.KILOGRAM, Method.FULL_PREPAYMENT),
        ("Круассан", "vat20", Measure.PIECE, Method.FULL_PREPAYMENT)]
    assert receipt.payments == [Paid(type=PaymentType.ELECTRONIC, amount=Decimal("189.85"))]


def test_a_heavier_pick_offsets_the_prepayment_and_takes_the_rest_as_the_extra_payment() -> None:
    prepaid = prepayment(order(Decimal("0.300")), GOODS, SETTINGS, COMPANY)
    full, = settlement(order(Decimal("0.312")), prepaid, GOODS, SETTINGS, COMPANY, extra=PaymentType.CASH)
    assert full.kind is ReceiptKind.FULL and full.total == Decimal("191.64")
    assert full.payments == [Paid(type=PaymentType.PREPAID, amount=Decimal("189.85")),
                             Paid(type=PaymentType.CASH, amount=Decimal("1.79"))]


def test_a_lighter_pick_refunds_the_difference_line_by_line_by_default() -> None:
    prepaid = prepayment(order(Decimal("0.300")), GOODS, SETTINGS, COMPANY)
    full, refund = settlement(order(Decimal("0.288")), prepaid, GOODS, SETTINGS, COMPANY)
    assert full.payments == [Paid(type=PaymentType.PREPAID, amount=Decimal("188.06"))]
    assert (refund.id, refund.refund, refund.total) == ("shop:1:refund", True, Decimal("1.79"))
    assert [(line.quantity, line.method) for line in refund.lines] == [(Decimal("0.012"), Method.FULL_PREPAYMENT)]


def test_a_lighter_pick_refunds_the_whole_prepayment_and_sells_anew_when_so_configured() -> None:
    prepaid = prepayment(order(Decimal("0.300")), GOODS, SETTINGS, COMPANY)
    refund, full = settlement(order(Decimal("0.288")), prepaid, GOODS, SETTINGS, COMPANY,
                              overpaid=Settlement.WHOLE)
    assert (refund.refund, refund.total, refund.lines) == (True, prepaid.total, prepaid.lines)
    assert full.payments == [Paid(type=PaymentType.ELECTRONIC, amount=Decimal("188.06"))]


def test_lines_moving_both_ways_cannot_be_refunded_line_by_line_and_say_what_to_set() -> None:
    prepaid = prepayment(order(Decimal("0.300"), croissants=2), GOODS, SETTINGS, COMPANY)
    with pytest.raises(InvalidRecord) as raised:
        settlement(order(Decimal("0.400"), croissants=1), prepaid, GOODS, SETTINGS, COMPANY)
    assert raised.value.hint is not None and "overpaid: whole" in raised.value.hint


def test_an_order_without_a_contact_gets_no_receipt() -> None:
    bare = order(Decimal("0.3")).model_copy(update={"customer": None})
    with pytest.raises(InvalidRecord, match="no email or phone"):
        prepayment(bare, GOODS, SETTINGS, COMPANY)


@given(paid=st.integers(1, 5000), picked=st.integers(1, 5000), whole=st.booleans())
def test_whatever_is_picked_the_money_adds_up(paid: int, picked: int, whole: bool) -> None:
    grams = Decimal(1000)
    prepaid = prepayment(order(paid / grams), GOODS, SETTINGS, COMPANY)
    receipts = settlement(order(picked / grams), prepaid, GOODS, SETTINGS, COMPANY,
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
    receipt = prepayment(promo, GOODS, SETTINGS, COMPANY)
    assert [line.sum for line in receipt.lines] == [Decimal("42.49"), Decimal("137.36")]
    assert receipt.total == Decimal("179.85")
    assert receipt.payments == [Paid(type=PaymentType.ELECTRONIC, amount=Decimal("179.85"))]


def test_a_payment_the_lines_do_not_account_for_gets_no_receipt_and_says_why() -> None:
    full = order(Decimal("0.300"))
    with_fee = full.model_copy(update={"total": Decimal("289.85"), "payments": [
        full.payments[0].model_copy(update={"amount": Decimal("289.85")})]})  # 100 for the courier
    with pytest.raises(InvalidRecord, match=r"289.85 was paid online, but its lines less its discount come to 189.85"):
        prepayment(with_fee, GOODS, SETTINGS, COMPANY)


def test_a_company_file_gives_the_company_and_the_settings_only_fill_what_it_leaves_out(tmp_path: Path) -> None:
    company = tmp_path / "company.yaml"
    company.write_text('fields:\n  inn: {value: "7701234567"}\n  tax_system: {value: usn_income}\n')
    settings = FiscalSettings(type="atol", company=company, inn="5544332219", tax_system="osn",
                              payment_address="https://shop.example.ru", email="a@b.ru")
    issued = issuer(None, settings)
    assert (issued.inn, issued.tax_system, issued.payment_address) == (
        "7701234567", "usn_income", "https://shop.example.ru")
    assert settings.inn == "5544332219"  # kept as set: OrangeData's names its account


def test_the_shipped_company_file_is_complete() -> None:
    settings = FiscalSettings.model_validate(
        {"type": "atol", "company": Path(__file__).parent.parent / "config" / "company.yaml"})
    assert (settings.filed.inn, settings.filed.tax_system) == ("7701234567", "usn_income")


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
    assert settings.filed.inn == "7701234567"


def test_the_company_is_1cs_where_its_mapping_gives_a_field_then_the_file_then_the_settings(tmp_path: Path) -> None:
    (tmp_path / "company.yaml").write_text('fields:\n  tax_system: {value: patent}\n  email: {value: file@shop.ru}\n')
    settings = FiscalSettings.model_validate({**SETTINGS.model_dump(exclude={"company"}), "company": "company.yaml"},
                                             context={"folder": tmp_path})
    from_1c = Company(inn="7701234567", name="ООО «Тверская»", tax_system=None, email="cheki@tverskaya.ru")
    company = issuer(from_1c, settings)
    # 1C's INN and email win; the file fills the tax system 1C's card leaves empty; the settings the site.
    assert (company.inn, company.email, company.tax_system, company.payment_address, company.name) == (
        "7701234567", "cheki@tverskaya.ru", "patent", "https://shop.example.ru", "ООО «Тверская»")
    receipt = prepayment(order(Decimal("0.300")), GOODS, settings, company)
    assert receipt.company is not None and (receipt.company.inn, receipt.company.tax_system) == ("7701234567",
                                                                                                  "patent")
    # Without a company from 1C, the existing configs keep working: the file over the settings.
    assert issuer(None, settings).model_dump(exclude_none=True) == {
        "inn": "5544332219", "tax_system": "patent", "payment_address": "https://shop.example.ru",
        "email": "file@shop.ru"}


def test_a_receipt_is_refused_naming_the_company_fields_nobody_gives() -> None:
    bare = FiscalSettings(type="atol", inn="5544332219")
    with pytest.raises(InvalidRecord) as raised:
        prepayment(order(Decimal("0.300")), GOODS, bare, issuer(Company(email="cheki@tverskaya.ru"), bare))
    assert "no tax_system, payment_address of the company" in str(raised.value)
    hint = raised.value.hint or ""
    assert "ВебСтраница" in hint and "company.in.yaml" in hint


def test_a_good_1c_sells_without_vat_prints_none_not_the_default_rate() -> None:
    honey = Product.model_validate({"id": "HON", "name": "Мёд", "vat_rate": "none"})  # a vat_rates table's none
    no_rate = Product(id="CRO", name="Круассан")
    goods = {"APL": honey, "CRO": no_rate}
    receipt = prepayment(order(Decimal("0.300")), goods, SETTINGS, COMPANY)
    assert (honey.vat_free, honey.vat_rate) == (True, None)
    assert [line.vat for line in receipt.lines] == ["none", "vat20"]  # vat_default only for the good with no rate


def test_a_weighed_good_measured_in_pieces_is_refused_not_printed_as_fractional_pieces() -> None:
    in_pieces = {**GOODS, "APL": GOODS["APL"].model_copy(update={"unit": "pcs"})}
    with pytest.raises(InvalidRecord, match=r"0\.300 pieces") as raised:
        prepayment(order(Decimal("0.300")), in_pieces, SETTINGS, COMPANY)
    assert raised.value.hint is not None and "units table" in raised.value.hint


def test_a_weighed_good_in_a_unit_no_measure_knows_is_refused_too() -> None:
    in_kilograms_spelt_out = {**GOODS, "APL": GOODS["APL"].model_copy(update={"unit": "килограмм"})}
    with pytest.raises(InvalidRecord, match="in no known unit"):
        prepayment(order(Decimal("0.300")), in_kilograms_spelt_out, SETTINGS, COMPANY)


def test_a_fraction_of_a_good_1c_is_not_linked_to_is_refused_a_whole_one_prints_as_pieces() -> None:
    # Right after hub's state was lost the channel's goods have no links yet: 0.300 of "something" would print as
    # a fraction of a piece on a document that cannot be taken back.
    unlinked = {"CRO": GOODS["CRO"]}
    with pytest.raises(InvalidRecord, match="no link to 1C's catalog") as raised:
        prepayment(order(Decimal("0.300")), unlinked, SETTINGS, COMPANY)
    assert raised.value.hint is not None and "id links" in raised.value.hint
    whole = prepayment(order(Decimal("0.300"), croissants=2), GOODS, SETTINGS, COMPANY)
    assert [line.measure for line in whole.lines] == [Measure.KILOGRAM, Measure.PIECE]


def test_the_measure_is_the_goods_unit_through_the_settings_measures() -> None:
    grams = {**GOODS, "APL": GOODS["APL"].model_copy(update={"unit": "g"}),
             "CRO": GOODS["CRO"].model_copy(update={"unit": "portion"})}
    receipt = prepayment(order(Decimal("0.300")), grams, SETTINGS, COMPANY)
    assert [line.measure for line in receipt.lines] == [Measure.GRAM, Measure.OTHER]


def test_a_receipt_kept_before_receipts_carried_their_company_is_sent_again_with_the_settings_company() -> None:
    # Kept by the hub before this one: its body then took the company from the settings, and must stay the same.
    sent = prepayment(order(Decimal("0.300")), GOODS, SETTINGS, COMPANY)
    kept = sent.model_dump(mode="json")
    del kept["company"]
    old = Receipt.model_validate(kept)
    assert old.company is None
    assert issued_by(old, SETTINGS) == issued_by(sent, SETTINGS) == sent.company


def test_a_full_receipt_of_a_good_1c_did_not_give_is_refused_not_guessed() -> None:
    prepaid = prepayment(order(Decimal("0.300")), GOODS, SETTINGS, COMPANY)
    with pytest.raises(InvalidRecord, match="goods APL were not read"):
        settlement(order(Decimal("1")), prepaid, {"CRO": GOODS["CRO"]}, SETTINGS, COMPANY)
