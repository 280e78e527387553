"""What the /ui pages show, read from the state store: the day per channel, orders per hour, jobs, journeys.

Functions of a :class:`hub.state.State` and the config only, so they are tested without HTTP and the
page module stays about requests, roles and templates.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select

from hub.config import HubConfig
from hub.logs import clean_error
from hub.model import Entity
from hub.state import LetterStatus, RunInfo, State
from hub.state import schema as t

ORDERS = Entity.ORDERS.value


@dataclass(frozen=True)
class ChannelDay:
    """One channel's orders since midnight: each received one is in 1C, waiting, or failed."""

    source: str
    received: int
    in_onec: int
    waiting: int
    failed: int


@dataclass(frozen=True)
class Today:
    since: dt.datetime
    channels: list[ChannelDay]
    hours: list[dt.datetime]
    """The start of each hour since midnight, local time."""
    per_hour: dict[str, list[int]]
    """Orders first received in each of :attr:`hours`, per channel."""


def midnight(now: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The start of ``now``'s day in ``tz``: "today" is the café's day, not UTC's."""
    local = now.astimezone(tz)
    return dt.datetime.combine(local.date(), dt.time(), tzinfo=tz)


def today(state: State, config: HubConfig, now: dt.datetime) -> Today:
    """Every order a channel sent since midnight, counted once however often it was updated."""
    since = midnight(now, config.timezone)
    inbox = t.inbox.c
    first = select(inbox.source, inbox.external_id, func.min(inbox.received_at).label("at")).where(
        inbox.entity == ORDERS, inbox.received_at >= since, inbox.external_id.is_not(None),
    ).group_by(inbox.source, inbox.external_id).subquery()
    links, letters = t.id_links.c, t.dead_letters.c
    linked = select(links.id).where(links.system == first.c.source, links.entity == ORDERS,
                                    links.external_id == first.c.external_id).exists()
    failed = select(letters.id).where(and_(letters.source == first.c.source, letters.entity == ORDERS,
                                           letters.external_id == first.c.external_id,
                                           letters.status == LetterStatus.OPEN)).exists()
    rows = state.conn.execute(select(first.c.source, first.c.at, linked.label("linked"), failed.label("failed")))
    received: Counter[str] = Counter()
    done: Counter[str] = Counter()
    broken: Counter[str] = Counter()
    hourly: dict[str, Counter[int]] = {}
    for source, at, is_linked, is_failed in rows:
        received[source] += 1
        done[source] += bool(is_linked)
        broken[source] += bool(is_failed) and not is_linked
        hourly.setdefault(source, Counter())[at.astimezone(config.timezone).hour] += 1
    channels = [ChannelDay(source, received[source], done[source], received[source] - done[source] - broken[source],
                           broken[source]) for source in _channels(config, received)]
    last_hour = now.astimezone(config.timezone).hour
    hours = [since.replace(hour=hour) for hour in range(last_hour + 1)]
    per_hour = {source: [hourly.get(source, Counter())[hour] for hour in range(last_hour + 1)]
                for source in _channels(config, received)}
    return Today(since=since, channels=channels, hours=hours, per_hour=per_hour)


def _channels(config: HubConfig, received: Counter[str]) -> list[str]:
    """The sources orders come from (an orders job's ``from``), then any other that sent some today."""
    configured = [job.source for job in config.jobs.values() if job.type == "orders"]
    return list(dict.fromkeys([*configured, *sorted(received)]))


@dataclass(frozen=True)
class JobLine:
    name: str
    type: str
    route: str
    last: RunInfo | None
    last_success: dt.datetime | None
    next_run: dt.datetime | None


def jobs(state: State, config: HubConfig, next_runs: dict[str, dt.datetime | None]) -> list[JobLine]:
    """One line per job in hub.yaml: its last run, last success and next scheduled run."""
    runs = t.runs.c
    newest = select(func.max(runs.id)).where(runs.dry_run.is_(False)).group_by(runs.job)
    # A run's error may quote what a system said about a guest: masked as hub status shows it, for every role.
    last = {info.job: replace(info, error_summary=info.error_summary and clean_error(info.error_summary))
            for info in (state.runs.get(int(run_id)) for run_id, in state.conn.execute(newest)) if info is not None}
    succeeded = state.runs.last_success()
    return [JobLine(name, job.type, f"{job.source} → {', '.join(job.targets) or '(hub)'}", last.get(name),
                    succeeded.get(name), next_runs.get(name)) for name, job in config.jobs.items()]
