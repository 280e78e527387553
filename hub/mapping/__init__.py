"""The mapping language: YAML files that say how a system's records become canonical ones and back.

One file per system, entity and direction, ``mappings/<system>/<entity>.<in|out>.yaml``::

    system: iiko
    fields:
      external_id: order.id
      total: {from: order.sum, transform: money}
      status: {from: order.status, transform: {table: status}}

Each file is compiled once, by :func:`load_mapping`, into plain Python
functions generated from the checked file (``CompiledMapping.code``; why
that is safe is told in :mod:`hub.mapping._codegen`);
:meth:`CompiledMapping.apply` maps a record without looking at the YAML
again. :func:`check_paths` reports every problem of every file at once, with
``file:line:column``; :func:`preview` shows what a mapping makes of a real
payload; :func:`unknown_fields` holds the fields a file names against the
other system's own description of its records. The language is described in ``docs/mappings.md`` and its grammar
published as a JSON Schema in ``mappings/schema.json``.
"""

from __future__ import annotations

from hub.mapping._against import ConfigReference, RecordType, config_references, unknown_fields
from hub.mapping._load import check_paths, load_mapping, load_unbound
from hub.mapping._mapping import CompiledMapping, ConfigUse, FieldUse
from hub.mapping._preview import preview
from hub.mapping._runtime import DictLinks, LinkResolver

__all__ = ["CompiledMapping", "ConfigReference", "ConfigUse", "DictLinks", "FieldUse", "LinkResolver", "RecordType",
           "check_paths", "config_references", "load_mapping", "load_unbound", "preview", "unknown_fields"]
