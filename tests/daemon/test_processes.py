"""Real ``hub daemon`` processes: two sharing one PostgreSQL state DB, and a graceful stop on SIGTERM."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import pytest

from connectors.onec_odata import OneCSandbox
from hub.leases import Lease
from hub.testing.postgres import create_database
from tests.daemon.conftest import DOCUMENTS, DaemonStage, wait_for

Stage = Callable[..., DaemonStage]


def counterparty_reads(onec: OneCSandbox) -> int:
    """Requests for 1C's counterparties the sandbox has answered (each customers run reads them)."""
    return sum(1 for r in list(onec.requests) if r.method == "GET" and "Catalog_Контрагенты" in r.path)

pytestmark = pytest.mark.slow


@pytest.mark.postgres
def test_two_daemons_on_one_postgresql_make_each_scheduled_run_exactly_once(
        daemon_stage: Stage, postgres_url: str) -> None:
    stage = daemon_stage(state_url=create_database(postgres_url),
                         jobs={"customers": {"type": "customers", "from": "onec", "schedule": {"every": "1s"}}})
    stage.sync("customers")
    reads_per_run = counterparty_reads(stage.onec)
    assert reads_per_run >= 1
    first, second = stage.process(), stage.process()
    first.url(), second.url()

    wait_for(lambda: len([r for r in stage.runs() if r.trigger == "schedule" and r.finished_at]) >= 8,
             timeout=60, what="eight scheduled runs")
    codes = [first.terminate(), second.terminate()]

    assert [code for code, _ in codes] == [0, 0], "\n".join(output for _, output in codes)
    for _, output in codes:
        assert "Traceback" not in output and "IntegrityError" not in output, output
    runs = sorted((r for r in stage.runs() if r.trigger == "schedule"), key=lambda r: r.id)
    assert all(r.status == "succeeded" for r in runs), runs
    ticks = [r.scheduled_for for r in runs]
    assert len(set(ticks)) == len(ticks)
    # Every tick from the first to the last ran, and once: none skipped, none doubled.
    assert all(b - a == dt.timedelta(seconds=1) for a, b in itertools.pairwise(ticks) if a and b), ticks
    spans = sorted((r.started_at, r.finished_at) for r in runs)
    assert all(end is not None and end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
    # What 1C saw agrees: one read of its counterparties per run, the manual one included.
    assert counterparty_reads(stage.onec) == reads_per_run * (len(runs) + 1)


def test_sigterm_stops_gracefully_and_the_next_start_carries_on(daemon_stage: Stage) -> None:
    stage = daemon_stage()
    stage.sync("customers", "catalog")
    stage.onec.faults.latency = 0.2  # 1C answers slowly: the orders are still going in when SIGTERM comes
    daemon = stage.process()
    stage.shop.webhook_url = daemon.url() + "/shop/orders"
    with Lease(stage.store(), "job:orders"):  # the worker waits: all ten orders go into one run
        orders = [stage.shop.place_order() for _ in range(10)]  # each acknowledged once it is in the inbox

    wait_for(lambda: stage.onec.rows(DOCUMENTS), timeout=30, what="the first 1C document")
    code, output = daemon.terminate()

    assert code == 0, output
    assert "stopped" in output
    done = [order for order in orders if stage.documents(order)]
    assert len(done) < len(orders), "everything went through before the stop: the test proves nothing"
    [run] = [r for r in stage.runs() if r.trigger == "inbound"]
    assert run.status == "interrupted" and run.counts.created == len(done), run

    restarted = stage.process()
    restarted.url()
    wait_for(lambda: all(stage.documents(order) for order in orders), timeout=60, what="every order in 1C")
    code, output = restarted.terminate()

    assert code == 0, output
    numbers = [d["НомерПоДаннымКлиента"] for d in stage.onec.rows(DOCUMENTS)]
    assert sorted(numbers) == sorted(f"shop:{order['id']}" for order in orders)  # each once
