"""The inbound worker: takes what channels pushed on to its targets within moments.

An endpoint that stored a record wakes the worker, which runs the jobs that
read that source at once (trigger ``inbound``), without waiting for their
next scheduled tick. It also looks every ``poll`` seconds for records no
wake-up announced: received by another daemon sharing the state DB, left in
the inbox or outbox when hub stopped, or due again after a failed write.

One worker thread per daemon: records that arrive while a run is going are
taken by the next one, so a burst of orders makes a few runs, not one each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hub.errors import JobBusy
from hub.registry import job_types
from hub.runtime import Runtime

log = logging.getLogger("hub.daemon.worker")

BUSY_RETRY = 0.2
"""Seconds before trying again a job that another run holds: that run may have staged before our record came."""


class InboundWorker:
    def __init__(self, runtime: Runtime, run: Callable[[str], None], *, poll: float,
                 held: Callable[[str], bool] = lambda _: False) -> None:
        self.runtime = runtime
        self._run = run
        self._held = held  # a scheduled run waits for this job: let it have the lease first
        self.poll = poll
        self._event = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="inbound-worker", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Look at the inbox now (a record was just stored)."""
        self._event.set()

    def stop(self) -> None:
        """Ask the loop to end; the run in progress is stopped by the daemon's stop event."""
        self._stop.set()
        self._event.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _loop(self) -> None:
        wait: float = 0  # the first look is at once: records may be waiting from before a restart
        while not self._stop.is_set():
            self._event.wait(wait)
            self._event.clear()
            if self._stop.is_set():
                return
            busy = self._work()
            wait = BUSY_RETRY if busy else self.poll

    def _work(self) -> bool:
        """Run every job whose source has records waiting (received, or due to be written); True if one was busy."""
        try:
            with self.runtime.store.reading() as state:
                streams = state.inbox.pending_streams() | state.outbox.due_streams()
        except Exception:  # the database is away: /readyz says so, and the next poll tries again
            log.warning("cannot read the inbox", exc_info=True)
            return False
        busy = False
        types = job_types()
        for name, job in self.runtime.config.jobs.items():
            if self._stop.is_set():
                break
            if (job.source, types[job.type].entity.value) not in streams:
                continue
            if self._held(name):
                busy = True
                continue
            try:
                self._run(name)
            except JobBusy as exc:
                log.debug("%s: %s; trying again shortly", name, exc)
                busy = True
            except Exception:
                log.exception("inbound run of %s failed", name)
        return busy
