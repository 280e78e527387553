"""Plausibility: what a channel's order must look like before hub queues it for 1C.

A channel can send what no guest ordered: a quantity of 0 or −1, a negative
price or total, an order without lines, a quantity so small that 1C's three
decimal places hold it as 0.000 (Yandex Eda sent ``1e-400``). Posted in 1C,
such an order moves stock and takings that never moved. The orders job
refuses it instead: a record error, so it goes to dead letters with every
reason, and the rest go on.

Returns (negative quantities and totals) and orders that cost the guest
nothing are legitimate in some businesses: the orders job's options allow
them (:class:`OrderRules`), after which ``hub deadletters retry`` takes the
refused ones on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import InvalidRecord
from hub.model import Order, OrderStatus, Record

QUANTUM = Decimal("0.001")
"""The finest quantity 1C holds (Количество has three decimal places)."""


class _Reason(NamedTuple):
    text: str
    allowed_by: str | None
    """The option that takes such orders, if a business may have them."""


class OrderRules(BaseModel):
    """What the orders job takes besides ordinary sales; the rest of the rules always hold."""

    model_config = ConfigDict(extra="forbid")

    allow_returns: bool = Field(False, description=(
        "Take orders with negative quantities, line sums or totals: returns booked as orders (a POS's refunds)."))
    allow_free_items: bool = Field(False, description=(
        "Take orders whose total is 0: everything given away (a staff meal, a promotion). Single free lines, "
        "and cancelled orders a channel zeroed, are always taken."))

    def check(self, record: Record) -> None:
        """Raise :class:`~hub.errors.InvalidRecord` naming everything implausible in ``record``, if it is an order."""
        if not isinstance(record, Order):
            return
        reasons = self._reasons(record)
        if not reasons:
            return
        options = sorted({r.allowed_by for r in reasons if r.allowed_by is not None})
        hint = None
        if all(r.allowed_by is not None for r in reasons):
            hint = (f"if that is legitimate here, set {' and '.join(f'{o}: true' for o in options)} in the orders "
                    "job's options, then hub deadletters retry")
        raise InvalidRecord(f"order {record.key} refused as implausible: {'; '.join(r.text for r in reasons)}",
                            hint=hint)

    def _reasons(self, order: Order) -> list[_Reason]:
        reasons = [] if order.lines else [_Reason("it has no lines", None)]
        returns = None if self.allow_returns else "allow_returns"
        for n, line in enumerate(order.lines):
            at = f"lines[{n}] ({line.product})"
            if abs(line.quantity) < QUANTUM / 2:  # compared, not quantized: quantizing 1e400 fails
                shown = "0" if line.quantity == 0 else f"{line.quantity}, 0.000 in 1C"
                reasons.append(_Reason(f"{at}: quantity {shown}", None))
            elif line.quantity < 0 and returns:
                reasons.append(_Reason(f"{at}: negative quantity {line.quantity}", returns))
            if line.unit_price < 0:
                reasons.append(_Reason(f"{at}: negative price {line.unit_price}", None))
            if line.sum < 0 and returns:
                reasons.append(_Reason(f"{at}: negative sum {line.sum}", returns))
        if order.total < 0 and returns:
            reasons.append(_Reason(f"negative total {order.total}", returns))
        # A channel may zero a cancelled order's total; the cancellation must still reach 1C's document.
        if order.total == 0 and order.lines and order.status is not OrderStatus.CANCELLED and not self.allow_free_items:
            reasons.append(_Reason("total 0", "allow_free_items"))
        return reasons
