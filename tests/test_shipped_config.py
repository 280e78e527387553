"""The example config/hub.yaml works against the sandboxes it names, and hub check answers in time."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import cli
from connectors.onec_odata import OneCSandbox
from connectors.testchannel import TestChannelSandbox
from connectors.yandex_eda import YandexEdaSimulator
from hub.config import load_config
from hub.daemon import Daemon
from hub.operations import check_sources
from hub.runtime import Runtime

pytestmark = pytest.mark.slow
SHIPPED = Path(__file__).resolve().parents[1] / "config" / "hub.yaml"
YANDEX_CLIENT = ("my-cafe", "a-secret-of-the-test")
"""The client the shipped config registers for Yandex (its id as shipped, the secret from the environment)."""


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli.main, ["--config", str(config), *args])


def shipped_config(tmp_path: Path, urls: dict[str, str]) -> Path:
    """The shipped config with only its URLs replaced (``urls``: shipped → new), written into ``tmp_path``."""
    text = SHIPPED.read_text(encoding="utf-8")
    for shipped, new in urls.items():
        assert shipped in text, f"config/hub.yaml no longer names {shipped}"
        text = text.replace(shipped, new)
    path = tmp_path / "hub.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the shipped state url is relative: it lands here, whichever folder it means
    monkeypatch.setenv("ONEC_PASSWORD", "sandbox-secret")
    monkeypatch.setenv("SHOP_TOKEN", "sandbox-token")
    monkeypatch.setenv("YANDEX_CLIENT_SECRET", YANDEX_CLIENT[1])


@pytest.mark.usefixtures("environment")
def test_the_shipped_config_checks_ok_and_gives_yandex_a_menu(tmp_path: Path) -> None:
    with OneCSandbox() as onec, TestChannelSandbox() as shop, YandexEdaSimulator() as yandex:
        config = shipped_config(tmp_path, {"http://127.0.0.1:8100": onec.url, "http://127.0.0.1:8101": shop.url,
                                           "127.0.0.1:8080": "127.0.0.1:0"})
        checked = run(config, "check")
        assert checked.exit_code == 0, checked.output
        assert "3 of 3 source(s) ok." in checked.output

        synced = run(config, "sync", "--source", "onec")
        assert synced.exit_code == 0, synced.output

        daemon = Daemon(load_config(config))
        yandex.connect(daemon.start() + "/yandex", *YANDEX_CLIENT)
        try:
            menu = yandex.pull_menu("main")
        finally:
            daemon.stop()
    items = menu["composition"]["items"]
    assert items, "Yandex got an empty menu"
    assert all(item["price"] > 0 for item in items)


@pytest.mark.usefixtures("environment")
def test_check_names_a_price_type_in_job_options_that_1c_lacks(tmp_path: Path) -> None:
    elsewhere = "128b2f33-d23f-11f0-a24b-00155d01c80a"
    with OneCSandbox() as onec, TestChannelSandbox() as shop:
        price_type = onec.preset_values()["price_type"]
        config = shipped_config(tmp_path, {"http://127.0.0.1:8100": onec.url, "http://127.0.0.1:8101": shop.url,
                                           f"{{main: {price_type}}}": f"{{main: {elsewhere}}}"})
        checked = run(config, "check")
        with Runtime(load_config(config)) as runtime:
            results = {result.source: result for result in check_sources(runtime)}
    assert checked.exit_code == 1, checked.output
    assert "2 of 3 source(s) ok." in checked.output
    assert not results["onec"].ok
    assert results["onec"].detail == (f"jobs.yandex-prices.options.venues.main: {elsewhere} is not in "
                                      "Catalog_ВидыЦен of this base")


@pytest.fixture
def silent() -> Iterator[str]:
    """A URL whose server accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.usefixtures("environment")
def test_check_reports_a_1c_that_never_answers_within_its_timeout(tmp_path: Path, silent: str) -> None:
    config = shipped_config(tmp_path, {"http://127.0.0.1:8100/trade": silent + "/trade",
                                       "    preset: ut11": "    timeout: 1\n    preset: ut11"})
    started = time.monotonic()
    checked = run(config, "check")
    elapsed = time.monotonic() - started
    assert checked.exit_code == 1, checked.output
    assert "onec" in checked.output and "failed" in checked.output
    assert elapsed < 1 * 2 + 1.5, f"hub check took {elapsed:.1f} s for a 1 s timeout"
