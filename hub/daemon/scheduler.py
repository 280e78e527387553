"""The daemon's schedule: APScheduler 3 with its job store in the state database.

Each hub job with a ``schedule:`` becomes an APScheduler job of the same name.
The job store lives in the state DB (table ``scheduler_jobs``, made by hub's
migrations), so the next fire time survives restarts: a daemon that was down
when runs were due makes *one* run when it starts (``coalesce``, no misfire
limit), not one per missed tick and not none.

Several daemons may share one state DB (PostgreSQL). Each runs its own
scheduler over the shared job store, so two of them may fire the same tick.
What keeps every tick to one run:

1. the job's lease (:mod:`hub.leases`): one process runs a job at a time;
2. holding it, the daemon checks whether a run for this fire time was already
   recorded (``runs.scheduled_for``, unique per job) and skips it if so.

A job whose schedule in hub.yaml is unchanged keeps its stored next fire
time; a changed or new one is (re)scheduled from now; one removed from
hub.yaml is removed from the store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job as SchedulerJob
from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from hub.config import HubConfig, Schedule
from hub.errors import FatalError
from hub.state import StateStore
from hub.state.schema import scheduler_jobs

log = logging.getLogger("hub.daemon.scheduler")

TABLE = scheduler_jobs.name
ScheduledRunner = Callable[[str, dt.datetime], None]
"""``runner(job_name, fire_time)``: makes one scheduled run."""


def scheduled_run(name: str, *, scheduled_for: dt.datetime | None = None,
                  runner: ScheduledRunner | None = None) -> None:
    """The callable the job store records for every hub job (it stores a reference, not the daemon).

    Its executor passes the fire time and the daemon's runner; they default to None only because
    APScheduler checks a job's arguments when it is added, before any executor is involved.
    """
    if scheduled_for is None or runner is None:
        raise TypeError("scheduled_run is called by the daemon's executor, with the fire time and a runner")
    runner(name, scheduled_for)


class _FireTimeExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # APScheduler 3 ships no type hints
    """Runs a due job with its fire time and this daemon's runner, which APScheduler's own executor does not pass.

    Overriding ``_do_submit_job`` is APScheduler 3's documented way to write an executor.
    """

    def __init__(self, runner: ScheduledRunner, max_workers: int) -> None:
        super().__init__(max_workers)
        self.runner = runner

    def _do_submit_job(self, job: SchedulerJob, run_times: list[dt.datetime]) -> None:
        fire_time = run_times[-1]  # coalesced: several missed ticks make one run, dated by the latest

        def run() -> list[JobExecutionEvent]:
            job.func(*job.args, scheduled_for=fire_time, runner=self.runner)
            return [JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, fire_time)]

        def done(future: Any) -> None:
            error = future.exception()
            if error is None:
                self._run_job_success(job.id, future.result())
            else:  # logged by APScheduler; the instance count must drop either way
                self._run_job_error(job.id, error, error.__traceback__)

        self._pool.submit(run).add_done_callback(done)


def trigger_for(schedule: Schedule, config: HubConfig) -> BaseTrigger:
    if schedule.every is not None:
        return IntervalTrigger(seconds=int(schedule.every.total_seconds()), timezone=config.timezone)
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone=config.timezone)


class Scheduler:
    """The scheduled jobs of one daemon."""

    def __init__(self, config: HubConfig, store: StateStore, runner: ScheduledRunner, *, threads: int) -> None:
        self.config = config
        self._scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename=TABLE)},
            executors={"default": _FireTimeExecutor(runner, threads)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=config.timezone)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        try:
            self._scheduler.start(paused=True)  # the store is brought in line with hub.yaml before anything fires
            self._align()
        except SQLAlchemyError as exc:
            self.shutdown(wait=False)
            raise FatalError(f"the scheduler cannot start: the state database said {exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0]}", hint="check the state database with hub status") from exc
        self._scheduler.resume()

    def realign(self, config: HubConfig) -> None:
        """Bring the schedule in line with a reloaded hub.yaml: new and changed schedules from now, removed ones
        gone, the rest keeping their next fire time; a run in progress is not touched."""
        self.config = config
        self._align()

    def next_fire_times(self) -> dict[str, dt.datetime | None]:
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    def shutdown(self, *, wait: bool) -> None:
        """Fire nothing more; with ``wait``, return when the runs in progress have ended."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def _align(self) -> None:
        wanted = {name: trigger_for(job.schedule, self.config)
                  for name, job in self.config.jobs.items() if job.schedule is not None}
        for stored in self._scheduler.get_jobs():
            if stored.id not in wanted:
                log.info("job %s has no schedule in hub.yaml any more: unscheduled", stored.id)
                self._scheduler.remove_job(stored.id)
        for name, trigger in wanted.items():
            stored = self._scheduler.get_job(name)
            if stored is not None and str(stored.trigger) == str(trigger):
                continue  # keep its next fire time: a run missed while hub was down happens now, once
            with contextlib.suppress(ConflictingIdError):  # another daemon sharing the state DB added it just now
                self._scheduler.add_job(f"{__name__}:scheduled_run", trigger=trigger, args=[name], id=name, name=name,
                                        replace_existing=stored is not None)
            log.info("job %s scheduled: %s", name, trigger)
