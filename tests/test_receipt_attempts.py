"""A receipt's later life: the ids of its attempts, when a failed one is sent again, the refund of a cancelled
order's prepayment."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from hypothesis import given
from hypothesis import strategies as st

from hub.fiscal import (
    Kept,
    Method,
    Outcome,
    Paid,
    PaymentType,
    Receipt,
    ReceiptKind,
    cancellation,
    next_attempt,
    receipt_id,
)
from hub.model import Company

COMPANY = Company(inn="5544332219", tax_system="osn", payment_address="https://shop.example.ru", email="a@b.ru")
keys = st.builds(lambda channel, number: f"{channel}:{number}", st.sampled_from(["shop", "tilda", "yandex_eda"]),
                 st.integers(min_value=1, max_value=10**9))


def receipt(key: str = "shop:1001", kind: ReceiptKind = ReceiptKind.PREPAYMENT) -> Receipt:
    return Receipt.model_validate({
        "id": receipt_id(key, kind), "order": key, "kind": kind, "contact": "a@b.ru",
        "lines": [{"name": "Яблоки", "quantity": "0.300", "price": "149.50", "sum": "44.85", "vat": "vat10",
                   "measure": 11, "method": "full_prepayment"}],
        "payments": [{"type": "electronic", "amount": "44.85"}]})


def failed(sent: Receipt, *, resend: bool = True) -> Kept:
    return Kept(receipt=sent, outcome=Outcome(status="fail", ref="u", reason="Ошибка ФН", resend=resend))


@given(keys, st.sampled_from(list(ReceiptKind)), st.integers(min_value=1, max_value=12))
def test_a_receipt_failing_every_time_is_sent_under_ids_of_its_own_up_to_the_bound(
        key: str, kind: ReceiptKind, attempts: int) -> None:
    sent = [receipt(key, kind)]
    while (again := next_attempt(failed(sent[-1]), attempts, lambda: COMPANY)) is not None:
        sent.append(again)
    # The first keeps the id receipts had before resends existed, so a kept state stays valid.
    assert [r.id for r in sent] == [f"{key}:{kind.value}"] + [f"{key}:{kind.value}:{n}" for n in
                                                                range(2, attempts + 1)]
    assert [r.attempt for r in sent] == list(range(1, attempts + 1))
    assert all(r.model_dump(exclude={"id", "attempt", "company"}) ==
               sent[0].model_dump(exclude={"id", "attempt", "company"}) for r in sent)


@given(keys, st.integers(min_value=1, max_value=5))
def test_no_two_receipts_of_an_order_share_an_id(key: str, attempts: int) -> None:
    ids = [receipt_id(key, kind, n) for kind in ReceiptKind for n in range(1, attempts + 1)]
    assert len(set(ids)) == len(ids)


def test_only_a_fail_of_the_services_printing_is_sent_again() -> None:
    first = receipt()
    statuses: list[Literal["wait", "done"]] = ["wait", "done"]
    assert [next_attempt(Kept(receipt=first, outcome=Outcome(status=status, resend=True)), 3, lambda: COMPANY)
            for status in statuses] == [None, None]
    # Not answered yet: registered again under its own id.
    assert next_attempt(Kept(receipt=first), 3, lambda: COMPANY) is None
    # Refused for what it holds: a person's decision.
    assert next_attempt(failed(first, resend=False), 3, lambda: COMPANY) is None
    assert next_attempt(failed(first), 1, lambda: COMPANY) is None  # one attempt allowed


def test_a_cancelled_orders_refund_returns_the_whole_printed_prepayment_under_an_id_of_its_own() -> None:
    second = next_attempt(failed(receipt()), 3, lambda: COMPANY)
    assert second is not None
    refund = cancellation(second)
    assert (refund.id, refund.kind, refund.attempt, refund.refund) == (
        "shop:1001:cancel", ReceiptKind.CANCELLED, 1, True)
    assert refund.id != receipt_id("shop:1001", ReceiptKind.REFUND)  # never the overpaid difference's refund
    assert refund.lines == second.lines and {line.method for line in refund.lines} == {Method.FULL_PREPAYMENT}
    assert refund.payments == [Paid(type=PaymentType.ELECTRONIC, amount=Decimal("44.85"))]


def test_a_new_attempt_carries_the_company_as_it_is_now_so_a_fixed_inn_is_taken() -> None:
    wrong = receipt().model_copy(update={"company": COMPANY.model_dump() | {"inn": "7700000000"}})
    refused = Kept(receipt=wrong, outcome=Outcome(status="fail", reason="code 32", refused=True), retry=True)
    again = next_attempt(refused, 3, lambda: COMPANY)
    assert again is not None and again.company is not None and again.company.inn == "5544332219"
    assert again.id == wrong.id, "refused at registration: nothing is held under its id, so it is sent under it"


def test_a_resent_refund_and_a_receipt_the_service_failed_keep_their_company() -> None:
    took = receipt().model_copy(update={"company": COMPANY.model_dump()})
    moved = COMPANY.model_copy(update={"inn": "7707083893", "tax_system": "usn_income"})
    refund = took.model_copy(update={"kind": ReceiptKind.REFUND, "refund": True,
                                     "id": receipt_id("shop:1001", ReceiptKind.REFUND)})
    for sent in (took, refund):
        again = next_attempt(failed(sent), 3, lambda: moved)
        assert again is not None and again.company == took.company, sent.kind
    refused = Kept(receipt=refund, outcome=Outcome(status="fail", reason="code 32", refused=True), retry=True)
    again = next_attempt(refused, 3, lambda: moved)
    assert again is not None and again.company == took.company, "a refund is the prepayment's company's"


def test_a_receipt_sent_again_already_is_not_built_again_nor_asks_for_the_company() -> None:
    first = receipt()

    def no_company() -> Company:
        raise AssertionError("the company is read only for an attempt that will be sent")

    assert next_attempt(failed(first), 3, no_company, taken={f"{first.id}:2"}) is None
    legacy = Kept(receipt=first, outcome=Outcome(status="fail", reason="code 32"), retry=True)  # kept before refused
    assert legacy.outcome is not None and legacy.outcome.holds_nothing
    again = next_attempt(legacy, 3, lambda: COMPANY, taken={first.id})
    assert again is not None and again.id == first.id, "a refusal goes again under its own id, held or not here"
