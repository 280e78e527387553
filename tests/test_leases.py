"""Leases: one run of a job at a time, across processes sharing the state DB."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys

import pytest
from click.testing import CliRunner

import cli
from hub.errors import JobBusy
from hub.leases import Lease, worker_id
from hub.logs import setup_logging
from hub.state import StateStore
from hub.values import json_loads, utcnow
from tests.conftest import ChannelPair

TTL = dt.timedelta(seconds=60)


def test_a_held_lease_is_refused_to_another_holder_until_released(store: StateStore) -> None:
    with store.transaction() as state:
        assert state.leases.acquire("job:orders", "host-a:1:x", TTL) is None
    with store.transaction() as state:
        held = state.leases.acquire("job:orders", "host-b:2:y", TTL)
        assert held is not None and held.holder == "host-a:1:x"
        assert state.leases.acquire("job:orders", "host-a:1:x", TTL) is None  # the holder may take it again
    with store.transaction() as state:
        state.leases.release("job:orders", "host-a:1:x")
        assert state.leases.acquire("job:orders", "host-b:2:y", TTL) is None


def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_renew_it(store: StateStore) -> None:
    with store.transaction() as state:
        state.leases.acquire("job:stock", "host-a:1:x", dt.timedelta(seconds=-1))  # already past its time
    with store.transaction() as state:
        assert state.leases.acquire("job:stock", "host-b:2:y", TTL) is None
        assert state.leases.renew("job:stock", "host-a:1:x", TTL) is False
        assert state.leases.renew("job:stock", "host-b:2:y", TTL) is True
        assert [lease.holder for lease in state.leases.all()] == ["host-b:2:y"]


def test_a_lease_of_a_dead_process_on_this_host_is_free_at_once(store: StateStore) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead = f"{worker_id().split(':')[0]}:{finished.stdout.strip()}:gone"
    with store.transaction() as state:
        state.leases.acquire("job:orders", dead, TTL)

    with Lease(store, "job:orders") as lease, store.transaction() as state:
        assert [held.holder for held in state.leases.all()] == [lease.holder]
    with store.transaction() as state:
        assert state.leases.all() == []


def test_a_live_holder_makes_the_lease_busy(store: StateStore) -> None:
    with Lease(store, "job:orders"), pytest.raises(JobBusy, match="job:orders is held by"):
        Lease(store, "job:orders").__enter__()


def test_hub_sync_says_who_runs_the_job_when_a_daemon_holds_it(pair: ChannelPair) -> None:
    from hub.state import open_store

    store = open_store(pair.state_url)
    try:
        with Lease(store, "job:shop-orders") as lease:
            result = CliRunner().invoke(cli.main, ["--config", str(pair.config_file), "sync", "--source", "shop"])
    finally:
        store.close()
    assert result.exit_code == 1, result.output
    assert f"job:shop-orders is held by {lease.holder}" in result.output
    assert pair.erp.count("POST") == 0


def test_log_lines_written_during_a_run_carry_its_run_id(pair: ChannelPair, capsys: pytest.CaptureFixture[str]) -> None:
    from hub.config import load_config
    from hub.jobrun import run_job
    from hub.runtime import Runtime

    pair.shop.place_order(status="teleported")  # a record that cannot be read: the run logs a warning
    setup_logging("INFO", json_format=True)
    with Runtime(load_config(pair.config_file)) as runtime:
        info, _ = run_job(runtime, "shop-orders")
    logging.getLogger("hub.test").info("after the run")

    lines = [json_loads(line) for line in capsys.readouterr().err.splitlines()]
    during = [line for line in lines if line["logger"] == "hub.pipeline"]
    assert during and all(line["run_id"] == str(info.id) and line["job"] == "shop-orders" and
                          line["trigger"] == "manual" for line in during)
    assert "run_id" not in lines[-1]
    assert info.started_at <= utcnow()
