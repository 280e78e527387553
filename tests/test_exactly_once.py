"""Each channel order becomes one 1C document, whichever runs deliver it and whatever hub's own state says.

Real ``hub sync`` processes write the orders of two testchannel shops into the 1C
sandbox, with the state DB on SQLite and on PostgreSQL: two jobs delivering to 1C
at once after a lost answer (each job's deliver stage takes every order queued for
1C, whichever channel it came from), and a second sync after the state database
was lost.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connectors.onec_odata import OneCSandbox
from connectors.testchannel import TestChannelSandbox
from hub.sandbox import SeenRequest
from hub.state import RunInfo, open_store
from hub.testing.crash import KILLED, HubProcess, on_nth

pytestmark = pytest.mark.slow

DOCUMENTS = "Document_ЗаказКлиента"
MATCH_BY = "НомерПоДаннымКлиента"
CHANNELS = ("shop", "web")
ORDERS = 30
"""Orders placed in each channel."""
ENV = {"ONEC_PASSWORD": "sandbox-secret", "SHOP_TOKEN": "shop-secret"}
WRITERS = 4
"""Orders written to 1C at once by each run (write_concurrency), as a production config sets it."""
MEETING = 60.0
"""Seconds 1C waits for both runs of the concurrent test to have begun: reached only when one never does."""


@dataclass
class Stage:
    onec: OneCSandbox
    channels: dict[str, TestChannelSandbox]
    config: Path
    state_url: str

    def hub(self, *args: str) -> HubProcess:
        return HubProcess(args, self.config, env=ENV)

    def keys(self) -> set[str]:
        return {f"{name}:{order_id}" for name, channel in self.channels.items() for order_id in channel.orders}

    def documents(self) -> Counter[str]:
        """1C's customer orders by the channel order they carry."""
        return Counter(str(row[MATCH_BY]) for row in self.onec.rows(DOCUMENTS))

    def runs(self) -> list[RunInfo]:
        store = open_store(self.state_url)
        try:
            with store.reading() as state:
                return state.runs.recent(limit=100)
        finally:
            store.close()

    def assert_each_order_once(self) -> None:
        documents = self.documents()
        assert {key: n for key, n in documents.items() if n > 1} == {}, "written twice"
        assert set(documents) == self.keys(), "an order is missing in 1C"
        store = open_store(self.state_url)
        try:
            with store.reading() as state:
                assert state.outbox.depth() == {}
                for name, channel in self.channels.items():
                    assert len(state.links.get_many(name, "orders", channel.orders)) == len(channel.orders)
        finally:
            store.close()


@pytest.fixture
def stage(tmp_path: Path, state_url: str) -> Iterator[Stage]:
    with OneCSandbox() as onec, TestChannelSandbox(token=ENV["SHOP_TOKEN"], seed=5) as shop, \
            TestChannelSandbox(token=ENV["SHOP_TOKEN"], seed=6) as web:
        channels = {"shop": shop, "web": web}
        config = {
            "state": {"url": state_url}, "system_of_record": "onec", "log": {"level": "WARNING"},
            "sources": {"onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}",
                                 "write_concurrency": WRITERS},
                        **{name: {"type": "testchannel", "url": channel.url, "token": "${SHOP_TOKEN}"}
                           for name, channel in channels.items()}},
            "jobs": {"customers": {"type": "customers", "from": "onec"},
                     **{f"{name}-catalog": {"type": "catalog", "from": "onec", "to": name} for name in channels},
                     **{f"{name}-orders": {"type": "orders", "from": name, "to": "onec"} for name in channels}},
        }
        path = tmp_path / "hub.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        staged = Stage(onec, channels, path, state_url)
        code, output = staged.hub("sync", "--source", "onec").run()  # the channels sell goods hub has linked
        assert code == 0, output
        for channel in channels.values():
            for _ in range(ORDERS):
                channel.place_order()
        yield staged


def is_create(request: SeenRequest) -> bool:
    return request.method == "POST" and request.path.endswith(f"/{DOCUMENTS}")


def is_lookup(request: SeenRequest) -> bool:
    return request.method == "GET" and f"$filter={MATCH_BY} eq " in unquote(request.query)


def test_two_jobs_delivering_to_1c_at_once_after_a_lost_answer_write_each_order_once(stage: Stage) -> None:
    # 1C commits the 5th document and its writer dies before the answer: hub has no link for it.
    first = stage.hub("sync", "--source", "shop")
    stage.onec.faults.on_commit = on_nth(is_create, 5, first.kill)
    code, output = first.run()
    assert code == KILLED, output
    stage.onec.faults.reset()
    written = len(stage.documents())  # the 5th and any other write in flight when it died
    # A process has arrived once it asks its own channel for orders: its run has begun. 1C holds every look-up
    # and create until both have, so whichever run claimed the orders is still delivering them while the other
    # runs: the two overlap however fast either is. Claimed, each order is one run's alone.
    arrived = {name: threading.Event() for name in CHANNELS}
    missed: list[str] = []

    def meet(request: SeenRequest) -> None:
        if (is_lookup(request) or is_create(request)) and not all(e.wait(MEETING) for e in arrived.values()):
            missed.append(f"{request.method} {request.path}")

    for name, channel in stage.channels.items():
        channel.faults.on_request = lambda _, came=arrived[name]: came.set()
    stage.onec.faults.on_request = meet
    # Each job's deliver stage takes every order queued for 1C: the shop's wait for both at once.
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda source: stage.hub("sync", "--source", source).run(), CHANNELS))

    assert not missed, f"one run never asked its channel for orders within {MEETING:.0f} s: {missed[:3]}"
    assert [code for code, _ in results] == [0, 0], "\n".join(output for _, output in results)
    stage.assert_each_order_once()
    shop_run, web_run = (next(r for r in stage.runs() if r.job == f"{name}-orders" and r.status == "succeeded")
                         for name in CHANNELS)
    assert shop_run.finished_at is not None and web_run.finished_at is not None
    assert max(shop_run.started_at, web_run.started_at) < min(shop_run.finished_at, web_run.finished_at), \
        "the two runs did not overlap: the test proves nothing"
    assert shop_run.counts.created + web_run.counts.created == len(stage.keys()) - written


def test_orders_synced_again_after_the_state_database_was_lost_are_found_in_1c_not_made_again(
        stage: Stage) -> None:
    code, output = stage.hub("sync", "--source", "onec").run()
    assert code == 0, output
    assert sum(stage.documents().values()) == len(stage.keys())
    lose(stage.state_url)
    lookups = sum(map(is_lookup, stage.onec.requests))

    code, output = stage.hub("sync", "--source", "onec").run()

    assert code == 0, output
    stage.assert_each_order_once()
    runs = [r for r in stage.runs() if r.job.endswith("-orders")]
    assert sorted((r.job, r.counts.created, r.counts.updated) for r in runs) == [
        (f"{name}-orders", 0, ORDERS) for name in CHANNELS]
    # Looked up in batches: one query carries at least ten orders (as many as a URL takes), not one each.
    lookups = sum(map(is_lookup, stage.onec.requests)) - lookups
    assert 0 < lookups * 10 <= len(stage.keys())


def lose(state_url: str) -> None:
    """Leave the state database as a lost file, a restored empty server or a wrong path would: empty."""
    url = make_url(state_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)
        return
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()

