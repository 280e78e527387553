"""A stock push SIGKILLed at any point and started again leaves the shop exactly as 1C is: no level skipped.

The push is a real ``hub sync --entity stock`` process; the sandboxes live in
this test process and kill it at exact moments: while it reads 1C, before a
batch reaches the shop, and after the shop committed a batch whose answer (and
so the fingerprints) the process never got. State is on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hub.sandbox import SeenRequest
from hub.testing.crash import KILLED, HubProcess, on_nth
from tests.jobs.conftest import ENV, Setup

pytestmark = pytest.mark.slow


def is_stock_put(r: SeenRequest) -> bool:
    return r.method == "PUT" and r.path == "/api/v1/stock"


def is_balance_read(r: SeenRequest) -> bool:
    return "Balance" in r.path


def kill_before_it_lands(setup: Setup, child: HubProcess) -> Callable[[], None]:
    def action() -> None:
        child.kill()
        setup.shop.faults.fail_next(1)  # this very request is answered 503 and never committed

    return action


KILL_POINTS: dict[str, Callable[[Setup, HubProcess], None]] = {
    "while reading 1C's balances": lambda setup, child: setattr(
        setup.onec.faults, "on_request", on_nth(is_balance_read, 1, child.kill)),
    "before the 2nd batch reaches the shop": lambda setup, child: setattr(
        setup.shop.faults, "on_request", on_nth(is_stock_put, 2, kill_before_it_lands(setup, child))),
    "after the shop committed the 3rd batch": lambda setup, child: setattr(
        setup.shop.faults, "on_commit", on_nth(is_stock_put, 3, child.kill)),
}


@pytest.fixture
def linked(make_setup: Callable[..., Setup], state_url: str) -> Setup:
    """The catalog pushed and linked, no stock pushed yet."""
    setup = make_setup(state_url)
    assert setup.hub("sync", "--source", "erp", "--entity", "catalog").exit_code == 0
    return setup


@pytest.mark.parametrize("kill_point", list(KILL_POINTS))
def test_a_killed_stock_push_is_completed_by_the_next_run(kill_point: str, linked: Setup) -> None:
    child = HubProcess(["sync", "--source", "erp", "--entity", "stock"], linked.config_file, env=ENV)
    KILL_POINTS[kill_point](linked, child)
    code, output = child.run()
    assert code == KILLED, f"the run was meant to be killed {kill_point}:\n{output}"
    linked.onec.faults.reset()
    linked.shop.faults.reset()
    assert linked.shop_stock() != linked.expected_stock()

    code, output = child.run()
    assert code == 0, output
    assert linked.shop_stock() == linked.expected_stock()
    writes = linked.writes("/api/v1/stock")
    assert child.run()[0] == 0
    assert linked.writes("/api/v1/stock") == writes, "every level pushed was recorded: nothing is sent again"


def test_a_change_whose_push_was_killed_after_the_shop_took_it_is_sent_again(linked: Setup) -> None:
    child = HubProcess(["sync", "--source", "erp", "--entity", "stock"], linked.config_file, env=ENV)
    assert child.run()[0] == 0
    linked.onec.demo_activity()
    linked.shop.faults.on_commit = on_nth(is_stock_put, 1, child.kill)
    assert child.run()[0] == KILLED
    linked.shop.faults.reset()
    writes = linked.writes("/api/v1/stock")

    assert child.run()[0] == 0
    assert linked.writes("/api/v1/stock") == writes + 1, "the unrecorded change is pushed once more, and only it"
    assert linked.shop_stock() == linked.expected_stock()
