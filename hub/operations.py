"""What the CLI commands do, as functions that return data; cli.py only parses and prints."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from hub.connector import Connector
from hub.errors import AuthError, ConfigError, HubError, NetworkError, RecordError, RequestRejected
from hub.jobs import Progress, RunContext, run_job
from hub.logs import clean_error
from hub.model import Entity, personal_names
from hub.registry import connector_types, job_types, suggest
from hub.runtime import Runtime
from hub.state import DeadLetter, RunInfo, StateStore


@dataclass(frozen=True)
class SourceCheck:
    source: str
    type: str
    ok: bool
    detail: str
    hint: str | None = None


def check_sources(runtime: Runtime) -> list[SourceCheck]:
    """Run every source's check, each call tried once (see :meth:`Runtime.probe`); never raises for one source."""
    results = []
    for name, settings in runtime.config.sources.items():
        connector = runtime.probe(name)
        try:
            detail = connector.check()
            unknown = _unknown_option_references(runtime, name, connector)
            if unknown:
                raise ConfigError(unknown, hint=f"copy the Ref_Key of one {name} holds into each job's options")
            results.append(SourceCheck(name, settings.type, True, detail))
        except HubError as exc:
            results.append(SourceCheck(name, settings.type, False, exc.message, exc.hint or _hint_for(exc)))
        finally:
            connector.close()
    return results


def _unknown_option_references(runtime: Runtime, source: str, connector: Connector) -> list[str]:
    """What the options of the jobs reading from ``source`` name that it does not hold: a wrong price type would
    otherwise give a channel a menu without a single priced dish, and every run would still succeed."""
    problems = []
    for name, job in runtime.config.jobs.items():
        if job.source != source:
            continue
        job_type = job_types()[job.type]
        references = job_type.references(job)
        for held_in in dict.fromkeys(reference.field for reference in references):
            named = [reference for reference in references if reference.field == held_in]
            unknown = connector.unknown_references(job_type.entity, held_in, {r.value for r in named})
            problems += [f"jobs.{name}.{r.where}: {r.value} {unknown[r.value]}" for r in named if r.value in unknown]
    return problems


def job_problems(runtime: Runtime) -> list[str]:
    """Jobs whose sources cannot do what the job needs."""
    classes = {name: connector_types()[s.type] for name, s in runtime.config.sources.items()}
    problems = []
    for name, job in runtime.config.jobs.items():
        problems += [f"jobs.{name}: {p}" for p in job_types()[job.type].problems(job, classes)]
    return problems


def _hint_for(exc: HubError) -> str:
    if isinstance(exc, AuthError):
        return "check the credentials in this source's settings (and the env vars they come from)"
    if isinstance(exc, NetworkError):
        return "check the url and that the system is reachable from this machine"
    if isinstance(exc, RequestRejected):
        return "check the url points at the right API and version"
    return "see the message"


def sync(runtime: Runtime, source: str, *, entity: Entity | None = None, dry_run: bool = False,
         full: bool = False, progress: Progress | None = None) -> list[tuple[RunInfo, RunContext]]:
    """Run every job that reads from or writes to ``source`` (optionally of one entity) once."""
    if source not in runtime.config.sources:
        raise ConfigError([f"no source named {source!r}"], hint=suggest(source, list(runtime.config.sources)))
    jobs = {n: j for n, j in runtime.config.jobs_for(source).items()
            if entity is None or job_types()[j.type].entity is entity}
    if not jobs:
        raise ConfigError([f"no job reads from or writes to {source!r}"
                           + (f" for {entity.value}" if entity else "")],
                          hint="add one under jobs: in hub.yaml")
    return [run_job(runtime, name, dry_run=dry_run, full=full, progress=progress) for name in jobs]


@dataclass
class Status:
    runs: list[RunInfo]
    outbox: dict[str, int]
    dead_letters: int
    inbox_pending: int
    inbox_rejected: int
    """Bodies channels sent that were refused (bad signature excepted): kept with the reason, never processed."""
    cursors: list[tuple[str, str, str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "runs": [{"id": r.id, "job": r.job, "source": r.source, "status": r.status, "dry_run": r.dry_run,
                      "started_at": r.started_at, "finished_at": r.finished_at, **r.counts.as_dict(),
                      "error_summary": r.error_summary} for r in self.runs],
            "outbox_depth": self.outbox,
            "dead_letters_open": self.dead_letters,
            "inbox_pending": self.inbox_pending,
            "inbox_rejected": self.inbox_rejected,
            "cursors": [{"source": s, "stream": st, "value": v, "updated_at": u} for s, st, v, u in self.cursors],
        }


def status(store: StateStore, *, runs: int = 10) -> Status:
    with store.transaction() as state:
        recent = [replace(r, error_summary=r.error_summary and clean_error(r.error_summary))
                  for r in state.runs.recent(runs)]
        return Status(runs=recent, outbox=state.outbox.depth(),
                      dead_letters=state.dead_letters.count(), inbox_pending=state.inbox.count("pending"),
                      inbox_rejected=state.inbox.count("rejected"),
                      cursors=state.cursors.all())


def dead_letters(store: StateStore, *, status: str | None = "open") -> list[DeadLetter]:
    with store.transaction() as state:
        return [_cleaned(letter) for letter in state.dead_letters.list(status)]


def dead_letter(store: StateStore, letter_id: int) -> DeadLetter:
    with store.transaction() as state:
        letter = state.dead_letters.get(letter_id)
    if letter is None:
        raise ConfigError([f"no dead letter {letter_id}"], hint="hub deadletters list shows the open ones")
    return _cleaned(letter)


def _cleaned(letter: DeadLetter) -> DeadLetter:
    """``letter`` with its reason as it may be shown: errors stored by older versions of hub went in verbatim."""
    # A delivery's payload is the canonical record, which names the person; a decode's is the channel's own.
    names = personal_names(Entity(letter.entity), letter.payload) if letter.stage == "deliver" else []
    return replace(letter, reason=clean_error(letter.reason, names))


def retry_dead_letter(runtime: Runtime, letter_id: int) -> list[tuple[RunInfo, RunContext]]:
    """Put a dead letter's record back where it failed and run its source's jobs for that entity again."""
    letter = dead_letter(runtime.store, letter_id)
    if letter.status != "open":
        raise ConfigError([f"dead letter {letter_id} is {letter.status}, not open"])
    with runtime.store.transaction() as state:
        if letter.stage == "decode" and letter.inbox_id is not None:
            state.inbox.mark(letter.inbox_id, "pending")
        elif letter.outbox_id is not None:
            state.outbox.revive(letter.outbox_id)
        else:
            raise RecordError(f"dead letter {letter_id} has no inbox or outbox entry to retry")
        state.dead_letters.mark(letter_id, "retried")
    return sync(runtime, letter.source, entity=Entity(letter.entity))
