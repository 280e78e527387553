"""What compiled mappings pass around while they map one record.

A :class:`Scope` is where names are read from: the current item of a list
(``data``), the whole record (``root``), the enclosing scope (``parent``) and
the item's position (``index``). A :class:`Run` carries what one call of
``apply`` shares: the id-link resolver and, in preview, the list that collects
failures instead of stopping at the first one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from hub.errors import InvalidRecord, RecordError, UnresolvedReference
from hub.mapping._paths import Segment, format_path


class LinkResolver(Protocol):
    """Finds the id another system uses for an object (a channel's product id → 1C ``Ref_Key``)."""

    def resolve(self, system: str, entity: str, external_id: str) -> str | None:
        """The linked id, or None when nothing is linked."""


class DictLinks:
    """A :class:`LinkResolver` over a dictionary, for tests and ``hub mappings preview``.

    Keys are ``system:entity:external_id``; a bare ``external_id`` key matches
    any system and entity, which is handy when trying a mapping by hand.
    """

    def __init__(self, links: Mapping[str, str]) -> None:
        self._links = dict(links)

    def resolve(self, system: str, entity: str, external_id: str) -> str | None:
        """The linked id, or None."""
        found = self._links.get(f"{system}:{entity}:{external_id}")
        return self._links.get(external_id) if found is None else found


class Failure(Exception):
    """A field could not be mapped; ``path`` grows as the failure travels up to the record."""

    def __init__(self, reason: str, *, path: list[Segment] | None = None, unresolved: bool = False,
                 dropped: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[Segment] = path if path is not None else []
        self.unresolved = unresolved
        self.dropped = dropped  # preview notes a list item left out by on_missing: drop this way

    def where(self) -> str:
        """The failed field as ``lines[2].product``."""
        return format_path(tuple(self.path)) or "record"

    def to_error(self) -> RecordError:
        """The record error the engine sends to dead letters."""
        message = f"{self.where()}: {self.reason}"
        return UnresolvedReference(message) if self.unresolved else InvalidRecord(message)


class Drop(Exception):
    """Leave out the current list item (a lookup or table declared ``on_missing: drop``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Run:
    """State shared by one ``apply``: the resolver, and what preview collects."""

    __slots__ = ("failures", "links")

    def __init__(self, links: LinkResolver | None, *, collect: bool = False) -> None:
        self.links = links
        self.failures: list[Failure] | None = [] if collect else None


class Scope:
    """Where names are read from while one object is mapped."""

    __slots__ = ("data", "index", "parent", "root", "run")

    def __init__(self, data: Any, root: Any, parent: Scope | None, index: int | None, run: Run) -> None:
        self.data = data
        self.root = root
        self.parent = parent
        self.index = index
        self.run = run
