"""``hub mappings preview``: try a mapping on a real payload before anything runs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import BaseModel

from hub.mapping._load import compile_file
from hub.mapping._mapping import CompiledMapping
from hub.mapping._runtime import DictLinks
from hub.values import json_dumps, json_loads


class _InputError(Exception):
    pass


def preview(mapping_path: Path, input_path: Path, *, links: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """The text to print (input, result, every failed field and why) and whether all went well.

    The input is JSON (an object, or an array of records) or XML (the root
    element is the record). ``links`` stands in for the id links:
    ``{"iiko:catalog:<id>": "<1C Ref_Key>"}``, or a bare id for any system.
    Configuration references show as ``<config:path>``.
    """
    mapping, problems = compile_file(mapping_path, timezone=None, config=None)
    if mapping is None:
        return "\n".join([f"{mapping_path} has problems:", *(f"  {p}" for p in problems)]), False
    try:
        records = _read_input(input_path)
    except _InputError as exc:
        return f"{input_path}: {exc}", False
    resolver = DictLinks(links or {})
    lines = [f"Mapping {mapping_path} ({mapping.system} {mapping.entity.value} {mapping.direction})"]
    ok = True
    for number, record in enumerate(records, start=1):
        which = f", record {number} of {len(records)}" if len(records) > 1 else ""
        lines += ["", f"Input ({input_path}{which}):", _show(record)]
        ok = _show_trial(mapping, record, resolver, lines) and ok
    return "\n".join(lines), ok


def _show_trial(mapping: CompiledMapping, record: Any, links: DictLinks, lines: list[str]) -> bool:
    trial = mapping.trial(record, links=links)
    if trial.skipped is not None:
        lines.append(f"Skipped: skip_when {trial.skipped!r} is true for this record.")
        return True
    lines += ["", "Result:", _show(trial.output)]
    dropped = [failure for failure in trial.failures if failure.dropped]
    failed = [failure for failure in trial.failures if not failure.dropped]
    if dropped:
        lines += ["", "Left out (on_missing: drop):", *(f"  {f.where()}: {f.reason}" for f in dropped)]
    if failed:
        lines += ["", f"Failed fields ({len(failed)}):", *(f"  {f.where()}: {f.reason}" for f in failed)]
    else:
        lines += ["", "Every field mapped."]
    return trial.ok


def _read_input(path: Path) -> list[Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _InputError(f"cannot read: {exc.strerror}") from None
    if path.suffix.lower() == ".xml" or raw.lstrip().startswith(b"<"):
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        try:
            return [etree.fromstring(raw, parser)]
        except etree.XMLSyntaxError as exc:
            raise _InputError(f"invalid XML: {exc}") from None
    try:
        data = json_loads(raw)
    except ValueError as exc:
        raise _InputError(f"invalid JSON: {exc}") from None
    return data if isinstance(data, list) else [data]


def _show(value: Any) -> str:
    if isinstance(value, etree._Element):
        return etree.tostring(value, pretty_print=True, encoding="unicode").rstrip()
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_defaults=True)
    return json_dumps(value, indent=2)
