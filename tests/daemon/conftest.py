"""A daemon stage: the 1C sandbox, a testchannel shop that sends order webhooks, and a hub.yaml for a daemon.

``daemon_stage(...)`` writes the config; ``stage.start()`` runs a :class:`hub.daemon.Daemon`
in this process (stopped after the test), ``stage.process()`` a real ``hub daemon``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.onec_odata import OneCSandbox
from connectors.testchannel import TestChannelSandbox
from hub.config import load_config
from hub.daemon import Daemon
from hub.jobrun import run_job
from hub.runtime import Runtime
from hub.state import RunInfo, StateStore, open_store

ENV = {"ONEC_PASSWORD": "sandbox-secret", "SHOP_TOKEN": "shop-secret", "SHOP_WEBHOOK_SECRET": "hook-secret"}
DOCUMENTS = "Document_ЗаказКлиента"


def wait_for(condition: Callable[[], Any], *, timeout: float = 15, what: str = "the condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)  # a poll interval inside a deadline, not a wait for something to happen


class DaemonProcess:
    """``hub daemon`` in a child process; what it prints is collected as it comes."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "cli", "--config", str(config), "daemon"],
                                        env={**os.environ, **ENV}, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def url(self, timeout: float = 30) -> str:
        """The base URL from its start-up line, once printed."""
        def printed() -> str | None:
            found = re.search(r"hub daemon listening on (http://\S+)", self.output)
            if found is None and self.process.poll() is not None:
                raise AssertionError(f"the daemon exited with {self.process.returncode}:\n{self.output}")
            return found.group(1) if found else None
        try:
            return str(wait_for(printed, timeout=timeout, what="the daemon to start"))
        except AssertionError as exc:
            raise AssertionError(f"{exc}; it printed:\n{self.output}") from None

    def kill(self) -> None:
        """SIGKILL it if it is still running (a test that failed half-way)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def terminate(self, timeout: float = 60) -> tuple[int, str]:
        """SIGTERM; the exit code and everything it printed."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code, self.output


@dataclass
class DaemonStage:
    onec: OneCSandbox
    shop: TestChannelSandbox
    config: Path
    state_url: str
    _running: ExitStack
    daemons: list[Daemon] = field(default_factory=list)
    _store: StateStore | None = None

    def start(self) -> Daemon:
        """A daemon in this process, started; the shop's webhooks go to it."""
        daemon = Daemon(load_config(self.config))
        self.shop.webhook_url = daemon.start() + "/shop/orders"
        self.daemons.append(daemon)
        return daemon

    def stop(self, daemon: Daemon) -> None:
        daemon.stop()
        self.daemons.remove(daemon)

    def process(self) -> DaemonProcess:
        child = DaemonProcess(self.config)
        self._running.callback(child.kill)
        return child

    def sync(self, *jobs: str) -> None:
        """Run ``jobs`` once, as ``hub sync`` would."""
        with Runtime(load_config(self.config)) as runtime:
            for name in jobs:
                info, _ = run_job(runtime, name)
                assert info.status == "succeeded", info

    def documents(self, order: dict[str, Any]) -> list[dict[str, Any]]:
        """The 1C documents the shop's ``order`` became, once posted (1C creates, then posts)."""
        return [d for d in self.onec.rows(DOCUMENTS)
                if d["НомерПоДаннымКлиента"] == f"shop:{order['id']}" and d["Posted"]]

    def store(self) -> StateStore:
        """The stage's state store, opened once."""
        if self._store is None:
            self._store = open_store(self.state_url)
            self._running.callback(self._store.close)
        return self._store

    def runs(self) -> list[RunInfo]:
        with self.store().transaction() as state:
            return state.runs.recent(1000)


@pytest.fixture
def daemon_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., DaemonStage]]:
    """``daemon_stage(state_url=None, jobs=None, **settings)``: sandboxes and a daemon's hub.yaml.

    By default the jobs are customers and catalog (1C → shop) and orders (shop → 1C, hourly, so only
    the webhooks make orders move); ``settings`` go into the ``daemon:`` section.
    """
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with ExitStack() as running:
        made: list[DaemonStage] = []

        def make(*, state_url: str | None = None, jobs: dict[str, Any] | None = None, max_body: int | None = None,
                 **settings: Any) -> DaemonStage:
            onec = running.enter_context(OneCSandbox())
            shop = running.enter_context(TestChannelSandbox(token=ENV["SHOP_TOKEN"], seed=3))
            shop.webhook_secret = ENV["SHOP_WEBHOOK_SECRET"]
            url = state_url or f"sqlite:///{tmp_path / 'state.db'}"
            inbound = {"max_body": max_body} if max_body else {}
            config = {
                "state": {"url": url}, "system_of_record": "onec", "log": {"level": "INFO"},
                "daemon": {"listen": "127.0.0.1:0", "poll": "1s", "shutdown_timeout": "10s", **settings},
                "sources": {
                    "onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}"},
                    "shop": {"type": "testchannel", "url": shop.url, "token": "${SHOP_TOKEN}",
                             "webhook_secret": "${SHOP_WEBHOOK_SECRET}", "inbound": inbound},
                },
                "jobs": jobs if jobs is not None else {
                    "customers": {"type": "customers", "from": "onec"},
                    "catalog": {"type": "catalog", "from": "onec", "to": "shop"},
                    "orders": {"type": "orders", "from": "shop", "to": "onec", "schedule": {"every": "1h"}},
                },
            }
            path = tmp_path / "hub.yaml"
            path.write_text(yaml.safe_dump(config, allow_unicode=True))
            stage = DaemonStage(onec, shop, path, url, running)
            made.append(stage)
            return stage

        yield make
        for stage in made:
            for daemon in list(stage.daemons):
                stage.stop(daemon)
