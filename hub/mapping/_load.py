"""Finding, loading and checking mapping files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.errors import ConfigError
from hub.mapping._compile import compile_document
from hub.mapping._mapping import CompiledMapping
from hub.values import DEFAULT_TIMEZONE, zone
from hub.yamlsource import load_yaml_file

MAPPING_SUFFIXES = (".yaml", ".yml")


def compile_file(path: Path, *, timezone: ZoneInfo | None,
                 config: Mapping[str, Any] | None) -> tuple[CompiledMapping | None, list[str]]:
    """Read and compile one file; the mapping (None when broken) and every problem.

    ``config=None`` leaves configuration references unbound, shown as
    ``<config:path>``: enough to check a file or preview it without hub.yaml.
    """
    # Mappings hold no secrets, so ${...} stays literal text instead of reading the environment.
    doc = load_yaml_file(path, substitute_env=False)
    doc.problems = [_explain(problem) for problem in doc.problems]
    if doc.data is None and not doc.problems:
        doc.problems.append(f"{path}:1:1: the file is empty; expected system and fields")
    if doc.data is None:
        return None, doc.problems
    mapping, problems = compile_document(doc, path, timezone=timezone or zone(DEFAULT_TIMEZONE), config=config)
    return (mapping if not doc.problems else None), [*doc.problems, *problems]


def _explain(problem: str) -> str:
    # The commonest YAML slip in mappings: an index inside a {...} flow mapping ends the mapping early.
    if "but got '['" in problem or "but got ']'" in problem:
        return problem + " (inside {...} write an index with a dot, {from: items.0.price}, or quote the path)"
    return problem


def load_mapping(path: Path, *, timezone: ZoneInfo | None = None,
                 config: Mapping[str, Any] | None = None) -> CompiledMapping:
    """Compile the mapping at ``path`` for use.

    ``timezone`` is 1C's zone for naive datetimes (default Europe/Moscow);
    ``config`` holds the values ``config:`` references read, and a reference
    to a value it lacks is a problem. Raises :class:`~hub.errors.ConfigError`
    listing every problem, each with ``file:line:column``.
    """
    mapping, problems = compile_file(path, timezone=timezone, config=config if config is not None else {})
    if mapping is None:
        raise ConfigError(problems, hint="run `hub mappings check` after fixing the file")
    return mapping


def load_unbound(path: Path, *, timezone: ZoneInfo | None = None) -> CompiledMapping:
    """Compile the mapping at ``path`` with its ``config:`` references left unbound: enough to learn which
    configuration values it needs (its ``config_uses``) before there is a configuration (``hub init``)."""
    mapping, problems = compile_file(path, timezone=timezone, config=None)
    if mapping is None:
        raise ConfigError(problems, hint="run `hub mappings check` after fixing the file")
    return mapping


def mapping_files(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """Every mapping file under ``paths`` (files and folders), and the paths that do not exist."""
    files: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in MAPPING_SUFFIXES and p.is_file()))
        elif path.is_file():
            if path.suffix in MAPPING_SUFFIXES:
                files.append(path)
        else:
            missing.append(f"{path}: no such file or directory")
    return files, missing


def check_paths(paths: Sequence[Path]) -> list[str]:
    """Every problem in every mapping file under ``paths``; [] when all are fine.

    Files other than ``*.yaml``/``*.yml`` (``mappings/schema.json``, READMEs) are skipped.
    """
    files, problems = mapping_files(paths)
    for file in files:
        problems.extend(compile_file(file, timezone=None, config=None)[1])
    return problems
