"""hub.yaml: every problem at once, each with file:line:column and a hint."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from hub import registry
from hub.config import bundled_mappings, find_config_file, load_config
from hub.errors import ConfigError
from hub.registry import connector_types
from hub.yamlsource import load_yaml

ENV = {"SHOP_TOKEN": "s3cr3t-shop", "ERP_TOKEN": "s3cr3t-erp", "ONEC_PASSWORD": "s3cr3t-1c",
       "YANDEX_CLIENT_SECRET": "s3cr3t-yandex"}
SHIPPED = Path(__file__).parent.parent / "config" / "hub.yaml"


def problems_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "hub.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path, env=ENV if env is None else env)
    return [p.replace(f"{path}:", "hub.yaml:") for p in raised.value.problems]


def test_the_shipped_example_loads() -> None:
    config = load_config(SHIPPED, env=ENV)
    assert set(config.sources) == {"onec", "shop", "yandex"}
    assert config.jobs["shop-orders"].schedule is not None
    assert config.jobs["shop-orders"].schedule.every == timedelta(minutes=1)
    assert config.timezone.key == "Europe/Moscow"
    assert config.secrets == {"s3cr3t-shop", "s3cr3t-1c", "s3cr3t-yandex"}
    assert config.mappings == bundled_mappings()


def test_every_problem_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    assert problems_of(tmp_path, """\
version: 1
timezone: Europe/Moskva
system_of_record: onec
sources:
  shop:
    type: testchannel
    url: http://127.0.0.1:1
    token: ${NOT_SET}
    page_size: 500
jobs:
  a:
    type: order
    from: shop
    to: [shop, erp]
    schedule: {every: 1m, cron: "* * * * *"}
  b:
    type: orders
    from: shop
    to: shop
    schedule: {cron: "every minute"}
loggging: {level: INFO}
""", env={}) == [
        "hub.yaml:2:11: timezone: unknown time zone 'Europe/Moskva' (use an IANA name such as Europe/Moscow)",
        "hub.yaml:3:19: system_of_record: no source named 'onec'; known: shop",
        "hub.yaml:8:12: sources.shop.token: environment variable NOT_SET is not set (referenced as ${NOT_SET}); "
        "export it before starting hub",
        "hub.yaml:9:16: sources.shop.page_size: Input should be less than or equal to 100 (got 500)",
        "hub.yaml:12:11: jobs.a.type: unknown job type 'order'; did you mean 'orders'?",
        "hub.yaml:14:16: jobs.a.to.1: no source named 'erp'; known: shop",
        "hub.yaml:15:15: jobs.a.schedule: give exactly one of 'every' or 'cron' "
        "(got {'every': '1m', 'cron': '* * * * *'})",
        "hub.yaml:20:22: jobs.b.schedule.cron: expected 5 fields: minute hour day month weekday (got 'every minute')",
        "hub.yaml:21:1: loggging: unknown key; known: daemon, jobs, log, mappings, sources, state, system_of_record, "
        "timezone, version",
    ]


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "sources: {}\nsources: {}\n") == [
        "hub.yaml:2:1: duplicate key 'sources' (first defined at line 1)"]


def test_broken_yaml_names_the_place(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, "sources:\n  shop: [unclosed\n")
    assert problem.startswith("hub.yaml:3:1: invalid YAML:")


def test_a_missing_type_lists_the_known_ones(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "sources:\n  shop:\n    url: x\n") == [
        "hub.yaml:2:3: sources.shop: missing 'type' (the connector type); known: "
        + ", ".join(sorted(connector_types()))]
    assert {"onec_odata", "testchannel", "yandex_eda"} <= set(connector_types())


def test_missing_required_settings(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "sources:\n  shop:\n    type: testchannel\n") == [
        "hub.yaml:2:3: sources.shop.token: required key is missing",
        "hub.yaml:2:3: sources.shop.url: required key is missing",
    ]


def test_yaml_numbers_with_a_point_are_decimals() -> None:
    doc = load_yaml("price: 0.1\nrate: 1.5e+2\n", "x.yaml")
    assert doc.data == {"price": Decimal("0.1"), "rate": Decimal("1.5e2")}


def test_no_config_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    with pytest.raises(ConfigError, match=r"hub\.yaml: configuration file not found") as raised:
        find_config_file(None)
    assert raised.value.hint is not None and "HUB_CONFIG" in raised.value.hint


def test_a_connector_that_fails_to_load_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenPoint:
        name = "broken"
        value = "nowhere.module:Thing"

        def load(self) -> object:
            raise ImportError("No module named 'nowhere'")

    monkeypatch.setattr(registry, "entry_points", lambda group: [BrokenPoint()])
    registry.connector_types.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"entry point 'broken' in hub\.connectors .* failed to load"):
            registry.connector_types()
    finally:
        registry.connector_types.cache_clear()


def test_connectors_are_found_through_entry_points() -> None:
    from connectors.testchannel import TestChannelConnector

    assert registry.connector_types()["testchannel"] is TestChannelConnector
