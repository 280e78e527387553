"""A compiled mapping: what ``load_mapping`` returns and the engine calls for every record."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.errors import InvalidRecord
from hub.mapping._paths import Path as FieldPath
from hub.mapping._paths import format_path
from hub.mapping._runtime import Failure, LinkResolver, Run, Scope
from hub.model import Entity
from hub.yamlsource import Position

Builder = Callable[[Scope], dict[str, Any]]
RecordFilter = Callable[[Scope], str | None]


@dataclass(frozen=True)
class FieldUse:
    """A field of the other system's records that a mapping names, and where the file names it.

    ``in`` mappings name the fields they read (paths from the record's root, a list
    item's fields under the list's path); ``out`` mappings the fields they write and
    ``match_by``. A connector that can read its system's schema checks them
    (:func:`hub.mapping.unknown_fields`).
    """

    path: FieldPath
    position: Position
    into: FieldPath | None = None
    """For a field read: the field of the result it feeds (``price_type`` of a PriceEntry)."""


@dataclass(frozen=True)
class ConfigUse:
    """A configuration value (``config:``) an ``out`` mapping writes into a field of the other system."""

    config: FieldPath
    target: FieldPath
    position: Position


@dataclass
class Trial:
    """What preview shows: the result so far, every field that failed, and why."""

    output: Any
    failures: list[Failure] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every field mapped (dropped list items are not failures)."""
        return not any(not failure.dropped for failure in self.failures)


class CompiledMapping:
    """One mapping file compiled into a generated module; :meth:`apply` maps a record.

    ``direction`` ``in`` gives a canonical model instance, ``out`` a plain dict
    (for 1C, the OData JSON body of ``target``). ``source``, ``target``,
    ``match_by`` and ``options`` are what the file tells its connector (where
    records are read from and written to, the field carrying the idempotency
    key, connector-specific settings). ``code`` is the generated Python module
    and ``bindings`` what its generated names stand for (the values, tables and
    transforms of the file), for reading and debugging.
    """

    def __init__(self, *, path: Path, system: str, entity: Entity, direction: str, target: str | None,
                 description: str | None, skip: RecordFilter, build: Builder, collect: Builder,
                 model: type[BaseModel] | None, code: str, bindings: Mapping[str, Any],
                 source: str | None = None, match_by: str | None = None,
                 options: Mapping[str, Any] | None = None, fields: Sequence[FieldUse] = (),
                 config_uses: Sequence[ConfigUse] = ()) -> None:
        self.path = path
        self.system = system
        self.entity = entity
        self.direction = direction
        self.target = target
        self.source = source
        self.match_by = match_by
        self.options: dict[str, Any] = dict(options or {})
        self.fields = tuple(fields)
        """The other system's fields this mapping names (see :class:`FieldUse`)."""
        self.config_uses = tuple(config_uses)
        self.description = description
        self.code = code
        self.bindings = dict(bindings)
        self._skipped = skip  # raises InvalidRecord when a filter cannot be evaluated
        self._build = build
        self._collect = collect
        self._model = model

    def __repr__(self) -> str:
        return f"CompiledMapping({self.system} {self.entity.value} {self.direction}, {self.path})"

    def apply(self, record: Any, *, links: LinkResolver | None = None) -> Any:
        """Map ``record``; None when a record filter skips it.

        Raises :class:`~hub.errors.InvalidRecord` or
        :class:`~hub.errors.UnresolvedReference` naming the field and the reason.
        """
        scope = Scope(record, record, None, None, Run(links))
        if self._skipped(scope) is not None:
            return None
        try:
            data = self._build(scope)
        except Failure as failure:
            raise failure.to_error() from None
        if self._model is None:
            return data
        try:
            return self._model.model_validate(data)
        except ValidationError as exc:
            raise InvalidRecord("; ".join(_validation_problems(exc))) from None

    def trial(self, record: Any, *, links: LinkResolver | None = None) -> Trial:
        """Map ``record`` collecting every failure instead of stopping at the first (for preview)."""
        run = Run(links, collect=True)
        scope = Scope(record, record, None, None, run)
        try:
            skipped = self._skipped(scope)
        except InvalidRecord as exc:
            return Trial(None, [Failure(exc.message)])
        if skipped is not None:
            return Trial(None, skipped=skipped)
        data = self._collect(scope)
        failures = run.failures if run.failures is not None else []
        if self._model is not None and not any(not failure.dropped for failure in failures):
            try:
                return Trial(self._model.model_validate(data), failures)
            except ValidationError as exc:
                failures.extend(Failure(problem) for problem in _validation_problems(exc))
        return Trial(data, failures)


def _validation_problems(exc: ValidationError) -> list[str]:
    return [f"{format_path(tuple(error['loc'])) or 'record'}: {error['msg']}" for error in exc.errors()]
