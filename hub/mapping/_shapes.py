"""What the canonical model looks like, for checking field names when a mapping is compiled.

A :class:`Shape` is read from a pydantic model's ``model_fields``: objects,
lists, dictionaries and scalars. ``in`` mappings check their target fields
against it and ``out`` mappings their source paths, so ``totl`` or
``customer.phone`` are reported before any record is mapped.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel

from hub.errors import suggest
from hub.mapping._paths import Path, format_path


@dataclass(frozen=True)
class Shape:
    """The type of a value as far as the mapping language cares."""

    kind: Literal["model", "list", "dict", "scalar", "any"]
    model: type[BaseModel] | None = None
    item: Shape | None = None
    scalar: Any = None

    def describe(self) -> str:
        """The type in words, for messages."""
        if self.kind == "model" and self.model is not None:
            return f"an object ({self.model.__name__})"
        if self.kind == "list" and self.item is not None:
            return f"a list of {self.item.describe().removeprefix('an ').removeprefix('a ')}"
        if self.kind == "dict":
            return "a dictionary"
        if self.kind == "scalar":
            name = getattr(self.scalar, "__name__", str(self.scalar))
            return f"a value ({name})"
        return "anything"

    @property
    def enum(self) -> type[Enum] | None:
        """The enum class of an enum scalar, else None."""
        scalar = self.scalar
        return scalar if isinstance(scalar, type) and issubclass(scalar, Enum) else None

    def fields(self) -> dict[str, Shape]:
        """The fields of a model shape, each with its shape."""
        if self.model is None:
            return {}
        return {name: shape_of(info.annotation) for name, info in self.model.model_fields.items()}

    def required(self) -> list[str]:
        """Names of the model's fields that have no default."""
        if self.model is None:
            return []
        return [name for name, info in self.model.model_fields.items() if info.is_required()]


ANY = Shape("any")


def shape_of(annotation: Any) -> Shape:
    """The shape of a type annotation as pydantic resolved it."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return shape_of(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return shape_of(options[0]) if len(options) == 1 else ANY
    if origin is list:
        return Shape("list", item=shape_of(typing.get_args(annotation)[0]))
    if origin is dict:
        return Shape("dict", item=shape_of(typing.get_args(annotation)[1]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Shape("model", model=annotation)
    if annotation is Any:
        return ANY
    return Shape("scalar", scalar=annotation)


class ShapeError(ValueError):
    """A path that does not exist in a shape; the message says what does."""


def walk(shape: Shape, path: Path, *, start: Path = ()) -> Shape:
    """The shape at ``path`` under ``shape``; ShapeError when a step does not exist."""
    done: Path = start
    for segment in path:
        where = format_path(done) or "the record"
        if shape.kind == "any":
            return ANY
        if shape.kind == "model" and shape.model is not None:
            if isinstance(segment, int):
                raise ShapeError(f"{where} is {shape.describe()}, not a list; it cannot be indexed with [{segment}]")
            fields = shape.fields()
            if segment not in fields:
                raise ShapeError(f"unknown canonical field {segment!r} of {shape.model.__name__}"
                                 f"{'' if not done else f' (at {where})'} ({suggest(str(segment), list(fields))})")
            shape = fields[segment]
        elif shape.kind == "list" and shape.item is not None:
            if not isinstance(segment, int):
                raise ShapeError(f"{where} is {shape.describe()}; read one item with {where}[0].{segment} "
                                 f"or map every item with each")
            shape = shape.item
        elif shape.kind == "dict" and shape.item is not None:
            shape = shape.item
        else:
            raise ShapeError(f"{where} is {shape.describe()}; it has no {format_path((segment,))!r} inside")
        done = (*done, segment)
    return shape
