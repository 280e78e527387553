"""Paths into records: ``deliveryInfo.phoneNumber``, ``items[0].price``, ``Товар.@Ид``.

A path is parsed once into segments (``str`` keys, ``int`` indexes: ``items[0]``
or, handier inside YAML's ``{...}``, ``items.0``) and
compiled into a getter. One getter reads every kind of record hub meets:

* JSON objects (``dict``): a key is a dictionary key;
* canonical models (pydantic): a key is a model field, checked when the mapping is compiled;
* XML (lxml elements): a key is the first child element with that local name
  (namespaces ignored), ``@name`` is an attribute, and a value is the element's text.

A missing key, an index out of range or a step into a scalar gives ``None``:
whether that is fine is up to the field (``required``, ``default``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree
from pydantic import BaseModel

Segment = str | int
Path = tuple[Segment, ...]
Getter = Callable[[Any], Any]

_Element = etree._Element
_TOKEN = re.compile(r"""
    \[\s*(?P<index>-?\d+)\s*\]              # [0]
  | \[\s*"(?P<dq>[^"]*)"\s*\]               # ["odata.metadata"]
  | \[\s*'(?P<sq>[^']*)'\s*\]               # ['odata.metadata']
  | (?P<dot>\.)?(?P<name>@?[^.\[\]\s"']+)   # name or .name
""", re.VERBOSE)


def parse_path(text: str) -> Path:
    """Segments of ``text``; ValueError names the character where the path goes wrong."""
    segments: list[Segment] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or (match["name"] is not None and bool(match["dot"]) != bool(segments)):
            raise ValueError(f"invalid path {text!r} at character {pos + 1}: expected a name such as "
                             f"items, an index such as [0], or a key in quotes such as [\"odata.count\"]")
        if match["index"] is not None:
            if not segments:
                raise ValueError(f"invalid path {text!r}: it must start with a name")
            segments.append(int(match["index"]))
        elif match["name"] is not None and match["name"].isdigit() and segments:
            # items.0.price: the index written so that it needs no quotes inside YAML's {...}
            segments.append(int(match["name"]))
        else:
            segments.append(match["name"] or match["dq"] or match["sq"] or "")
        pos = match.end()
    if not segments:
        raise ValueError("empty path: expected a name such as items or deliveryInfo.phoneNumber")
    return tuple(segments)


def format_path(path: Path) -> str:
    """``('lines', 2, 'product')`` as ``lines[2].product``."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif re.fullmatch(r"@?[^.\[\]\s\"']+", segment):
            text += f".{segment}" if text else segment
        else:
            text += f'["{segment}"]'
    return text


# --- reading ---------------------------------------------------------------------


def _local_name(element: _Element) -> str | None:
    tag = element.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return None
    return tag.rpartition("}")[2]


def _children(element: _Element, name: str) -> list[_Element]:
    return [child for child in element if _local_name(child) == name]


MODELS: set[type] = set()
"""Model classes met so far: ``type(obj) in MODELS`` is much cheaper than isinstance on a pydantic class."""


def _read_key(obj: Any, key: str) -> Any:
    """The slow path of a key step: everything that is not a plain dict."""
    if isinstance(obj, BaseModel):
        MODELS.add(type(obj))
        # A model's __dict__ holds its field values only: a path never reaches methods or internals.
        return obj.__dict__.get(key)
    if isinstance(obj, Mapping):
        return obj.get(key)
    if isinstance(obj, _Element):
        if key.startswith("@"):
            return obj.get(key[1:])
        for child in obj:
            if _local_name(child) == key:
                return child
    return None


def _key_step(key: str) -> Getter:
    def step(obj: Any) -> Any:
        if type(obj) is dict:
            return obj.get(key)
        return _read_key(obj, key)
    return step


def _index_step(index: int) -> Getter:
    def step(obj: Any) -> Any:
        if type(obj) is list or type(obj) is tuple:
            return obj[index] if -len(obj) <= index < len(obj) else None
        if type(obj) is dict:  # JSON objects keyed by numbers ({"0": ...}) read the same way
            return obj.get(str(index))
        return None
    return step


def _key_index_step(key: str, index: int) -> Getter:
    # In XML, Товар[1] is the second <Товар> child, not an index into the first one.
    def step(obj: Any) -> Any:
        if isinstance(obj, _Element):
            items: Any = _children(obj, key)
        elif type(obj) is dict:
            items = obj.get(key)
        else:
            items = _read_key(obj, key)
        if type(items) is list or type(items) is tuple:
            return items[index] if -len(items) <= index < len(items) else None
        return None
    return step


def _list_step(key: str) -> Getter:
    # The last step of a list path: every matching XML child, or the list under a key.
    def step(obj: Any) -> Any:
        if isinstance(obj, _Element):
            return _children(obj, key)
        return obj.get(key) if type(obj) is dict else _read_key(obj, key)
    return step


def _steps(path: Path, *, many: bool) -> list[Getter]:
    steps: list[Getter] = []
    i = 0
    while i < len(path):
        segment = path[i]
        following = path[i + 1] if i + 1 < len(path) else None
        if isinstance(segment, int):
            steps.append(_index_step(segment))
        elif isinstance(following, int):
            steps.append(_key_index_step(segment, following))
            i += 1
        elif many and following is None:
            steps.append(_list_step(segment))
        else:
            steps.append(_key_step(segment))
        i += 1
    return steps


def _chain(steps: list[Getter]) -> Getter:
    if len(steps) == 1:
        return steps[0]
    if len(steps) == 2:
        first, second = steps

        def two(obj: Any) -> Any:
            obj = first(obj)
            return None if obj is None else second(obj)
        return two

    def many(obj: Any) -> Any:
        for step in steps:
            obj = step(obj)
            if obj is None:
                return None
        return obj
    return many


def value_getter(path: Path) -> Getter:
    """A getter for a value: an XML element at the end of the path gives its text."""
    get = _chain(_steps(path, many=False)) if path else (lambda obj: obj)

    def value(obj: Any) -> Any:
        result = get(obj)
        if isinstance(result, _Element):
            return result.text
        return result
    return value


def node_getter(path: Path) -> Getter:
    """A getter for an object to map fields from (a dict, a model or an XML element)."""
    return _chain(_steps(path, many=False)) if path else (lambda obj: obj)


def list_getter(path: Path) -> Callable[[Any], list[Any]]:
    """A getter for a list of items; one item that is not in a list becomes a list of one.

    Streaming XML-to-dict parsers write a single repeated element as an object
    and several as a list; both read the same here.
    """
    get = _chain(_steps(path, many=True)) if path else (lambda obj: obj)

    def items(obj: Any) -> list[Any]:
        result = get(obj)
        if result is None:
            return []
        if type(result) is list:
            return result
        if isinstance(result, tuple):
            return list(result)
        return [result]
    return items
