"""Running the sandboxes of the installed connectors by name: ``hub sandbox`` and ``hub sandbox do``.

The emulators themselves are built on :mod:`hub.sandbox`; this finds them through the plug-in registry, so it sits
above the engine, beside the acceptance suite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from hub.errors import ConfigError, HubError, suggest
from hub.registry import connector_types
from hub.sandbox import CONTROL, Sandbox, published_ca
from hub.values import json_loads


def available_sandboxes() -> dict[str, Sandbox]:
    """A fresh, unstarted sandbox of every installed connector type that has one, by type name, sorted."""

    found = {name: cls.sandbox() for name, cls in sorted(connector_types().items())}
    return {name: sandbox for name, sandbox in found.items() if sandbox is not None}


def start_sandboxes(names: Iterable[str], *, port: int | None = None) -> dict[str, Sandbox]:
    """Start the sandboxes of the named connector types, each on its own fixed port (:attr:`Sandbox.port`).

    A name may be a connector type or the start of one (``onec`` for ``onec_odata``);
    no names means every installed connector that has a sandbox. ``port`` moves a
    single sandbox elsewhere.
    """

    types = available_sandboxes()
    chosen = list(dict.fromkeys(_resolve(name, types) for name in names or list(types)))
    if port is not None and len(chosen) != 1:
        raise ConfigError([f"--port {port} names one port for {len(chosen)} sandboxes"],
                          hint="name one system with --port, or leave each on its own fixed port")
    started: dict[str, Sandbox] = {}
    try:
        for type_name in chosen:
            sandbox = types[type_name]
            sandbox.start(port if port is not None else sandbox.port)
            started[type_name] = sandbox
    except OSError:
        for sandbox in started.values():
            sandbox.stop()
        raise
    return started


def _resolve(name: str, types: Mapping[str, Sandbox]) -> str:
    """The connector type ``name`` means: itself, or the one type starting with it."""

    matches = [t for t in types if t == name] or [t for t in types if t.startswith(name)]
    if len(matches) != 1:
        raise ConfigError([f"no sandbox named {name!r}" if not matches else
                           f"{name!r} could be {', '.join(matches)}"], hint=suggest(name, list(types)))
    return matches[0]


def control_help(sandbox: Sandbox, type_name: str) -> list[str]:
    """Lines telling what ``sandbox`` can be made to do: each action's command, its HTTP call and summary."""
    lines = []
    for action in sandbox.actions():
        lines.append(f"hub sandbox do {type_name} {action.usage()}")
        lines.append(f"    POST {CONTROL}/{action.path}: {action.summary}")
        lines.extend(f"    {p.name}: {p.help}" for p in action.params)
    return lines


def run_action(system: str, action_name: str, words: Sequence[str], *, port: int | None = None) -> Any:
    """``hub sandbox do``: run an action of the sandbox of ``system`` serving on 127.0.0.1; return its answer.

    ``words`` are the action's parameters as ``name=value``. The sandbox runs in
    another process (``hub sandbox``), on its fixed port unless ``port`` says otherwise.
    """

    types = available_sandboxes()
    type_name = _resolve(system, types)
    sandbox = types[type_name]
    actions = {action.name: action for action in sandbox.actions()}
    action = actions.get(action_name)
    if action is None:
        raise ConfigError([f"the {type_name} sandbox has no action {action_name!r}"],
                          hint=suggest(action_name, list(actions)))
    args = dict(word.partition("=")[::2] for word in words)
    known = {p.name for p in action.params}
    problems = [f"{word!r} is not name=value" for word in words if not word.partition("=")[0] or "=" not in word]
    problems += [f"{action.name} has no parameter {name!r}" for name in sorted(set(args) - known)]
    problems += [f"{action.name} needs {p.name}=…" for p in action.params if not p.optional and p.name not in args]
    if problems:
        raise ConfigError(problems, hint=f"usage: hub sandbox do {type_name} {action.usage()}")
    in_path = action.path_params()
    port = port or sandbox.port
    absent = HubError(f"no {type_name} sandbox answers at 127.0.0.1:{port}",
                      hint=f"start it in another terminal: hub sandbox {type_name}")
    # A sandbox serving HTTPS (OrangeData) is trusted through the CA it left where it serves, and no other.
    scheme, trust = ("http", True) if sandbox.tls is None else ("https", str(published_ca(port)))
    if isinstance(trust, str) and not Path(trust).is_file():
        raise absent
    try:
        answer = requests.post(f"{scheme}://127.0.0.1:{port}{action.url_path(args)}", timeout=60, verify=trust,
                               json={k: v for k, v in args.items() if k not in in_path})
    except requests.ConnectionError:
        raise absent from None
    try:
        result = json_loads(answer.content)
    except ValueError:
        result = answer.text
    if answer.status_code != 200:
        message = result.get("message") if isinstance(result, dict) else result
        raise HubError(f"{type_name} {action.name}: {message}")
    return result
