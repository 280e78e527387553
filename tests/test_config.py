"""hub.yaml: every problem at once, each with file:line:column and a hint."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from hub import plugins, registry
from hub.config import bundled_mappings, find_config_file, load_config
from hub.errors import ConfigError
from hub.registry import connector_types
from hub.state import open_store
from hub.yamlsource import load_yaml

ENV = {"SHOP_TOKEN": "s3cr3t-shop", "ERP_TOKEN": "s3cr3t-erp", "ONEC_PASSWORD": "s3cr3t-1c",
       "YANDEX_CLIENT_SECRET": "s3cr3t-yandex"}
SHIPPED = Path(__file__).parent.parent / "config" / "hub.yaml"
SHOP = "sources:\n  shop: {type: testchannel, url: 'http://127.0.0.1:1', token: t}\n"


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
        "timezone, users, version",
    ]


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    assert problems_of(tmp_path, SHOP + "version: 1\nversion: 1\n") == [
        "hub.yaml:4:1: duplicate key 'version' (first defined at line 3)"]


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

    monkeypatch.setattr(plugins, "entry_points", lambda group: [BrokenPoint()])
    plugins.installed.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"entry point 'broken' in hub\.connectors .* failed to load"):
            registry.connector_types()
    finally:
        plugins.installed.cache_clear()


def test_connectors_are_found_through_entry_points() -> None:
    from connectors.testchannel import TestChannelConnector

    assert registry.connector_types()["testchannel"] is TestChannelConnector


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("", "hub.yaml:1:1: sources: no source is configured, so hub has nothing to connect; add sources: and "
                     "jobs: (an annotated example ships in config/hub.yaml)", id="empty file"),
    pytest.param(SHOP + "jobs:\n  j: {type: orders, from: shop, to: shop, schedule: {evry: 1h}}\n",
                 "hub.yaml:4:54: jobs.j.schedule.evry: unknown key; did you mean 'every'?", id="schedule key"),
    pytest.param("sources:\n  shop:\n    {type: testchannel, url: 'http://127.0.0.1:1', token: t,\n"
                 "     rate_limit: {per_secnd: 5, per_second: 5}}\n",
                 "hub.yaml:4:19: sources.shop.rate_limit.per_secnd: unknown key; did you mean 'per_second'?",
                 id="rate_limit key"),
    pytest.param("sources:\n  shop: {type: testchannel, url: '127.0.0.1:8100/trade', token: t}\n",
                 "hub.yaml:2:34: sources.shop.url: expected an http:// or https:// URL (got '127.0.0.1:8100/trade'); "
                 "did you mean 'http://127.0.0.1:8100/trade'?", id="url without scheme"),
    pytest.param("sources:\n  onec: {type: onec_odata, url: 'http://127.0.0.1:1', username: u, password: p,\n"
                 "         preset: ut12}\n",
                 f"hub.yaml:3:18: sources.onec.preset: no preset 'ut12' in {bundled_mappings() / 'onec'}; "
                 "did you mean 'ut11'?", id="preset"),
    pytest.param("sources:\n  onec: {type: onec_odata, url: 'http://127.0.0.1:1', username: u, password: p,\n"
                 "         preset: ''}\n",
                 f"hub.yaml:3:18: sources.onec.preset: no preset '' in {bundled_mappings() / 'onec'}; "
                 "known: retail, unf, ut11", id="empty preset"),
    pytest.param("sources:\n  yandex:\n    {type: yandex_eda, clients: [{client_id: a, client_secret: b}],\n"
                 "     venues: {main: {title: Кофейня, adress: Тверская}}}\n",
                 "hub.yaml:4:38: sources.yandex.venues.main.adress: unknown key; did you mean 'address'?",
                 id="key of a model inside a dict"),
    pytest.param(SHOP + "jobs:\n  j: {type: catalog, from: shop, to: shop, options: {delete: skip}}\n",
                 "hub.yaml:4:54: jobs.j.options.delete: unknown key; did you mean 'deleted'?", id="job option"),
    pytest.param(SHOP + "mappings: my-mappings\n",
                 "hub.yaml:3:11: mappings: no folder {folder}/my-mappings; copy there the mappings installed with hub "
                 "(`hub mappings check` names their folder)", id="mappings folder"),
    pytest.param(SHOP + "state: {url: hub-state.db}\n",
                 "hub.yaml:3:14: state.url: not a database URL: use sqlite:///hub-state.db or "
                 "postgresql+psycopg://user@host/db (got 'hub-state.db')", id="state url"),
])
def test_a_config_mistake_is_one_line_with_its_place_and_a_hint(tmp_path: Path, text: str, expected: str) -> None:
    assert problems_of(tmp_path, text) == [expected.format(folder=tmp_path)]


def test_a_config_mistake_exits_2_through_the_cli(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("sources:\n  shop: {type: testchannel, url: '127.0.0.1:8100/trade', token: t}\n")
    result = CliRunner().invoke(cli.main, ["--config", str(config), "check"])
    assert result.exit_code == 2, result.output
    assert f"error: {config}:2:34: sources.shop.url: expected an http:// or https:// URL" in result.output
    assert "Traceback" not in result.output


def test_relative_paths_are_from_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "srv"
    (folder / "own-mappings").mkdir(parents=True)
    (folder / "hub.yaml").write_text(
        "state: {url: 'sqlite:///state/hub.db'}\nmappings: own-mappings\n"
        "sources:\n  site: {type: commerceml_1c, username: u, password: p, work_dir: uploads}\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("srv/hub.yaml"))
    assert config.state.url == f"sqlite:///{folder}/state/hub.db"
    assert config.mappings == folder / "own-mappings"
    assert config.sources["site"].work_dir == folder / "uploads"  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["sqlite:////var/lib/hub/hub.db", "sqlite://", "postgresql+psycopg://hub@db/hub"])
def test_absolute_and_server_state_urls_are_kept(tmp_path: Path, url: str) -> None:
    (tmp_path / "hub.yaml").write_text(SHOP + f"state: {{url: '{url}'}}\n")
    assert load_config(tmp_path / "hub.yaml").state.url == url


def test_status_from_another_folder_reads_the_state_beside_the_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "srv" / "hub"
    folder.mkdir(parents=True)
    (folder / "hub.yaml").write_text("state: {url: 'sqlite:///hub-state.db'}\n" + SHOP)
    store = open_store(f"sqlite:///{folder / 'hub-state.db'}")
    with store.transaction() as state:
        for number in ("1", "2"):
            state.dead_letters.add(source="shop", entity="order", external_id=number, stage="map",
                                   reason="no such product", payload=b"{}")
    store.close()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(cli.main, ["--config", str(folder / "hub.yaml"), "status"])
    assert result.exit_code == 0, result.output
    assert "open dead letters: 2" in result.output
    assert list(elsewhere.iterdir()) == []


def test_mappings_check_says_which_folder_it_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    installed = CliRunner().invoke(cli.main, ["mappings", "check"])
    assert installed.exit_code == 0, installed.output
    assert f"mappings ok: read {bundled_mappings()} (installed with hub: to change mappings, copy that folder " \
           "and point mappings: in hub.yaml at the copy)" in " ".join(installed.output.split())
    own = tmp_path / "own"
    own.mkdir()
    (own / "broken.yaml").write_text("entity: nothing\n")
    (tmp_path / "hub.yaml").write_text(SHOP + "mappings: own\n")
    broken = CliRunner().invoke(cli.main, ["--config", str(tmp_path / "hub.yaml"), "mappings", "check"])
    assert broken.exit_code == 2, broken.output
    assert f"hint: read {own}; docs/mappings.md" in broken.output


# A valid hub.yaml, mutated the ways hands get it wrong: a key misspelt by a character, a value of
# another type, a key dropped, a value nested one level too deep. Loading may refuse it, but only
# as ConfigError lines that each start with file:line:column, never with another exception.
_SHIPPED_DATA = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
_OTHER_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False),
                          st.text(max_size=12), st.lists(st.integers(0, 3), max_size=2),
                          st.dictionaries(st.text(max_size=4), st.integers(0, 3), max_size=2))


def _places(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    inside = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    return [path] + [place for key, value in inside for place in _places(value, (*path, key))]


@st.composite
def _mutated(draw: st.DrawFn) -> Any:
    data = yaml.safe_load(yaml.safe_dump(_SHIPPED_DATA))
    for _ in range(draw(st.integers(1, 3))):
        place = draw(st.sampled_from(_places(data)[1:] or [()]))
        if not place:
            return data
        parent = data
        for part in place[:-1]:
            parent = parent[part]
        key = place[-1]
        how = draw(st.sampled_from(["rename", "retype", "drop", "nest"]))
        if how == "rename" and isinstance(key, str):
            at = draw(st.integers(0, len(key)))
            typo = key[:at] + draw(st.text("abcdeorsty_", max_size=1)) + key[at + draw(st.integers(0, 1)):]
            parent[typo] = parent.pop(key)
        elif how == "drop" and isinstance(parent, dict):
            del parent[key]
        elif how == "nest":
            parent[key] = {draw(st.sampled_from(["every", "url", "x", str(key)])): parent[key]}
        else:
            parent[key] = draw(_OTHER_VALUES)
    return data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_mutated())
def test_no_mutation_of_a_valid_config_escapes_as_a_traceback(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    try:
        load_config(path, env=ENV)
    except ConfigError as exc:
        assert exc.problems
        placed = re.compile(rf"{re.escape(str(path))}:\d+:\d+: \S")
        assert [p for p in exc.problems if not placed.match(p)] == []
        assert [p for p in exc.problems if p.endswith("unknown key")] == []  # each has a did-you-mean or a list
