"""Crash tests: a real ``hub`` process, and sandbox hooks that SIGKILL it at an exact moment.

::

    child = HubProcess(["sync", "--source", "shop"], config_file, env={"SHOP_TOKEN": "…"})
    erp.faults.on_commit = on_nth(lambda r: r.method == "POST", 7, child.kill)
    code, output = child.run()          # -SIGKILL: killed after 1C committed the 7th write
    code, output = child.run()          # the rerun must end in the state an uninterrupted run reaches

The sandbox runs in the test's process, so the hook fires while the child waits
for the answer: the kill lands exactly between the remote commit and the
child's own bookkeeping.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hub.sandbox import SeenRequest

KILLED = -signal.SIGKILL
"""The return code of a child that was SIGKILLed."""


class HubProcess:
    """``hub <args>`` with ``config_file``, in its own process, started afresh by every :meth:`run`."""

    def __init__(self, args: Sequence[str], config_file: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.args = list(args)
        self.env = {**os.environ, **(env or {}), "HUB_CONFIG": str(config_file)}
        self.process: subprocess.Popen[bytes] | None = None

    def run(self, timeout: float = 120) -> tuple[int, str]:
        """Run to the end (or to a kill); the return code and everything it printed."""
        self.process = subprocess.Popen([sys.executable, "-m", "cli", *self.args], env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output.decode()

    def kill(self) -> None:
        """SIGKILL the running process: no cleanup, no flush, as a power cut would."""
        assert self.process is not None, "not started"
        os.kill(self.process.pid, signal.SIGKILL)


def on_nth(predicate: Callable[[SeenRequest], bool], n: int,
           action: Callable[[], None]) -> Callable[[SeenRequest], None]:
    """A sandbox hook that calls ``action`` on the ``n``-th request matching ``predicate``."""
    seen = 0

    def hook(request: SeenRequest) -> None:
        nonlocal seen
        if predicate(request):
            seen += 1
            if seen == n:
                action()

    return hook
