"""The pipeline stages every record-moving job is built from.

::

    source ──read──▶ inbox ──decode──▶ outbox ──write──▶ target
             ingest          stage              deliver

* **ingest** pulls pages from a source and stores each record's raw bytes in
  the inbox, advancing the source's cursor *in the same transaction*: a crash
  loses nothing and re-reads at most the page in flight (the inbox drops
  byte-identical repeats).
* **stage** decodes pending inbox records into canonical ones and queues them
  in the outbox under their idempotency key (``source:external_id``), marking
  the inbox record done in the same transaction. A record that cannot be
  decoded goes to dead letters with the reason; the rest go on.
* **deliver** claims due outbox entries of its target a batch at a time, so
  that of all the runs writing to one target (every orders job into 1C, on every
  daemon) exactly one writes each entry, and writes them. Before creating, it
  looks for the object through the id link and, for every entry without one, in
  the target itself, whatever hub's state says, the whole batch in one search
  (:meth:`hub.connector.Connector.find_many`): a write whose answer was lost, or
  whose link went with a lost or restored state database, is found, not
  repeated. The id link and the outbox are updated together.

Between batches, where all that was done is saved, each stage calls
:meth:`hub.jobrun.RunContext.checkpoint`: a run asked to stop (the daemon shutting
down) ends there, and the next run carries on from the saved state.

A dry run reads and decodes but stores nothing and writes nothing; it records
what each write would be, with what it changes field by field (:func:`field_diff`
against the payload last queued or pushed).

Data that flows the other way, from the system of record out to the channels
(goods, stock, prices), is not a stream of records but a state to mirror:
:func:`snapshot` reads it in full and :class:`Push` sends only what changed
since the last push (fingerprints), in the largest batches the target takes.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from hub.connector import Connector, Mode, WriteResult
from hub.errors import FatalError, HubError, RecordError, RetriableError
from hub.jobrun import Diff, Planned, RunContext
from hub.leases import holder_gone, worker_id
from hub.logs import clean_error
from hub.model import CANONICAL_TYPES, Entity, Order, Product, RawRecord, Record, StockLevel, personal_names
from hub.runtime import Runtime
from hub.state import Event, InboxItem, InboxStatus, OutboxItem, State
from hub.state.store import Fingerprints
from hub.streams import ChangedOutside, stream_of
from hub.values import json_loads, utcnow

log = logging.getLogger("hub.pipeline")

BATCH = 200
MAX_CONSECUTIVE_TRANSIENT = 3
"""After this many transient failures in a row the target is taken as down and the run stops."""
CLAIM_TTL = dt.timedelta(minutes=10)
"""How long a claim on an outbox entry lasts. It is renewed just before the entry is written, so it need only
outlast one write with its retries; a claim left by a process that died on another host lapses after it."""


def idempotency_key(source: str, external_id: str) -> str:
    return f"{source}:{external_id}"


def _retry_at(attempts: int) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=min(30 * 2 ** attempts, 3600))


def _shown(item: OutboxItem, error: object) -> str:
    """``error`` as it may be stored and shown: the target may have echoed the record's person back in it."""
    return clean_error(str(error), personal_names(Entity(item.entity), item.payload))


class Pipeline:
    """Ingest, stage and deliver for one job run."""

    def __init__(self, runtime: Runtime, ctx: RunContext, *, check: Callable[[Record], None] | None = None) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.ctx = ctx
        self.check = check
        """Refuses a decoded record with a RecordError before it is queued (implausible orders)."""

    # --- ingest ------------------------------------------------------------------------------

    def ingest(self, source: str, entity: Entity) -> list[RawRecord]:
        """Pull new records from ``source`` into the inbox; in a dry run, return them instead."""
        connector = self.runtime.connector(source)
        if not connector.can(entity, Mode.PULL):
            return []
        with self.store.transaction() as state:
            if self.ctx.full and not self.ctx.dry_run:
                state.cursors.reset(source, entity.value)
            cursor = None if self.ctx.full else state.cursors.get(source, entity.value)
        held: list[RawRecord] = []
        for page in connector.read(entity, cursor=cursor):
            self.ctx.counts.read += len(page.records)
            if self.ctx.dry_run:
                held.extend(page.records)
            else:
                with self.store.transaction() as state:
                    state.inbox.add_many(source, entity.value, page.records)
                    if page.cursor is not None:
                        state.cursors.set(source, entity.value, page.cursor)
            self.ctx.report("read", self.ctx.counts.read)
            self.ctx.checkpoint()
        return held

    # --- stage -------------------------------------------------------------------------------

    def stage(self, source: str, entity: Entity, targets: list[str]) -> None:
        """Decode pending inbox records of ``source`` and queue them for ``targets``."""
        connector = self.runtime.connector(source)
        done = 0
        for batch in self._pending(source, entity):
            # Decoded before the transaction: a connector may read state (its own, id links) while decoding,
            # and the write lock is held no longer than the writes take.
            decoded = [(item, self._decode(connector, entity, _raw(item))) for item in batch]
            with self.store.transaction() as state:
                for item, record in decoded:
                    key = idempotency_key(source, item.external_id or str(item.id))
                    if isinstance(record, str):
                        state.inbox.mark(item.id, InboxStatus.DEAD, record)
                        state.dead_letters.add(source=source, entity=entity.value, external_id=item.external_id,
                                               stage="decode", reason=record, payload=item.body,
                                               inbox_id=item.id, run_id=self.ctx.run_id)
                        state.events.add(self._event(source, entity, key, "dead_letter", f"cannot be read: {record}",
                                                     inbox_id=item.id))
                        continue
                    payload = record.model_dump_json()
                    for target in targets:
                        state.outbox.enqueue(target, entity.value, key, payload, source=source, inbox_id=item.id)
                    state.inbox.mark(item.id, InboxStatus.DONE)
                    state.events.add(self._event(source, entity, key, "decoded", _described(record), inbox_id=item.id),
                                     self._event(source, entity, key, "queued", f"for {', '.join(targets)}",
                                                 inbox_id=item.id))
            done += len(batch)
            self.ctx.report("decode", done)
            self.ctx.checkpoint()

    def _event(self, source: str, entity: Entity, key: str, stage: str, detail: str, *, inbox_id: int | None = None,
               outbox_id: int | None = None) -> Event:
        """A step of ``key``'s journey in this run, to be added in the transaction that takes the step."""
        return Event(at=utcnow(), source=source, entity=entity.value, key=key, stage=stage, detail=detail,
                     run_id=self.ctx.run_id, inbox_id=inbox_id, outbox_id=outbox_id)

    def _outbox_event(self, item: OutboxItem, stage: str, detail: str) -> Event:
        return self._event(item.source, Entity(item.entity), item.key, stage, detail, inbox_id=item.inbox_id,
                           outbox_id=item.id)

    def _pending(self, source: str, entity: Entity) -> Iterator[list[InboxItem]]:
        after = 0
        while True:
            with self.store.reading() as state:
                batch = state.inbox.pending(source, entity.value, limit=BATCH, after_id=after)
            if not batch:
                return
            yield batch
            after = batch[-1].id

    def _decode(self, connector: Connector, entity: Entity, raw: RawRecord) -> Record | str:
        """The canonical record, or the reason it cannot be read or is refused (counted as a failure), cleaned
        to be stored: a connector's or the check's message may quote the guest's phone, email or name."""
        record: Record | None = None
        try:
            record = connector.decode(entity, raw)
            if self.check is not None:
                self.check(record)
            return record
        except (RecordError, ValueError, ArithmeticError) as exc:  # a pushed body passed only its envelope check
            # A refused record's own names are known; a record that cannot be read has only its phones and emails.
            reason = clean_error(str(exc), () if record is None else personal_names(entity, record.model_dump_json()))
            self.ctx.counts.failed += 1
            self.ctx.errors.append(f"{connector.name} {entity.value} {raw.external_id}: {reason}")
            log.warning("cannot decode %s %s %s: %s", connector.name, entity.value, raw.external_id, reason)
            return reason

    # --- deliver -----------------------------------------------------------------------------

    def deliver(self, target: str, entity: Entity) -> None:
        """Write every due outbox entry of ``entity`` to ``target``, ``write_concurrency`` at a time.

        Entries are claimed a batch at a time, and only the claim's holder writes one, so two runs writing to
        ``target`` at once (two jobs, two daemons) never write the same record. What this run claimed and did
        not write is released when it ends, however it ends; a process killed holding claims leaves them to
        lapse (at once for one on this host, see :func:`hub.leases.holder_gone`).
        """
        connector = self.runtime.connector(target)
        workers = self.runtime.config.sources[target].write_concurrency
        holder = f"{worker_id()}:{secrets.token_hex(4)}"  # its own: another run in this process is another holder
        transient_in_a_row = 0
        done = 0
        try:
            with ThreadPoolExecutor(workers, thread_name_prefix=f"deliver-{target}") if workers > 1 \
                    else contextlib.nullcontext() as pool:
                while True:
                    with self.store.transaction() as state:
                        due = state.outbox.claim(target, holder, utcnow() + CLAIM_TTL, entity=entity.value,
                                                 limit=BATCH, dead=holder_gone)
                    if not due:
                        return
                    refs = self._existing(connector, entity, due)
                    for item, outcome in self._attempts(connector, entity, due, refs=refs, holder=holder, pool=pool):
                        if outcome is None:  # the claim lapsed and another run took the entry: it writes it
                            continue
                        if isinstance(outcome, str):
                            setattr(self.ctx.counts, outcome, getattr(self.ctx.counts, outcome) + 1)
                            transient_in_a_row = 0
                        elif isinstance(outcome, RecordError):
                            self._dead(item, entity, str(outcome))
                        elif isinstance(outcome, RetriableError):
                            transient_in_a_row += 1
                            self._later(item, outcome)
                            if transient_in_a_row >= MAX_CONSECUTIVE_TRANSIENT:
                                raise outcome
                        else:
                            self._later(item, outcome)
                            raise outcome
                        done += 1
                        self.ctx.report("write", done)
                    if len(due) < BATCH:  # all that was due: what came due since is the next run's
                        return
        except BaseException:  # written or not, every entry a run finishes is released; not so when it stops early
            with self.store.transaction() as state:
                state.outbox.release(holder)
            raise

    def _existing(self, connector: Connector, entity: Entity, due: list[OutboxItem]) -> dict[int, str]:
        """Outbox id → the object the entry already is in the target: its id link, else whatever the target holds
        under its key, looked up for every unlinked entry of the batch at once. A target that cannot be searched
        stops the run before anything is created."""
        refs: dict[int, str] = {}
        with self.store.reading() as state:
            for item in due:
                ref = state.links.get(self._linked_as(item.source, item.target), entity.value, _external_id(item))
                if ref is not None:
                    refs[item.id] = ref
        unlinked = [item for item in due if item.id not in refs]
        found = connector.find_many(entity, [item.key for item in unlinked]) if unlinked else {}
        refs.update({item.id: found[item.key] for item in unlinked if item.key in found})
        return refs

    def _attempts(self, connector: Connector, entity: Entity, due: list[OutboxItem], *, refs: dict[int, str],
                  holder: str, pool: ThreadPoolExecutor | None) -> Iterator[tuple[OutboxItem, str | HubError | None]]:
        """Each entry with what writing it did (created, updated), the error, or None if it was not ours, in order."""
        if pool is None:
            for item in due:
                self.ctx.checkpoint()
                yield item, self._attempt(connector, entity, item, ref=refs.get(item.id), holder=holder)
            return
        self.ctx.checkpoint()
        # Each write runs in this thread's context (a copy apiece: a context is entered by one thread at a time),
        # so what the writer threads log carries the run's id and reaches the run's own log.
        futures = [pool.submit(contextvars.copy_context().run, self._attempt, connector, entity, item,
                               ref=refs.get(item.id), holder=holder)
                   for item in due]
        for item, future in zip(due, futures, strict=True):
            yield item, future.result()

    def _attempt(self, connector: Connector, entity: Entity, item: OutboxItem, *, ref: str | None,
                 holder: str) -> str | HubError | None:
        try:
            record = cast(Record, CANONICAL_TYPES[entity].model_validate_json(item.payload))
            return self._write(connector, entity, item, record, ref=ref, holder=holder)
        except (RecordError, RetriableError, FatalError) as exc:
            return exc

    def _write(self, connector: Connector, entity: Entity, item: OutboxItem, record: Record, *, ref: str | None,
               holder: str) -> str | None:
        """Write one entry as an update of ``ref`` or, when None, a create; return what it did (``created``,
        ``updated``, ``unchanged``), or None when this run no longer holds its claim and so must not write it."""
        with self.store.transaction() as state:
            if not state.outbox.hold(item, holder, utcnow() + CLAIM_TTL):
                return None
        result = connector.write(entity, record, key=item.key, ref=ref)
        with self.store.transaction() as state:
            state.links.put(self._linked_as(item.source, item.target), entity.value, _external_id(item), result.ref)
            state.outbox.done(item, result.ref)
            state.events.add(*self._written(item, result))
        return result.action

    def _written(self, item: OutboxItem, result: WriteResult) -> list[Event]:
        """The steps a write took: what the target made of the record (with its number), and posting it."""
        number = f" № {result.number}" if result.number else ""
        log.info("%s %s in %s%s, ref %s", item.key, result.action, item.target, number, result.ref)
        steps = [self._outbox_event(item, result.action, f"{item.target}{number}, ref {result.ref}")]
        if result.posted:
            steps.append(self._outbox_event(item, "posted", f"{item.target}{number}"))
        return steps

    def _linked_as(self, source: str, target: str) -> str:
        return linked_as(source, target, self.runtime.config.system_of_record)

    def _dead(self, item: OutboxItem, entity: Entity, reason: str) -> None:
        reason = _shown(item, reason)
        self.ctx.counts.failed += 1
        self.ctx.errors.append(f"{item.target} {entity.value} {item.key}: {reason}")
        log.warning("%s refused %s %s, kept as a dead letter: %s", item.target, entity.value, item.key, reason)
        with self.store.transaction() as state:
            state.outbox.give_up(item, reason)
            # Under the channel's own id, as a decode-stage letter is: /ui counts an order's letter by it, and a
            # retry failing again finds its letter by it.
            state.dead_letters.add(source=item.source, entity=entity.value,
                                   external_id=item.key.removeprefix(f"{item.source}:"), stage="deliver",
                                   reason=reason, payload=item.payload.encode(), inbox_id=item.inbox_id,
                                   outbox_id=item.id, run_id=self.ctx.run_id)
            state.events.add(self._outbox_event(item, "dead_letter", f"{item.target} refused it: {reason}"))

    def _later(self, item: OutboxItem, exc: Exception) -> None:
        error = _shown(item, exc)
        self.ctx.counts.failed += 1
        self.ctx.errors.append(f"{item.target} {item.key}: {error}")
        at = _retry_at(item.attempts)
        log.warning("%s did not take %s (attempt %d), trying again later: %s", item.target, item.key,
                    item.attempts + 1, error)
        with self.store.transaction() as state:
            state.outbox.retry_later(item, error, at)
            state.events.add(self._outbox_event(item, "retry", f"attempt {item.attempts + 1} to {item.target}: "
                                                               f"{error}; next at {at.isoformat(timespec='seconds')}"))

    # --- dry run -----------------------------------------------------------------------------

    def plan(self, source: str, entity: Entity, targets: list[str], fresh: list[RawRecord]) -> None:
        """What a real run would write: decode held and pending records, map each for the targets, and look
        each up in them. A record the decoding, a mapping or an id link would stop is planned as a failure."""
        connector = self.runtime.connector(source)
        raws = list(fresh)
        for batch in self._pending(source, entity):
            raws.extend(_raw(item) for item in batch)
        for raw in raws:
            record = self._decode(connector, entity, raw)
            key = idempotency_key(source, raw.external_id)
            if isinstance(record, str):
                self.ctx.planned.append(Planned(", ".join(targets), key, "fail", reason=record))
                continue
            goods = goods_of(record)
            for target in targets:
                try:
                    self.runtime.connector(target).rehearse(entity, record, key=key)
                except RecordError as exc:
                    reason = clean_error(str(exc), personal_names(entity, record.model_dump_json()))
                    self.ctx.counts.failed += 1
                    self.ctx.errors.append(f"{target} {entity.value} {key}: {reason}")
                    self.ctx.planned.append(Planned(target, key, "fail", goods=goods, reason=reason))
                    continue
                with self.store.transaction() as state:
                    ref = state.links.get(self._linked_as(source, target), entity.value, raw.external_id)
                    sent = state.outbox.payload_of(target, entity.value, key)
                ref = ref or self.runtime.connector(target).find(entity, key)
                if ref is None:
                    self.ctx.planned.append(Planned(target, key, "create", diff=field_diff(None, record), goods=goods))
                    continue
                diff = field_diff(sent, record)
                if sent is not None and not diff:  # staging would leave the queued payload as it is
                    self.ctx.counts.unchanged += 1
                    self.ctx.planned.append(Planned(target, key, "skip", ref, goods=goods))
                else:
                    self.ctx.planned.append(Planned(target, key, "update", ref, diff, goods=goods))


def goods_of(record: Record) -> str | None:
    """The goods ``record`` is or carries, by name and article, as a dry run shows them: ``Капучино (CAP-1) ×2``."""
    if isinstance(record, Product):
        return f"{record.name} ({record.article})" if record.article else record.name
    if isinstance(record, Order):
        return "; ".join(f"{line.name} ({line.product}) ×{line.quantity}" for line in record.lines) or None
    return None


def _external_id(item: OutboxItem) -> str:
    """The channel's own id of the record an outbox entry carries (its key is ``source:external_id``)."""
    return item.key.removeprefix(f"{item.source}:")


def _described(record: Record) -> str:
    """What a trace says a decoded record is, without personal data: an order's lines and total."""
    if isinstance(record, Order):
        return f"{len(record.lines)} line(s), total {record.total}"
    return type(record).__name__


def _raw(item: InboxItem) -> RawRecord:
    return RawRecord(external_id=item.external_id or str(item.id), body=item.body, content_type=item.content_type)


def linked_as(source: str, target: str, record: str | None) -> str:
    """Under which system the link of a record from ``source`` written to ``target`` is kept: the channel's
    own name for the system of record ``record`` (what the status flow-back, reconciliation and the customer
    profile read), ``source>target`` for any other target (iiko's kitchen, a CRM), so the two never collide."""
    return source if record is None or target == record else f"{source}>{target}"


class Push:
    """Change-only push of a snapshot (goods, stock, prices) from the system of record to one target.

    Each record's fingerprint (a hash of what would be sent) is compared with the
    one last pushed; only changed records go out, in the largest batches the
    target accepts, so with nothing changed there are no write calls at all. A
    batch's fingerprints and id links are recorded after the target accepted it:
    a crash in between re-sends that batch next time, which targets take as a no-op.
    """

    CHUNK = 1000
    """Records compared against the stored fingerprints per query."""

    def __init__(self, runtime: Runtime, ctx: RunContext, target: str, entity: Entity) -> None:
        self.runtime = runtime
        self.ctx = ctx
        self.target = target
        self.entity = entity
        self.connector = runtime.connector(target)
        self.limit = self.connector.batch_limits.get(entity, 1)
        self._pending: list[tuple[str, Record, str, bool]] = []
        """(key, record, payload, new to the target) waiting for a full batch."""

    def run(self, records: Iterable[tuple[str, Record]]) -> None:
        """Push ``(key, record)`` pairs whose content changed since the last push of the same key."""
        held = stream_of(self.connector, self.entity)
        if not self.ctx.dry_run and isinstance(held, ChangedOutside) and held.changed_outside():
            with self.runtime.store.transaction() as state:  # what was pushed last no longer says what it holds
                state.fingerprints.forget(self.target, self.entity.value)
        chunk: list[tuple[str, Record]] = []
        for pair in records:
            chunk.append(pair)
            if len(chunk) == self.CHUNK:
                self._compare(chunk)
                chunk = []
        self._compare(chunk)
        self._flush(everything=True)

    def _compare(self, chunk: list[tuple[str, Record]]) -> None:
        if not chunk:
            return
        self.ctx.checkpoint()
        # What the target will hold, not what 1C says: a stop-list channel changes only when a good
        # stops or comes back, so only that is compared.
        payloads = {key: _fingerprint_payload(self.connector.as_written(self.entity, record)) for key, record in chunk}
        with self.runtime.store.transaction() as state:
            known = state.fingerprints.get_many(self.target, self.entity.value, payloads)
        changed = [(key, record) for key, record in chunk if known.get(key) != Fingerprints.of(payloads[key])]
        self.ctx.counts.unchanged += len(chunk) - len(changed)
        if self.ctx.dry_run:
            self._plan(chunk, changed, known)
            return
        self._pending.extend((key, record, payloads[key], key not in known) for key, record in changed)
        self._flush(everything=False)

    def _plan(self, chunk: list[tuple[str, Record]], changed: list[tuple[str, Record]], known: dict[str, str]) -> None:
        # Old payloads are read for changed records only, and only here: a real push never needs them.
        with self.runtime.store.transaction() as state:
            sent = state.fingerprints.payloads(self.target, self.entity.value, [k for k, _ in changed if k in known])
        changes = dict(changed)
        for key, record in chunk:
            goods = goods_of(record)
            if key not in changes:
                self.ctx.planned.append(Planned(self.target, key, "skip", goods=goods))
            elif key not in known:
                self.ctx.planned.append(Planned(self.target, key, "create", diff=field_diff(None, record),
                                                goods=goods))
            else:
                old = sent.get(key)  # None: pushed before hub kept payloads, so what changed is unknown
                diff = None if old is None else field_diff(old, record)
                self.ctx.planned.append(Planned(self.target, key, "update", diff=diff, goods=goods))

    def _flush(self, *, everything: bool) -> None:
        while self._pending and (everything or len(self._pending) >= self.limit):
            batch, self._pending = self._pending[:self.limit], self._pending[self.limit:]
            outcomes = self.connector.write_batch(self.entity, [record for _, record, _, _ in batch])
            written = [(entry, ref) for entry, ref in zip(batch, outcomes, strict=True) if isinstance(ref, str)]
            refused = [(entry, error) for entry, error in zip(batch, outcomes, strict=True)
                       if isinstance(error, RecordError)]
            with self.runtime.store.transaction() as state:
                state.fingerprints.put_many(self.target, self.entity.value,
                                            {key: p for (key, _, p, _), _ in written})
                if self.entity is Entity.CATALOG:  # the channel's product id ↔ the system of record's
                    for (key, _, _, _), channel_id in written:
                        state.links.put(self.target, self.entity.value, channel_id, key)
                for (key, _, payload, _), error in refused:
                    self._refused(state, key, payload, error)
            created = sum(1 for (*_, new), _ in written if new)
            self.ctx.counts.created += created
            self.ctx.counts.updated += len(written) - created
            self.ctx.counts.failed += len(refused)
            self.ctx.report(f"push {self.target}", self.ctx.counts.created + self.ctx.counts.updated)

    def _refused(self, state: State, key: str, payload: str, error: RecordError) -> None:
        # Its fingerprint is not recorded, so the next push sends it again whatever the letter's fate.
        reason = clean_error(str(error))
        self.ctx.errors.append(f"{self.target} {self.entity.value} {key}: {reason}")
        log.warning("%s refused %s %s, kept as a dead letter: %s", self.target, self.entity.value, key, reason)
        state.dead_letters.add(source=self.target, entity=self.entity.value, external_id=key, stage="push",
                               reason=reason, payload=payload.encode(), run_id=self.ctx.run_id)


def _fingerprint_payload(record: Record) -> str:
    return record.model_dump_json(exclude=_unfingerprinted(record))


def _unfingerprinted(record: Record) -> set[str] | None:
    # When a balance was read says nothing about the balance: it must not make a record look changed.
    return {"as_of"} if isinstance(record, StockLevel) else None


def field_diff(sent: str | None, record: Record) -> Diff:
    """Field by field, what sending ``record`` changes from the JSON payload ``sent`` (None: nothing sent yet).

    Paths are dotted (``delivery.address``, ``lines[0].quantity``). Values are as
    JSON carries them; money and quantities compare as numbers, so ``100.5`` and
    ``100.50`` are the same price.
    """
    exclude = _unfingerprinted(record)
    numbers = {path for path, value in _flatten(record.model_dump(exclude=exclude)).items()
               if isinstance(value, Decimal)}
    after = _flatten(json_loads(record.model_dump_json(exclude=exclude)))
    before = {} if sent is None else _flatten(json_loads(sent))
    diff: Diff = {}
    for path in [*after, *(p for p in before if p not in after)]:
        old, new = before.get(path), after.get(path)
        if old != new and not (path in numbers and _same_number(old, new)):
            diff[path] = (old, new)
    return diff


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaves of nested dicts and lists by dotted path; an empty dict or list has none."""
    if isinstance(value, dict):
        items = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{path}[{n}]", v) for n, v in enumerate(value)]
    else:
        return {path: value}
    return {leaf: v for sub, item in items for leaf, v in _flatten(item, sub).items()}


def _same_number(a: Any, b: Any) -> bool:
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except InvalidOperation:
        return False


def snapshot(runtime: Runtime, ctx: RunContext, source: str, entity: Entity, *,
             since: dt.datetime | None = None) -> Iterator[Record]:
    """Every record of ``entity`` the source holds now (from ``since``, where the connector reads a date bound),
    decoded; undecodable ones are counted and skipped."""
    connector = runtime.connector(source)
    for page in connector.read(entity, cursor=None, since=since):
        for raw in page.records:
            ctx.counts.read += 1
            try:
                yield connector.decode(entity, raw)
            except RecordError as exc:
                ctx.counts.failed += 1
                ctx.errors.append(f"{source} {entity.value} {raw.external_id}: {exc}")
