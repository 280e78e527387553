"""The connector interface: how hub talks to one external system.

A connector is a plug-in found through the ``hub.connectors`` entry-point
group (see :mod:`hub.registry`); the engine never imports one by name. It
declares what it can do per entity (:attr:`Connector.capabilities`), and the
jobs call only what was declared:

* ``PULL``  - hub reads records from the system (:meth:`Connector.read`);
* ``PUSH``  - the system pushes records to hub's HTTP endpoints (the daemon
  serves what :meth:`Connector.endpoints` lists; see :mod:`hub.inbound`);
* ``WRITE`` - hub writes records into the system (:meth:`Connector.write`);
* ``STATUS`` - the system takes status updates of its own orders from the
  system of record (:meth:`Connector.set_status`).

Connectors speak the canonical model (:mod:`hub.model`) at this boundary: raw
payloads go in as :class:`RawRecord` and come out of :meth:`Connector.decode`
as canonical records; writes take canonical records.

Idempotency is shared work. The engine keeps the id links and, for every
record it has no link for, asks :meth:`Connector.find_many` before it creates
anything, whatever its own state says; a connector looks the objects up in its
system by the idempotency key (for 1C, an attribute that carries the channel's
order id). So a write that was committed remotely but whose answer was lost, or
whose link went with a lost or restored state database, is found instead of
being made twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from hub.errors import ConfigError, RecordError, RequestRejected
from hub.model import Entity, OrderStatus, RawRecord, Record
from hub.settings import SourceSettings

if TYPE_CHECKING:
    from hub.http import Clock, HttpClient
    from hub.inbound import Endpoint
    from hub.mapping import CompiledMapping, LinkResolver
    from hub.sandbox import Sandbox

_Key = TypeVar("_Key")


class Mode(StrEnum):
    """How an entity moves between hub and a system."""

    PULL = "pull"
    PUSH = "push"
    WRITE = "write"
    STATUS = "status"


@dataclass(frozen=True)
class Page:
    """Records read in one call, and the cursor that resumes right after them."""

    records: list[RawRecord]
    cursor: str | None


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the object's reference in the target and whether it was new."""

    ref: str
    action: Literal["created", "updated", "unchanged"]
    number: str | None = None
    """What the target numbered the object, where it numbers them (a 1C document's Number), for hub trace."""
    posted: bool = False
    """Whether the target posted it (a 1C document), so its journey can say so."""


@dataclass(frozen=True)
class Choice:
    """A reference a source's settings need (``values.<setting>``), with what the system holds to pick it from."""

    setting: tuple[str | int, ...]
    """Where it goes under ``values``: ("venues", "main", "warehouse")."""
    holder: str | None
    """What the system keeps such references in (``Catalog_Склады``); None when it does not say."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Reference → name, in the system's order; empty when ``holder`` is None."""
    complete: bool = True
    """False when ``holder`` holds more than ``options`` lists (a long catalog of counterparties)."""


class ChannelState(Protocol):
    """What a connector keeps in the state DB for its channel: JSON payloads by kind and key.

    For channels that call hub instead of being called (Yandex Eda, CommerceML sites):
    the menu hub publishes for them, orders and statuses they read back, tokens hub
    issued. Shared by every daemon on the state DB, kept across restarts.
    """

    def put_many(self, kind: str, payloads: Mapping[str, str]) -> None: ...

    def get(self, kind: str, key: str) -> str | None: ...

    def all(self, kind: str) -> list[tuple[str, str]]: ...

    def delete(self, kind: str, keys: Iterable[str]) -> None: ...


@dataclass(frozen=True)
class ConnectorContext:
    """What the engine hands a connector: its name, the 1C time zone, a logger, mappings, id links, HTTP."""

    source: str
    timezone: ZoneInfo
    log: logging.Logger
    mappings: Path | None = None
    """The mappings folder (hub.yaml ``mappings``, the bundled one by default)."""
    links: LinkResolver | None = None
    """Id links, for mappings that look up another system's id (a channel's product → 1C Ref_Key)."""
    clock: Clock | None = None
    """Time source for rate limits and retry waits; tests pass a fake one so nothing really sleeps."""
    state: ChannelState | None = None
    """This channel's kept state (see :class:`ChannelState`); the runtime always passes one."""

    def mapping(self, relative: str, values: Mapping[str, Any] | None = None) -> CompiledMapping:
        """Compile the mapping at ``relative`` under the mappings folder; ``values`` feed its ``config:`` reads."""
        from hub.config import bundled_mappings
        from hub.mapping import load_mapping

        folder = self.mappings or bundled_mappings()
        return load_mapping(folder / relative, timezone=self.timezone, config=values or {})

    def mapping_set(self, relatives: Mapping[_Key, str], values: Mapping[str, Any] | None = None, *,
                    hint: str) -> dict[_Key, CompiledMapping]:
        """Compile several mappings (key → relative path) at once: a ConfigError lists the problems of every
        file, not only the first broken one's, so an integrator fixes them in one go."""
        found: dict[_Key, CompiledMapping] = {}
        problems: list[str] = []
        for key, relative in relatives.items():
            try:
                found[key] = self.mapping(relative, values)
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems, hint=hint)
        return found

    def http(self, settings: SourceSettings, base_url: str, **kwargs: Any) -> HttpClient:
        """An HTTP client for this source with its timeout, rate limit and retry policy."""
        from hub.http import HttpClient

        return HttpClient(base_url=base_url, source=self.source, timeout=settings.timeout,
                          rate_limit=settings.rate_limit, retry=settings.retry, clock=self.clock, **kwargs)


class Connector(ABC):
    """Base class of every connector. Subclasses set the class attributes and the methods they declare."""

    type_name: ClassVar[str]
    """The name used as ``type:`` in hub.yaml."""
    settings_model: ClassVar[type[SourceSettings]] = SourceSettings
    """The pydantic model of this connector's settings."""
    capabilities: ClassVar[Mapping[Entity, frozenset[Mode]]] = {}
    """What the connector can do with each entity."""
    batch_limits: ClassVar[Mapping[Entity, int]] = {}
    """The most records one :meth:`write_batch` call may carry, per entity."""
    system_of_record: ClassVar[bool] = False
    """True for connectors to the system of record (1C): ``hub demo`` casts them in that role."""
    prints_own_receipts: ClassVar[bool] = False
    """True for a channel that takes the guest's online payment itself, as the café's agent, and prints its 54-FZ
    receipt (an aggregator): hub's receipts job must not print a second one for its orders."""

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.context = context
        self.name = context.source

    @classmethod
    def can(cls, entity: Entity, mode: Mode) -> bool:
        """Whether this connector declared ``mode`` for ``entity``."""
        return mode in cls.capabilities.get(entity, frozenset())

    @classmethod
    def sandbox(cls) -> Sandbox | None:
        """A fresh local emulator of the system, for tests and ``hub demo``; None if there is none."""
        return None

    @classmethod
    def choices(cls, settings: SourceSettings, context: ConnectorContext) -> list[Choice]:
        """The references a new source of this type needs in its settings, each with what the system holds to
        pick from by name (for ``hub init``); ``settings`` are the connection's, without those references.

        None (an empty list) by default: a source whose settings name nothing in its system.
        """
        return []

    @abstractmethod
    def check(self) -> str:
        """Connect and prove the settings work; return a one-line description, raise HubError if not."""

    def unknown_references(self, entity: Entity, field: str, values: Iterable[str]) -> dict[str, str]:
        """Of ``values`` (what a job's options name as ``field`` of ``entity``: a price type, a warehouse), those
        this system does not hold, each with why (``is not in Catalog_Склады of this base``); for ``hub check``.

        Nothing by default: a connector that cannot tell lets the job find out.
        """
        return {}

    def read(self, entity: Entity, *, cursor: str | None, since: dt.datetime | None = None) -> Iterator[Page]:
        """Yield pages of records changed after ``cursor`` (everything when None), oldest first.

        ``since`` is a hint: only records dated from then on are wanted. A system that can
        filter by date does; one that cannot may return more, and the caller filters.
        """
        raise self._unsupported(entity, Mode.PULL)

    def decode(self, entity: Entity, record: RawRecord) -> Record:
        """Turn one raw record into its canonical form; raise RecordError when it cannot be read."""
        raise self._unsupported(entity, Mode.PULL)

    def envelope(self, entity: Entity, record: RawRecord) -> None:
        """Raise RecordError unless a pushed ``record`` is in the system's format and names what identifies it:
        the check an endpoint makes inside the system's request, reading nothing but the body and the settings
        (never another system, nor what hub keeps of one), for the full :meth:`decode` happens once, later."""
        raise self._unsupported(entity, Mode.PUSH)

    def find(self, entity: Entity, key: str) -> str | None:
        """The reference of an object already written with idempotency ``key``, or None."""
        raise self._unsupported(entity, Mode.WRITE)

    def find_many(self, entity: Entity, keys: Sequence[str]) -> dict[str, str]:
        """Key → reference of each of ``keys`` already written; the engine asks before every create.

        One :meth:`find` per key by default; a system that can search for many at once (1C's ``$filter``
        with ``or``) overrides this, so a batch of new orders costs a query, not one per order.
        """
        return {key: ref for key in keys if (ref := self.find(entity, key)) is not None}

    def write(self, entity: Entity, record: Record, *, key: str, ref: str | None) -> WriteResult:
        """Create the object (``ref`` None) or update object ``ref``; must be safe to repeat."""
        raise self._unsupported(entity, Mode.WRITE)

    def rehearse(self, entity: Entity, record: Record, *, key: str) -> None:  # noqa: B027 - most have no mapping
        """Raise the RecordError that writing ``record`` would meet before anything reaches the system (its
        mapping, an id link it lacks), writing nothing: a dry run's "would fail". Nothing to meet by default."""

    def as_written(self, entity: Entity, record: Record) -> Record:
        """``record`` as this system will hold it once written: what it can show of it, and no more.

        A stop-list channel keeps only whether a good is stopped, not its quantity; comparing
        what it holds with what it should hold (reconciliation) compares these forms.
        """
        return record

    def set_status(self, external_id: str, status: OrderStatus) -> None:
        """Tell the system that its order ``external_id`` is now at ``status`` (1C's word, in hub's vocabulary)."""
        raise self._unsupported(Entity.ORDERS, Mode.STATUS)

    def write_batch(self, entity: Entity, records: Sequence[Record]) -> Sequence[str | RecordError]:
        """Set many records at once (goods, stock levels, prices); return, for each in order, its id in this
        system or the RecordError it refused that one with: one refused record does not stop the others.

        Must be safe to repeat: the engine re-sends a batch whose answer it did not record.
        """
        raise self._unsupported(entity, Mode.WRITE)

    def endpoints(self) -> list[Endpoint]:
        """The HTTP endpoints ``hub daemon`` serves for this system to call (see :mod:`hub.inbound`)."""
        return []

    def close(self) -> None:  # noqa: B027 - most connectors hold nothing to release
        """Release sessions and connections."""

    def _unsupported(self, entity: Entity, mode: Mode) -> RequestRejected:
        return RequestRejected(f"connector {self.type_name!r} cannot {mode.value} {entity.value}",
                               hint="check the job's from/to against the connector's capabilities")
