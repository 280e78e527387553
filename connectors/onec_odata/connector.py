"""The 1C OData connector: hub's way into the system of record.

What it reads and writes is described by a *preset*: the mapping files under
``mappings/onec/<preset>/`` (``ut11``, ``unf``, ``retail`` ship with hub). Each
file names its 1C object (``source:`` for reads, ``target:`` for writes) and
maps fields; ``options:`` carries the few 1C-specific read settings (which
virtual table, its dimensions, the barcode register). A new configuration is a
new folder of YAML, no Python.

Reads are full snapshots, not increments (orders can be limited by date with
``since``): 1C's standard OData interface has no change tracking
(catalog rows carry an opaque ``DataVersion`` and no modification time; stock
and prices are virtual tables computed on request).
Change-only behaviour comes from hub's fingerprints downstream, so an
unchanged catalog of 100,000 goods costs reads but never a single write.

Writes are idempotent: an order's document carries the idempotency key in the
attribute the mapping names in ``match_by:`` (УТ 11: ``НомерПоДаннымКлиента``);
:meth:`OneCConnector.find_many` looks a batch of keys up (one ``$filter`` of
``or``-ed keys per request, as many as a URL takes) before the engine creates
anything, so a retry after a lost answer, or after hub lost its state, finds the
document instead of making a second one.
Documents are posted after every create and update; an update sends only the fields the channel changed since
hub last wrote them (:class:`_SentFields`), so what people did in 1C meanwhile (a weighed good's picked weight)
stays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from connectors.onec_odata import metadata, odata
from connectors.onec_odata.client import OneCClient
from connectors.onec_odata.company import CompanyStream
from connectors.onec_odata.odata import service_root
from connectors.onec_odata.sandbox import OneCSandbox
from hub.connector import ChannelState, Choice, ConnectorContext, Mode, Page, WriteResult
from hub.errors import ConfigError, InvalidRecord, RequestRejected, suggest
from hub.fiscal import FiscalMarks, Outcome, ReceiptKind
from hub.mapping import CompiledMapping, ConfigReference, RecordType, config_references, load_unbound, unknown_fields
from hub.model import Customer, Entity, RawRecord, Record
from hub.settings import SourceSettings
from hub.streams import Pull, StreamConnector, Write
from hub.values import json_dumps, json_loads, to_local_naive, utcnow

READ_ENTITIES = (Entity.CATALOG, Entity.PRICES, Entity.STOCK, Entity.CUSTOMERS, Entity.ORDERS, Entity.COMPANY)
WRITE_ENTITIES = (Entity.ORDERS, Entity.CUSTOMERS)
LENIENT_FILES = frozenset({(Entity.COMPANY, "in")})
"""Preset files a preset may leave out (a preset copied before hub read the company on receipts from 1C has no
company mapping), and whose fields a base may lack (`hub check` says so and passes): the cash register's company
file or settings give the company, or what of it 1C does not hold."""
READ_AT = "ДатаЧтения"
"""Added to every row of a virtual table: when hub read it (stock's ``as_of``)."""
BARCODES = "Штрихкоды"
"""Added to every goods row when the catalog mapping names a barcode register."""
PRESET_ID_KEY = "onec"
"""Where a preset's customers mapping puts the counterparty's reference (``ids.onec``)."""
EXAMPLE_REF = "5a3c0e1e-0a1d-4c1e-8f00-000000000001"
"""What a Ref_Key looks like, for messages about a value that is none."""
RECORD_LEVEL_STATUSES = frozenset({400, 409, 412, 500})
"""1C refusals that concern the record being written, not the connection: dead letter, go on."""
CHOICES_LISTED = 50
"""The most items of one catalog ``hub init`` offers by name; past that it takes a name or Ref_Key typed in."""


class _FiscalFields(BaseModel):
    """The attributes of a 1C order that hold one receipt's fiscal attributes."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(description="The fiscal document number (tag 1040), e.g. ЧекПредоплатыНомер.")
    sign: str = Field(description="The fiscal sign (tag 1077), e.g. ЧекПредоплатыФП.")
    time: str = Field(description="When it was printed, e.g. ЧекПредоплатыДата.")


class OneCSettings(SourceSettings):
    """Settings of a 1C source."""

    url: str = Field(description="The publication (http://srv/trade) or its OData root (…/odata/standard.odata/).")
    username: str = Field(description="1C user with rights to the preset's objects.")
    password: str = Field(description="That user's password; write it as ${ENV_VAR}.")
    preset: str = Field("ut11", description="Folder under mappings/onec/: ut11, unf, retail, or your own.")
    allowed_only: bool = Field(False, description="Skip rows the user may not see instead of failing (allowedOnly).")
    page_size: int = Field(1000, ge=1, le=10000, description="Rows per page when reading.")
    values: dict[str, Any] = Field(default_factory=dict, description=(
        "References the preset's mappings read as {config: …}: organization, partner, agreement, currency, "
        "price_type, retail_customer, venues.<venue>.warehouse (1C Ref_Key GUIDs)."))
    fiscal_fields: dict[ReceiptKind, _FiscalFields] = Field(default_factory=dict, description=(
        "Where the receipts job writes each receipt's fiscal attributes on the order: receipt kind (prepayment, "
        "full, refund) → the 1C attributes (as the base spells them) for its number, fiscal sign and time. "
        "None by default: a base without such attributes keeps them in hub only."))

    @field_validator("preset")
    @classmethod
    def _preset_exists(cls, value: str, info: ValidationInfo) -> str:
        # hub.yaml's loader passes its mappings folder, so a misspelt preset is one line at its key
        # instead of every file of a folder that is not there.
        mappings = (info.context or {}).get("mappings")
        if mappings is None:
            return value
        presets = mappings / "onec"
        folders = sorted(presets.iterdir()) if presets.is_dir() else []
        known = [p.name for p in folders if p.is_dir() and not p.name.startswith((".", "_"))]
        if value not in known:
            raise ValueError(f"no preset {value!r} in {presets}; {suggest(value, known)}")
        return value


class _Barcodes(BaseModel):
    """Where a catalog mapping's goods find their barcodes: a register of (code → good)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    register_name: str = Field(alias="register")
    product: str = "Номенклатура_Key"
    code: str = "Штрихкод"


class _ReadOptions(BaseModel):
    """``options:`` of a preset's in-mapping."""

    model_config = ConfigDict(extra="forbid")

    virtual_table: Literal["Balance", "SliceLast"] | None = None
    dimensions: list[str] | None = None
    orderby: str = "Ref_Key"
    filter: str | None = None
    expand: dict[str, str] = {}
    """Reference properties to read inline, with the object each points to: {ЕдиницаИзмерения: Catalog_…}."""
    barcodes: _Barcodes | None = None


class _Reads(Pull["OneCConnector"]):
    """An entity read through the preset's ``in`` mapping of it."""

    def read(self, *, cursor: str | None, since: dt.datetime | None = None) -> Iterator[Page]:
        mapping = self.connector.mappings.get((self.entity, "in"))
        if mapping is None or mapping.source is None:
            raise self.unsupported(Mode.PULL)
        options = _options(mapping)
        if self.entity is Entity.ORDERS and since is not None:  # 1C filters documents by their date
            dated = f"Date ge {odata.datetime_literal(since, self.connector.context.timezone)}"
            options = options.model_copy(update={"filter": f"({options.filter}) and {dated}" if options.filter
                                                 else dated})
        rows = self.connector.rows(mapping.source, options)
        if options.barcodes is not None:
            rows = self.connector.with_barcodes(rows, options.barcodes)
        page: list[RawRecord] = []
        for row in rows:
            page.append(RawRecord(external_id=_row_id(row, options), body=json_dumps(row).encode()))
            if len(page) == self.connector.client.page_size:
                yield Page(page, cursor=None)
                page = []
        if page:
            yield Page(page, cursor=None)

    def decode(self, record: RawRecord) -> Record:
        mapping = self.connector.mappings.get((self.entity, "in"))
        if mapping is None:
            raise self.unsupported(Mode.PULL)
        try:
            row = json_loads(record.body)
        except ValueError as exc:
            raise InvalidRecord(f"1C row {record.external_id}: not JSON: {exc}") from None
        result = mapping.apply(row, links=self.connector.context.links)
        if result is None:
            raise InvalidRecord(f"1C row {record.external_id} is skipped by {mapping.path.name}")
        if isinstance(result, Customer) and PRESET_ID_KEY in result.ids:
            # Presets say ids.onec; hub knows this base by its source name, which the preset cannot know.
            result.ids[self.connector.name] = result.ids.pop(PRESET_ID_KEY)
        return result  # type: ignore[no-any-return]


class _Writes(Write["OneCConnector"]):
    """An entity written through the preset's ``out`` mapping of it, found by the attribute its ``match_by`` names."""

    def find(self, key: str) -> str | None:
        return self.find_many([key]).get(key)

    def find_many(self, keys: Sequence[str]) -> dict[str, str]:
        mapping = self.connector.out_mapping(self.entity)
        if mapping.match_by is None or not keys:
            return {}
        found: dict[str, str] = {}
        for row in self.connector.client.iter_rows_in(_target(mapping), mapping.match_by, keys,
                                                      select=["Ref_Key", mapping.match_by]):
            found.setdefault(str(row[mapping.match_by]), str(row["Ref_Key"]))  # of two, the same one every time
        return found

    def rehearse(self, record: Record, *, key: str) -> None:
        self._body(record, key)

    def _body(self, record: Record, key: str) -> tuple[str, dict[str, Any]]:
        """The entity set ``record`` goes to and the body to send it in, through the preset's mapping."""
        mapping = self.connector.out_mapping(self.entity)
        return _target(mapping), self.mapped(mapping, record, key=key)

    def write(self, record: Record, *, key: str, ref: str | None) -> WriteResult:
        target, body = self._body(record, key)
        sent = _SentFields(self.connector.context.state)
        try:
            if ref is None:
                created = self.connector.client.create(target, body)
                ref, number = str(created["Ref_Key"]), created.get("Number")
                action: Literal["created", "updated"] = "created"
            else:
                changed = sent.changed(ref, body)
                if not changed:
                    return WriteResult(ref=ref, action="unchanged")
                sent.unsure(ref, changed)
                self.connector.update_object(target, ref, changed)
                action, number = "updated", None  # the number it was given when created is in its journey already
            posted = target.startswith("Document_")
            if posted:
                self.connector.client.post(target, ref)
        except RequestRejected as exc:
            if exc.status in RECORD_LEVEL_STATUSES:
                raise InvalidRecord(f"1C refused {target} for {key}: {exc.message}", hint=exc.hint) from None
            raise
        sent.keep(ref, body)
        return WriteResult(ref=ref, action=action, number=None if number is None else str(number).strip(),
                           posted=posted)


class _SentFields:
    """What hub last wrote into each 1C object, field by field, so that an update sends only what changed since.

    People work on a channel's order in 1C after hub wrote it: a weighed good is picked at 312 g where 300 g were
    ordered, a manager fills the delivery slot. When the channel then sends the order again (a new status, a
    comment), writing the whole mapped body back would undo their work, and the full-payment receipt would print
    the ordered weight. So each field's digest is kept per object (a channel state row), and an update sends only
    the fields whose mapped value differs from what hub last sent: the channel's own change still lands whole (new
    lines replace the tabular section: the guest changed the order), 1C's changes to the rest stay. Without a kept
    row (hub's state lost or restored from an old backup, an object written before this) the whole body is sent,
    as 1C's one safe reading of "the channel's order as it is now".
    """

    KIND = "sent_fields"

    def __init__(self, state: ChannelState | None) -> None:
        self.state = state

    def changed(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        kept = self.state.get(self.KIND, ref) if self.state is not None else None
        if kept is None:
            return body
        before = json_loads(kept)
        return {name: value for name, value in body.items() if before.get(name) != _digest(value)}

    def unsure(self, ref: str, fields: Iterable[str]) -> None:
        """Forget ``fields`` of ``ref`` before they are sent: should the write fail past 1C taking them (an answer
        lost, posting refused, the process killed), the next write sends them again whatever their value, even one
        the channel has changed back meanwhile."""
        kept = self.state.get(self.KIND, ref) if self.state is not None else None
        if self.state is not None and kept is not None:
            left = {name: digest for name, digest in json_loads(kept).items() if name not in set(fields)}
            self.state.put_many(self.KIND, {ref: json_dumps(left)})

    def keep(self, ref: str, body: dict[str, Any]) -> None:
        if self.state is not None:
            self.state.put_many(self.KIND, {ref: json_dumps({name: _digest(value) for name, value in body.items()})})


def _digest(value: Any) -> str:
    """A short fingerprint of a mapped field's value: the kept rows stay small for orders of many lines."""
    return hashlib.blake2b(json_dumps(value).encode(), digest_size=12).hexdigest()


class CatalogStream(_Reads):
    entity = Entity.CATALOG


class PricesStream(_Reads):
    entity = Entity.PRICES


class StockStream(_Reads):
    entity = Entity.STOCK


class CustomersStream(_Reads, _Writes):
    entity = Entity.CUSTOMERS


class OrdersStream(_Reads, _Writes, FiscalMarks["OneCConnector"]):
    """Orders: written from the channels, read back by the statuses job and reconciliation; they keep their
    receipts' fiscal attributes where ``fiscal_fields`` names the attributes."""

    entity = Entity.ORDERS

    def mark(self, order_key: str, kind: ReceiptKind, outcome: Outcome) -> bool:
        onec = self.connector
        fields = onec.fiscal_fields.get(kind)
        ref = self.find(order_key) if fields is not None else None
        if fields is None or ref is None or outcome.printed_at is None:
            return False
        onec.update_object(_target(self.connector.out_mapping(self.entity)), ref, {
            fields.number: outcome.document_number, fields.sign: outcome.fiscal_sign,
            fields.time: to_local_naive(outcome.printed_at, onec.context.timezone).isoformat()})
        return True


class OneCConnector(StreamConnector):
    """1C:Enterprise through its standard OData interface."""

    type_name = "onec_odata"
    settings_model = OneCSettings
    system_of_record = True
    streams: ClassVar = (CatalogStream, PricesStream, StockStream, CustomersStream, OrdersStream, CompanyStream)

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, OneCSettings)
        self.preset = settings.preset
        self.values = settings.values
        self.fiscal_fields = settings.fiscal_fields
        self.client = self._client(settings, context)
        self.mappings = self._load_preset(settings)

    @staticmethod
    def _client(settings: OneCSettings, context: ConnectorContext) -> OneCClient:
        http = context.http(settings, service_root(settings.url), auth=(settings.username, settings.password))
        return OneCClient(http, timezone=context.timezone, allowed_only=settings.allowed_only,
                          page_size=settings.page_size)

    @classmethod
    def sandbox(cls) -> OneCSandbox:
        return OneCSandbox()

    # --- the preset ----------------------------------------------------------------------------

    def _load_preset(self, settings: OneCSettings) -> dict[tuple[Entity, str], CompiledMapping]:
        """Every mapping of the preset, by (entity, direction); broken files stop hub with their problems."""
        from hub.config import bundled_mappings

        return self.context.mapping_set(
            _preset_files(self.preset, self.context.mappings or bundled_mappings()), settings.values,
            hint=f"preset {self.preset!r}: every file under mappings/onec/{self.preset}/ must load; "
                 "`hub mappings check` shows the grammar problems")

    def required_objects(self) -> list[str]:
        """The 1C objects the preset reads or writes: what must be in the OData composition."""
        names: set[str] = set()
        for mapping in self.mappings.values():
            names.update(n for n in (mapping.source, mapping.target) if n)
            options = _options(mapping)
            names.update(options.expand.values())
            if options.barcodes is not None:
                names.add(options.barcodes.register_name)
        return sorted(names)

    # --- the connector interface ---------------------------------------------------------------

    @classmethod
    def choices(cls, settings: SourceSettings, context: ConnectorContext) -> list[Choice]:
        """Every ``values:`` entry the preset's mappings read, with the catalog ``$metadata`` says it points to
        and that catalog's items (not marked for deletion, no groups) by name."""
        assert isinstance(settings, OneCSettings)
        from hub.config import bundled_mappings

        folder = context.mappings or bundled_mappings()
        client = cls._client(settings, context)
        try:
            types = metadata.record_types(client.metadata())
            holders: dict[tuple[str | int, ...], str | None] = {}
            for relative in _preset_files(settings.preset, folder).values():
                mapping = load_unbound(folder / relative, timezone=context.timezone)
                record = cls._as_mapped(mapping, types)
                pointing = {ref.use.config: ref.points_to for ref in config_references(mapping, record)} \
                    if record is not None else {}
                for use in mapping.config_uses:
                    if holders.get(use.config) is None:
                        holders[use.config] = pointing.get(use.config)
            return [_choice(client, types, setting, holder) for setting, holder in holders.items()]
        finally:
            client.http.close()

    def check(self) -> str:
        """The preset's objects are published, with every field its mappings name, and ``values:`` exist in 1C.

        Each is checked as 1C describes itself (service document, ``$metadata``) rather than
        found at the first write: a misspelt attribute would otherwise be read as empty from
        every good, or refused only at the first real order.
        """
        published = set(self.client.service_document())
        missing = [name for name in self.required_objects() if name not in published]
        if missing:
            raise ConfigError(
                [f"1C does not publish {len(missing)} object(s) preset {self.preset!r} needs: {', '.join(missing)}"],
                hint="in 1C open «Настройка стандартного интерфейса OData» (Администрирование → Синхронизация "
                     "данных) and add them to the composition: " + ", ".join(missing) + "; see docs/onec.md")
        types = metadata.record_types(self.client.metadata())
        problems: list[str] = []
        notes: list[str] = []
        references: list[ConfigReference] = []
        for key, mapping in self.mappings.items():
            record = self._as_mapped(mapping, types)
            if record is not None:
                lacking = unknown_fields(mapping, record, where=" in this publication")
                # Where a base keeps its tax system, site and email differs per configuration and release: a field
                # the company mapping names that this base lacks is read as empty, and the cash register's company
                # file or settings give it. Said, not refused, so a stock base passes with the shipped preset.
                (notes if key in LENIENT_FILES else problems).extend(lacking)
                references += config_references(mapping, record)
        problems += self._absent_values(references, types)
        if problems:
            raise ConfigError(problems, hint="correct the name in the mapping (or publish the attribute: "
                                             "«Настройка стандартного интерфейса OData»), and copy each reference's "
                                             f"Ref_Key from this base into sources.{self.name}.values")
        checked = len({(ref.points_to, str(_value_at(self.values, ref.use.config))) for ref in references})
        detail = (f"1C publishes all {len(self.required_objects())} objects preset {self.preset!r} needs, with every "
                  f"field its mappings name; {checked} reference(s) in values found in the base")
        if notes:
            detail = (f"1C publishes all {len(self.required_objects())} objects preset {self.preset!r} needs; "
                      f"{checked} reference(s) in values found in the base; the company on receipts is read "
                      f"without what this base lacks (the cash register's company file or settings give it): "
                      + "; ".join(notes))
        return detail

    @staticmethod
    def _as_mapped(mapping: CompiledMapping, types: dict[str, RecordType]) -> RecordType | None:
        """A row of ``mapping``'s 1C object as the mapping sees it: read through its options, or as written."""
        if mapping.direction == "out":
            return types.get(mapping.target or "")
        options = _options(mapping)
        name = mapping.source or ""
        if options.virtual_table == "Balance":
            register = types.get(f"{name}_RecordType") or types.get(name)
            if register is None:
                return None
            # $metadata does not say which fields are dimensions and which resources: a Balance row
            # has each dimension as it is and each resource with "Balance" after it, so both are allowed.
            fields: dict[str, RecordType | None] = {
                f"{field}{suffix}": None for field, shape in register.fields.items()
                if shape is None and field not in _RECORD_FIELDS for suffix in ("", "Balance")}
            return RecordType(name, {**fields, READ_AT: None}, register.references)
        record = types.get(name)
        if record is None:
            return None
        added: dict[str, RecordType | None] = {field: types.get(target) for field, target in options.expand.items()}
        if options.virtual_table is not None:
            added[READ_AT] = None
        if options.barcodes is not None:
            added[BARCODES] = None
        return RecordType(record.name, {**record.fields, **added}, record.references)

    def unknown_references(self, entity: Entity, field: str, values: Iterable[str]) -> dict[str, str]:
        """Looked up in the object the preset's in-mapping reads ``field`` from (``price_type`` ← ВидЦены_Key ←
        Catalog_ВидыЦен, as ``$metadata`` says)."""
        mapping = self.mappings.get((entity, "in"))
        read = [use.path for use in mapping.fields if use.into == (field,)] if mapping is not None else []
        if mapping is None or len(read) != 1 or len(read[0]) != 1:
            return {}
        record = self._as_mapped(mapping, metadata.record_types(self.client.metadata()))
        points_to = record.references.get(str(read[0][0])) if record is not None else None
        return self._unknown_in(points_to, set(values)) if points_to is not None else {}

    def _absent_values(self, references: list[ConfigReference], types: dict[str, RecordType]) -> list[str]:
        """A line per ``values:`` reference that is not a GUID or not in the object 1C says it points to."""
        wanted: defaultdict[str, set[str]] = defaultdict(set)
        for reference in references:
            if reference.points_to in types:  # $metadata may name a reference to an unpublished object
                wanted[reference.points_to].add(str(_value_at(self.values, reference.use.config)))
        unknown = {entity_set: self._unknown_in(entity_set, values) for entity_set, values in wanted.items()}
        problems = []
        for reference in references:
            value = str(_value_at(self.values, reference.use.config))
            why = unknown.get(reference.points_to, {}).get(value)
            if why is not None:
                problems.append(f"{_named(reference)}: {value} {why} (the mapping writes it to "
                                f"{'.'.join(map(str, reference.use.target))})")
        return list(dict.fromkeys(problems))

    def _unknown_in(self, entity_set: str, values: set[str]) -> dict[str, str]:
        """Of ``values``, those that are not the Ref_Key of an object in ``entity_set``, each with why."""
        unknown: dict[str, str] = {}
        for value in values:
            try:
                odata.guid(value)
            except ValueError:
                unknown[value] = f"is not a Ref_Key (a GUID such as {EXAMPLE_REF}) of {entity_set}"
        asked = values - set(unknown)
        rows = self.client.iter_rows_in(entity_set, "Ref_Key", asked, select=["Ref_Key"]) if asked else iter(())
        found = {str(row["Ref_Key"]).lower() for row in rows}
        unknown.update({value: f"is not in {entity_set} of this base" for value in asked if value.lower() not in found})
        return unknown

    def close(self) -> None:
        self.client.http.close()

    # --- helpers -------------------------------------------------------------------------------

    def rows(self, source: str, options: _ReadOptions) -> Iterator[dict[str, Any]]:
        if options.virtual_table is None:
            yield from self.client.iter_rows(source, filter=options.filter, orderby=options.orderby,
                                             expand=list(options.expand) or None)
            return
        read_at = utcnow()
        if options.virtual_table == "Balance":
            rows = self.client.balance(source, orderby=options.orderby, condition=options.filter,
                                       dimensions=options.dimensions)
        else:
            rows = self.client.slice_last(source, orderby=options.orderby, condition=options.filter)
        for row in rows:
            row[READ_AT] = read_at
            yield row

    def with_barcodes(self, rows: Iterator[dict[str, Any]], spec: _Barcodes) -> Iterator[dict[str, Any]]:
        # One pass over the register instead of a query per good: 1C has no join across objects in OData.
        codes: defaultdict[str, list[str]] = defaultdict(list)
        for row in self.client.iter_rows(spec.register_name, orderby=spec.code, select=[spec.code, spec.product]):
            if row.get(spec.product):
                codes[str(row[spec.product])].append(str(row[spec.code]))
        for row in rows:
            row[BARCODES] = codes.get(str(row.get("Ref_Key")), [])
            yield row

    def update_object(self, target: str, ref: str, body: dict[str, Any]) -> None:
        """PATCH with If-Match; one more try on a version conflict, since the channel's change must land."""
        for attempt in (1, 2):
            current = self.client.get(target, ref, select=["Ref_Key", "DataVersion"])
            if current is None:
                raise InvalidRecord(f"{target} {ref} is linked but no longer exists in 1C")
            try:
                self.client.update(target, ref, body, data_version=current.get("DataVersion"))
                return
            except RequestRejected as exc:
                if exc.status != 412 or attempt == 2:
                    raise

    def out_mapping(self, entity: Entity) -> CompiledMapping:
        mapping = self.mappings.get((entity, "out"))
        if mapping is None:
            raise self._unsupported(entity, Mode.WRITE)
        return mapping



_RECORD_FIELDS = frozenset({"Recorder", "Recorder_Type", "Period", "LineNumber", "Active", "RecordType"})
"""An accumulation register row's own fields, which its Balance does not have."""


def _preset_files(preset: str, folder: Path) -> dict[tuple[Entity, str], str]:
    """Every mapping file of ``preset`` by (entity, direction), relative to the mappings ``folder``; an optional
    one only where the folder has it."""
    wanted = [*((e, "in") for e in READ_ENTITIES), *((e, "out") for e in WRITE_ENTITIES)]
    files = {(e, direction): f"onec/{preset}/{e.value}.{direction}.yaml" for e, direction in wanted}
    return {key: relative for key, relative in files.items()
            if key not in LENIENT_FILES or (folder / relative).is_file()}


def _choice(client: OneCClient, types: dict[str, RecordType], setting: tuple[str | int, ...],
            holder: str | None) -> Choice:
    """The items of ``holder`` an integrator may pick for ``setting``: live ones, by name, the first
    :data:`CHOICES_LISTED`."""
    record = types.get(holder or "")
    if holder is None or record is None or "Description" not in record.fields:
        return Choice(setting, holder)
    condition = "DeletionMark eq false" + (" and IsFolder eq false" if "IsFolder" in record.fields else "")
    options: dict[str, str] = {}
    for row in client.iter_rows(holder, filter=condition, select=["Ref_Key", "Description"], orderby="Description",
                                page_size=CHOICES_LISTED + 1):
        if len(options) == CHOICES_LISTED:
            return Choice(setting, holder, options, complete=False)
        options[str(row["Ref_Key"])] = str(row["Description"]).strip()
    return Choice(setting, holder, options)


def _value_at(values: Any, path: tuple[str | int, ...]) -> Any:
    """The ``values:`` entry at ``path`` (the mapping compiled with it, so it is there)."""
    for segment in path:
        values = values[segment]
    return values


def _named(reference: ConfigReference) -> str:
    return f"{reference.use.position}: values.{'.'.join(map(str, reference.use.config))}"


def _options(mapping: CompiledMapping) -> _ReadOptions:
    try:
        return _ReadOptions.model_validate(mapping.options or {})
    except ValidationError as exc:
        problems = [f"{mapping.path}: options.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(problems) from None


def _row_id(row: dict[str, Any], options: _ReadOptions) -> str:
    if "Ref_Key" in row:
        return str(row["Ref_Key"])
    return "/".join(str(row.get(f"{name}_Key", "")) for name in (options.dimensions or [])) or str(id(row))


def _target(mapping: CompiledMapping) -> str:
    if mapping.target is None:
        raise ConfigError([f"{mapping.path}: an out mapping for 1C needs target: (the 1C object written)"])
    return mapping.target
