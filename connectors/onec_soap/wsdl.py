"""The web service's WSDL: where 1C publishes it, what it promises, and the copy hub keeps of it.

1C serves the WSDL of a published web service at ``<publication>/ws/<file>.1cws?wsdl``, behind the same Basic
auth as the calls (``shared/protocols/1c.md`` §3). hub keeps the last one it read, with its digest, in the
source's channel state (the state database), so runs do not fetch it again and ``hub check`` can tell that a
1C developer changed the service: it reads the WSDL afresh and lists what changed since.

:class:`Contract` is what the WSDL promises, read with lxml rather than through zeep: the operations with their
parameters and the type each returns, and every complex type's fields, so a mapping can be held against it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from hub.connector import ChannelState
from hub.errors import ProtocolError
from hub.mapping import RecordType
from hub.values import json_dumps, json_loads, utcnow

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
CACHE_KIND = "onec_soap.wsdl"


def service_url(publication: str, service: str) -> str:
    """The service's endpoint: ``<publication>/ws/<service>.1cws`` (a name given with ``.1cws`` kept as it is)."""
    file = service if service.endswith(".1cws") else f"{service}.1cws"
    return f"{publication.rstrip('/')}/ws/{file}"


@dataclass(frozen=True)
class Wsdl:
    """One WSDL as read: its text, its digest and when it was read (ISO 8601, UTC)."""

    text: bytes
    digest: str
    read_at: str

    @classmethod
    def of(cls, text: bytes) -> Wsdl:
        return cls(text, hashlib.sha256(text).hexdigest(), utcnow().isoformat(timespec="seconds"))


class WsdlCache:
    """The last WSDL read for one service, in the channel state when there is one (else for this process)."""

    def __init__(self, state: ChannelState | None, url: str) -> None:
        self._state = state
        self._url = url
        self._kept: Wsdl | None = None

    def get(self) -> Wsdl | None:
        """The kept WSDL. The state's is read each time: `hub check` in another process may have kept a newer one
        that a running hub daemon must call by."""
        if self._state is not None and (stored := self._state.get(CACHE_KIND, self._url)):
            entry = json_loads(stored)
            if self._kept is None or self._kept.digest != entry["digest"]:
                self._kept = Wsdl(entry["wsdl"].encode(), entry["digest"], entry["read_at"])
        return self._kept

    def put(self, wsdl: Wsdl) -> None:
        self._kept = wsdl
        if self._state is not None:
            self._state.put_many(CACHE_KIND, {self._url: json_dumps(
                {"wsdl": wsdl.text.decode(), "digest": wsdl.digest, "read_at": wsdl.read_at})})


@dataclass(frozen=True)
class Field:
    """A field of a type or a parameter of an operation: its name, its complex type if any, whether it repeats."""

    name: str
    type: str | None
    repeated: bool = False


@dataclass(frozen=True)
class Contract:
    """What a WSDL promises: each operation's parameters and return type, and each complex type's fields."""

    operations: Mapping[str, tuple[Field, ...]]
    returns: Mapping[str, Field | None]
    types: Mapping[str, tuple[Field, ...]]

    @classmethod
    def read(cls, text: bytes) -> Contract:
        """The contract of WSDL ``text``; ProtocolError when it is not a WSDL."""
        try:
            root = etree.fromstring(text, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise ProtocolError(f"the WSDL is not XML: {exc}") from None
        if root.tag != f"{{{WSDL}}}definitions":
            raise ProtocolError(f"not a WSDL: the root element is {root.tag}",)
        types = {str(node.get("name")): _fields(node) for node in root.iter(f"{{{XS}}}complexType")
                 if node.get("name")}
        elements = {str(node.get("name")): _fields(node)
                    for node in root.iterfind(f".//{{{XS}}}schema/{{{XS}}}element")}
        names = [str(op.get("name")) for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")]
        operations = {name: elements.get(name, ()) for name in names}
        returns = {name: next(iter(elements.get(f"{name}Response", ())), None) for name in operations}
        return cls(operations, returns, types)

    def record_type(self, name: str | None, *, extra: tuple[str, ...] = (), seen: frozenset[str] = frozenset(),
                    ) -> RecordType | None:
        """Complex type ``name`` as a mapping is checked against (``extra`` fields added by the connector)."""
        if name is None or name not in self.types or name in seen:
            return None
        return self._record(name, self.types[name], extra, seen | {name})

    def _record(self, name: str, fields: tuple[Field, ...], extra: tuple[str, ...],
                seen: frozenset[str]) -> RecordType:
        nested = {f.name: self.record_type(f.type, seen=seen) for f in fields}
        return RecordType(name, {**nested, **dict.fromkeys(extra)})

    def outline(self) -> dict[str, tuple[str, ...]]:
        """Each operation and type with what it holds, as text: what two versions of a WSDL are compared by."""
        ops = {f"operation {name}": (*(_shown(f) for f in params), f"returns {_shown(self.returns[name])}")
               for name, params in self.operations.items()}
        return {**ops, **{f"type {name}": tuple(_shown(f) for f in fields) for name, fields in self.types.items()}}


def changes(before: Contract, after: Contract) -> list[str]:
    """What a 1C developer changed between two WSDLs: operations and types added, removed, or with other fields."""
    old, new = before.outline(), after.outline()
    found = [f"{name} removed" for name in old if name not in new]
    found += [f"{name} added" for name in new if name not in old]
    for name in (n for n in new if n in old and old[n] != new[n]):
        gone = [part for part in old[name] if part not in new[name]]
        came = [part for part in new[name] if part not in old[name]]
        found.append(f"{name}: " + ", ".join([*(f"−{p}" for p in gone), *(f"+{p}" for p in came)]))
    return found


def _fields(node: etree._Element) -> tuple[Field, ...]:
    """The elements of a type's (or an element's inline type's) sequence."""
    return tuple(Field(str(child.get("name")), _local(child.get("type")), child.get("maxOccurs", "1") != "1")
                 for child in node.iterfind(f".//{{{XS}}}sequence/{{{XS}}}element"))


def _local(qualified: str | None) -> str | None:
    """The local name of a type that is not one of XML Schema's own (those hold plain values)."""
    if qualified is None or qualified.startswith(("xs:", "xsd:")):
        return None
    return qualified.rpartition(":")[2]


def _shown(field: Field | None) -> str:
    if field is None:
        return "nothing"
    return f"{field.name}: {field.type or 'value'}{'[]' if field.repeated else ''}"
