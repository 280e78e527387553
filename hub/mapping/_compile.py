"""Compiling a mapping file: checking every word of it, then generating the code that maps records.

The compiler walks the YAML once. Every problem it meets is recorded with the
file, line and column it comes from, what was expected and, where one fits, a
'did you mean', and compiling goes on so one run reports them all. Canonical
field names are checked against :mod:`hub.model`: an ``in`` mapping's targets,
an ``out`` mapping's sources. A file without problems becomes one generated
module (:mod:`hub.mapping._codegen`), compiled once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path as FilePath
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from hub.errors import suggest
from hub.mapping import _fields
from hub.mapping._codegen import Code, Constant, Index, Mode, Namespace, Read, Source, reader
from hub.mapping._expr import FUNCTIONS, ExprError, Function, compile_expression
from hub.mapping._grammar import FIELD_KEYS, FILE_NAME, SOURCE_KEYS, TABLE_KEYS, TOP_KEYS
from hub.mapping._lookup import TABLE_POLICIES, build_lookup, check_policy, missing_handler, table_step
from hub.mapping._mapping import CompiledMapping, ConfigUse, FieldUse
from hub.mapping._paths import Path, format_path, parse_path, value_getter
from hub.mapping._runtime import Scope
from hub.mapping._shapes import ANY, Shape, ShapeError, walk
from hub.mapping._transforms import TRANSFORMS, AnyStep, ArgError, ScopedStep, describe
from hub.model import CANONICAL_TYPES, Entity
from hub.yamlsource import Position, YamlDocument

YamlPath = tuple[str | int, ...]


@dataclass
class _Table:
    values: dict[str, Any]
    policy: str
    default: Any


@dataclass(frozen=True)
class _Block:
    """Where a block of fields reads from and writes to, as far as the compiler knows."""

    source: Shape        # the scope's data (canonical in out mappings, unknown in in mappings)
    target: Shape        # what the block builds (canonical in in mappings, free in out mappings)
    root: Shape
    parents: tuple[Shape, ...] = ()
    in_list: bool = False
    at: Path = ()
    """Where the block's data sits in the record: the list an each walks, the object a from reads."""
    parents_at: tuple[Path, ...] = ()
    target_at: Path = ()
    """Where what the block builds goes in the result."""


class Placeholder(str):
    """A configuration value not bound yet (check, preview): shown as ``<config:path>``, never checked."""

    __slots__ = ()


class _File:
    """One mapping file being compiled: its problems, constants, tables and configuration."""

    def __init__(self, doc: YamlDocument, *, timezone: ZoneInfo, config: Mapping[str, Any] | None) -> None:
        self.doc = doc
        self._problems: list[tuple[Position, str]] = []
        self.timezone = timezone
        self.config = config
        self.constants: dict[str, Any] = {}
        self.tables: dict[str, _Table] = {}
        self.functions: dict[str, Function] = {}
        self.namespace = Namespace()
        self.direction: str | None = None
        self.fields: list[FieldUse] = []
        """The other system's fields the file names: read in an in mapping, written in an out mapping."""
        self.config_uses: list[ConfigUse] = []
        self.naming: YamlPath = ()
        """The part of the file being compiled, where a field read or a config value used is said to be."""
        self.writing: Path | None = None
        """The field of the result being compiled: what a field read or a config value used now goes to."""

    def name_field(self, path: Path, at: YamlPath, *, key: bool = False) -> None:
        """Note that the file names ``path`` of the other system's records at ``at``."""
        if path:
            into = self.writing if self.direction == "in" else None
            self.fields.append(FieldUse(path, self.doc.position(at, key=key), into))

    def problem(self, at: YamlPath, message: str, *, key: bool = False) -> None:
        """Record a problem at the value of ``at`` (with ``key``, at its key: unknown and misplaced keys)."""
        # Keys joined with dots as the file nests them: fields.customer.fields.phones.transform[0].
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in at).lstrip(".")
        position = self.doc.position(at, key=key)
        self._problems.append((position, f"{position}: {where + ': ' if where else ''}{message}"))

    @property
    def problems(self) -> list[str]:
        """Every problem once, in the order of the file (a table used twice reports its problem once)."""
        ordered = sorted(self._problems, key=lambda item: (item[0].line, item[0].column))
        return list(dict.fromkeys(message for _, message in ordered))

    def config_value(self, path: Path) -> Any:
        """The configuration value at ``path``; a placeholder when no configuration is bound (check, preview)."""
        if self.direction == "out" and self.writing is not None:
            self.config_uses.append(ConfigUse(path, self.writing, self.doc.position(self.naming)))
        if self.config is None:
            return Placeholder(f"<config:{format_path(path)}>")
        value: Any = self.config
        for segment in path:
            if isinstance(value, Mapping) and segment in value:
                value = value[segment]
            elif (isinstance(value, BaseModel) and isinstance(segment, str)
                  and segment in type(value).model_fields):
                value = getattr(value, segment)
            else:
                known = [str(key) for key in value] if isinstance(value, Mapping) else []
                hint = f" ({suggest(str(segment), known)})" if known else ""
                raise ArgError(f"config value {format_path(path)!r} is not set{hint}")
        return value


class _Resolver:
    """Names and paths as one field sees them; also the context transforms are built with."""

    def __init__(self, file: _File, block: _Block) -> None:
        self.file = file
        self.block = block

    @property
    def timezone(self) -> ZoneInfo:
        return self.file.timezone

    @property
    def in_list(self) -> bool:
        return self.block.in_list

    @property
    def namespace(self) -> Namespace:
        return self.file.namespace

    def functions(self) -> dict[str, Function]:
        return self.file.functions

    def read(self, path: Path, mode: Mode) -> tuple[Source, Shape]:
        """Where ``path`` is read from in this scope and the shape it reads; ValueError when it cannot exist."""
        found = self._where(path, mode)
        self._noted(path)
        return found

    def _where(self, path: Path, mode: Mode) -> tuple[Source, Shape]:
        head, rest = path[0], path[1:]
        if head == "const":
            return self._constant(rest, self.file.constants, "constant")
        if head == "config":
            if not rest:
                raise ValueError("config needs a path, such as config.venues.main.warehouse")
            try:
                value = self.file.config_value(rest)
            except ArgError as exc:
                raise ValueError(str(exc)) from None
            return Constant(value), ANY
        if head == "index" and not rest:
            return Index(), ANY
        if head == "root":
            return Read("root", rest, mode), walk(self.block.root, rest, start=("root",))
        if head == "parent":
            depth = 0
            while depth < len(path) and path[depth] == "parent":
                depth += 1
            if depth > len(self.block.parents):
                raise ValueError(f"{format_path(path[:depth])} goes beyond the record; there "
                                 f"{'is' if len(self.block.parents) == 1 else 'are'} "
                                 f"{len(self.block.parents)} enclosing object(s) here")
            shape = walk(self.block.parents[-depth], path[depth:], start=path[:depth])
            return Read("parent", path[depth:], mode, depth), shape
        if head == "item":
            path = rest
        return Read("data", path, mode), walk(self.block.source, path)

    def absolute(self, path: Path) -> Path | None:
        """Where ``path`` (read in this scope) is in the record, from its root; None for constants and config."""
        head, rest = path[0], path[1:]
        if head in ("const", "config") or (head == "index" and not rest):
            return None
        if head == "root":
            return rest
        if head == "parent":
            depth = 0
            while depth < len(path) and path[depth] == "parent":
                depth += 1
            return (*self.block.parents_at[-depth], *path[depth:])
        return (*self.block.at, *(rest if head == "item" else path))

    def _noted(self, path: Path) -> None:
        absolute = self.absolute(path)
        if self.file.direction == "in" and absolute:
            self.file.name_field(absolute, self.file.naming)

    def _constant(self, rest: Path, values: dict[str, Any], what: str) -> tuple[Source, Shape]:
        if not rest or rest[0] not in values:
            name = str(rest[0]) if rest else ""
            known = list(values)
            raise ValueError(f"unknown {what} {name!r} ({suggest(name, known) if known else 'none are declared'})")
        return Constant(value_getter(rest)(values)), ANY

    # the expression compiler's view

    def path(self, name: str, segments: Path) -> Source:
        try:
            source, _ = self.read((name, *segments), "value")
        except ValueError as exc:
            raise ExprError(str(exc)) from None
        return source

    def item_field(self, name: str, segments: Path) -> None:
        self._noted((name, *segments))

    # the transforms' view

    def table(self, name: str) -> AnyStep:
        table = self.file.tables.get(name)
        if table is None:
            known = list(self.file.tables)
            raise ArgError(f"unknown table {name!r} ("
                           f"{suggest(name, known) if known else 'declare it under tables'})")
        missing = missing_handler(table.policy, table.default, in_list=self.in_list, unresolved=False,
                                  what=f"table {name!r}")
        return table_step(name, table.values, missing)

    def lookup(self, args: Any) -> AnyStep:
        return build_lookup(args, self)

    def constant(self, spec: Any, at: tuple[str | int, ...]) -> Any:
        if isinstance(spec, dict):
            if set(spec) != {"config"} or not isinstance(spec["config"], str):
                raise ArgError("a default is a value, or {config: path} to read it from the configuration", at)
            try:
                return self.file.config_value(parse_path(spec["config"]))
            except ValueError as exc:
                raise ArgError(str(exc), (*at, "config")) from None
        return spec

    def getter(self, path: str, at: tuple[str | int, ...]) -> Callable[[Scope], Any]:
        try:
            source, _ = self.read(parse_path(path), "value")
        except ValueError as exc:
            raise ArgError(str(exc), at) from None
        return reader(source)


# --- the file ----------------------------------------------------------------------------


def compile_document(doc: YamlDocument, path: FilePath, *, timezone: ZoneInfo,
                     config: Mapping[str, Any] | None) -> tuple[CompiledMapping | None, list[str]]:
    """Compile a loaded mapping file: the mapping, or None, and every problem found."""
    file = _File(doc, timezone=timezone, config=config)
    data = doc.data
    if not isinstance(data, dict):
        file.problem((), "expected a mapping file: system, fields and optionally entity, direction, tables, "
                         "constants, skip_when")
        return None, file.problems
    for key in data:
        if key not in TOP_KEYS:
            file.problem((key,), f"unknown key {key!r} ({suggest(key, list(TOP_KEYS))})", key=True)
    system = _text_key(file, data, "system", required=True)
    entity, direction = _identity(file, data, path)
    target = _text_key(file, data, "target")
    source_name = _text_key(file, data, "source")
    match_by = _text_key(file, data, "match_by")
    file.direction = direction
    if direction == "out" and match_by is not None:
        file.name_field((match_by,), ("match_by",))
    description = _text_key(file, data, "description")
    misplaced = {"target": (target, "out", "names the object an out mapping writes to"),
                 "match_by": (match_by, "out", "names the field of an out mapping's result that carries the key"),
                 "source": (source_name, "in", "names the object an in mapping reads from")}
    for key, (value, wanted, meaning) in misplaced.items():
        if value is not None and direction is not None and direction != wanted:
            file.problem((key,), f"{key} {meaning}; remove it here")
    options = data.get("options")
    if options is not None and not isinstance(options, dict):
        file.problem(("options",), "options is a mapping of settings the connector reads, such as {filter: …}")
    file.functions = _functions(_Resolver(file, _Block(ANY, ANY, ANY)))
    _constants(file, data.get("constants"))
    _tables(file, data.get("tables"))

    model = CANONICAL_TYPES[entity] if entity is not None else None
    canonical = Shape("model", model=model) if model is not None else ANY
    source, built = (canonical, ANY) if direction == "out" else (ANY, canonical if direction == "in" else ANY)
    block = _Block(source=source, target=built, root=source)
    skips = _conditions(file, _Resolver(file, block), data.get("skip_when"), ("skip_when",))
    build = None
    if "fields" not in data:
        file.problem((), "missing key 'fields': what to map, such as fields: {external_id: order.id}")
    else:
        build = _block(file, block, data["fields"], ("fields",))
    if file.problems or build is None or system is None or entity is None or direction is None:
        return None, file.problems
    namespace = file.namespace
    skip = _fields.record_filter(namespace, skips)
    module = namespace.compile(f"<mapping {path}>")
    return CompiledMapping(path=path, system=system, entity=entity, direction=direction, target=target,
                           description=description, skip=module[skip], build=module[build.fast],
                           collect=module[build.collect], model=model if direction == "in" else None,
                           code=namespace.source, bindings=namespace.bindings, source=source_name,
                           match_by=match_by, options=options if isinstance(options, dict) else None,
                           fields=file.fields, config_uses=file.config_uses), []


def _text_key(file: _File, data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            file.problem((), f"missing key {key!r}: {TOP_KEYS[key]}")
        return None
    if not isinstance(value, str) or not value.strip():
        file.problem((key,), f"{key} must be text, got {describe(value)}")
        return None
    return value


def _identity(file: _File, data: dict[str, Any], path: FilePath) -> tuple[Entity | None, str | None]:
    """Entity and direction, from the file name and, when declared, from the file."""
    entities = [entity.value for entity in Entity]
    named = FILE_NAME.match(path.name)
    if named is None:
        file.problem((), f"the file name {path.name!r} must be <entity>.<in|out>.yaml, such as orders.in.yaml")
    elif named["entity"] not in entities:
        file.problem((), f"the file name {path.name!r} names unknown entity {named['entity']!r} "
                         f"({suggest(named['entity'], entities)})")
    results: list[str | None] = []
    for key, choices in (("entity", entities), ("direction", ["in", "out"])):
        from_name = named[key] if named is not None and named[key] in choices else None
        declared = data.get(key)
        if declared is not None and declared not in choices:
            file.problem((key,), f"unknown {key} {declared!r} ({suggest(str(declared), choices)})")
            declared = None
        elif declared is not None and from_name is not None and declared != from_name:
            file.problem((key,), f"{key} {declared!r} does not match the file name {path.name!r}")
            declared = from_name = None  # which one is wrong is for a person to say; check the rest loosely
        results.append(declared if declared is not None else from_name)
    entity, direction = results
    return (Entity(entity) if entity is not None else None), direction


def _functions(resolver: _Resolver) -> dict[str, Function]:
    """The fixed functions plus every transform that needs no options, built for this file."""
    functions: dict[str, Function] = {}
    for name, transform in TRANSFORMS.items():
        if transform.args == "required":
            continue
        step = transform.build(None, resolver)
        if not isinstance(step, ScopedStep):
            functions[name] = Function(step, 1, 1, transform.summary, skips_null=True)
    functions.update(FUNCTIONS)
    return functions


def _constants(file: _File, constants: Any) -> None:
    if constants is None:
        return
    if not isinstance(constants, dict):
        file.problem(("constants",), f"constants must be name: value pairs, got {describe(constants)}")
        return
    file.constants = dict(constants)


def _tables(file: _File, tables: Any) -> None:
    if tables is None:
        return
    if not isinstance(tables, dict):
        file.problem(("tables",), f"tables must be name: table pairs, got {describe(tables)}")
        return
    for name, spec in tables.items():
        at: YamlPath = ("tables", name)
        if not isinstance(spec, dict) or "values" not in spec:
            file.problem(at, "a table needs values (input: output pairs) and on_missing", key=True)
            file.tables[name] = _Table({}, "keep", None)
            continue
        for key in spec:
            if key not in TABLE_KEYS:
                file.problem((*at, key), f"unknown key {key!r} ({suggest(key, list(TABLE_KEYS))})", key=True)
        values = spec["values"]
        if not isinstance(values, dict) or not values:
            file.problem((*at, "values"), "values must be input: output pairs, such as NEW: new")
            values = {}
        try:
            policy = check_policy(spec, TABLE_POLICIES, f"table {name!r}")
            default = _Resolver(file, _Block(ANY, ANY, ANY)).constant(spec.get("default"), ("default",))
        except ArgError as exc:
            file.problem((*at, *exc.at), str(exc), key=exc.on_key or not exc.at)
            policy, default = "keep", None
        file.tables[name] = _Table(dict(values), policy, default)


def _conditions(file: _File, resolver: _Resolver, spec: Any, at: YamlPath) -> list[tuple[str, Code]]:
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else [spec]
    conditions = []
    for index, text in enumerate(items):
        item_at = (*at, index) if isinstance(spec, list) else at
        file.naming = item_at
        if not isinstance(text, str):
            file.problem(item_at, f"expected an expression, such as comment == 'test', got {describe(text)}")
            continue
        try:
            conditions.append((text, compile_expression(text, resolver)))
        except ExprError as exc:
            file.problem(item_at, str(exc))
    return conditions


# --- blocks and fields -----------------------------------------------------------------------


def _block(file: _File, block: _Block, spec: Any, at: YamlPath,
           skips: list[tuple[str, Code]] | None = None) -> _fields.Block | None:
    if not isinstance(spec, dict) or not spec:
        file.problem(at, f"fields must be target: source pairs, such as external_id: order.id, "
                         f"got {describe(spec)}")
        return None
    compiled: list[_fields.Field] = []
    constants: dict[str, Any] = {}
    targets: list[tuple[Path, YamlPath]] = []
    for key, field_spec in spec.items():
        field_at = (*at, key)
        try:
            target = parse_path(key)
        except ValueError as exc:
            file.problem(field_at, str(exc), key=True)
            continue
        if any(isinstance(segment, int) for segment in target):
            file.problem(field_at, "a target is field names separated by dots; indexes are not allowed", key=True)
            continue
        targets.append((target, field_at))
        if file.direction == "out":
            file.name_field((*block.target_at, *target), field_at, key=True)
        field = _field(file, block, target, field_spec, field_at)
        if isinstance(field, _Constant):
            constants[field.key] = field.value
        elif field is not None:
            compiled.append(field)
    _overlaps(file, targets)
    if block.target.kind == "model":
        _required(file, block.target, [target for target, _ in targets], at)
    return _fields.block(file.namespace, compiled, constants, skips or [])


def _overlaps(file: _File, targets: list[tuple[Path, YamlPath]]) -> None:
    for index, (target, at) in enumerate(targets):
        for other, other_at in targets[:index]:
            shorter, longer = sorted((target, other), key=len)
            if longer[:len(shorter)] == shorter:
                line = file.doc.position(other_at).line
                file.problem(at, f"{format_path(shorter)} is mapped twice: here and at line {line}", key=True)


def _required(file: _File, shape: Shape, targets: list[Path], at: YamlPath, prefix: Path = ()) -> None:
    heads = {target[0] for target in targets}
    for name in shape.required():
        if name not in heads:
            assert shape.model is not None
            file.problem(at, f"required canonical field {format_path((*prefix, name))!r} of "
                             f"{shape.model.__name__} is not mapped", key=True)
    fields = shape.fields()
    for head in heads:
        deeper = [target[1:] for target in targets if target[0] == head]
        inner = fields.get(str(head))
        if inner is not None and inner.kind == "model" and all(deeper):
            _required(file, inner, deeper, at, (*prefix, head))


def _field(file: _File, block: _Block, target: Path, spec: Any,
           at: YamlPath) -> _fields.Field | _Constant | None:
    if isinstance(spec, str):
        spec = {"from": spec}
        # The short form's path is the field's own value: report problems with it there.
        file.doc.positions.setdefault((*at, "from"), file.doc.position(at))
    elif not isinstance(spec, dict):
        file.problem(at, f"expected a path such as order.id, or a field block such as {{value: RUB}}, "
                         f"got {describe(spec)}")
        return None
    for key in spec:
        if key not in FIELD_KEYS:
            file.problem((*at, key), f"unknown key {key!r} ({suggest(key, list(FIELD_KEYS))})", key=True)
    file.naming, file.writing = at, (*block.target_at, *target)
    try:
        target_shape = walk(block.target, target)
    except ShapeError as exc:
        file.problem(at, str(exc), key=True)
        return None
    sources = [key for key in SOURCE_KEYS if key in spec]
    if len(sources) > 1:
        file.problem(at, f"give one source, not {' and '.join(sources)}: from, value, config, expr or each",
                     key=True)
        return None
    resolver = _Resolver(file, block)
    when = _condition(file, resolver, spec, "when", at)
    required = spec.get("required", False)
    if not isinstance(required, bool):
        file.problem((*at, "required"), f"required must be true or false, got {describe(required)}")
    if "skip_when" in spec and "each" not in spec:
        file.problem((*at, "skip_when"), "skip_when filters the items of a list: use it with each; "
                                         "for a condition on this field use when")
    site = _Site(target, target_shape, spec, at, when, bool(required))
    if "each" in spec:
        return _list_field(file, block, site)
    if "fields" in spec:
        return _object_field(file, block, site)
    if not sources:
        file.problem(at, "no source: give one of from, value, config, expr or each", key=True)
        return None
    return _value_field(file, resolver, site, sources[0])


@dataclass(frozen=True)
class _Site:
    """One field being compiled: its target, the target's shape and its YAML block."""

    target: Path
    shape: Shape
    spec: dict[str, Any]
    at: YamlPath
    when: Code | None
    required: bool


def _condition(file: _File, resolver: _Resolver, spec: dict[str, Any], key: str,
               at: YamlPath) -> Code | None:
    if key not in spec:
        return None
    if isinstance(spec[key], list):
        file.problem((*at, key), f"{key} takes one expression; join conditions with and / or")
        return None
    found = _conditions(file, resolver, spec[key], (*at, key))
    return found[0][1] if found else None


def _path_text(file: _File, spec: dict[str, Any], key: str, at: YamlPath) -> Path | None:
    text = spec[key]
    if not isinstance(text, str):
        file.problem((*at, key), f"{key} must be a path such as order.items, got {describe(text)}")
        return None
    try:
        return parse_path(text)
    except ValueError as exc:
        file.problem((*at, key), str(exc))
        return None


def _read(file: _File, resolver: _Resolver, path: Path, mode: Mode,
          at: YamlPath) -> tuple[Source, Shape] | None:
    file.naming = at
    try:
        return resolver.read(path, mode)
    except ValueError as exc:
        file.problem(at, str(exc))
        return None


def _nested_keys(file: _File, spec: dict[str, Any], at: YamlPath, what: str) -> None:
    for key in ("transform", "default", "value", "config", "expr"):
        if key in spec:
            file.problem((*at, key), f"{key} does not apply to {what}", key=True)


def _list_field(file: _File, block: _Block, site: _Site) -> _fields.ListField | None:
    target, target_shape, spec, at = site.target, site.shape, site.spec, site.at
    _nested_keys(file, spec, at, "a list mapped with each")
    if "fields" not in spec:
        file.problem((*at, "each"), "each needs fields: what to map from every item")
        return None
    path = _path_text(file, spec, "each", at)
    read = None if path is None else _read(file, _Resolver(file, block), path, "list", (*at, "each"))
    if path is None or read is None:
        return None
    source, shape = read
    if shape.kind not in ("list", "any"):
        file.problem((*at, "each"), f"each needs a list, but {format_path(path or ())} is {shape.describe()}")
        return None
    item_target = ANY
    if target_shape.kind == "list" and target_shape.item is not None:
        item_target = target_shape.item
    elif target_shape.kind != "any":
        file.problem(at, f"each makes a list, but {format_path(target)} is {target_shape.describe()}", key=True)
        return None
    if item_target.kind not in ("model", "dict", "any"):
        file.problem(at, f"each makes a list of objects, but {format_path(target)} is "
                         f"{target_shape.describe()}; map a list of values with from or expr", key=True)
        return None
    inner = _Block(source=shape.item or ANY, target=item_target, root=block.root,
                   parents=(*block.parents, block.source), in_list=True,
                   at=_Resolver(file, block).absolute(path) or (), parents_at=(*block.parents_at, block.at),
                   target_at=(*block.target_at, *target))
    skips = _conditions(file, _Resolver(file, inner), spec.get("skip_when"), (*at, "skip_when"))
    build = _block(file, inner, spec["fields"], (*at, "fields"), skips)
    if build is None:
        return None
    return _fields.ListField(target=target, items=file.namespace.code(source), block=build,
                             required=site.required, when=site.when,
                             missing_reason=f"required, but the input has no items in {spec['each']!r}")


def _object_field(file: _File, block: _Block, site: _Site) -> _fields.ObjectField | None:
    target, target_shape, spec, at = site.target, site.shape, site.spec, site.at
    _nested_keys(file, spec, at, "an object mapped with fields (read it from a path with from)")
    if target_shape.kind not in ("model", "dict", "any"):
        file.problem((*at, "fields"), f"fields builds an object, but {format_path(target)} is "
                                      f"{target_shape.describe()}")
        return None
    node: Code | None = None
    inner = replace(block, target=target_shape, target_at=(*block.target_at, *target))
    if "from" in spec:
        path = _path_text(file, spec, "from", at)
        read = None if path is None else _read(file, _Resolver(file, block), path, "node", (*at, "from"))
        if path is None or read is None:
            return None
        source, shape = read
        node = file.namespace.code(source)
        inner = replace(inner, source=shape, parents=(*block.parents, block.source),
                        at=_Resolver(file, block).absolute(path) or (), parents_at=(*block.parents_at, block.at))
    elif site.required:
        file.problem((*at, "required"), "required applies to an object read with from")
    build = _block(file, inner, spec["fields"], (*at, "fields"))
    if build is None:
        return None
    return _fields.ObjectField(target=target, node=node, block=build, required=site.required, when=site.when,
                               missing_reason=f"required, but the input has no {spec.get('from')!r}")


def _value_field(file: _File, resolver: _Resolver, site: _Site,
                 source: str) -> _fields.ValueField | _Constant | None:
    target, target_shape, spec, at = site.target, site.shape, site.spec, site.at
    source_at = (*at, source)
    shape = ANY
    if source == "from":
        path = _path_text(file, spec, "from", at)
        read = None if path is None else _read(file, resolver, path, "value", source_at)
        if read is None:
            return None
        reader = file.namespace.code(read[0])
        shape = read[1]
        missing_reason = f"required, but the input has no {spec['from']!r}"
    elif source == "expr":
        file.naming = source_at
        try:
            reader = compile_expression(spec["expr"], resolver)
        except ExprError as exc:
            file.problem(source_at, str(exc))
            return None
        missing_reason = "required, but the expression gave no value"
    else:
        value = spec[source]
        if source == "config" and not isinstance(value, str):
            file.problem(source_at, f"config must be a dotted path such as venues.main.warehouse, "
                                    f"got {describe(value)}")
            return None
        if source == "config":
            file.naming = source_at
            try:
                value = resolver.constant({"config": value}, ())
            except ArgError as exc:
                file.problem(source_at, str(exc))
                return None
        _check_enum(file, target_shape, [(value, source_at, f"{source} {value!r}")])
        if (len(target) == 1 and isinstance(value, _IMMUTABLE) and site.when is None
                and not {"transform", "default", "required"} & set(spec)):
            return _Constant(str(target[0]), value)  # the block's template holds it: no work per record
        reader = file.namespace.code(Constant(value))
        missing_reason = f"required, but {source} is empty"
    steps, names = _steps(file, resolver, spec.get("transform"), (*at, "transform"))
    default = _fields.NO_DEFAULT
    if "default" in spec:
        file.naming = (*at, "default")
        try:
            default = resolver.constant(spec["default"], (*at, "default"))
        except ArgError as exc:
            file.problem(exc.at, str(exc))
        _check_enum(file, target_shape, [(default, (*at, "default"), f"default {default!r}")])
    if names and names[-1][0] == "table":
        _check_table_output(file, target_shape, names[-1][1])
    if names and names[0][0] == "table":
        _check_table_input(file, shape, names[0][1])
    if target_shape.kind == "list" and target_shape.item is not None and target_shape.item.kind == "scalar":
        steps = [(_fields.listwise(steps), "transform")]
    # Lookups ask the id links, which are not the mapping's to repeat or not; every other step is pure.
    pure = not any(isinstance(step, ScopedStep) for step, _ in steps)
    chain = (reader, tuple((name, repr(args)) for name, args in names)) if pure else None
    return _fields.ValueField(target=target, read=reader, source_label=source, can_fail=source == "expr",
                              missing_reason=missing_reason, steps=steps, default=default,
                              required=site.required, when=site.when, chain=chain)


_IMMUTABLE = (str, int, Decimal, bool)


@dataclass(frozen=True)
class _Constant:
    """A field that is the same in every record; the block starts each object with it."""

    key: str
    value: Any


def _steps(file: _File, resolver: _Resolver, spec: Any,
           at: YamlPath) -> tuple[list[tuple[AnyStep, str]], list[tuple[str, Any]]]:
    """The compiled steps of ``transform`` with their names, and each step's name and options."""
    steps: list[tuple[AnyStep, str]] = []
    names: list[tuple[str, Any]] = []
    if spec is None:
        return steps, names
    items = spec if isinstance(spec, list) else [spec]
    for index, item in enumerate(items):
        item_at = (*at, index) if isinstance(spec, list) else at
        if isinstance(item, str):
            name, args, has_args = item, None, False
        elif isinstance(item, dict) and len(item) == 1:
            name, args = next(iter(item.items()))
            has_args = True
        else:
            file.problem(item_at, "expected a transform name such as money, or one name with options "
                                  "such as {round: 2}")
            continue
        transform = TRANSFORMS.get(name)
        if transform is None:
            file.problem(item_at, f"unknown transform {name!r} ({suggest(name, list(TRANSFORMS))})")
            continue
        args_at = (*item_at, name) if has_args else item_at
        if transform.args == "none" and has_args:
            file.problem(args_at, f"{name} takes no options; write it as a plain name: - {name}", key=True)
            continue
        if transform.args == "required" and not has_args:
            file.problem(item_at, f"{name} needs options, such as {transform.example}")
            continue
        try:
            step = transform.build(args, resolver)
        except ArgError as exc:
            file.problem((*args_at, *exc.at), str(exc), key=exc.on_key)
            continue
        steps.append((step, name))
        names.append((name, args))
    return steps, names


def _check_enum(file: _File, shape: Shape, candidates: list[tuple[Any, YamlPath, str]]) -> None:
    enum = (shape.item if shape.kind == "list" and shape.item is not None else shape).enum
    if enum is None:
        return
    allowed = [str(member.value) for member in enum]
    for value, at, what in candidates:
        if value is not None and str(value) not in allowed and not isinstance(value, Placeholder):
            file.problem(at, f"{what} is not a valid {enum.__name__} (expected one of: {', '.join(allowed)})")


def _check_table_output(file: _File, shape: Shape, name: Any) -> None:
    table = file.tables.get(name) if isinstance(name, str) else None
    if table is None or table.policy == "keep":
        return
    candidates: list[tuple[Any, YamlPath, str]] = [
        (value, ("tables", name, "values", key), f"table {name!r} maps {key!r} to {value!r}, which")
        for key, value in table.values.items()]
    if table.policy == "default":
        candidates.append((table.default, ("tables", name, "default"), f"table {name!r} default {table.default!r}"))
    _check_enum(file, shape, candidates)


def _check_table_input(file: _File, shape: Shape, name: Any) -> None:
    table = file.tables.get(name) if isinstance(name, str) else None
    enum = shape.enum
    if table is None or enum is None:
        return
    allowed = [str(member.value) for member in enum]
    for key in table.values:
        if key not in allowed:
            file.problem(("tables", name, "values", key),
                         f"table {name!r} has key {key!r}, but its input is a {enum.__name__} "
                         f"(expected one of: {', '.join(allowed)})", key=True)
