"""Checking a mapping against the other system's own description of its records.

A mapping can be right by every rule of the language and still name a field the
system does not have: ``from: Артикулл`` reads nothing from every good, and a
misspelt attribute in an ``out`` mapping fails only at the first real write. A
connector that can read its system's schema (1C's ``$metadata``) describes each
kind of record as a :class:`RecordType`; :func:`unknown_fields` reports every field a
mapping names that the type lacks, with the line that names it, and
:func:`config_references` says which configuration values are references to which
kind of record, for the connector to look them up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hub.errors import suggest
from hub.mapping._mapping import CompiledMapping, ConfigUse
from hub.mapping._paths import Path, format_path


@dataclass(frozen=True)
class RecordType:
    """The fields of one kind of record as the system describes them.

    ``fields`` maps each name to the type of what it holds when that is an object or a
    list of objects (a document's lines), else to None. ``references`` maps the fields
    that hold another record's key to the name of that record's type.
    """

    name: str
    fields: Mapping[str, RecordType | None]
    references: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigReference:
    """A configuration value a mapping writes where the system expects the key of a ``points_to`` record."""

    use: ConfigUse
    points_to: str


def unknown_fields(mapping: CompiledMapping, record: RecordType, *, where: str = "") -> list[str]:
    """A line per field ``mapping`` names that ``record`` lacks: ``file:line:col: mapping names X, which T lacks``.

    ``where`` ends the sentence (`` in this publication``). A field inside one holding a
    plain value is not followed further: the system says nothing of what is inside.
    """
    problems: list[str] = []
    for use in mapping.fields:
        found = _walk(record, use.path)
        if isinstance(found, tuple):
            owner, name = found
            known = list(owner.fields)
            problem = (f"{use.position}: mapping names {format_path(use.path)}, which {owner.name} lacks{where}; "
                       f"{suggest(name, known) if known else f'{owner.name} has no fields'}")
            problems.append(problem)
    return list(dict.fromkeys(problems))


def config_references(mapping: CompiledMapping, record: RecordType) -> list[ConfigReference]:
    """The configuration values ``mapping`` writes into fields of ``record`` that hold another record's key."""
    found = []
    for use in mapping.config_uses:
        owner = _walk(record, use.target[:-1]) if len(use.target) > 1 else record
        name = use.target[-1]
        if isinstance(owner, RecordType) and isinstance(name, str) and name in owner.references:
            found.append(ConfigReference(use, owner.references[name]))
    return found


def _walk(record: RecordType, path: Path) -> RecordType | tuple[RecordType, str] | None:
    """The type at ``path`` (None: a plain value), or the type and the name it lacks."""
    current: RecordType | None = record
    for segment in path:
        if current is None:
            return None
        if isinstance(segment, int):  # an index into a list: the list's type describes its items
            continue
        if segment not in current.fields:
            return current, segment
        current = current.fields[segment]
    return current
