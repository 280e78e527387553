"""YAML with positions: every value keeps the file, line and column it came from.

Integrators edit hub.yaml and mapping files by hand, so every complaint about
them names the exact place. This loader builds plain Python data (dicts, lists,
scalars) and, beside it, a map from each value's path to its position. It also:

* refuses duplicate keys (PyYAML silently keeps the last one);
* reads YAML floats as Decimal, so a price in a mapping never becomes a float;
* substitutes ``${ENV_VAR}`` in strings, reporting a missing variable with its
  line, and remembers substituted values as secrets so logs can redact them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

PathKey = tuple[str | int, ...]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Position:
    """A place in a file, 1-based as editors show it."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class YamlDocument:
    """Data loaded from a YAML file, with positions and the problems met on the way."""

    file: str
    data: Any
    positions: dict[PathKey, Position] = field(default_factory=dict)
    """Where each value starts."""
    key_positions: dict[PathKey, Position] = field(default_factory=dict)
    """Where the key of each mapping entry starts (for 'unknown key' and 'missing key')."""
    problems: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)

    def position(self, path: PathKey, *, key: bool = False) -> Position:
        """Where the value (or with ``key``, the key) at ``path`` is, else its nearest ancestor's key."""
        if not key and path in self.positions:
            return self.positions[path]
        while path not in self.key_positions and path:
            path = path[:-1]
        return self.key_positions.get(path, Position(self.file, 1, 1))


class _Loader(yaml.SafeLoader):
    pass


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    lowered = text.lower()
    if lowered in {".nan", ".inf", "+.inf", "-.inf"}:
        raise yaml.constructor.ConstructorError(None, None, "infinite or NaN numbers are not allowed",
                                                node.start_mark)
    return Decimal(text)


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)


def load_yaml(text: str, file: str, *, env: Mapping[str, str] | None = None,
              substitute_env: bool = True) -> YamlDocument:
    """Parse ``text`` (from ``file``) into a :class:`YamlDocument`.

    A syntax error becomes one problem with its position and ``data`` is None.
    """
    env = os.environ if env is None else env
    doc = YamlDocument(file=file, data=None)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _build(node, (), doc, loader, env if substitute_env else None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        doc.problems.append(f"{where}: invalid YAML: {exc.problem or exc.context}")
        doc.data = None
    finally:
        loader.dispose()
    return doc


def load_yaml_file(path: Path, *, env: Mapping[str, str] | None = None,
                   substitute_env: bool = True) -> YamlDocument:
    """Read and parse a YAML file; an unreadable file is a problem, not an exception."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return YamlDocument(file=str(path), data=None, problems=[f"{path}: cannot read: {exc}"])
    return load_yaml(text, str(path), env=env, substitute_env=substitute_env)


def _build(node: yaml.Node, path: PathKey, doc: YamlDocument, loader: _Loader,
           env: Mapping[str, str] | None) -> Any:
    doc.positions.setdefault(path, Position(doc.file, node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key = str(key)
            where = Position(doc.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in result:
                first = doc.key_positions[(*path, key)]
                doc.problems.append(f"{where}: duplicate key {key!r} (first defined at line {first.line})")
                continue
            doc.key_positions[(*path, key)] = where
            result[key] = _build(value_node, (*path, key), doc, loader, env)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), doc, loader, env) for i, item in enumerate(node.value)]
    value = loader.construct_object(node, deep=True)
    if isinstance(value, str) and env is not None and "${" in value:
        value = _substitute(value, path, doc, env)
    return value


def _substitute(value: str, path: PathKey, doc: YamlDocument, env: Mapping[str, str]) -> str:
    where = doc.positions[path]
    dotted = ".".join(str(part) for part in path)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            doc.problems.append(f"{where}: {dotted}: environment variable {name} is not set "
                                f"(referenced as ${{{name}}}); export it before starting hub")
            return ""
        secret = env[name]
        if secret:
            doc.secrets.add(secret)
        return secret

    return _ENV_REF.sub(replace, value)
