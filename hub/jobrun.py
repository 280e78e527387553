"""The runtime jobs run in: what runs, on demand (``hub sync``) or on a schedule (``hub daemon``).

A job type is a :class:`Job` subclass registered in the ``hub.jobs`` entry-point
group; the implementations live in the top-level ``jobs`` package. A job is
generic over connectors: it asks the runtime for the connectors its config
names and uses only the capabilities they declare. :func:`run_job` wraps every
run in a ``runs`` row, so each one is recorded with its counts and outcome.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from hub.config import JobConfig
from hub.connector import Connector, Mode
from hub.errors import ConfigError, FatalError, HubError, Interrupted, JobBusy
from hub.leases import Lease, worker_id
from hub.logs import RunLines, log_context
from hub.model import Entity
from hub.runtime import Runtime
from hub.state import RunCounts, RunInfo, RunStatus

log = logging.getLogger("hub.jobs")
_Options = TypeVar("_Options", bound=BaseModel)

Trigger = Literal["manual", "schedule", "inbound", "start"]
"""What started a run: ``hub sync``, the daemon's schedule, records a channel pushed to the daemon, or the
daemon's start (an outbound job that has never succeeded, see :mod:`hub.daemon.firstruns`)."""

Progress = Callable[[str, int], None]
"""Called with (stage, records done so far in that stage) as a run goes."""


Diff = dict[str, tuple[Any, Any]]
"""Field path (``lines[0].quantity``) → (value last sent, value that would be sent); None where absent."""


@dataclass(frozen=True)
class OptionReference:
    """A record of the source that a job's options name: ``options.venues.main`` is 1C price type ``value``."""

    where: str
    field: str
    """The field of the job's entity that holds such references (``price_type`` of a PriceEntry)."""
    value: str


@dataclass
class Planned:
    """One write a dry run would make."""

    target: str
    key: str
    action: str
    ref: str | None = None
    diff: Diff | None = None
    """What the write changes, field by field (every field for a create); None when not known."""
    goods: str | None = None
    """The goods the record is or carries, by name and article (``Капучино (CAP-1) ×2``), for a person to
    recognise it by; None when it names none."""
    reason: str | None = None
    """Why the write would fail (``action`` ``fail``): the mapping or the id link it would stop at."""


@dataclass
class RunContext:
    """What a running job reports into."""

    run_id: int
    job: str
    dry_run: bool = False
    full: bool = False
    counts: RunCounts = field(default_factory=RunCounts)
    errors: list[str] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)
    progress: Progress | None = None
    trigger: Trigger = "manual"
    stop: threading.Event | None = None
    """Set when the run should end at its next checkpoint (the daemon is shutting down)."""
    lease: Lease | None = None
    """The job's lease this run holds (None in a dry run)."""
    wants_lease: Callable[[bool], None] | None = None
    """Told True while the run waits to take its lease back (:meth:`unleased`), False once it has it."""

    @property
    def received_only(self) -> bool:
        """Woken by records a channel pushed: work them off promptly, leave pulls and side work to scheduled runs."""
        return self.trigger == "inbound"

    def report(self, stage: str, done: int) -> None:
        if self.progress is not None:
            self.progress(stage, done)

    @contextlib.contextmanager
    def unleased(self) -> Iterator[None]:
        """Let other runs of the job go on during the block (work that is safe beside them, such as pulling
        a source into the inbox, which drops repeats); the lease is taken back after it."""
        if self.lease is None:
            yield
            return
        self.lease.release()
        try:
            yield
        finally:
            self._retake()

    def _retake(self) -> None:
        assert self.lease is not None
        if self.wants_lease is not None:
            self.wants_lease(True)
        try:
            while True:
                try:
                    self.lease.__enter__()
                    return
                except JobBusy:
                    # The other run is short (it took records pushed meanwhile): poll for the lease.
                    if (self.stop or threading.Event()).wait(0.05):
                        raise Interrupted(f"run {self.run_id} of {self.job} stopped waiting for its lease: "
                                          "hub is shutting down") from None
        finally:
            if self.wants_lease is not None:
                self.wants_lease(False)

    def checkpoint(self) -> None:
        """Called between batches, where everything done so far is saved: stop here if asked to."""
        if self.stop is not None and self.stop.is_set():
            raise Interrupted(f"run {self.run_id} of {self.job} stopped at a checkpoint: hub is shutting down")


class Job(ABC):
    """Base of every job type."""

    type_name: ClassVar[str]
    entity: ClassVar[Entity]
    source_modes: ClassVar[frozenset[Mode]] = frozenset({Mode.PULL, Mode.PUSH})
    """The source must declare one of these for :attr:`entity`."""
    target_mode: ClassVar[Mode] = Mode.WRITE
    options_model: ClassVar[type[BaseModel] | None] = None
    """The pydantic model of this job type's ``options:``; None means it takes none."""
    outbound: ClassVar[bool] = False
    """Sends the system of record's data out (goods, stock, prices, customers), which channels need before their
    orders can go anywhere: a starting daemon runs such a job at once until it has succeeded."""

    def __init__(self, name: str, config: JobConfig, runtime: Runtime) -> None:
        self.name = name
        self.config = config
        self.runtime = runtime

    @classmethod
    def problems(cls, config: JobConfig, connectors: dict[str, type[Connector]]) -> list[str]:
        """What is wrong with ``config`` given the connector classes of its sources (for ``hub check``)."""
        found = []
        source = connectors.get(config.source)
        if source is not None and not any(source.can(cls.entity, m) for m in cls.source_modes):
            found.append(f"source {config.source!r} ({source.type_name}) cannot supply {cls.entity.value}")
        for name in config.targets:
            target = connectors.get(name)
            if target is not None and not cls.takes(target):
                found.append(f"target {name!r} ({target.type_name}) cannot {cls.target_mode.value} "
                             f"{cls.entity.value}")
        return found + cls._option_problems(config)

    @classmethod
    def takes(cls, target: type[Connector]) -> bool:
        """Whether a connector of this type can be one of this job's targets."""
        return target.can(cls.entity, cls.target_mode)

    @classmethod
    def references(cls, config: JobConfig) -> list[OptionReference]:
        """The source's records ``config``'s options name, for ``hub check`` to look up there; none by default."""
        return []

    @classmethod
    def _option_problems(cls, config: JobConfig) -> list[str]:
        if cls.options_model is None:
            return [f"options: the {cls.type_name} job takes none"] if config.options else []
        try:
            cls.options_model.model_validate(config.options)
        except ValidationError as exc:
            return [f"options.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return []

    def options(self, model: type[_Options]) -> _Options:
        """This job's ``options:`` validated as ``model``; every problem at once as a ConfigError."""
        problems = self._option_problems(self.config)
        if problems:
            raise ConfigError([f"jobs.{self.name}: {p}" for p in problems],
                              hint=f"the {self.type_name} job's options are described in jobs/{self.type_name}.py")
        return model.model_validate(self.config.options)

    @abstractmethod
    def run(self, ctx: RunContext) -> None:
        """Do the work, adding to ``ctx.counts``; raise FatalError to stop the run."""

    def follow_up(self, ctx: RunContext) -> None:  # noqa: B027 - most jobs have none
        """Work that only reads and notifies, done after :meth:`run` once the job's lease is released,
        so another run of the job may go on meanwhile (1C's statuses sent back to a channel)."""


def run_job(runtime: Runtime, name: str, *, dry_run: bool = False, full: bool = False,
            progress: Progress | None = None, trigger: Trigger = "manual", scheduled_for: dt.datetime | None = None,
            stop: threading.Event | None = None, lease: Lease | None = None,
            wants_lease: Callable[[bool], None] | None = None) -> tuple[RunInfo, RunContext]:
    """Run job ``name`` once and record it; returns the recorded run and its context.

    A real run holds the job's lease (``lease``, if the caller took it already),
    so it never overlaps another run of the same job in any process; JobBusy
    says who runs it now. The lease is released before the job's follow-up
    (:meth:`Job.follow_up`). A dry run writes nothing and takes no lease.
    """
    config = runtime.job_config(name)
    job = runtime.job_class(name)(name, config, runtime)
    with contextlib.ExitStack() as held:
        if not dry_run and lease is None:
            lease = held.enter_context(Lease(runtime.store, f"job:{name}"))
        with runtime.store.transaction() as state:
            run_id = state.runs.start(name, config.source, dry_run=dry_run, trigger=trigger,
                                      scheduled_for=scheduled_for, worker=worker_id())
        ctx = RunContext(run_id=run_id, job=name, dry_run=dry_run, full=full, progress=progress, trigger=trigger,
                         stop=stop, lease=lease, wants_lease=wants_lease)
        kept = held.enter_context(RunLines(run_id, mask_personal_data=runtime.config.log.mask_personal_data)
                                  .attached())
        held.callback(_keep_lines, runtime, kept)  # a run that ends in a bug keeps its lines too
        with log_context(run_id=run_id, job=name, source=config.source, trigger=trigger):
            status, summary = _run(job, ctx, job.run)
            if lease is not None:
                lease.release()  # the follow-up only reads and notifies: the next run need not wait for it
            if status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
                status, summary = _run(job, ctx, job.follow_up)
    with runtime.store.transaction() as state:
        state.runs.finish(run_id, status, ctx.counts, summary)
        info = state.runs.get(run_id)
    assert info is not None
    return info, ctx


def _keep_lines(runtime: Runtime, kept: RunLines) -> None:
    with runtime.store.transaction() as state:
        state.run_log.add(int(kept.run_id), kept.lines)


def _run(job: Job, ctx: RunContext, step: Callable[[RunContext], None]) -> tuple[RunStatus, str | None]:
    """Run ``step`` of ``job``; return how the run stands (succeeded, partial, interrupted, failed) and a summary."""
    try:
        step(ctx)
    except Interrupted as exc:
        log.info("%s", exc)
        return RunStatus.INTERRUPTED, str(exc)
    except HubError as exc:
        summary = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, FatalError):
            log.warning("job %s stopped: %s", job.name, summary)
        return RunStatus.FAILED, summary
    except Exception as exc:  # recorded, then re-raised: a bug must not look like a clean run
        with job.runtime.store.transaction() as state:
            state.runs.finish(ctx.run_id, RunStatus.FAILED, ctx.counts,
                              "".join(traceback.format_exception_only(exc)).strip())
        raise
    if ctx.counts.failed:
        more = f" (+{len(ctx.errors) - 5} more)" if len(ctx.errors) > 5 else ""
        return RunStatus.PARTIAL, "; ".join(ctx.errors[:5]) + more
    return RunStatus.SUCCEEDED, None
