"""catalog, stock and prices jobs end to end: 1C sandbox → hub CLI → testchannel sandbox, on SQLite."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import yaml

from connectors.onec_odata._schema import GOODS
from connectors.testchannel.client import MAX_PRICE_BATCH, MAX_STOCK_BATCH
from hub.config import load_config
from hub.jobrun import run_job
from hub.runtime import Runtime
from hub.values import json_loads
from tests.jobs.conftest import Setup

pytestmark = pytest.mark.slow

STOCK, PRICES, PRODUCTS = "/api/v1/stock", "/api/v1/prices", "/api/v1/products"


def sent(setup: Setup, path: str, after: int) -> list[dict[str, Any]]:
    """Items of the PUTs on ``path`` from the ``after``-th on."""
    puts = [r for r in setup.shop.requests if r.method == "PUT" and r.path == path][after:]
    field = path.rsplit("/", 1)[1]
    return [item for r in puts for item in json_loads(r.body)[field]]


def test_first_push_sends_everything_in_the_largest_batches(setup: Setup) -> None:
    result = setup.hub("sync", "--source", "erp")
    assert result.exit_code == 0, result.output

    stock, prices = setup.expected_stock(), setup.expected_prices()
    assert setup.shop_stock() == stock
    assert setup.shop_prices() == prices
    assert len(stock) == 2 * len(setup.skus())
    assert any(q == 0 for q in stock.values()), "goods a warehouse does not hold must be at zero too"
    assert setup.writes(STOCK) == math.ceil(len(stock) / MAX_STOCK_BATCH)
    assert setup.writes(PRICES) == math.ceil(len(prices) / MAX_PRICE_BATCH)


def test_then_only_what_changed_then_nothing(setup: Setup) -> None:
    assert setup.hub("sync", "--source", "erp").exit_code == 0
    stock_before, prices_before = setup.expected_stock(), setup.expected_prices()
    stock_calls, price_calls = setup.writes(STOCK), setup.writes(PRICES)

    setup.onec.demo_activity()  # goods arrive at a warehouse, a retail price goes up
    result = setup.hub("sync", "--source", "erp")
    assert result.exit_code == 0, result.output

    stock, prices = setup.expected_stock(), setup.expected_prices()
    changed_stock = {k for k in stock if stock[k] != stock_before[k]}
    changed_prices = {k for k in prices if prices[k] != prices_before[k]}
    assert len(changed_stock) == len(changed_prices) == 1
    assert setup.writes(STOCK) - stock_calls == 1
    assert setup.writes(PRICES) - price_calls == 1
    assert {(i["venue"], i["sku"]) for i in sent(setup, STOCK, stock_calls)} == changed_stock
    assert {i["sku"] for i in sent(setup, PRICES, price_calls)} == changed_prices
    assert setup.shop_stock() == stock
    assert setup.shop_prices() == prices

    writes = setup.shop.count("PUT")
    result = setup.hub("sync", "--source", "erp")
    assert result.exit_code == 0, result.output
    assert setup.shop.count("PUT") == writes, "nothing changed: not one write call"


def test_a_good_that_sold_out_goes_to_zero(setup: Setup) -> None:
    assert setup.hub("sync", "--source", "erp").exit_code == 0
    stocked = next(key for key, quantity in setup.expected_stock().items() if quantity > 0)
    calls = setup.writes(STOCK)
    sell_out(setup, *stocked)

    assert setup.hub("sync", "--source", "erp", "--entity", "stock").exit_code == 0
    assert setup.writes(STOCK) == calls + 1
    assert setup.shop_stock()[stocked] == 0
    assert setup.shop_stock() == setup.expected_stock()


def test_a_stop_list_shop_gets_goods_at_zero_as_stopped(make_setup: Callable[..., Setup]) -> None:
    setup = make_setup(stop_list=True)
    assert setup.hub("sync", "--source", "erp").exit_code == 0
    expected = setup.expected_stock()
    assert {key: item["stopped"] for key, item in setup.shop.stock.items()} == {
        key: quantity <= 0 for key, quantity in expected.items()}
    assert not any("quantity" in item for item in setup.shop.stock.values())
    assert {True, False} == {quantity <= 0 for quantity in expected.values()}

    calls = setup.writes(STOCK)
    setup.onec.demo_activity()  # more of a good arrives: still in stock, nothing a stop list can show
    assert setup.hub("sync", "--source", "erp", "--entity", "stock").exit_code == 0
    assert setup.writes(STOCK) == calls, "a stop-list shop is written to only when a good stops or returns"

    stocked = next(key for key, quantity in expected.items() if quantity > 0)
    sell_out(setup, *stocked)
    assert setup.hub("sync", "--source", "erp", "--entity", "stock").exit_code == 0
    assert setup.writes(STOCK) == calls + 1
    assert setup.shop.stock[stocked]["stopped"] is True


def test_dry_run_shows_create_update_and_skip_and_writes_nothing(setup: Setup) -> None:
    result = setup.hub("sync", "--source", "erp", "--dry-run")
    assert result.exit_code == 0, result.output
    assert setup.shop.count("PUT") == 0
    plans = planned(result.output)
    assert plans["goods"] == {ref: "create" for ref in setup.skus()}
    # Nothing is linked before the catalog is really pushed, so a dry run can only say so.
    assert set(plans["stock"].values()) == set(plans["prices"].values()) == {"skip (not in the channel's catalog)"}

    assert setup.hub("sync", "--source", "erp").exit_code == 0
    before = setup.expected_stock()
    setup.onec.demo_activity()
    changed = next(key for key, quantity in setup.expected_stock().items() if quantity != before[key])
    writes = setup.shop.count("PUT")

    result = setup.hub("sync", "--source", "erp", "--entity", "stock", "--dry-run")
    assert result.exit_code == 0, result.output
    assert setup.shop.count("PUT") == writes
    actions = planned(result.output)["stock"]
    assert actions.pop(f"{changed[0]}:{changed[1]}") == "update"
    assert len(actions) == len(before) - 1 and set(actions.values()) == {"skip"}

    assert setup.hub("sync", "--source", "erp", "--entity", "stock").exit_code == 0
    assert setup.shop.count("PUT") == writes + 1, "the dry run stored nothing: the real run still sends it"


def planned(output: str) -> dict[str, dict[str, str]]:
    """Job → record → what the dry run would do with it, from the CLI's plan tables."""
    plans: dict[str, dict[str, str]] = {}
    job = ""
    for line in output.splitlines():
        if ": dry run, nothing written" in line:
            job = line.strip().split(":")[0]
            plans[job] = {}
        elif job and line.count("│") >= 4:
            cells = [cell.strip() for cell in line.split("│")]
            plans[job][cells[2]] = cells[3]
    return plans


def test_goods_the_channel_does_not_know_are_skipped_and_counted(
        setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(setup.config_file)
    with Runtime(config) as runtime, caplog.at_level(logging.WARNING, logger="hub.jobs.stock"):
        info, _ = run_job(runtime, "stock")  # before the catalog job linked any good
    assert info.status == "succeeded" and info.counts.failed == 0
    assert setup.writes(STOCK) == 0
    goods_with_stock = len({ref for ref, _ in balances_by_good(setup)})
    assert f"{goods_with_stock} good(s) with stock are not in shop's catalog (no id link), skipped" in caplog.text


@pytest.mark.parametrize(("options", "problem"), [
    ({}, "jobs.stock.options.venues: required key is missing"),
    ({"venues": {}}, "jobs.stock.options.venues: Dictionary should have at least 1 item"),
    ({"venues": {"cafe": "x"}, "warehouse": "y"}, "jobs.stock.options.warehouse: unknown key; known: venues"),
])
def test_bad_options_are_config_errors(setup: Setup, options: dict[str, Any], problem: str) -> None:
    config = yaml.safe_load(setup.config_file.read_text())
    config["jobs"]["stock"]["options"] = options
    config["jobs"]["prices"]["options"] = {"price_type": ""}
    setup.config_file.write_text(yaml.safe_dump(config, allow_unicode=True))

    for refused in (setup.hub("check"), setup.hub("sync", "--source", "erp", "--entity", "stock")):
        assert refused.exit_code == 2
        output = " ".join(refused.output.split())
        assert f"{setup.config_file}:" in output and problem in output
        assert "jobs.prices.options.price_type: String should have at least 1 character" in output
    assert setup.writes(STOCK) == 0


def balances_by_good(setup: Setup) -> set[tuple[str, str]]:
    return {(m["Номенклатура_Key"], m[f"{setup.onec.presets[0].stock_warehouse}_Key"])
            for m in setup.onec.rows(setup.onec.presets[0].stock)}


def sell_out(setup: Setup, venue: str, sku: str) -> None:
    """Record in 1C the sale of everything the venue's warehouse holds of ``sku``."""
    onec, preset = setup.onec, setup.onec.presets[0]
    ref = next(row["Ref_Key"] for row in onec.rows(GOODS) if (row["Артикул"] or row["Ref_Key"]) == sku)
    warehouse = setup.venues[venue]
    held = setup.expected_stock()[(venue, sku)]
    template = next(m for m in onec.rows(preset.stock) if m["Номенклатура_Key"] == ref
                    and m[f"{preset.stock_warehouse}_Key"] == warehouse)
    with onec._store:  # the sandbox has no public "sale"; its query cache is keyed on the change counter
        onec.records[preset.stock].append({**template, "RecordType": "Expense", preset.stock_resource: held})
        onec._changes += 1
    assert setup.expected_stock()[(venue, sku)] == Decimal(0)


def test_a_good_the_shop_refuses_is_a_dead_letter_and_the_others_are_written(setup: Setup) -> None:
    skus = sorted(setup.skus().values())
    refused = skus[1]
    setup.shop.refused_skus = {refused}
    config = load_config(setup.config_file)
    with Runtime(config) as runtime:
        info, _ = run_job(runtime, "goods")
        assert info.counts.failed == 1
        assert info.counts.created == len(skus) - 1
        assert set(setup.shop.products) == set(skus) - {refused}
        with runtime.store.transaction() as state:
            [letter] = state.dead_letters.list(source="shop")
        assert (letter.external_id, letter.stage) == (next(r for r, s in setup.skus().items() if s == refused), "push")
        assert f"sku {refused} is refused by moderation" in letter.reason

        setup.shop.refused_skus = set()  # moderation let it through: the next push sends it, and only it
        before = setup.writes(PRODUCTS)
        info, _ = run_job(runtime, "goods")
    assert info.counts.failed == 0 and info.counts.created == 1
    assert setup.writes(PRODUCTS) == before + 1
    assert set(setup.shop.products) == set(skus)
