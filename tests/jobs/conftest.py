"""A 1C sandbox and a testchannel shop joined by catalog, stock and prices jobs, and what the shop should end up with.

The expected state is worked out from the 1C sandbox's own rows (register
movements summed, the last price per good), not through hub, so the tests
compare hub's result with an independent answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

import cli
from connectors.onec_odata import OneCSandbox
from connectors.onec_odata._schema import GOODS, PRICES
from connectors.testchannel import TestChannelSandbox

ENV = {"SHOP_TOKEN": "shop-secret", "ERP_PASSWORD": "sandbox-secret"}
RETRY = {"attempts": 2, "backoff": 0.01, "max_backoff": 0.02}


@dataclass
class Setup:
    """The two sandboxes, the hub.yaml joining them, and the venues and price type the jobs use."""

    onec: OneCSandbox
    shop: TestChannelSandbox
    config_file: Path
    state_url: str
    venues: dict[str, str]
    price_type: str

    def hub(self, *args: str) -> Result:
        return CliRunner().invoke(cli.main, ["--config", str(self.config_file), *args])

    def writes(self, path: str) -> int:
        """PUT calls the shop has had on ``path``."""
        return self.shop.count("PUT", path)

    def expected_stock(self) -> dict[tuple[str, str], Decimal]:
        """(venue, SKU) → what 1C's warehouse behind the venue holds, for every good of the catalog."""
        preset = self.onec.presets[0]
        held: dict[tuple[str, str], Decimal] = {}
        for move in self.onec.rows(preset.stock):
            if move["Active"]:
                key = (move["Номенклатура_Key"], move[f"{preset.stock_warehouse}_Key"])
                sign = 1 if move["RecordType"] == "Receipt" else -1
                held[key] = held.get(key, Decimal(0)) + sign * move[preset.stock_resource]
        return {(venue, sku): held.get((ref, warehouse), Decimal(0))
                for ref, sku in self.skus().items() for venue, warehouse in self.venues.items()}

    def expected_prices(self) -> dict[str, Decimal]:
        """SKU → the latest price of the job's price type."""
        latest: dict[str, tuple[Any, Decimal]] = {}
        price_type = f"{self.onec.presets[0].price_type}_Key"
        for record in self.onec.rows(PRICES):
            if record[price_type] == self.price_type:
                held = latest.get(record["Номенклатура_Key"])
                if held is None or record["Period"] >= held[0]:
                    latest[record["Номенклатура_Key"]] = (record["Period"], record["Цена"])
        skus = self.skus()
        return {skus[ref]: price for ref, (_, price) in latest.items() if ref in skus}

    def skus(self) -> dict[str, str]:
        """1C good → the shop's SKU, as the catalog job names them (the article, else the reference)."""
        return {row["Ref_Key"]: row["Артикул"] or row["Ref_Key"] for row in self.onec.rows(GOODS)
                if not row["IsFolder"]}

    def shop_stock(self) -> dict[tuple[str, str], Decimal]:
        return {key: Decimal(item["quantity"]) for key, item in self.shop.stock.items()}

    def shop_prices(self) -> dict[str, Decimal]:
        return {sku: Decimal(item["price"]) for sku, item in self.shop.prices.items()}


def write_config(path: Path, onec: OneCSandbox, shop: TestChannelSandbox, state_url: str, *,
                 venues: dict[str, str], price_type: str, stop_list: bool = False) -> Path:
    erp = {"type": "onec_odata", **onec.source_settings(), "password": "${ERP_PASSWORD}", "retry": RETRY}
    config = {
        "state": {"url": state_url},
        "system_of_record": "erp",
        "log": {"level": "WARNING"},
        "sources": {
            "erp": erp,
            "shop": {"type": "testchannel", "url": shop.url, "token": "${SHOP_TOKEN}", "retry": RETRY,
                     "stop_list": stop_list},
        },
        "jobs": {
            "goods": {"type": "catalog", "from": "erp", "to": "shop"},
            "stock": {"type": "stock", "from": "erp", "to": "shop", "options": {"venues": venues}},
            "prices": {"type": "prices", "from": "erp", "to": "shop", "options": {"price_type": price_type}},
        },
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


@pytest.fixture
def make_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Setup]]:
    """Build a :class:`Setup` on ``state_url`` (SQLite in tmp_path by default); sandboxes stop at the end."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    started: list[OneCSandbox | TestChannelSandbox] = []

    def make(state_url: str | None = None, *, stop_list: bool = False) -> Setup:
        onec = OneCSandbox(password=ENV["ERP_PASSWORD"])
        shop = TestChannelSandbox(token=ENV["SHOP_TOKEN"])
        for sandbox in (onec, shop):
            sandbox.start()
            started.append(sandbox)
        kitchen, hall = (row["Ref_Key"] for row in onec.rows(onec.presets[0].warehouses))
        venues = {"cafe": kitchen, "store": hall}
        price_type = str(onec.preset_values()["price_type"])
        url = state_url or f"sqlite:///{tmp_path / 'state.db'}"
        config_file = write_config(tmp_path / "hub.yaml", onec, shop, url, venues=venues, price_type=price_type,
                                   stop_list=stop_list)
        return Setup(onec, shop, config_file, url, venues, price_type)

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def setup(make_setup: Callable[..., Setup]) -> Setup:
    return make_setup()
