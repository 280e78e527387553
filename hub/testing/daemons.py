"""``hub daemon`` as a child process, as the benchmarks start it: where it listens, read from what it prints."""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time

LISTENING = re.compile(r"hub daemon listening on (http://\S+)")


def listening_url(daemon: subprocess.Popen[str], *, timeout: float) -> str | None:
    """The base URL ``daemon`` prints once it listens; None if it ends, or says nothing of it within ``timeout``.

    Its standard output is read to the end from then on, in a thread of its own, so that the daemon never
    blocks on a full pipe however long it runs.
    """
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:
        assert daemon.stdout is not None
        for line in daemon.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, name=f"daemon-{daemon.pid}-stdout", daemon=True).start()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            return None
        if line is None:
            return None
        if match := LISTENING.search(line):
            return match.group(1)
    return None
