"""First runs: a starting daemon sends 1C's data out at once, not after each job's first interval.

A channel that never had 1C's catalog has nothing to sell: Yandex Eda's menu stays empty for the hour
before the catalog job's first tick, and every order that comes anyway becomes a dead letter. So on
start, each scheduled outbound job (:attr:`hub.jobrun.Job.outbound`) with no successful run in the state
DB's history is run at once (trigger ``start``), catalogs first: stock and prices reach only the goods a
catalog run has linked. A first run that failed is tried again, less often each time, until it succeeds;
a partial one is left to the schedule, since what failed in it needs a fix rather than another try.
Until each of these jobs has succeeded or made a partial run (in any daemon sharing the state DB for a
success; in this one for a partial run, whose failures hub status and the dead letters show), ``/readyz``
names it and says why. A reload (SIGHUP) makes new first runs for the jobs of the new hub.yaml.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError

from hub.model import Entity
from hub.registry import job_types
from hub.runtime import Runtime
from hub.state import RunInfo, RunStatus

log = logging.getLogger("hub.daemon.firstruns")

RETRY = 60.0
"""Seconds before failed first runs are tried again; the wait doubles after each try, up to :data:`RETRY_MAX`."""
RETRY_MAX = 15 * 60.0

FirstRunner = Callable[[str], RunInfo | None]
"""``run(job)``: one run of the job, or None when it was not made (it succeeded meanwhile, or hub is stopping)."""


class FirstRuns:
    """The outbound jobs of one daemon's config that have not succeeded yet, run in a background thread."""

    def __init__(self, runtime: Runtime, run: FirstRunner) -> None:
        types = job_types()
        jobs = runtime.config.jobs
        outbound = [name for name, job in jobs.items() if job.schedule is not None and types[job.type].outbound]
        self.jobs = sorted(outbound, key=lambda name: types[jobs[name].type].entity is not Entity.CATALOG)
        self._store = runtime.store
        self._run = run
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._unready: dict[str, str] = {}
        """Job → why it is not ready yet; a job leaves once it has succeeded or made a partial run."""
        self._thread = threading.Thread(target=self._loop, name="first-runs", daemon=True)

    def start(self) -> None:
        """Run, in the background, every outbound job that has never succeeded."""
        never = self._never_succeeded(self.jobs)
        if not never:
            return
        with self._lock:
            self._unready = dict.fromkeys(never, "its first run is queued")
        log.info("never succeeded, so run now: %s", ", ".join(never))
        self._thread.start()

    def stop(self) -> None:
        """End the background runs at their next try or wait: the daemon stops, or a reload replaced them."""
        self._stop.set()

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join()

    def readiness(self) -> dict[str, str]:
        """``job:<name>`` → why, for each outbound job that has not succeeded yet; empty once all have."""
        with self._lock:
            unready = list(self._unready)
        if unready:  # when the state DB is away, readiness says so and the jobs stay as last known
            with contextlib.suppress(SQLAlchemyError):
                self._ready(set(unready) - set(self._never_succeeded(unready)))
        with self._lock:
            return {f"job:{name}": f"not yet succeeded: {why}" for name, why in self._unready.items()}

    def _never_succeeded(self, jobs: Iterable[str]) -> list[str]:
        with self._store.reading() as state:
            succeeded = state.runs.last_success()
        return [name for name in jobs if name not in succeeded]

    def _ready(self, jobs: Iterable[str]) -> None:
        with self._lock:
            for name in jobs:
                self._unready.pop(name, None)

    def _why(self, name: str, why: str) -> None:
        with self._lock:
            if name in self._unready:
                self._unready[name] = why

    def _loop(self) -> None:
        wait = RETRY
        due = list(self._unready)
        while due:
            due = [name for name in due if self._try(name, wait)]
            if due and self._stop.wait(wait):
                return
            wait = min(wait * 2, RETRY_MAX)

    def _try(self, name: str, wait: float) -> bool:
        """Make the first run of ``name``; True if it failed and is to be tried again after ``wait`` seconds."""
        if self._stop.is_set():
            return False
        self._why(name, "its first run is going")
        try:
            info = self._run(name)
        except Exception:  # a bug in the job: recorded as a failed run, and the next try may go better
            log.exception("the first run of %s failed", name)
            self._why(name, f"its first run failed (see hub's log); tried again within {wait:.0f}s")
            return True
        if info is None or info.status == RunStatus.SUCCEEDED:
            if not self._stop.is_set():  # not run because it had succeeded meanwhile
                self._ready([name])
            return False
        if info.status == RunStatus.PARTIAL:
            # The job ran and reached the channel; what failed in it needs a fix, not a daemon kept out of service.
            log.warning("the first run of %s was partial (run %d): %d record(s) failed (hub status, hub deadletters "
                        "list); its schedule runs it again", name, info.id, info.counts.failed)
            self._ready([name])
            return False
        self._why(name, f"run {info.id} {info.status} (hub status says why); tried again within {wait:.0f}s")
        return True
