"""1C's ``$metadata`` (EDMX, CSDL v3) read as :class:`hub.mapping.RecordType` per entity set.

What hub needs from it is names: each entity set's properties, its tabular sections
(``Collection(StandardODATA.<Set>_<Section>_RowType)``) with their columns, and where
each reference points. A reference ``Склад_Key`` has a navigation property ``Склад``
whose association ends at the referenced set's type; 1C names a set's entity type as
the set, and a tabular section's rows are also published as the set
``<Set>_<Section>``, whose navigation properties say where the rows' references point.

Namespaces and prefixes drift between platform versions, so elements are matched by
local name and type names by what follows the last dot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from hub.errors import ProtocolError
from hub.mapping import RecordType

_COLLECTION = "Collection("


@dataclass
class _Declared:
    """One EntityType or ComplexType as the document declares it."""

    properties: dict[str, str] = field(default_factory=dict)
    """Name → type name (a collection's item type, for a tabular section)."""
    navigation: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Name → the association (relationship) it follows and the role at its far end."""


def record_types(document: bytes) -> dict[str, RecordType]:
    """Every entity set in ``document`` (the body of ``$metadata``), by name."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"1C's $metadata is not XML: {exc}") from None
    declared: dict[str, _Declared] = {}
    associations: dict[str, dict[str, str]] = {}
    sets: dict[str, str] = {}
    for element in root.iter(etree.Element):
        kind = etree.QName(element).localname
        name = element.get("Name", "")
        if kind in ("EntityType", "ComplexType"):
            declared[name] = _declared(element)
        elif kind == "Association":
            associations[name] = {end.get("Role", ""): _local(end.get("Type", "")) for end in element
                                  if etree.QName(end).localname == "End"}
        elif kind == "EntitySet":
            sets[name] = _local(element.get("EntityType", ""))
    if not sets:
        raise ProtocolError("1C's $metadata declares no entity sets")
    types = _Types(declared, associations, sets)
    return {name: types.of(type_name, name) for name, type_name in sets.items() if type_name in declared}


class _Types:
    """Builds each declared type once, so references that point back (Parent) share one RecordType."""

    def __init__(self, declared: dict[str, _Declared], associations: dict[str, dict[str, str]],
                 sets: dict[str, str]) -> None:
        self.declared = declared
        self.associations = associations
        self.set_of_type = {type_name: set_name for set_name, type_name in sets.items()}
        self.built: dict[str, RecordType] = {}

    def of(self, type_name: str, shown_as: str) -> RecordType:
        if type_name in self.built:
            return self.built[type_name]
        fields: dict[str, RecordType | None] = {}
        references: dict[str, str] = {}
        record = RecordType(shown_as, fields, references)
        self.built[type_name] = record
        declared = self.declared[type_name]
        for name, property_type in declared.properties.items():
            rows = property_type[len(_COLLECTION):-1] if property_type.startswith(_COLLECTION) else None
            fields[name] = self._rows(shown_as, name, _local(rows)) if rows else None
        for name, (relationship, role) in declared.navigation.items():
            target = self.associations.get(relationship, {}).get(role)
            if target is not None and target in self.declared:
                fields[name] = self.of(target, self.set_of_type.get(target, target))
                references[f"{name}_Key"] = self.set_of_type.get(target, target)
        return record

    def _rows(self, owner: str, section: str, row_type: str) -> RecordType | None:
        if row_type not in self.declared:
            return None
        rows = self.of(row_type, f"{owner}_{section}")
        # The rows' own set (<owner>_<section>) is an entity type: it knows where their references point.
        if f"{owner}_{section}" in self.set_of_type and f"{owner}_{section}" in self.declared:
            as_set = self.of(f"{owner}_{section}", f"{owner}_{section}")
            rows = RecordType(rows.name, {**as_set.fields, **rows.fields}, {**as_set.references, **rows.references})
        return rows


def _declared(element: etree._Element) -> _Declared:
    found = _Declared()
    for child in element:
        kind = etree.QName(child).localname
        if kind == "Property":
            found.properties[child.get("Name", "")] = child.get("Type", "")
        elif kind == "NavigationProperty":
            found.navigation[child.get("Name", "")] = (_local(child.get("Relationship", "")), child.get("ToRole", ""))
    return found


def _local(type_name: str) -> str:
    """``StandardODATA.Catalog_Склады`` → ``Catalog_Склады``; a collection keeps its parentheses."""
    if type_name.startswith(_COLLECTION):
        return _COLLECTION + _local(type_name[len(_COLLECTION):-1]) + ")"
    return type_name.rsplit(".", 1)[-1]
