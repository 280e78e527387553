"""The closures a compiled mapping is made of: fields, nested objects, lists, and the objects' builders.

Mapping a record calls these and nothing else: a value field reads
(a getter, a constant or an expression), runs its transform steps and stores
the result; an object field maps a nested block; a list field maps every item
of a list. Empty values are left out, so a canonical model's own default
applies and 1C keeps its own.

A failure is raised with the field's path; fields of nested objects and list
items prefix it on the way up (``lines[2].product``). In preview the object
builder collects failures instead and goes on with the next field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hub.mapping._paths import MODELS, Path
from hub.mapping._runtime import Drop, Failure, Scope
from hub.mapping._transforms import AnyStep, ScopedStep, Step

FieldFn = Callable[[Scope, dict[str, Any]], None]
Reader = Callable[[Scope], Any]
Builder = Callable[[Scope], dict[str, Any]]
NO_DEFAULT: Any = object()
_ERRORS = (ValueError, TypeError, ArithmeticError)


def _store(target: Path) -> Callable[[dict[str, Any], Any], None]:
    *head, last = (str(segment) for segment in target)

    def store(out: dict[str, Any], value: Any) -> None:
        for key in head:
            out = out.setdefault(key, {})
        out[last] = value
    return store


def _run_chain(chain: tuple[tuple[AnyStep, bool], ...], value: Any, scope: Scope,
               labels: dict[Any, str]) -> tuple[Any, Any]:
    """Apply the steps; the value and the last step that ran. A failing step raises Failure with its name."""
    stage: Any = None
    for step, scoped in chain:
        stage = step
        try:
            value = step.call(value, scope) if scoped else step(value)  # type: ignore[union-attr, operator]
        except _ERRORS as exc:
            raise Failure(f"{labels.get(step, 'transform')}: {exc}") from None
        if value is None:
            break
    return value, stage


def value_field(*, target: Path, read: Reader, source_key: tuple[str, ...] | None, source_label: str,
                missing_reason: str, steps: Sequence[AnyStep], labels: dict[Any, str], default: Any,
                required: bool, when: Reader | None) -> FieldFn:
    """A field computed from one value: read → transform steps → default or required → store.

    The commonest shapes (a path, maybe one transform, into a plain key) get
    closures of their own: this is the innermost loop of every sync.
    """
    if len(target) == 1 and when is None:
        step = steps[0] if len(steps) == 1 else None
        label = labels.get(step, "transform")
        if source_key is not None and len(steps) <= 1 and not isinstance(step, ScopedStep):
            return SimpleField(key=str(target[0]), source=source_key, read=read, step=step, label=label,
                               missing_reason=missing_reason, default=default, required=required)
        if not steps:
            return _plain_field(key=str(target[0]), read=read, source_label=source_label,
                                missing_reason=missing_reason, default=default, required=required)
        if step is not None:
            return _one_step_field(key=str(target[0]), read=read, source_label=source_label,
                                   missing_reason=missing_reason, step=step, label=label, default=default,
                                   required=required)
    store = _store(target)
    chain = tuple((step, isinstance(step, ScopedStep)) for step in steps)

    def field(scope: Scope, out: dict[str, Any]) -> None:
        stage: Any = "when"
        try:
            if when is not None and not when(scope):
                return
            stage = source_label
            value = raw = read(scope)
            if value is not None:
                value, stage = _run_chain(chain, value, scope, labels)
        except _ERRORS as exc:
            raise Failure(f"{stage}: {exc}", path=list(target)) from None
        except Failure as failure:
            failure.path = list(target)
            raise
        if value is None:
            if default is NO_DEFAULT:
                if required:
                    raise Failure(missing_reason if raw is None else "required, but the value became empty "
                                  f"after {labels.get(stage, stage)}", path=list(target))
                return
            value = default
        store(out, value)
    return field


class SimpleField:
    """A field read from one key of the object with at most one plain transform: most fields of a mapping.

    The object builder maps these in one loop of its own instead of a call per
    field; calling the instance does the same work, for XML records and preview.
    """

    __slots__ = ("default", "key", "label", "missing_reason", "read", "required", "source", "step")

    def __init__(self, *, key: str, source: tuple[str, ...], read: Reader, step: Step | None, label: str,
                 missing_reason: str, default: Any, required: bool) -> None:
        self.key = key
        self.source = source
        self.read = read
        self.step = step
        self.label = label
        self.missing_reason = missing_reason
        self.default = default
        self.required = required

    def empty(self, out: dict[str, Any], raw: Any) -> None:
        """The value is empty: the default, a failure when required, or nothing."""
        if self.default is not NO_DEFAULT:
            out[self.key] = self.default
        elif self.required:
            raise Failure(self.missing_reason if raw is None else
                          f"required, but the value became empty after {self.label}", path=[self.key])

    def __call__(self, scope: Scope, out: dict[str, Any]) -> None:
        raw = self.read(scope)
        value = raw
        if raw is not None and self.step is not None:
            try:
                value = self.step(raw)
            except _ERRORS as exc:
                raise Failure(f"{self.label}: {exc}", path=[self.key]) from None
            except Failure as failure:
                failure.path = [self.key]
                raise
        if value is None:
            self.empty(out, raw)
        else:
            out[self.key] = value


def _finisher(key: str, missing_reason: str, default: Any, required: bool,
              label: str) -> Callable[[dict[str, Any], Any], None]:
    def finish(out: dict[str, Any], raw: Any) -> None:
        if default is not NO_DEFAULT:
            out[key] = default
        elif required:
            raise Failure(missing_reason if raw is None else f"required, but the value became empty after "
                          f"{label}", path=[key])
    return finish


def _plain_field(*, key: str, read: Reader, source_label: str, missing_reason: str, default: Any,
                 required: bool) -> FieldFn:
    finish = _finisher(key, missing_reason, default, required, source_label)

    def field(scope: Scope, out: dict[str, Any]) -> None:
        try:
            value = read(scope)
        except _ERRORS as exc:  # expressions can fail; paths cannot
            raise Failure(f"{source_label}: {exc}", path=[key]) from None
        if value is None:
            finish(out, value)
        else:
            out[key] = value
    return field


def _one_step_field(*, key: str, read: Reader, source_label: str, missing_reason: str, step: AnyStep,
                    label: str, default: Any, required: bool) -> FieldFn:
    plain: Step | None = None if isinstance(step, ScopedStep) else step
    scoped = step.call if isinstance(step, ScopedStep) else None
    finish = _finisher(key, missing_reason, default, required, label)

    def field(scope: Scope, out: dict[str, Any]) -> None:
        stage = source_label
        try:
            value = raw = read(scope)
            if value is not None:
                stage = label
                value = plain(value) if plain is not None else scoped(value, scope)  # type: ignore[misc]
        except _ERRORS as exc:
            raise Failure(f"{stage}: {exc}", path=[key]) from None
        except Failure as failure:
            failure.path = [key]
            raise
        if value is None:
            finish(out, raw)
        else:
            out[key] = value
    return field


def listwise(steps: Sequence[AnyStep], labels: dict[Any, str]) -> ScopedStep:
    """Steps applied to every value of a list (or to one value, giving a list): phones, barcodes."""
    chain = tuple((step, isinstance(step, ScopedStep)) for step in steps)

    def each(value: Any, scope: Scope) -> Any:
        results = []
        for item in value if type(value) is list else [value]:
            if item is not None:
                result, _ = _run_chain(chain, item, scope, labels)
                if result is not None:
                    results.append(result)
        return results
    return ScopedStep(each)


def _guarded(condition: Reader, label: str, target: Path) -> Reader:
    def check(scope: Scope) -> Any:
        try:
            return condition(scope)
        except _ERRORS as exc:
            raise Failure(f"{label}: {exc}", path=list(target)) from None
    return check


def object_field(*, target: Path, read: Reader | None, missing_reason: str, build: Builder, required: bool,
                 when: Reader | None) -> FieldFn:
    """A nested object mapped by its own block, from the same scope or from a path (``from``)."""
    store = _store(target)
    prefix = list(target)
    guard = None if when is None else _guarded(when, "when", target)

    def field(scope: Scope, out: dict[str, Any]) -> None:
        if guard is not None and not guard(scope):
            return
        inner = scope
        if read is not None:
            node = read(scope)
            if node is None:
                if required:
                    raise Failure(missing_reason, path=list(target))
                return
            inner = Scope(node, scope.root, scope, None, scope.run)
        failures = scope.run.failures
        if failures is None:
            try:
                value = build(inner)
            except Failure as failure:
                failure.path[:0] = prefix
                raise
        else:
            since = len(failures)
            value = build(inner)
            for collected in failures[since:]:
                collected.path[:0] = prefix
        store(out, value)
    return field


def list_field(*, target: Path, read: Callable[[Scope], list[Any]], missing_reason: str, build: Builder,
               skips: Sequence[tuple[str, Reader]], required: bool, when: Reader | None) -> FieldFn:
    """A list: every item of the source list mapped by the block, minus skipped and dropped items."""
    store = _store(target)
    prefix = list(target)
    guard = None if when is None else _guarded(when, "when", target)
    skip_tests = tuple((test, f"skip_when {text!r}") for text, test in skips)

    def skipped(inner: Scope) -> bool:
        for test, label in skip_tests:
            try:
                if test(inner):
                    return True
            except _ERRORS as exc:
                raise Failure(f"{label}: {exc}") from None
        return False

    def collect(scope: Scope, items: list[Any], failures: list[Failure]) -> list[Any]:
        results = []
        for index, item in enumerate(items):
            inner = Scope(item, scope.root, scope, index, scope.run)
            since = len(failures)
            try:
                if not (skip_tests and skipped(inner)):
                    results.append(build(inner))
            except Drop as drop:
                failures.append(Failure(drop.reason, dropped=True))
            except Failure as failure:
                failures.append(failure)
            for collected in failures[since:]:
                collected.path[:0] = [*prefix, index]
        return results

    def field(scope: Scope, out: dict[str, Any]) -> None:
        if guard is not None and not guard(scope):
            return
        items = read(scope)
        if not items and required:
            raise Failure(missing_reason, path=list(target))
        run = scope.run
        if run.failures is not None:
            store(out, collect(scope, items, run.failures))
            return
        results = []
        # One scope serves every item in turn: nothing keeps a scope after its item is mapped.
        inner = Scope(None, scope.root, scope, None, run)
        for index, item in enumerate(items):
            inner.data = item
            inner.index = index
            try:
                if skip_tests and skipped(inner):
                    continue
                results.append(build(inner))
            except Drop:
                continue
            except Failure as failure:
                failure.path[:0] = [*prefix, index]
                raise
        store(out, results)
    return field


def builder(fields: Sequence[FieldFn], constants: dict[str, Any] | None = None) -> Builder:
    """The block's object: its constants, its simple fields in one loop, then every other field.

    In preview every field is called in turn, and its failure collected instead of raised.
    """
    chain = tuple(fields)
    simple = tuple((field.key, field.source[0], field.source[1:], field.step, field)
                   for field in chain if isinstance(field, SimpleField))
    others = tuple(field for field in chain if not isinstance(field, SimpleField))
    template = dict(constants or {})

    def build(scope: Scope) -> dict[str, Any]:
        out = template.copy() if template else {}
        failures = scope.run.failures
        if failures is not None:
            for field in chain:
                try:
                    field(scope, out)
                except Failure as failure:
                    failures.append(failure)
            return out
        obj = scope.data
        kind = type(obj)
        get = obj.get if kind is dict else obj.__dict__.get if kind in MODELS else None
        if get is None:  # XML, or an object not met before: each field reads for itself
            for field in chain:
                field(scope, out)
            return out
        for key, first, rest, step, spec in simple:
            raw = get(first)
            for name in rest:  # deeper keys: product.id
                kind = type(raw)
                if kind is dict:
                    raw = raw.get(name)
                elif kind in MODELS:
                    raw = raw.__dict__.get(name)
                else:  # None, XML or anything unusual: the field's own reader from the start
                    raw = None if raw is None else spec.read(scope)
                    break
            if raw is None:
                spec.empty(out, raw)
                continue
            if step is None:
                out[key] = raw
                continue
            try:
                value = step(raw)
            except _ERRORS as exc:
                raise Failure(f"{spec.label}: {exc}", path=[key]) from None
            except Failure as failure:
                failure.path = [key]
                raise
            if value is None:
                spec.empty(out, raw)
            else:
                out[key] = value
        for field in others:
            field(scope, out)
        return out
    return build
