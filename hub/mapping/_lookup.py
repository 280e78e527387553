"""Value tables and id-link lookups, and what happens when nothing matches.

Both replace a value by another: a table from a list written in the mapping
(a channel's status word → hub's status → a 1C enum value), a lookup from the
id links the engine keeps (a channel's product id → 1C ``Ref_Key``). Both must
declare ``on_missing``, because a silent guess is how wrong documents reach 1C:

* ``dead_letter`` - the record goes to dead letters with the reason;
* ``drop`` - the list item (an order line) is left out; only inside ``each``;
* ``default`` - ``default`` is used instead;
* ``keep`` - tables only: the value passes unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from hub.errors import suggest
from hub.mapping._runtime import Drop, Failure, Scope
from hub.mapping._transforms import ArgError, Context, ScopedStep, Step, describe, to_text
from hub.model import Entity

TABLE_POLICIES = ("dead_letter", "drop", "default", "keep")
LOOKUP_POLICIES = ("dead_letter", "drop", "default")
_LOOKUP_OPTIONS = ("entity", "system", "system_from", "on_missing", "default")

Missing = Callable[[Any, str], Any]
"""Called with the unmatched value and the reason; returns the replacement or raises."""


def check_policy(options: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> str:
    """The declared ``on_missing`` of ``options``; ArgError when it is absent or unknown."""
    policy = options.get("on_missing")
    if policy is None:
        raise ArgError(f"{what} needs on_missing: what to do when nothing matches "
                       f"({', '.join(allowed)})")
    if policy not in allowed:
        raise ArgError(f"unknown on_missing {policy!r} ({suggest(str(policy), list(allowed))})", ("on_missing",))
    if policy == "default" and "default" not in options:
        raise ArgError("on_missing: default needs a default value", ("on_missing",))
    if policy != "default" and "default" in options:
        raise ArgError(f"default is used only with on_missing: default (this one is {policy})", ("default",))
    return str(policy)


def missing_handler(policy: str, default: Any, *, in_list: bool, unresolved: bool, what: str) -> Missing:
    """What a table or lookup does when nothing matches; ArgError for ``drop`` outside a list."""
    if policy == "drop" and not in_list:
        raise ArgError(f"{what} has on_missing: drop, which leaves out a list item, but this field is not "
                       f"inside each; use dead_letter or default here")

    def dead_letter(value: Any, reason: str) -> NoReturn:
        raise Failure(reason, unresolved=unresolved)

    def drop(value: Any, reason: str) -> NoReturn:
        raise Drop(reason)

    handlers: dict[str, Missing] = {
        "dead_letter": dead_letter,
        "drop": drop,
        "default": lambda value, reason: default,
        "keep": lambda value, reason: value,
    }
    return handlers[policy]


def _key(value: Any) -> str:
    # YAML keys are read as text, so 1, 1.5 and true in a table match the numbers and booleans of a payload.
    return value if type(value) is str else str(value)


def table_step(name: str, values: Mapping[str, Any], missing: Missing) -> Step:
    """The step that replaces a value through table ``name``."""
    absent = object()

    def step(value: Any) -> Any:
        found = values.get(_key(value), absent)
        if found is absent:
            return missing(value, f"{value!r} is not in table {name!r}")
        return found
    return step


def build_lookup(args: Any, ctx: Context) -> ScopedStep:
    """The ``lookup`` transform: ``{entity, system | system_from, on_missing, default}``."""
    if not isinstance(args, dict):
        raise ArgError(f"lookup takes options entity, system or system_from, on_missing, got {describe(args)}")
    for key in args:
        if key not in _LOOKUP_OPTIONS:
            raise ArgError(f"unknown option {key!r} of lookup ({suggest(key, list(_LOOKUP_OPTIONS))})", (key,),
                           on_key=True)
    entities = [e.value for e in Entity]
    entity = args.get("entity")
    if entity is None:
        raise ArgError(f"lookup needs entity: the kind of object the id names ({', '.join(entities)})")
    if entity not in entities:
        raise ArgError(f"unknown entity {entity!r} ({suggest(str(entity), entities)})", ("entity",))
    if ("system" in args) == ("system_from" in args):
        raise ArgError("lookup needs exactly one of system (a source name, e.g. iiko) or system_from "
                       "(a path to it, e.g. root.channel)")
    fixed: str | None = None
    system_get: Callable[[Scope], Any] | None = None
    if "system" in args:
        if not isinstance(args["system"], str):
            raise ArgError(f"system must be a source name, got {describe(args['system'])}", ("system",))
        fixed = args["system"]
    else:
        if not isinstance(args["system_from"], str):
            raise ArgError(f"system_from must be a path, got {describe(args['system_from'])}", ("system_from",))
        system_get = ctx.getter(args["system_from"], ("system_from",))
    policy = check_policy(args, LOOKUP_POLICIES, "lookup")
    default = ctx.constant(args["default"], ("default",)) if policy == "default" else None
    missing = missing_handler(policy, default, in_list=ctx.in_list, unresolved=True, what="this lookup")
    entity_name = str(entity)

    def step(value: Any, scope: Scope) -> Any:
        external_id = value if type(value) is str else to_text(value)
        if fixed is not None:
            system = fixed
        else:
            assert system_get is not None
            found = system_get(scope)
            if found is None:
                raise Failure(f"lookup: system_from {args['system_from']} is empty")
            system = to_text(found)
        links = scope.run.links
        ref = None if links is None else links.resolve(system, entity_name, external_id)
        if ref is None:
            return missing(value, f"no id link for {entity_name} {external_id!r} from {system}")
        return ref
    return ScopedStep(step)
