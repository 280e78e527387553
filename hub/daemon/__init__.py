"""``hub daemon``: scheduled jobs, the channels' endpoints, and the worker between them, in one process.

::

    channel ──HTTP──▶ endpoint ──▶ inbox ──wake──▶ worker ──run_job──▶ 1C
                       (server)                      ▲
                                   scheduler ────────┘  (the jobs' schedules)

* :mod:`hub.daemon.server` serves each connector's endpoints (:mod:`hub.inbound`)
  and ``/healthz``, ``/readyz``, ``/metrics``, and the operator's pages (:mod:`hub.daemon.ui`) under ``/ui``;
* :mod:`hub.daemon.worker` takes what the endpoints stored on to its targets at once;
* :mod:`hub.daemon.scheduler` runs the jobs' schedules, exactly once per tick even
  with several daemons on one PostgreSQL state DB;
* :mod:`hub.daemon.firstruns` runs at start each job sending 1C's data out that has
  never succeeded, rather than leaving the channels empty until its first tick.

Every run, whoever starts it, holds the job's lease (:mod:`hub.leases`), so
one job never runs twice at once. :meth:`Daemon.stop` is the graceful stop
SIGTERM asks for: no new requests, runs end at their next checkpoint, and
the next start carries on from the state DB.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from hub.config import HubConfig
from hub.connector import Connector
from hub.daemon.firstruns import FirstRuns
from hub.daemon.metrics import Metrics
from hub.daemon.scheduler import Scheduler
from hub.daemon.server import DaemonApp, HttpServer, Mounted
from hub.daemon.ui import Ui
from hub.daemon.worker import InboundWorker
from hub.errors import ConfigError, JobBusy
from hub.inbound import Inbound
from hub.jobrun import Trigger, run_job
from hub.leases import Lease
from hub.registry import connector_types
from hub.runtime import Runtime
from hub.state import RunInfo, State
from hub.values import utcnow

log = logging.getLogger("hub.daemon")

LEASE_WAIT = dt.timedelta(seconds=10)
"""How long a scheduled run waits for its job's lease (another run of it going on) before the tick is skipped."""

__all__ = ["Daemon"]


class Daemon:
    """One ``hub daemon`` process: :meth:`start`, then :meth:`stop` (on SIGTERM)."""

    def __init__(self, config: HubConfig, *, listen: str | None = None, background: bool = True) -> None:
        """``background=False`` serves the endpoints only, with no schedule and no worker: ``hub demo``
        runs the jobs itself, one cycle at a time, and received orders wait in the inbox for it."""
        self.config = config
        self.background = background
        self.settings = config.daemon if listen is None else config.daemon.model_copy(update={"listen": listen})
        self.stopping = threading.Event()
        """Set by :meth:`stop`: runs in progress end at their next checkpoint."""
        self.runtime = Runtime(config)
        self._retired: list[Runtime] = []
        """Runtimes a reload replaced: requests and runs that started with them may still use their connectors."""
        self.metrics = Metrics(self.runtime.store)
        self._waiting: set[str] = set()
        """Jobs a scheduled run of this daemon waits to start: the worker holds off their inbound runs (a busy
        stream would otherwise keep the lease and starve the tick) and is woken when the run ends."""
        self.worker = InboundWorker(self.runtime, self._run_inbound, poll=self.settings.poll.total_seconds(),
                                    held=self._waiting.__contains__)
        self.scheduler = Scheduler(config, self.runtime.store, self._run_scheduled,
                                   threads=self.settings.job_threads)
        self.first_runs = FirstRuns(self.runtime, self._run_first)
        self._retired_first_runs: list[FirstRuns] = []
        """First runs a reload replaced: a run of theirs in progress finishes, and the daemon's stop waits for it."""
        mounts = self._mounts(self.runtime)
        ui = Ui(lambda: self.runtime, next_runs=self.scheduler.next_fire_times, wake=self.worker.wake)
        self.app = DaemonApp(mounts, metrics=self.metrics, readiness=self._readiness, ui=ui)
        host, port = self.settings.host_port
        self.server = HttpServer(self.app, host, port, threads=self.settings.threads,
                                 shutdown_timeout=self.settings.shutdown_timeout.total_seconds(),
                                 max_body=max((m.max_body for _, m in mounts), default=1 << 20))
        self.url = ""

    def start(self) -> str:
        """Serve, schedule and work; return the base URL. Raises OSError when the port is taken.

        A daemon that cannot start stops what it started and closes its runtime before raising:
        the server's threads would otherwise keep a failed process alive.
        """
        try:
            host, port = self.server.start()
        except BaseException:
            self.runtime.close()
            raise
        self.url = f"http://{host}:{port}"
        if self.background:
            self.worker.start()
            try:
                self.scheduler.start()
                self.first_runs.start()
            except BaseException:
                self.stop()
                raise
        log.info("listening on %s; %d scheduled job(s)", self.url, len(self.scheduler.next_fire_times()))
        return self.url

    def stop(self) -> None:
        """Graceful stop: no new requests, requests in flight answered, runs ended at a checkpoint."""
        log.info("stopping: no new requests; runs in progress stop at their next checkpoint")
        self.stopping.set()
        for first_runs in [*self._retired_first_runs, self.first_runs]:
            first_runs.stop()
        self.server.stop()
        self.worker.stop()
        self.scheduler.shutdown(wait=True)
        if self.background:
            self.worker.join()
            for first_runs in [*self._retired_first_runs, self.first_runs]:
                first_runs.join()
        for retired in self._retired:
            retired.close(keep_store=True)
        self.runtime.close()
        log.info("stopped")

    def reload(self, config: HubConfig) -> None:
        """Go on with ``config``, hub.yaml read again (SIGHUP): its sources with their mappings, its jobs and
        their schedules, and the endpoints they serve. Nothing is dropped: a request or run in progress finishes
        with the connectors it started with, which are closed only when the daemon stops.

        A config this daemon cannot take while running is refused with a ConfigError, and the one it runs stays.
        """
        restart = [f"{what} changed: only a restart takes it" for what, old, new in (
            ("state.url", self.config.state.url, config.state.url), ("daemon", self.config.daemon, config.daemon))
            if old != new]
        if restart:
            raise ConfigError(restart, hint="restart hub daemon (systemctl restart hub) to apply it")
        # Everything that can refuse the new config is made before anything changes: its mappings, its endpoints.
        runtime = Runtime(config, store=self.runtime.store)
        try:
            mounts = self._mounts(runtime)
        except BaseException:
            runtime.close(keep_store=True)
            raise
        retired, self.runtime, self.config = self.runtime, runtime, config
        self._retired.append(retired)
        self.worker.runtime = runtime
        if self.background:
            self.scheduler.realign(config)
            # The new config's outbound jobs get their first run and /readyz names them; one of the old first
            # runs still going makes the new one find it succeeded under its lease rather than run it twice.
            retired_first_runs, self.first_runs = self.first_runs, FirstRuns(runtime, self._run_first)
            retired_first_runs.stop()
            self._retired_first_runs.append(retired_first_runs)
        self.app.remount(mounts)
        if self.background:
            try:
                self.first_runs.start()
            except Exception:  # the state DB is away: the new config is in; the jobs' schedules run them as usual
                log.exception("reloaded, but could not look up which outbound jobs never succeeded")
        log.info("reloaded hub.yaml: %d source(s), %d job(s), %d scheduled", len(config.sources), len(config.jobs),
                 len(self.scheduler.next_fire_times()))

    # --- runs --------------------------------------------------------------------------------

    def _run_scheduled(self, name: str, fire_time: dt.datetime) -> None:
        self._run_leased(name, f"the {fire_time} tick", lambda state: state.runs.ran(name, fire_time),
                         give_up=fire_time + LEASE_WAIT, trigger="schedule", scheduled_for=fire_time)

    def _run_first(self, name: str) -> RunInfo | None:
        # No giving up: the lease is held by another run of the job, maybe this very first run in another
        # daemon, and whether that run succeeded decides whether this one is needed.
        return self._run_leased(name, "the first run", lambda state: name in state.runs.last_success(),
                                give_up=None, trigger="start")

    def _run_leased(self, name: str, what: str, made: Callable[[State], bool], *, give_up: dt.datetime | None,
                    trigger: Trigger, scheduled_for: dt.datetime | None = None) -> RunInfo | None:
        """Run job ``name`` holding its lease, unless ``made`` finds under the lease that another run did its
        work; None when not run. Waits for the lease until ``give_up`` (None: until hub stops)."""
        self._waiting.add(name)
        lease = Lease(self.runtime.store, f"job:{name}")
        try:
            while True:
                try:
                    with lease:
                        with self.runtime.store.transaction() as state:
                            if made(state):
                                log.debug("%s: %s was made by another run", name, what)
                                return None
                        self._waiting.discard(name)  # it has the lease: the worker retries until the run lets go
                        info, _ = run_job(self.runtime, name, trigger=trigger, scheduled_for=scheduled_for,
                                          stop=self.stopping, lease=lease,
                                          wants_lease=lambda waiting: self._wait_for(name, waiting))
                        self._finished(info)
                        return info
                except JobBusy as exc:
                    if self.stopping.wait(0.2) or (give_up is not None and utcnow() > give_up):
                        log.info("%s: %s; %s is skipped", name, exc, what)
                        return None
        finally:
            self._waiting.discard(name)
            self.worker.wake()  # what arrived meanwhile goes on now, not at the worker's next retry

    def _wait_for(self, name: str, waiting: bool) -> None:
        if waiting:
            self._waiting.add(name)
        else:
            self._waiting.discard(name)

    def _run_inbound(self, name: str) -> None:
        info, _ = run_job(self.runtime, name, trigger="inbound", stop=self.stopping)
        self._finished(info)

    def _finished(self, info: RunInfo) -> None:
        self.metrics.run_finished(info)
        log.info("run %d of %s (%s) %s: %s", info.id, info.job, info.trigger, info.status,
                 ", ".join(f"{k} {v}" for k, v in info.counts.as_dict().items() if v) or "nothing to do")

    # --- HTTP --------------------------------------------------------------------------------

    def _mounts(self, runtime: Runtime) -> list[tuple[str, Mounted]]:
        mounts = []
        for name, settings in runtime.config.sources.items():
            if connector_types()[settings.type].endpoints is Connector.endpoints:
                continue  # nothing to serve: do not even create the connector
            connector = runtime.connector(name)
            prefix = (settings.inbound.path or f"/{name}").rstrip("/")
            inbound = Inbound(runtime.store, connector, self.worker.wake)
            for endpoint in connector.endpoints():
                mounts.append((prefix + endpoint.rule, Mounted(name, endpoint, inbound, settings.inbound.max_body)))
        return mounts

    def _readiness(self) -> dict[str, str]:
        parts = {"state_db": self.runtime.store.ping() or "ok",
                 "scheduler": "ok" if self.scheduler.running else "not running",
                 "worker": "ok" if self.worker.alive else "not running"}
        if self.stopping.is_set():
            parts["daemon"] = "shutting down"
        return parts | self.first_runs.readiness()
