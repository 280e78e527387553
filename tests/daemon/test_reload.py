"""SIGHUP: a real ``hub daemon`` reads hub.yaml again and goes on with it, answering every request meanwhile."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from hub.config import load_config
from hub.leases import Lease
from hub.values import json_loads
from tests.daemon.conftest import DaemonProcess, DaemonStage, wait_for

Stage = Callable[..., DaemonStage]
pytestmark = pytest.mark.slow


class Asking:
    """Asks the daemon something over and over from a thread, keeping every answer that was not a 200."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answered = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ask, daemon=True)
        self._thread.start()

    def _ask(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    status = session.get(self.url, timeout=10).status_code
                except requests.RequestException as exc:
                    self.failures.append(repr(exc))
                    continue
                self.answered += 1
                if status != 200:
                    self.failures.append(str(status))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def edit(stage: DaemonStage, change: Callable[[dict[str, Any]], None]) -> None:
    config = yaml.safe_load(stage.config.read_text())
    change(config)
    stage.config.write_text(yaml.safe_dump(config, allow_unicode=True))


def scheduled(stage: DaemonStage, job: str) -> int:
    return sum(1 for r in stage.runs() if r.job == job and r.trigger == "schedule" and r.finished_at)


def readiness(url: str) -> tuple[int, dict[str, Any]]:
    answer = requests.get(f"{url}/readyz", timeout=10)
    return answer.status_code, json_loads(answer.content)


def reloaded(daemon: DaemonProcess, times: int) -> Callable[[], bool]:
    return lambda: daemon.output.count("reloaded hub.yaml") >= times


def test_sighup_takes_a_new_schedule_and_refuses_a_broken_config_while_requests_are_answered(
        daemon_stage: Stage) -> None:
    stage = daemon_stage()
    stage.sync("customers", "catalog")
    daemon = stage.process()
    url = daemon.url()
    stage.shop.webhook_url = url + "/shop/orders"
    asking = Asking(url + "/healthz")
    wait_for(lambda: asking.answered >= 5, what="the first answers")
    assert scheduled(stage, "customers") == 0   # it has no schedule yet

    edit(stage, lambda config: config["jobs"]["customers"].update(schedule={"every": "1s"}))
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(reloaded(daemon, 1), timeout=30, what="the reload")
    wait_for(lambda: scheduled(stage, "customers") >= 2, timeout=30, what="the new schedule to run twice")

    # A broken hub.yaml is refused with its reason; the daemon goes on with the config it had.
    edit(stage, lambda config: config["jobs"]["customers"].update(shedule={"every": "1s"}))
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in daemon.output, timeout=30, what="the refusal")
    assert "jobs.customers.shedule: unknown key; did you mean 'schedule'?" in daemon.output
    runs = scheduled(stage, "customers")
    wait_for(lambda: scheduled(stage, "customers") > runs, timeout=30, what="the schedule to go on")

    # The endpoints were mounted again from the new config: an order still reaches 1C.
    order = stage.shop.place_order()
    wait_for(lambda: stage.documents(order), timeout=60, what="the order in 1C")
    asking.stop()
    code, output = daemon.terminate()

    assert code == 0, output
    assert "Traceback" not in output
    assert asking.failures == [] and asking.answered > 20, asking.failures[:5]
    assert output.count("reloaded hub.yaml") == 1


def test_sighup_adds_a_new_job_and_its_schedule(daemon_stage: Stage) -> None:
    stage = daemon_stage(jobs={"customers": {"type": "customers", "from": "onec"}})
    daemon = stage.process()
    daemon.url()

    edit(stage, lambda config: config["jobs"].update(
        catalog={"type": "catalog", "from": "onec", "to": "shop", "schedule": {"every": "1s"}}))
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(reloaded(daemon, 1), timeout=30, what="the reload")
    wait_for(lambda: scheduled(stage, "catalog") >= 1, timeout=30, what="the new job's first scheduled run")
    wait_for(lambda: stage.shop.products, timeout=30, what="goods in the shop")
    code, output = daemon.terminate()

    assert code == 0, output
    assert "job catalog scheduled" in output


def test_a_reload_gives_a_new_outbound_job_its_first_run_and_readyz_names_it_until_then(
        daemon_stage: Stage) -> None:
    stage = daemon_stage(jobs={"customers": {"type": "customers", "from": "onec"}})
    daemon = stage.start()
    assert readiness(daemon.url)[0] == 200

    edit(stage, lambda config: config["jobs"].update(
        catalog={"type": "catalog", "from": "onec", "to": "shop", "schedule": {"every": "1h"}}))
    with Lease(stage.store(), "job:catalog"):  # the first run waits for it: /readyz is seen naming the job
        daemon.reload(load_config(stage.config))
        wait_for(lambda: "going" in readiness(daemon.url)[1].get("job:catalog", ""), what="the first run")
        assert readiness(daemon.url)[0] == 503
    wait_for(lambda: readiness(daemon.url)[0] == 200, what="the daemon to be ready")

    assert [(r.job, r.trigger, r.status) for r in stage.runs()] == [("catalog", "start", "succeeded")]
    assert stage.shop.products  # an hourly job, yet the shop has 1C's goods now


def test_the_systemd_unit_reloads_with_sighup_as_the_docs_say() -> None:
    root = Path(__file__).parents[2]
    line = "ExecReload=/bin/kill -HUP $MAINPID"
    assert line in (root / "config" / "hub.service").read_text(encoding="utf-8").splitlines()
    assert f"| `{line}` |" in (root / "docs" / "operations.md").read_text(encoding="utf-8")
