"""hub demo: what it suggests at the end runs as printed, and it does not claim success when runs failed."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from hub.errors import FatalError
from hub.jobrun import RunContext
from jobs.stock import StockJob


def handoff(output: str) -> str:
    found = re.search(r"^look inside: (.+?)   \(sandboxes are stopped now\)$", output, re.MULTILINE)
    assert found is not None, output
    return found.group(1)


def test_the_demos_handoff_command_runs_as_printed_in_a_new_shell(tmp_path: Path) -> None:
    demo = CliRunner().invoke(main, ["demo", "--cycles", "1"])
    assert demo.exit_code == 0, demo.output
    command = handoff(demo.output)
    new_shell = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}

    shown = subprocess.run(command, shell=True, env=new_shell,  # noqa: S602 - as a user pastes it into a shell
                           cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)

    assert shown.returncode == 0, shown.stderr
    assert "is not set" not in shown.stderr
    assert re.search(r"│ yandex_eda-orders\s*│[^\n]*│\s*succeeded\s*│", shown.stdout), shown.stdout   # its job's row


def test_a_demo_whose_runs_fail_says_so_and_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(self: StockJob, ctx: RunContext) -> None:
        raise FatalError("1C did not answer")

    monkeypatch.setattr(StockJob, "run", unreachable)

    demo = CliRunner().invoke(main, ["demo", "--cycles", "1"])

    assert demo.exit_code == 1, demo.output
    failed_per_cycle = [int(n) for n in re.findall(r"^\d+ run\(s\); (\d+) failed\.$", demo.output, re.MULTILINE)]
    assert len(failed_per_cycle) == 2 and all(failed_per_cycle), demo.output  # the stock runs, in both cycles
    assert "all went through" not in demo.output
    assert f"the demo did not go through: {sum(failed_per_cycle)} run(s) did not succeed" in demo.output
    handoff(demo.output)  # what went wrong can still be looked at


def test_a_guest_who_orders_on_the_site_and_through_yandex_is_one_crm_contact_with_two_deals() -> None:
    demo = CliRunner().invoke(main, ["demo", "--cycles", "1"])

    assert demo.exit_code == 0, demo.output
    found = re.search(r"one guest \(.+?\) ordered in (\S+) and (\S+): bitrix24 holds (\d+) contact\(s\) with (\d+) "
                      r"deal\(s\) for them", demo.output)
    assert found is not None, demo.output
    assert {found.group(1), found.group(2)} == {"testchannel", "yandex_eda"}
    assert (found.group(3), found.group(4)) == ("1", "2"), demo.output
