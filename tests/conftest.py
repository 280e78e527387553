"""Fixtures shared by every test.

State-store fixtures run each test on both SQLite and a real PostgreSQL server:

* ``postgres_url`` - one PostgreSQL server for the whole session (started only if a test needs it);
* ``state_url`` - an empty database per test, once on SQLite and once on PostgreSQL
  (the PostgreSQL run carries the ``postgres`` marker: ``-m "not postgres"`` skips it);
* ``store`` - a migrated :class:`hub.state.StateStore` on ``state_url``;
* ``pair`` - a testchannel shop and a testchannel standing in for 1C, with a hub.yaml joining them;
* ``onec_stage`` - the 1C sandbox as the system of record and testchannel shops, with a hub.yaml.

A test marked ``samples`` reads the reference samples in ``../shared``: it skips where they are absent, and
fails there under CI (see tests/_shared.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

import cli
from connectors.onec_odata import OneCSandbox
from connectors.testchannel import TestChannelSandbox
from hub.state import StateStore, open_store
from hub.testing.postgres import create_database, postgres_server
from tests._shared import require_samples


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture: a fixture may read a sample too.
    if item.get_closest_marker("samples"):
        require_samples()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a database on a PostgreSQL server started for this test session."""
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database of this test's own, on each dialect the state store supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    # Looked up here, not declared as an argument, so SQLite-only runs never start a server.
    return create_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    """A migrated state store on ``state_url``."""
    opened = open_store(state_url)
    yield opened
    opened.close()


@dataclass
class ChannelPair:
    """A testchannel shop with orders and another standing in for 1C, and a hub.yaml joining them."""

    shop: TestChannelSandbox
    erp: TestChannelSandbox
    config_file: Path
    state_url: str
    env: dict[str, str]


def write_pair_config(path: Path, shop: TestChannelSandbox, erp: TestChannelSandbox, state_url: str,
                      *, page_size: int = 10) -> Path:
    retry = {"attempts": 2, "backoff": 0.01, "max_backoff": 0.02}
    config = {
        "state": {"url": state_url},
        "system_of_record": "erp",
        "log": {"level": "WARNING"},
        "sources": {
            "shop": {"type": "testchannel", "url": shop.url, "token": "${SHOP_TOKEN}", "page_size": page_size,
                     "retry": retry},
            "erp": {"type": "testchannel", "url": erp.url, "token": "${ERP_TOKEN}", "retry": retry},
        },
        "jobs": {"shop-orders": {"type": "orders", "from": "shop", "to": "erp"}},
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def pair_config() -> Callable[..., Path]:
    """:func:`write_pair_config`, for tests that start their own sandboxes."""
    return write_pair_config


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelPair]:
    """Sandboxes and config on SQLite, with the tokens exported as the config expects."""
    env = {"SHOP_TOKEN": "shop-secret", "ERP_TOKEN": "erp-secret"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with TestChannelSandbox(token=env["SHOP_TOKEN"], seed=11) as shop, \
            TestChannelSandbox(token=env["ERP_TOKEN"]) as erp:
        state_url = f"sqlite:///{tmp_path / 'pair.db'}"
        config_file = write_pair_config(tmp_path / "hub.yaml", shop, erp, state_url)
        yield ChannelPair(shop, erp, config_file, state_url, env)


@dataclass
class OneCStage:
    """1C as the system of record, testchannel shops as channels, and a hub.yaml joining them."""

    onec: OneCSandbox
    channels: dict[str, TestChannelSandbox]
    config: Path
    state_url: str

    @property
    def shop(self) -> TestChannelSandbox:
        return self.channels["shop"]

    def hub(self, *args: str) -> Result:
        """Run ``hub <args>`` with this stage's config."""
        return CliRunner().invoke(cli.main, ["--config", str(self.config), *args])

    def document(self, channel: str, order: dict[str, Any]) -> dict[str, Any]:
        """The one 1C customer order a channel's order became."""
        [document] = [d for d in self.onec.rows("Document_ЗаказКлиента")
                      if d["НомерПоДаннымКлиента"] == f"{channel}:{order['id']}"]
        return document


StageJobs = Callable[[OneCSandbox, list[str]], dict[str, Any]]
"""Builds the stage's ``jobs:`` from its 1C sandbox and channel names."""


@pytest.fixture
def onec_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., OneCStage]]:
    """A factory of :class:`OneCStage`: ``onec_stage(jobs, channels=("shop",))``; sandboxes stop after the test."""
    monkeypatch.setenv("ONEC_PASSWORD", "sandbox-secret")
    monkeypatch.setenv("SHOP_TOKEN", "shop-secret")
    with ExitStack() as running:
        def make(jobs: StageJobs, channels: tuple[str, ...] = ("shop",)) -> OneCStage:
            onec = running.enter_context(OneCSandbox())
            shops = {name: running.enter_context(TestChannelSandbox(token="shop-secret", seed=5 + n))
                     for n, name in enumerate(channels)}
            state_url = f"sqlite:///{tmp_path / 'state.db'}"
            config = {
                "state": {"url": state_url}, "system_of_record": "onec", "log": {"level": "WARNING"},
                "sources": {"onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}"},
                            **{name: {"type": "testchannel", "url": shop.url, "token": "${SHOP_TOKEN}"}
                               for name, shop in shops.items()}},
                "jobs": jobs(onec, list(channels)),
            }
            path = tmp_path / "hub.yaml"
            path.write_text(yaml.safe_dump(config, allow_unicode=True))
            return OneCStage(onec, shops, path, state_url)

        yield make
