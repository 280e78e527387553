"""A sync run SIGKILLed at any point and started again loses no order and writes none twice.

The run is a real ``hub sync`` process reading orders from one testchannel
sandbox (the shop) and writing them to another (standing in for 1C), with the
state DB on SQLite and on PostgreSQL. The sandboxes live in this test process,
so they can kill the child at exact moments: while it reads, just before a
write reaches the target, right after the target committed a write (the answer
never arrives), and after a write's local bookkeeping (at the next lookup).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.testchannel import TestChannelSandbox
from hub.config import load_config
from hub.sandbox import SeenRequest
from hub.state import InboxStatus, open_store
from hub.testing.crash import KILLED, HubProcess, on_nth

pytestmark = pytest.mark.slow

ORDERS = 35
TOKENS = {"SHOP_TOKEN": "shop-secret", "ERP_TOKEN": "erp-secret"}
PAGE = 10


@pytest.fixture
def shop() -> Iterator[TestChannelSandbox]:
    with TestChannelSandbox(token="shop-secret", seed=11) as sandbox:
        for _ in range(ORDERS):
            sandbox.place_order()
        yield sandbox


@pytest.fixture
def erp() -> Iterator[TestChannelSandbox]:
    with TestChannelSandbox(token="erp-secret") as sandbox:
        yield sandbox


@pytest.fixture
def config_file(tmp_path: Path, state_url: str, shop: TestChannelSandbox, erp: TestChannelSandbox,
                pair_config: Callable[..., Path]) -> Path:
    return pair_config(tmp_path / "hub.yaml", shop, erp, state_url, page_size=PAGE)


def is_page(r: SeenRequest) -> bool:
    return r.method == "GET" and "after=" in r.query


def is_create(r: SeenRequest) -> bool:
    return r.method == "POST"


KILL_POINTS: dict[str, Callable[[TestChannelSandbox, TestChannelSandbox, HubProcess], None]] = {
    "while reading page 3": lambda shop, erp, child: setattr(
        shop.faults, "on_request", on_nth(is_page, 3, child.kill)),
    "before the 5th write reaches the target": lambda shop, erp, child: setattr(
        erp.faults, "on_request", on_nth(is_create, 5, child.kill)),
    "after the target committed the 7th write": lambda shop, erp, child: setattr(
        erp.faults, "on_commit", on_nth(is_create, 7, child.kill)),
    # Writes go one after another: the 13th create is sent only after the 12th was recorded locally.
    "after the 12th write was recorded locally": lambda shop, erp, child: setattr(
        erp.faults, "on_request", on_nth(is_create, 13, child.kill)),
    "before the first write, after staging": lambda shop, erp, child: setattr(
        erp.faults, "on_request", on_nth(is_create, 1, child.kill)),
}


def assert_exactly_once(shop: TestChannelSandbox, erp: TestChannelSandbox, state_url: str) -> None:
    refs = Counter(order["client_ref"] for order in erp.orders.values())
    duplicates = {ref: n for ref, n in refs.items() if n > 1}
    assert not duplicates, f"written twice: {duplicates}"
    assert set(refs) == {f"shop:{order_id}" for order_id in shop.orders}, "an order was lost"
    for order in erp.orders.values():
        source = shop.orders[order["client_ref"].removeprefix("shop:")]
        assert (order["total"], order["status"], len(order["items"])) == (
            source["total"], source["status"], len(source["items"]))
    store = open_store(state_url)
    try:
        with store.transaction() as state:
            assert state.outbox.depth() == {}
            assert state.inbox.count(InboxStatus.PENDING) == 0
            assert len(state.links.get_many("shop", "orders", shop.orders)) == len(shop.orders)
    finally:
        store.close()


@pytest.mark.parametrize("kill_point", list(KILL_POINTS))
def test_a_killed_sync_run_is_completed_by_the_next_run(
        kill_point: str, config_file: Path, state_url: str, shop: TestChannelSandbox,
        erp: TestChannelSandbox) -> None:
    child = HubProcess(["sync", "--source", "shop"], config_file, env=TOKENS)
    KILL_POINTS[kill_point](shop, erp, child)
    code, output = child.run()
    assert code == KILLED, f"the run was meant to be killed {kill_point}:\n{output}"
    shop.faults.reset()
    erp.faults.reset()

    code, output = child.run()
    assert code == 0, output
    assert_exactly_once(shop, erp, state_url)
    store = open_store(state_url)
    try:
        with store.transaction() as state:
            statuses = [run.status for run in state.runs.recent()]
    finally:
        store.close()
    assert statuses == ["succeeded", "interrupted"]


def test_changes_after_a_crash_update_the_same_documents(
        config_file: Path, state_url: str, shop: TestChannelSandbox, erp: TestChannelSandbox) -> None:
    child = HubProcess(["sync", "--source", "shop"], config_file, env=TOKENS)
    assert child.run()[0] == 0
    first_ids = set(erp.orders)
    changed = list(shop.orders)[:4]
    for order_id in changed:
        shop.set_status(order_id, "done")
    new: list[dict[str, Any]] = [shop.place_order() for _ in range(3)]
    erp.faults.on_commit = on_nth(lambda r: r.method == "PUT", 2, child.kill)
    assert child.run()[0] == KILLED
    erp.faults.reset()
    assert child.run()[0] == 0
    assert_exactly_once(shop, erp, state_url)
    assert len(erp.orders) == ORDERS + len(new)
    assert first_ids <= set(erp.orders), "updates must change the existing documents"
    done = [o for o in erp.orders.values() if o["client_ref"].removeprefix("shop:") in changed]
    assert {o["status"] for o in done} == {"done"}


def test_config_file_is_valid(config_file: Path) -> None:
    config = load_config(config_file, env={"SHOP_TOKEN": "a", "ERP_TOKEN": "b"})
    assert set(config.sources) == {"shop", "erp"}


def test_concurrent_writes_overlap_and_a_kill_among_them_still_leaves_each_order_once(
        config_file: Path, state_url: str, shop: TestChannelSandbox, erp: TestChannelSandbox) -> None:
    config = yaml.safe_load(config_file.read_text())
    config["sources"]["erp"]["write_concurrency"] = 4
    config_file.write_text(yaml.safe_dump(config))
    barrier = threading.Barrier(2, timeout=10)
    met: list[SeenRequest] = []

    def meet(request: SeenRequest) -> None:  # the first two creates wait for each other: they must overlap
        if is_create(request) and len(met) < 2:
            met.append(request)
            barrier.wait()

    child = HubProcess(["sync", "--source", "shop"], config_file, env=TOKENS)
    erp.faults.on_request = meet
    erp.faults.on_commit = on_nth(is_create, 7, child.kill)  # other creates are in flight when it dies
    code, output = child.run()
    assert code == KILLED, output
    assert len(met) == 2 and not barrier.broken, "the writes went one by one"
    shop.faults.reset()
    erp.faults.reset()

    assert child.run()[0] == 0
    assert_exactly_once(shop, erp, state_url)
