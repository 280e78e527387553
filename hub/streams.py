"""Streams: a connector as one small piece per entity, each saying what it does.

A connector built on streams (:class:`StreamConnector`) lists a stream class per
entity it handles (orders, catalog, stock, prices, customers…). Each stream
class is made of the kinds below, and the kinds are what the jobs see:

* :class:`Pull` - hub reads the entity with a cursor (and decodes what it read);
* :class:`Push` - the system pushes it to the endpoints the stream serves, which check
  its envelope only (:meth:`Push.envelope`): it is decoded once, by the worker;
* :class:`Write` - hub writes records one by one, finding what was written before;
* :class:`BatchWrite` - hub sets many at once, at most :attr:`BatchWrite.limit` a call;
* :class:`Statuses` - the system takes its orders' statuses from the system of record.

A few systems can do one thing more, each a kind of its own that adds no mode, which
the engine looks for with :func:`stream_of` and ``isinstance``: :class:`Listed`,
:class:`DailySales`, :class:`CustomerDetails`, :class:`ChangedOutside`, :class:`Exported`.

So the capabilities the engine checks (:meth:`hub.connector.Connector.can`) and
the batch limits follow from the stream classes, never from a table kept by
hand beside them, and a stream holds the code of one entity only: no method
branches on the entity. :class:`StreamConnector` answers the engine's calls by
handing each to the stream of its entity.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TextIO, TypeVar, cast

from hub.connector import Connector, ConnectorContext, Mode, Page, WriteResult
from hub.errors import InvalidRecord, RecordError, RequestRejected
from hub.model import Entity, Order, OrderStatus, PriceEntry, Product, RawRecord, Record, StockLevel
from hub.settings import SourceSettings

if TYPE_CHECKING:
    from hub.inbound import Endpoint
    from hub.mapping import CompiledMapping

_C_co = TypeVar("_C_co", bound=Connector, covariant=True)


class Stream(ABC, Generic[_C_co]):
    """One entity of one connector. Kinds set :attr:`mode`; a stream class combines the kinds it needs."""

    entity: ClassVar[Entity]
    mode: ClassVar[Mode | None] = None
    """The mode a kind adds (set by the kinds below, never by a stream)."""

    def __init__(self, connector: _C_co) -> None:
        self.connector = connector

    @classmethod
    def modes(cls) -> frozenset[Mode]:
        """What this stream does: the modes of every kind it is made of."""
        return frozenset(kind.__dict__["mode"] for kind in cls.__mro__ if kind.__dict__.get("mode") is not None)

    def unsupported(self, mode: Mode) -> RequestRejected:
        """The error for a call of ``mode`` this stream cannot serve as set up (its mapping lacks a direction)."""
        return self.connector._unsupported(self.entity, mode)

    def as_written(self, record: Record) -> Record:
        """``record`` as the system holds it once written (see :meth:`hub.connector.Connector.as_written`)."""
        return record


class Decodes(Stream[_C_co]):
    """What pulled and pushed streams share: raw records to decode."""

    @abstractmethod
    def decode(self, record: RawRecord) -> Record:
        """One raw record in canonical form; raise RecordError when it cannot be read."""


class Pull(Decodes[_C_co]):
    """hub reads the entity page by page, resuming after a cursor."""

    mode = Mode.PULL
    shown_again: ClassVar[bool] = True
    """Whether :meth:`read` shows every record dated since a day, whenever asked, so that reconciliation can
    compare them with the system of record. False for a system that hands each order out until hub confirms
    it and never again (CommerceML's sale query)."""

    @abstractmethod
    def read(self, *, cursor: str | None, since: dt.datetime | None) -> Iterator[Page]:
        """Pages of records changed after ``cursor`` (everything when None), oldest first; ``since`` as in
        :meth:`hub.connector.Connector.read`."""


class Push(Decodes[_C_co]):
    """The system pushes the entity to hub's endpoints (see :mod:`hub.inbound`)."""

    mode = Mode.PUSH

    @abstractmethod
    def endpoints(self) -> list[Endpoint]:
        """The endpoints ``hub daemon`` serves for it; none while the source is not set up to receive."""

    @abstractmethod
    def envelope(self, record: RawRecord) -> None:
        """Raise RecordError unless ``record``, as pushed, parses as the system's format and carries the keys
        that identify it and tell a repeat: what the endpoint checks inside the system's request (see
        :meth:`hub.connector.Connector.envelope`). Mappings, links and other systems wait for :meth:`decode`."""


class Write(Stream[_C_co]):
    """hub writes records one by one, each found by its idempotency key before it is created."""

    mode = Mode.WRITE

    @abstractmethod
    def find(self, key: str) -> str | None:
        """The reference of the object written with ``key``, or None."""

    def find_many(self, keys: Sequence[str]) -> dict[str, str]:
        """Key → reference of each of ``keys`` already written; one :meth:`find` each unless overridden."""
        return {key: ref for key in keys if (ref := self.find(key)) is not None}

    @abstractmethod
    def write(self, record: Record, *, key: str, ref: str | None) -> WriteResult:
        """Create the object (``ref`` None) or update object ``ref``; must be safe to repeat."""

    def rehearse(self, record: Record, *, key: str) -> None:
        """Raise the RecordError writing ``record`` would meet, writing nothing (a dry run's "would fail")."""

    def mapped(self, mapping: CompiledMapping, record: Record, *, key: str) -> dict[str, Any]:
        """``record`` through its ``out`` mapping, ``key`` in the mapping's ``match_by``, for a target whose
        documents have no modifiers (1C's): a paid one the target knows as a good (it has a catalog link) goes
        as a line of its own, so the lines add up to what the guest pays."""
        links = self.connector.context.links
        if isinstance(record, Order) and links is not None:
            channel = record.channel

            def linked(product: str) -> bool:
                return links.resolve(channel, Entity.CATALOG.value, product) is not None

            record = record.paid_modifiers_as_lines(linked)
        body = mapping.apply(record, links=links)
        if body is None:
            raise InvalidRecord(f"{key}: skipped by {mapping.path.name} (skip_when)")
        if mapping.match_by is not None:
            body[mapping.match_by] = key
        return cast(dict[str, Any], body)


class BatchWrite(Stream[_C_co]):
    """hub sets many records at once (goods, stock levels, prices)."""

    mode = Mode.WRITE
    limit: ClassVar[int]
    """The most records one :meth:`write_batch` call may carry."""

    @abstractmethod
    def write_batch(self, records: Sequence[Record]) -> Sequence[str | RecordError]:
        """Set ``records``; return, for each in order, its id in the system or the RecordError the system refused
        that one with. Must be safe to repeat."""


class Statuses(Stream[_C_co]):
    """The system takes the status the system of record holds of each of its orders."""

    mode = Mode.STATUS

    @abstractmethod
    def set_status(self, external_id: str, status: OrderStatus) -> None:
        """Tell the system its order ``external_id`` is now at ``status``."""


class Listed(Stream[_C_co]):
    """The system lists the ids of the records it holds (a history of ids at most), though it pushes them and
    cannot be read whole: reconciliation holds the ids against what the system of record holds."""

    @abstractmethod
    def listed(self, *, since: dt.datetime | None, until: dt.datetime) -> Iterable[str] | None:
        """The ids of the records dated from ``since`` (as far back as the system keeps, when None) to
        ``until``; None when the source is not set up to list them."""


class DailySales(Stream[_C_co]):
    """The system keeps its own books of sales (a POS's back-office report), which reconciliation holds
    against 1C's orders of this channel."""

    @abstractmethod
    def daily_sales(self, first: dt.date, last: dt.date) -> Mapping[dt.date, Decimal] | None:
        """What was sold on each business day from ``first`` to ``last``; None when the source is not set up
        to read its books."""


class CustomerDetails(Stream[_C_co]):
    """The system holds more about its customers than hub's own fields, shown by ``hub customers show``."""

    @abstractmethod
    def about(self, external_id: str) -> Mapping[str, str]:
        """What the system holds about its customer ``external_id`` (the balance of each loyalty wallet)."""


class ChangedOutside(Stream[_C_co]):
    """What hub pushes may be changed by hand in the system (iiko's stop lists, edited at the POS)."""

    @abstractmethod
    def changed_outside(self) -> bool:
        """Whether it may have been changed since hub last pushed it: the next push then compares everything,
        not only what changed in 1C."""


class Exported(Stream[_C_co]):
    """The system imports a file hub writes, for shops that do not take hub's pushes (Tilda's importer CSV):
    ``hub export`` writes it from the system of record's goods, prices and stock."""

    @abstractmethod
    def export(self, goods: Sequence[Product], prices: Sequence[PriceEntry], stock: Sequence[StockLevel],
               out: TextIO) -> int:
        """Write the system's import file of ``goods`` at ``prices`` and ``stock`` to ``out``; how many rows."""


def stream_of(connector: Connector, entity: Entity) -> Stream[Connector] | None:
    """The stream of ``entity`` of a connector built on streams; None for another connector or entity."""
    return connector.stream(entity) if isinstance(connector, StreamConnector) else None


class StreamConnector(Connector):
    """A connector made of streams: its capabilities and batch limits follow from :attr:`streams`, and each of
    the engine's calls goes to the stream of the entity it names."""

    streams: ClassVar[Sequence[type[Stream[Connector]]]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.capabilities = {stream.entity: stream.modes() for stream in cls.streams}
        cls.batch_limits = {stream.entity: stream.limit for stream in cls.streams if issubclass(stream, BatchWrite)}

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self._streams: Mapping[Entity, Stream[Connector]] = {stream.entity: stream(self) for stream in self.streams}

    def stream(self, entity: Entity) -> Stream[Connector] | None:
        """The stream of ``entity``, None when the connector has none."""
        return self._streams.get(entity)

    def read(self, entity: Entity, *, cursor: str | None, since: dt.datetime | None = None) -> Iterator[Page]:
        if not isinstance(stream := self._streams.get(entity), Pull):
            raise self._unsupported(entity, Mode.PULL)
        return stream.read(cursor=cursor, since=since)

    def decode(self, entity: Entity, record: RawRecord) -> Record:
        if not isinstance(stream := self._streams.get(entity), Decodes):
            raise self._unsupported(entity, Mode.PULL)
        return stream.decode(record)

    def envelope(self, entity: Entity, record: RawRecord) -> None:
        if not isinstance(stream := self._streams.get(entity), Push):
            raise self._unsupported(entity, Mode.PUSH)
        stream.envelope(record)

    def endpoints(self) -> list[Endpoint]:
        return [endpoint for stream in self._streams.values() if isinstance(stream, Push)
                for endpoint in stream.endpoints()]

    def find(self, entity: Entity, key: str) -> str | None:
        return self._writer(entity).find(key)

    def find_many(self, entity: Entity, keys: Sequence[str]) -> dict[str, str]:
        return self._writer(entity).find_many(keys)

    def write(self, entity: Entity, record: Record, *, key: str, ref: str | None) -> WriteResult:
        return self._writer(entity).write(record, key=key, ref=ref)

    def rehearse(self, entity: Entity, record: Record, *, key: str) -> None:
        found = self._streams.get(entity)
        if isinstance(found, Write):
            found.rehearse(record, key=key)

    def write_batch(self, entity: Entity, records: Sequence[Record]) -> Sequence[str | RecordError]:
        if not isinstance(stream := self._streams.get(entity), BatchWrite):
            raise self._unsupported(entity, Mode.WRITE)
        return stream.write_batch(records)

    def set_status(self, external_id: str, status: OrderStatus) -> None:
        if not isinstance(stream := self._streams.get(Entity.ORDERS), Statuses):
            raise self._unsupported(Entity.ORDERS, Mode.STATUS)
        stream.set_status(external_id, status)

    def as_written(self, entity: Entity, record: Record) -> Record:
        found = self._streams.get(entity)
        return record if found is None else found.as_written(record)

    def _writer(self, entity: Entity) -> Write[Connector]:
        if not isinstance(stream := self._streams.get(entity), Write):
            raise self._unsupported(entity, Mode.WRITE)
        return stream
