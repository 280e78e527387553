"""A starting daemon runs each outbound job that never succeeded at once, and is not ready until they have."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import requests
import yaml

from hub.config import load_config
from hub.daemon import Daemon, firstruns
from hub.daemon.firstruns import FirstRuns
from hub.leases import Lease
from hub.runtime import Runtime
from hub.state import RunCounts, RunInfo, RunStatus
from hub.testing.postgres import create_database
from hub.values import json_loads, utcnow
from tests.daemon.conftest import DaemonStage, wait_for

Stage = Callable[..., DaemonStage]
HOURLY = {"every": "1h"}


def outbound_jobs(daemon_stage: Stage) -> DaemonStage:
    """1C's stock, goods and customers out hourly (the stock listed first), and the shop's orders in."""
    stage = daemon_stage()
    config = yaml.safe_load(stage.config.read_text())
    config["jobs"] = {
        "stock": {"type": "stock", "from": "onec", "to": "shop", "schedule": HOURLY,
                  "options": stage.onec.job_options("stock")},
        "catalog": {"type": "catalog", "from": "onec", "to": "shop", "schedule": HOURLY},
        "customers": {"type": "customers", "from": "onec", "schedule": HOURLY},
        "orders": {"type": "orders", "from": "shop", "to": "onec", "schedule": HOURLY},
    }
    stage.config.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return stage


def ready(url: str) -> bool:
    return requests.get(f"{url}/readyz", timeout=10).status_code == 200


def readiness(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    answer = requests.get(f"{daemon.url}/readyz", timeout=10)
    return answer.status_code, json_loads(answer.content)


def test_a_fresh_daemon_fills_the_channel_at_once_and_is_ready_only_when_it_has(daemon_stage: Stage) -> None:
    stage = outbound_jobs(daemon_stage)
    with Lease(stage.store(), "job:catalog"):  # the catalog's first run waits, and every one after it
        daemon = stage.start()
        wait_for(lambda: "going" in readiness(daemon)[1].get("job:catalog", ""), what="the catalog's first run")
        code, body = readiness(daemon)

        assert code == 503
        assert body == {"status": "not ready", "state_db": "ok", "scheduler": "ok", "worker": "ok",
                        "job:catalog": "not yet succeeded: its first run is going",
                        "job:stock": "not yet succeeded: its first run is queued",
                        "job:customers": "not yet succeeded: its first run is queued"}
        assert not stage.shop.products

    wait_for(lambda: readiness(daemon)[0] == 200, what="the daemon to be ready")

    assert readiness(daemon)[1] == {"status": "ready", "state_db": "ok", "scheduler": "ok", "worker": "ok"}
    runs = sorted(stage.runs(), key=lambda r: r.id)
    assert [(r.job, r.trigger, r.status) for r in runs] == [
        ("catalog", "start", "succeeded"), ("stock", "start", "succeeded"), ("customers", "start", "succeeded")]
    # Hourly jobs, yet the shop has 1C's goods and stock now; the catalog went first, so stock found them linked.
    assert stage.shop.products and stage.shop.stock
    assert runs[1].counts.created + runs[1].counts.updated == len(stage.shop.stock)


def test_jobs_that_succeeded_before_are_not_run_again_at_start(daemon_stage: Stage) -> None:
    stage = outbound_jobs(daemon_stage)
    stage.sync("catalog", "customers")  # as hub sync would; stock never ran

    daemon = stage.start()
    wait_for(lambda: readiness(daemon)[0] == 200, what="the daemon to be ready")

    started = [(r.job, r.status) for r in stage.runs() if r.trigger == "start"]
    assert started == [("stock", "succeeded")]


def test_a_failed_first_run_keeps_the_daemon_unready_and_is_tried_again(
        daemon_stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(firstruns, "RETRY", 0.05)
    stage = daemon_stage(jobs={"catalog": {"type": "catalog", "from": "onec", "to": "shop", "schedule": HOURLY}})
    stage.onec.faults.fail_next(1000, status=401)  # 1C refuses hub until its password is fixed

    daemon = stage.start()
    code, body = wait_for(lambda: next((answer for answer in [readiness(daemon)]
                                        if "failed" in answer[1].get("job:catalog", "")), None),
                          what="the first run to fail")

    assert code == 503 and body["status"] == "not ready"
    assert body["job:catalog"].startswith("not yet succeeded: run ")
    assert "failed (hub status says why); tried again within" in body["job:catalog"]
    stage.onec.faults.reset()
    wait_for(lambda: readiness(daemon)[0] == 200, what="the daemon to be ready")
    statuses = [r.status for r in sorted(stage.runs(), key=lambda r: r.id)]
    assert statuses[-1] == "succeeded" and set(statuses[:-1]) == {"failed"}, statuses
    assert stage.shop.products


def test_a_partial_first_run_takes_the_job_off_the_unready_list(daemon_stage: Stage) -> None:
    stage = outbound_jobs(daemon_stage)
    made: list[str] = []

    def partial(name: str) -> RunInfo:
        made.append(name)
        return RunInfo(id=len(made), job=name, source="onec", dry_run=False, started_at=utcnow(),
                       finished_at=utcnow(), status=RunStatus.PARTIAL, counts=RunCounts(read=2, created=1, failed=1),
                       error_summary="shop refused one record", trigger="start")

    with Runtime(load_config(stage.config)) as runtime:
        first_runs = FirstRuns(runtime, partial)
        first_runs.start()
        first_runs.join()

        assert made == ["catalog", "stock", "customers"]  # each once: a partial run is not tried again
        assert first_runs.readiness() == {}


def test_jobs_without_a_schedule_are_left_to_hub_sync(daemon_stage: Stage) -> None:
    stage = daemon_stage()  # customers and catalog with no schedule: run by hand

    daemon = stage.start()

    assert readiness(daemon) == (200, {"status": "ready", "state_db": "ok", "scheduler": "ok", "worker": "ok"})
    assert not stage.runs()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_daemons_starting_on_one_fresh_postgresql_make_one_first_run(
        daemon_stage: Stage, postgres_url: str) -> None:
    stage = daemon_stage(state_url=create_database(postgres_url),
                         jobs={"customers": {"type": "customers", "from": "onec", "schedule": HOURLY}})
    stage.onec.faults.latency = 0.2  # the first run takes a while: the other daemon waits for its lease meanwhile
    daemons = [stage.process(), stage.process()]
    urls = [daemon.url() for daemon in daemons]

    for url in urls:
        wait_for(functools.partial(ready, url), timeout=60, what=f"{url} to be ready")
    codes = [daemon.terminate() for daemon in daemons]

    assert [code for code, _ in codes] == [0, 0], "\n".join(output for _, output in codes)
    assert [(r.job, r.trigger, r.status) for r in stage.runs()] == [("customers", "start", "succeeded")]
