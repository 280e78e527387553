"""``--dry-run`` shows every write it would make, with the fields each update changes, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import cli
from hub.model import PriceEntry, Product
from hub.pipeline import field_diff
from tests.conftest import ChannelPair, OneCStage
from tests.jobs.conftest import Setup, make_setup  # noqa: F401 - imported to be the fixture of the same name
from tests.test_onec_flows import ORDERS
from tests.test_onec_flows import jobs as onec_jobs

pytestmark = pytest.mark.slow


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli.main, ["--config", str(config), *args])


def changes(output: str, target: str, key: str) -> list[str]:
    """The ``field: old → new`` lines printed beneath the planned update of ``key`` on ``target``."""
    lines = output.splitlines()
    start = lines.index(f"update {target} {key}:") + 1
    end = next((n for n in range(start, len(lines)) if not lines[n].startswith("  ")), len(lines))
    return [line.strip() for line in lines[start:end]]


def test_an_order_status_change_is_shown_as_its_field_and_written_only_by_the_real_run(pair: ChannelPair) -> None:
    order = pair.shop.place_order()
    other = pair.shop.place_order()
    assert run(pair.config_file, "sync", "--source", "shop").exit_code == 0
    pair.shop.set_status(order["id"], "done")
    requests = pair.erp.count("POST") + pair.erp.count("PUT")

    result = run(pair.config_file, "sync", "--source", "shop", "--dry-run")
    assert result.exit_code == 0, result.output
    assert changes(result.output, "erp", f"shop:{order['id']}") == ["status: accepted → delivered"]
    assert f"shop:{other['id']}" not in result.output, "an order that did not change is not read again"
    assert pair.erp.count("POST") + pair.erp.count("PUT") == requests
    assert {o["status"] for o in pair.erp.orders.values()} == {"paid"}

    assert run(pair.config_file, "sync", "--source", "shop").exit_code == 0
    assert pair.erp.count("POST") + pair.erp.count("PUT") == requests + 1
    assert [o["status"] for o in pair.erp.orders.values() if o["client_ref"] == f"shop:{order['id']}"] == ["done"]


def test_a_price_change_in_1c_is_the_one_update_a_prices_dry_run_shows(
        make_setup: Callable[..., Setup]) -> None:  # noqa: F811 - the fixture imported above
    setup = make_setup()
    assert setup.hub("sync", "--source", "erp").exit_code == 0
    before = setup.expected_prices()
    setup.onec.demo_activity()
    after = setup.expected_prices()
    [sku] = [sku for sku in after if after[sku] != before[sku]]
    writes = setup.writes("/api/v1/prices")

    result = setup.hub("sync", "--source", "erp", "--entity", "prices", "--dry-run")
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("update ")] == [f"update shop {sku}:"]
    assert changes(result.output, "shop", sku) == [f"amount: {before[sku]} → {after[sku]}"]
    assert setup.writes("/api/v1/prices") == writes

    assert setup.hub("sync", "--source", "erp", "--entity", "prices").exit_code == 0
    assert setup.writes("/api/v1/prices") == writes + 1
    assert setup.shop_prices()[sku] == after[sku]


def test_field_diff_names_nested_fields_by_path_and_compares_numbers_as_numbers() -> None:
    sent = ('{"id":"g1","article":null,"name":"Tea","unit":"pcs","barcodes":["460","461"],"group":null,'
            '"vat_rate":"20.00","vat_free":false,"weighed":false,"deleted":false,"attributes":{"pack":{"grams":100}}}')
    now = Product(id="g1", name="Green tea", barcodes=["460"], vat_rate=Decimal(20),
                  attributes={"pack": {"grams": 250}})
    assert field_diff(sent, now) == {"name": ("Tea", "Green tea"), "attributes.pack.grams": (100, 250),
                                     "barcodes[1]": ("461", None)}
    assert field_diff(None, PriceEntry(product="g1", price_type="retail", amount=Decimal("99.90"))) == {
        "product": (None, "g1"), "price_type": (None, "retail"), "amount": (None, "99.90"),
        "currency": (None, "RUB")}


def test_a_dry_run_names_the_goods_sums_up_and_says_what_would_fail(
        onec_stage: Callable[..., OneCStage]) -> None:
    stage = onec_stage(onec_jobs, channels=("shop",))
    assert stage.hub("sync", "--source", "onec").exit_code == 0
    sold = next(iter(stage.shop.products.values()))
    known = {"sku": sold["sku"], "title": "Капучино", "qty": "2", "price": "150.00", "discount": "0",
             "total": "300.00"}
    unknown = known | {"sku": "NOPE-404", "title": "Пирог", "qty": "1", "total": "150.00"}
    good = stage.shop.place_order(items=[known], total="300.00")
    bad = stage.shop.place_order(items=[known, unknown], total="450.00")
    documents = len(stage.onec.rows(ORDERS))

    result = stage.hub("sync", "--source", "shop", "--dry-run")
    assert result.exit_code == 1, result.output   # a record would fail: as a real run would say
    assert f"Капучино ({sold['sku']}) ×2" in result.output   # an order's lines as the guest named them
    assert f"{sold['title']} ({sold['sku']})" in result.output   # 1C's goods in the catalog push
    [line] = [line for line in result.output.splitlines() if line.startswith("would fail:")]
    assert line.startswith(f"would fail: shop:{bad['id']} → onec: ") and "NOPE-404" in line, line
    assert "shop-orders would create 1, update 0, unchanged 0, fail 1." in result.output
    assert f"shop:{good['id']}" in result.output
    assert len(stage.onec.rows(ORDERS)) == documents
