"""Implausible orders are refused to dead letters with the reason, not written to the system of record."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

import cli
from hub.errors import InvalidRecord
from hub.model import Order, OrderLine, OrderStatus
from hub.plausibility import OrderRules
from hub.state import open_store
from tests.conftest import ChannelPair


def order(*lines: tuple[str, str, str], total: str | None = None) -> Order:
    """An order of (quantity, unit price, sum) lines; its total is the sum of the lines unless given."""
    return Order(channel="shop", external_id="17", created_at=dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC),
                 lines=[OrderLine(product=f"SKU-{n}", name="Латте", quantity=q, unit_price=p, sum=s)
                        for n, (q, p, s) in enumerate(lines)],
                 total=total if total is not None else sum((Decimal(s) for _, _, s in lines), Decimal(0)))


@pytest.mark.parametrize(("record", "reason"), [
    (order(("0", "210.00", "0.00"), ("1", "100.00", "100.00")), "lines[0] (SKU-0): quantity 0"),
    (order(("1E-400", "210.00", "0.00"), ("1", "100.00", "100.00")), "quantity 1E-400, 0.000 in 1C"),
    (order(("0.0004", "210.00", "0.08")), "quantity 0.0004, 0.000 in 1C"),
    (order(("-1", "210.00", "-210.00")), "negative quantity -1"),
    (order(("1", "-210.00", "-210.00")), "negative price -210.00"),
    (order(("2", "100.00", "-20.00")), "negative sum -20.00"),
    (order(("1", "100.00", "100.00"), total="-100.00"), "negative total -100.00"),
    (order(), "it has no lines"),
    (order(("1", "0", "0")), "total 0"),
])
def test_implausible_orders_are_refused_naming_the_reason(record: Order, reason: str) -> None:
    with pytest.raises(InvalidRecord, match="order shop:17 refused as implausible") as refused:
        OrderRules().check(record)
    assert reason in str(refused.value)


def test_every_reason_is_named_and_the_hint_names_what_would_take_them() -> None:
    with pytest.raises(InvalidRecord) as refused:
        OrderRules().check(order(("-1", "210.00", "-210.00")))
    assert "negative quantity -1; lines[0] (SKU-0): negative sum -210.00; negative total -210.00" in str(refused.value)
    assert refused.value.hint is not None and "allow_returns: true" in refused.value.hint
    with pytest.raises(InvalidRecord) as mixed:
        OrderRules().check(order(("-1", "-210.00", "210.00")))
    assert mixed.value.hint is None, "a negative price is no return: no setting takes it"


def test_returns_and_give_aways_are_taken_where_the_business_has_them() -> None:
    OrderRules(allow_returns=True).check(order(("-1", "210.00", "-210.00")))
    OrderRules(allow_free_items=True).check(order(("1", "0", "0"), ("2", "0", "0")))
    OrderRules().check(order(("0.305", "899.90", "274.47"), ("1", "0", "0")))  # one free line in a paid order
    OrderRules().check(order(("1", "210.00", "210.00"), total="0").model_copy(update={"status": OrderStatus.CANCELLED}))
    with pytest.raises(InvalidRecord, match="quantity 0"):
        OrderRules(allow_returns=True, allow_free_items=True).check(order(("0", "210.00", "0.00")))


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli.main, ["--config", str(config), *args])


def item(qty: str, price: str, total: str, sku: str = "LAT-400") -> dict[str, Any]:
    return {"sku": sku, "title": "Латте", "qty": qty, "price": price, "discount": "0", "total": total}


@pytest.mark.slow
def test_a_sync_refuses_implausible_orders_to_dead_letters_and_a_retry_takes_a_return_once_allowed(
        pair: ChannelPair) -> None:
    good = pair.shop.place_order()
    bad = {
        "quantity 0": pair.shop.place_order(items=[item("0", "210.00", "0.00")], total="0.00"),
        "negative quantity -1": pair.shop.place_order(items=[item("-1", "210.00", "-210.00")], total="-210.00"),
        "negative price -5.00": pair.shop.place_order(items=[item("2", "-5.00", "-10.00")], total="-10.00"),
        "it has no lines": pair.shop.place_order(items=[], total="0.00"),
        "quantity 1E-400, 0.000 in 1C": pair.shop.place_order(items=[item("1e-400", "210.00", "0.00")],
                                                              total="0.00"),
    }

    result = run(pair.config_file, "sync", "--source", "shop")

    assert result.exit_code == 1 and f"{len(bad)} record(s) failed." in result.output
    assert [o["client_ref"] for o in pair.erp.orders.values()] == [f"shop:{good['id']}"]
    store = open_store(pair.state_url)
    with store.reading() as state:
        letters = {letter.external_id: letter for letter in state.dead_letters.list()}
    store.close()
    for reason, placed in bad.items():
        assert reason in letters[placed["id"]].reason, reason

    config = yaml.safe_load(pair.config_file.read_text())
    config["jobs"]["shop-orders"]["options"] = {"allow_returns": True}
    pair.config_file.write_text(yaml.safe_dump(config))
    retried = run(pair.config_file, "deadletters", "retry", str(letters[bad["negative quantity -1"]["id"]].id))

    assert retried.exit_code == 0, retried.output
    assert sorted(o["client_ref"] for o in pair.erp.orders.values()) == sorted(
        f"shop:{o['id']}" for o in (good, bad["negative quantity -1"]))
