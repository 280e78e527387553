"""How each job stands and what one run logged, for ``hub status`` and ``hub runs show``.

A failed run must not scroll away behind the successful ones that follow it: each
job gets one line with its last run, its last success, its next run from the
schedule and its last error, however many runs came since.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from hub.config import HubConfig, Schedule
from hub.errors import ConfigError, suggest
from hub.logs import clean_error
from hub.state import RunInfo, RunStatus, StateStore
from hub.values import utcnow


@dataclass(frozen=True)
class JobStatus:
    job: str
    type: str
    schedule: str | None
    """``every 1m``, ``cron */5 * * * *``, or None for a job run only on demand."""
    last: RunInfo | None
    last_success: dt.datetime | None
    next_run: dt.datetime | None
    """When the daemon runs it next by its schedule (now, when that is overdue); None without a schedule."""
    last_failure: RunInfo | None
    """Its newest run that did not succeed, with the error (personal data masked)."""

    @property
    def failing(self) -> bool:
        """Its last run did not succeed."""
        return self.last is not None and self.last.status not in (RunStatus.SUCCEEDED, RunStatus.RUNNING)

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        last, failure = self.last, self.last_failure
        return {"job": self.job, "type": self.type, "schedule": self.schedule,
                "last_run": None if last is None else {"id": last.id, "status": last.status,
                                                       "started_at": local(last.started_at, tz),
                                                       "finished_at": local(last.finished_at, tz),
                                                       **last.counts.as_dict()},
                "last_success": local(self.last_success, tz), "next_run": local(self.next_run, tz),
                "last_error": None if failure is None else {"run_id": failure.id, "at": local(failure.started_at, tz),
                                                            "error": failure.error_summary}}


def local(when: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    """``when`` in the configured time zone, as an operator reads it."""
    return None if when is None else when.astimezone(tz)


def job_statuses(config: HubConfig, store: StateStore, *, job: str | None = None,
                 failed: bool = False) -> list[JobStatus]:
    """A line per configured job (or just ``job``), with ``failed`` only those whose last run did not succeed."""
    if job is not None and job not in config.jobs:
        raise ConfigError([f"no job named {job!r}"], hint=suggest(job, list(config.jobs)))
    names = [job] if job is not None else list(config.jobs)
    with store.reading() as state:
        succeeded = state.runs.last_success()
        found = []
        for name in names:
            settings = config.jobs[name]
            last, failure = (None if run is None else _cleaned(run)
                             for run in (state.runs.latest(name), state.runs.latest(name, failed=True)))
            found.append(JobStatus(job=name, type=settings.type, schedule=_described(settings.schedule), last=last,
                                   last_success=succeeded.get(name),
                                   next_run=_next_run(settings.schedule, last, config), last_failure=failure))
    return [status for status in found if status.failing or not failed]


def run_details(store: StateStore, run_id: int) -> tuple[RunInfo, list[tuple[dt.datetime, str, str]]]:
    """Run ``run_id`` with the lines it logged (when, level, message)."""
    with store.reading() as state:
        info = state.runs.get(run_id)
        lines = state.run_log.of(run_id)
    if info is None:
        raise ConfigError([f"no run {run_id}"], hint="hub status lists each job's last runs")
    return _cleaned(info), lines


def _cleaned(info: RunInfo) -> RunInfo:
    # Summaries stored by older versions of hub went in verbatim.
    return replace(info, error_summary=info.error_summary and clean_error(info.error_summary))


def _described(schedule: Schedule | None) -> str | None:
    if schedule is None:
        return None
    if schedule.every is not None:
        seconds = int(schedule.every.total_seconds())
        unit, size = next((unit, size) for unit, size in (("h", 3600), ("m", 60), ("s", 1)) if seconds % size == 0)
        return f"every {seconds // size}{unit}"
    return f"cron {schedule.cron}"


def _next_run(schedule: Schedule | None, last: RunInfo | None, config: HubConfig) -> dt.datetime | None:
    if schedule is None:
        return None
    now = utcnow()
    if schedule.every is not None:
        after = None if last is None else (last.scheduled_for or last.started_at) + schedule.every
        return max(after or now, now)
    from hub.daemon.scheduler import trigger_for  # the daemon's own reading of a cron line

    fire = trigger_for(schedule, config).get_next_fire_time(None, now.astimezone(config.timezone))
    return None if fire is None else fire.astimezone(dt.UTC)
