"""What the CLI commands do, as functions that return data; cli.py only parses and prints."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TextIO
from urllib.parse import parse_qsl

from lxml import etree

from hub.connector import Connector
from hub.errors import AuthError, ConfigError, HubError, NetworkError, RecordError, RequestRejected, suggest
from hub.jobrun import Progress, RunContext, run_job
from hub.logs import clean_error
from hub.model import Entity, PriceEntry, Product, StockLevel, personal_names
from hub.pipeline import snapshot
from hub.registry import connector_types, job_types
from hub.runtime import Runtime
from hub.state import DeadLetter, InboxStatus, LetterStatus, RunInfo, StateStore
from hub.streams import Exported, stream_of
from hub.values import json_dumps, json_loads


@dataclass(frozen=True)
class SourceCheck:
    source: str
    type: str
    ok: bool
    detail: str
    hint: str | None = None


def export(runtime: Runtime, source: str, out: TextIO, *, price_type: str | None = None,
           warehouses: Sequence[str] = ()) -> int:
    """Write ``source``'s import file (Tilda's importer CSV) from the system of record's goods, prices (of
    ``price_type``, else each good's first) and stock (in ``warehouses``, else all); returns how many rows."""
    exported = stream_of(runtime.connector(source), Entity.CATALOG)
    if not isinstance(exported, Exported):
        raise ConfigError([f"{source} ({runtime.config.sources[source].type}) has no import file hub can write"],
                          hint="hub export writes the file of a channel that imports one (type: tilda)")
    record = runtime.config.system_of_record
    if record is None:
        raise ConfigError(["hub export reads the goods from the system of record, and hub.yaml names none"],
                          hint="set system_of_record: <the 1C source> in hub.yaml")
    ctx = RunContext(run_id=0, job="export")
    goods = [r for r in snapshot(runtime, ctx, record, Entity.CATALOG) if isinstance(r, Product)]
    prices = [r for r in snapshot(runtime, ctx, record, Entity.PRICES)
              if isinstance(r, PriceEntry) and price_type in (None, r.price_type)]
    stock = [r for r in snapshot(runtime, ctx, record, Entity.STOCK)
             if isinstance(r, StockLevel) and (not warehouses or r.warehouse in warehouses)]
    return exported.export(goods, prices, stock, out)


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
    jobs = [n for n, j in runtime.config.jobs_for(source).items()
            if entity is None or job_types()[j.type].entity is entity]
    if not jobs:
        raise ConfigError([f"no job reads from or writes to {source!r}"
                           + (f" for {entity.value}" if entity else "")],
                          hint="add one under jobs: in hub.yaml")
    return run_jobs(runtime, jobs, dry_run=dry_run, full=full, progress=progress)


def run_jobs(runtime: Runtime, names: Sequence[str], *, dry_run: bool = False, full: bool = False,
             progress: Progress | None = None) -> list[tuple[RunInfo, RunContext]]:
    """Run the jobs ``names`` once each, in that order; every name is checked before any of them runs."""
    for name in names:
        runtime.job_config(name)
    if not names:
        raise ConfigError(["hub.yaml has no jobs"], hint="add one under jobs: in hub.yaml")
    return [run_job(runtime, name, dry_run=dry_run, full=full, progress=progress) for name in names]


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


def status(store: StateStore, *, runs: int = 10, job: str | None = None, failed: bool = False) -> Status:
    """The newest ``runs`` (of ``job``; with ``failed``, those that did not succeed) and what waits in the state."""
    with store.transaction() as state:
        recent = [replace(r, error_summary=r.error_summary and clean_error(r.error_summary))
                  for r in state.runs.recent(runs, job=job, failed=failed)]
        return Status(runs=recent, outbox=state.outbox.depth(),
                      dead_letters=state.dead_letters.count(), inbox_pending=state.inbox.count(InboxStatus.PENDING),
                      inbox_rejected=state.inbox.count(InboxStatus.REJECTED),
                      cursors=state.cursors.all())


def dead_letters(store: StateStore, *, status: LetterStatus | None = LetterStatus.OPEN, source: str | None = None,
                 stage: str | None = None, limit: int | None = 100) -> list[DeadLetter]:
    """The dead letters by id, the first ``limit`` (None: every one, as ``retry --all`` must take)."""
    with store.transaction() as state:
        return [_cleaned(letter) for letter in state.dead_letters.list(status, limit, source=source, stage=stage)]


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


def readable_payload(payload: bytes) -> str:
    """A dead letter's payload as a person reads it: JSON indented (numbers exactly as sent), XML indented,
    a form body one field a line decoded; anything else as text."""
    text = payload.decode("utf-8", "replace")
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json_dumps(json_loads(stripped), indent=2)
    if stripped.startswith("<"):
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
        with contextlib.suppress(etree.XMLSyntaxError):
            root = etree.fromstring(payload, parser)
            return str(etree.tostring(root, encoding="unicode", pretty_print=True)).rstrip()
    if "=" in stripped and not any(c.isspace() for c in stripped):
        fields = parse_qsl(stripped, keep_blank_values=True)
        if fields:
            return "\n".join(f"{name}: {value}" for name, value in fields)
    return text


def _open_letters(store: StateStore, letter_ids: Sequence[int]) -> list[DeadLetter]:
    """The letters ``letter_ids`` names, every one of them open, else a usage error naming those that are not."""
    letters = [dead_letter(store, letter_id) for letter_id in dict.fromkeys(letter_ids)]
    closed = [f"dead letter {letter.id} is {letter.status}, not open" for letter in letters
              if letter.status != LetterStatus.OPEN]
    if closed:
        raise ConfigError(closed, hint="hub deadletters list shows the open ones")
    return letters


def dismiss_dead_letters(store: StateStore, letter_ids: Sequence[int], *, by: str, reason: str) -> list[DeadLetter]:
    """Close open dead letters without a retry, saying who and why: they no longer count as open (the alert on
    ``hub_dead_letters_open`` clears) and stay listed under ``--all``."""
    if not reason.strip():
        raise ConfigError(["a dismissal needs a reason"], hint="say why with --reason, e.g. --reason 'entered by hand'")
    letters = _open_letters(store, letter_ids)
    with store.transaction() as state:
        for letter in letters:
            state.dead_letters.dismiss(letter.id, by=by, note=reason.strip())
    return letters


def retry_dead_letters(runtime: Runtime, letter_ids: Sequence[int]) -> list[tuple[RunInfo, RunContext]]:
    """Put open dead letters' records back where they failed, then run the jobs of each source and entity they
    came from once. A record that fails again comes back under the same letter id, one attempt more."""
    letters = _open_letters(runtime.store, letter_ids)
    with runtime.store.transaction() as state:
        for letter in letters:
            if letter.stage == "decode" and letter.inbox_id is not None:
                state.inbox.mark(letter.inbox_id, InboxStatus.PENDING)
            elif letter.outbox_id is not None:
                state.outbox.revive(letter.outbox_id)
            elif letter.stage != "push":  # a refused push holds no fingerprint: the job's next push resends it
                raise RecordError(f"dead letter {letter.id} has no inbox or outbox entry to retry")
            state.dead_letters.mark(letter.id, LetterStatus.RETRIED)
    runs: list[tuple[RunInfo, RunContext]] = []
    for source, entity in dict.fromkeys((letter.source, Entity(letter.entity)) for letter in letters):
        runs += sync(runtime, source, entity=entity)
    return runs
