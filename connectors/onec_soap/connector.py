"""The 1C web-service connector: a base whose integration is a SOAP service its 1C developer wrote.

Which operation serves which entity is told by mapping files, one per entity and direction, in a folder under
``mappings/onec_soap/`` (the source's ``preset``; ``trade`` ships with hub and is documented line by line):

* an ``in`` mapping names the operation that reads (``source:``), the field of its answer that lists the rows
  (``options.list``), the arguments it takes (``options.arguments``), its paging parameters when it has them
  (``options.paging``), and maps each row to a canonical record;
* an ``out`` mapping names the operation that writes (``target:``), the parameter the mapped record goes in
  (``options.argument``), where its answer keeps the object's reference and number (``options.result``), and
  how a written object is found again by hub's idempotency key (``options.find``: an operation of the service).
  Without ``find`` the write operation must look the key up itself (``match_by`` carries it).

Reads are snapshots, as 1C's register balances and price slices are: hub's fingerprints make them change-only
downstream. Writes are idempotent: the engine asks ``find`` before every create, so an order whose answer was
lost is found, not written twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from itertools import count
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.onec_soap.client import RECORD_FAULTS, SERVICE_FAULTS, Faults, SoapClient
from connectors.onec_soap.sandbox import OneCSoapSandbox
from connectors.onec_soap.wsdl import Contract, WsdlCache, changes
from hub.connector import ConnectorContext, Mode, Page, WriteResult
from hub.errors import ConfigError, InvalidRecord, ProtocolError, RequestRejected, ServerError, suggest
from hub.mapping import CompiledMapping, RecordType, unknown_fields
from hub.model import Entity, RawRecord, Record
from hub.settings import SourceSettings
from hub.streams import Pull, StreamConnector, Write
from hub.values import json_dumps, json_loads, utcnow
from hub.yamlsource import PathKey, load_yaml_file

READ_AT = "ДатаЧтения"
"""Added to every row read: when hub read it (a balance's ``as_of``); the service's answer has no such time."""


class OneCSoapSettings(SourceSettings):
    """Settings of a 1C web-service source."""

    url: str = Field(description="The base's publication, e.g. https://1c.example.ru/trade (its /ws/ is added).")
    service: str = Field("trade", description="The service's file name under /ws/ (trade for trade.1cws).")
    username: str = Field(description="1C user the service is called as (Basic auth, WSDL included).")
    password: str = Field(description="That user's password; write it as ${ENV_VAR}.")
    preset: str = Field("trade", description="Folder under mappings/onec_soap/ describing the service's operations.")
    page_size: int = Field(500, ge=1, le=10000, description="Rows asked per page of a paged operation.")
    values: dict[str, Any] = Field(default_factory=dict, description=(
        "Values the preset's mappings read as {config: …}, e.g. warehouse (the warehouse orders go to)."))
    record_faults: list[str] = Field(list(RECORD_FAULTS), description=(
        "Texts of faults about the record sent (a dead letter); compared ignoring case."))
    service_faults: list[str] = Field(list(SERVICE_FAULTS), description=(
        "Texts of faults about the service (retried); checked before record_faults."))


class _Paging(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: str
    """The parameter carrying the page's number, from 1."""
    size: str
    """The parameter carrying the rows a page holds."""
    more: str | None = None
    """The answer's field saying more pages follow; without it, a page shorter than asked is the last."""


class _ReadOptions(BaseModel):
    """``options:`` of an ``in`` mapping."""

    model_config = ConfigDict(extra="forbid")

    list: str
    id: tuple[str, ...] = Field(min_length=1)
    """The row's fields that make its id; without one every row would be the same record to hub."""
    arguments: dict[str, Any] = {}
    paging: _Paging | None = None


class _Find(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: str
    argument: str
    ref: str
    not_found: list[str] = Field(["Заказ не найден"], description=(
        "Texts of the fault the operation raises when it holds no order under the key (a module written "
        "ВызватьИсключение «Заказ не найден»), found in the fault's text ignoring case. Keep them as whole as the "
        "module writes them: any other fault stops the run, since taking 1C's «Объект не найден» or «Операция не "
        "найдена» for \"no such order\" would write the order a second time."))


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str
    number: str | None = None


class _WriteOptions(BaseModel):
    """``options:`` of an ``out`` mapping."""

    model_config = ConfigDict(extra="forbid")

    argument: str
    result: _Result
    find: _Find | None = None
    posted: bool = False
    """Whether the service posts what it writes, for the order's journey."""


class _Reads(Pull["OneCSoapConnector"]):
    """An entity read through its ``in`` mapping: the operation it names, page by page."""

    def read(self, *, cursor: str | None, since: dt.datetime | None = None) -> Iterator[Page]:
        mapping = self.connector.mapping(self.entity, "in", Mode.PULL)
        assert mapping.source is not None  # mapping() refuses a file that names no operation
        options = _ReadOptions.model_validate(mapping.options or {})
        read_at = utcnow().isoformat()
        size = self.connector.page_size
        before: list[str] | None = None
        for number in count(1):
            paging = {options.paging.page: number, options.paging.size: size} if options.paging else {}
            answer = self.connector.client.call(mapping.source, {**options.arguments, **paging}, reads=True) or {}
            rows = answer.get(options.list) or []
            if not isinstance(rows, list):
                raise ProtocolError(f"1C web service {mapping.source}: {options.list} is not a list of rows",
                                    hint="options.list must name the answer's field that repeats; see hub check")
            records = [RawRecord(external_id=":".join(str(row.get(key)) for key in options.id),
                                 body=json_dumps({**row, READ_AT: read_at}).encode()) for row in rows]
            ids = [record.external_id for record in records]
            if rows and ids == before:
                # A hand-written service that ignores the page number would be read forever.
                raise ProtocolError(f"1C web service {mapping.source}: page {number} repeats page {number - 1}; "
                                    "the service seems to ignore the page number it is asked for")
            yield Page(records, cursor=None)
            if options.paging is None or not rows:  # an empty page ends the read, whatever the answer says of more
                return
            more = answer.get(options.paging.more) if options.paging.more else len(rows) >= size
            if not more:
                return
            before = ids

    def decode(self, record: RawRecord) -> Record:
        mapping = self.connector.mapping(self.entity, "in", Mode.PULL)
        try:
            row = json_loads(record.body)
        except ValueError as exc:
            raise InvalidRecord(f"1C web service row {record.external_id}: not JSON: {exc}") from None
        result = mapping.apply(row, links=self.connector.context.links)
        if result is None:
            raise InvalidRecord(f"1C web service row {record.external_id} is skipped by {mapping.path.name}")
        return result  # type: ignore[no-any-return]


class _Writes(Write["OneCSoapConnector"]):
    """An entity written through its ``out`` mapping by the operation it names, found again by ``options.find``."""

    def _options(self) -> tuple[CompiledMapping, _WriteOptions]:
        mapping = self.connector.mapping(self.entity, "out", Mode.WRITE)
        return mapping, _WriteOptions.model_validate(mapping.options or {})

    def find(self, key: str) -> str | None:
        _, options = self._options()
        if options.find is None:
            return None  # the write operation looks the key up itself
        try:
            answer = self.connector.client.call(options.find.operation, {options.find.argument: key}, reads=True)
        except (RequestRejected, ServerError) as exc:  # a read's fault, whichever the texts sort it as
            if not any(text.casefold() in exc.message.casefold() for text in options.find.not_found):
                raise
            return None
        ref = (answer or {}).get(options.find.ref)
        return str(ref) if ref else None

    def rehearse(self, record: Record, *, key: str) -> None:
        self._request(record, key)

    def _request(self, record: Record, key: str) -> dict[str, Any]:
        mapping, options = self._options()
        return {options.argument: self.mapped(mapping, record, key=key)}

    def write(self, record: Record, *, key: str, ref: str | None) -> WriteResult:
        mapping, options = self._options()
        assert mapping.target is not None  # mapping() refuses a file that names no operation
        if ref is not None and mapping.match_by is None:
            # Only match_by tells the write operation which order to change; without it a second call would make
            # a second order, so one find found (its first answer lost, or changed since in the channel) stays
            # as 1C holds it.
            return WriteResult(ref=ref, action="unchanged", posted=options.posted)
        answer = self.connector.client.call(mapping.target, self._request(record, key), reads=False) or {}
        written = answer.get(options.result.ref)
        if not written:
            raise ProtocolError(f"1C web service {mapping.target} answered without {options.result.ref}: {answer}")
        number = answer.get(options.result.number) if options.result.number else None
        return WriteResult(ref=str(written), action="created" if ref is None else "updated",
                           number=None if number is None else str(number).strip(), posted=options.posted)


class CatalogStream(_Reads):
    entity = Entity.CATALOG


class PricesStream(_Reads):
    entity = Entity.PRICES


class StockStream(_Reads):
    entity = Entity.STOCK


class OrdersStream(_Writes):
    """Channel orders, written into the base through the service."""

    entity = Entity.ORDERS


class OneCSoapConnector(StreamConnector):
    """1C:Enterprise through a web service published from the base (``/ws/<service>.1cws``)."""

    type_name = "onec_soap"
    settings_model = OneCSoapSettings
    system_of_record = True
    streams: ClassVar = (CatalogStream, PricesStream, StockStream, OrdersStream)

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, OneCSoapSettings)
        self.page_size = settings.page_size
        http = context.http(settings, settings.url, auth=(settings.username, settings.password))
        self.client = SoapClient(http, publication=settings.url, service=settings.service,
                                 cache=WsdlCache(context.state, settings.url + "/" + settings.service),
                                 faults=Faults(tuple(settings.record_faults), tuple(settings.service_faults)))
        self.folder = Path("onec_soap") / settings.preset
        self.mappings = self._load(settings)

    @classmethod
    def sandbox(cls) -> OneCSoapSandbox:
        return OneCSoapSandbox()

    def _load(self, settings: OneCSoapSettings) -> dict[tuple[Entity, str], CompiledMapping]:
        from hub.config import bundled_mappings

        folder = (self.context.mappings or bundled_mappings()) / self.folder
        if not folder.is_dir():
            raise ConfigError([f"no folder {folder} for preset {settings.preset!r}"],
                              hint="preset names a folder under mappings/onec_soap/; trade ships with hub")
        files = {(entity, direction): str(self.folder / f"{entity.value}.{direction}.yaml")
                 for entity in Entity for direction in ("in", "out")
                 if (folder / f"{entity.value}.{direction}.yaml").is_file()}
        mappings = self.context.mapping_set(files, settings.values, hint=f"preset {settings.preset!r}: every "
                                            "file must load; `hub mappings check` shows the grammar problems")
        problems = [p for mapping in mappings.values() for p in _option_problems(mapping)]
        if problems:
            raise ConfigError(problems, hint="docs/onec_soap.md lists the options of each direction")
        return mappings

    def mapping(self, entity: Entity, direction: str, mode: Mode) -> CompiledMapping:
        """The preset's mapping of ``entity`` in ``direction``; refused when the preset has none."""
        found = self.mappings.get((entity, direction))
        if found is None or (found.source if direction == "in" else found.target) is None:
            raise self._unsupported(entity, mode)
        return found

    def check(self) -> str:
        """The service answers with its WSDL, which offers every operation, parameter and field the preset names.

        The WSDL is read afresh and kept; what changed since the kept one is told, so a service its 1C developer
        changed is noticed before the first run fails on it.
        """
        fresh = self.client.fetch_wsdl()
        contract = Contract.read(fresh.text)
        kept = self.client.cache.get()
        changed = changes(Contract.read(kept.text), contract) if kept and kept.digest != fresh.digest else []
        self.client.keep(fresh)
        news = [f"the WSDL changed since {kept.read_at}: {'; '.join(changed)}"] if kept and changed else []
        problems = [problem for mapping in self.mappings.values() for problem in _missing(mapping, contract)]
        if problems:
            raise ConfigError([*problems, *news], hint="rename them in the mappings as the WSDL names them, or ask "
                                                       "the base's 1C developer to publish them; see docs/onec_soap.md")
        return "; ".join([f"{len(contract.operations)} operations at {self.client.endpoint}", *news])

    def close(self) -> None:
        self.client.http.close()


def _option_problems(mapping: CompiledMapping) -> list[str]:
    """A line per wrong ``options:`` entry of ``mapping``, at its place in the file."""
    model = _ReadOptions if mapping.direction == "in" else _WriteOptions
    try:
        options = model.model_validate(mapping.options or {})
    except ValidationError as exc:
        doc = load_yaml_file(mapping.path, substitute_env=False)
        return [f"{doc.position(('options', *(str(p) for p in error['loc'])))}: options."
                f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()]
    if isinstance(options, _WriteOptions) and options.find is None and mapping.match_by is None:
        # Nothing would find a written order again: one whose answer was lost would be written twice.
        doc = load_yaml_file(mapping.path, substitute_env=False)
        return [f"{doc.position(('target',))}: {mapping.target} writes without options.find or match_by, so an "
                "order whose answer was lost would be written again; declare the service's find operation, or "
                "match_by when the write operation looks its key up itself"]
    return []


class _Names:
    """What one mapping file names of the WSDL, each held against what the WSDL has, with the file's line."""

    def __init__(self, mapping: CompiledMapping, contract: Contract) -> None:
        self.mapping, self.contract = mapping, contract
        self.doc = load_yaml_file(mapping.path, substitute_env=False)

    def lacks(self, where: PathKey, what: str, name: str, known: Iterable[str]) -> list[str]:
        """The problem of the name at ``where`` in the file when it is not one of ``known``."""
        known = list(known)
        if name in known:
            return []
        return [f"{self.doc.position(where)}: mapping names {what} {name!r}, which the WSDL lacks; "
                f"{suggest(name, known)}"]

    def of_read(self, operation: str) -> tuple[list[str], RecordType | None]:
        """The problems of an in mapping's options, and the type of the rows it reads."""
        options = _ReadOptions.model_validate(self.mapping.options or {})
        params = [f.name for f in self.contract.operations[operation]]
        returned = self.contract.returns[operation]
        listed = {f.name: f for f in self.contract.types.get(returned.type or "", ())} if returned else {}
        found = [p for name in options.arguments
                 for p in self.lacks(("options", "arguments", name), "parameter", name, params)]
        if options.paging is not None:
            found += self.lacks(("options", "paging", "page"), "parameter", options.paging.page, params)
            found += self.lacks(("options", "paging", "size"), "parameter", options.paging.size, params)
            if options.paging.more is not None:
                found += self.lacks(("options", "paging", "more"), "field", options.paging.more, listed)
        found += self.lacks(("options", "list"), "field", options.list, listed)
        rows = listed.get(options.list)
        if rows is not None and not rows.repeated:
            found.append(f"{self.doc.position(('options', 'list'))}: mapping names field {options.list!r} as the list "
                         "of rows, which does not repeat in the WSDL; name the field that repeats")
        if rows is not None and rows.type is not None and rows.type in self.contract.types:
            row = [f.name for f in self.contract.types[rows.type]]
            found += [p for n, name in enumerate(options.id) for p in self.lacks(("options", "id", n), "field", name,
                                                                                  row)]
        return found, None if rows is None else self.contract.record_type(rows.type, extra=(READ_AT,))

    def returned(self, operation: str) -> list[str] | None:
        """The fields of the type ``operation`` returns; None when it returns no type the WSDL describes."""
        returned = self.contract.returns.get(operation)
        if returned is None or returned.type is None or returned.type not in self.contract.types:
            return None
        return [f.name for f in self.contract.types[returned.type]]

    def of_write(self, operation: str) -> tuple[list[str], RecordType | None]:
        """The problems of an out mapping's options, and the type of the parameter it fills."""
        options = _WriteOptions.model_validate(self.mapping.options or {})
        params = {f.name: f for f in self.contract.operations[operation]}
        found = self.lacks(("options", "argument"), "parameter", options.argument, params)
        if (written := self.returned(operation)) is not None:
            found += self.lacks(("options", "result", "ref"), "field", options.result.ref, written)
            if options.result.number is not None:
                found += self.lacks(("options", "result", "number"), "field", options.result.number, written)
        if options.find is not None:
            find = options.find
            found += self.lacks(("options", "find", "operation"), "operation", find.operation,
                                self.contract.operations)
            if find.operation in self.contract.operations:
                found += self.lacks(("options", "find", "argument"), "parameter", find.argument,
                                    (f.name for f in self.contract.operations[find.operation]))
                if (answered := self.returned(find.operation)) is not None:
                    found += self.lacks(("options", "find", "ref"), "field", find.ref, answered)
        argument = params.get(options.argument)
        return found, None if argument is None else self.contract.record_type(argument.type)


def _missing(mapping: CompiledMapping, contract: Contract) -> list[str]:
    """A line per operation, parameter or field ``mapping`` names that the WSDL lacks, with the file's line."""
    names = _Names(mapping, contract)
    reads = mapping.direction == "in"
    operation = mapping.source if reads else mapping.target
    if operation is None:
        return []
    if operation not in contract.operations:
        return names.lacks(("source",) if reads else ("target",), "operation", operation, contract.operations)
    found, record = names.of_read(operation) if reads else names.of_write(operation)
    return found + ([] if record is None else unknown_fields(mapping, record, where=" in the WSDL"))
