"""Finding connectors and jobs through entry points.

A package adds a connector by declaring, in its own ``pyproject.toml``::

    [project.entry-points."hub.connectors"]
    mysystem = "mypackage.connector:MySystemConnector"

and a job type likewise under ``hub.jobs``. hub never imports either by name.

This module only loads them, so the configuration (which reads each one's settings model) can use it from below
the connector contract; :mod:`hub.registry` hands them out typed, to the layers above it.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from hub.errors import ConfigError

CONNECTOR_GROUP = "hub.connectors"
JOB_GROUP = "hub.jobs"


@cache
def installed(group: str) -> dict[str, Any]:
    """Every plug-in class of entry-point ``group``, by its ``type:`` name."""
    found: dict[str, Any] = {}
    problems: list[str] = []
    for point in entry_points(group=group):
        try:
            found[point.name] = point.load()
        except Exception as exc:  # a broken plug-in must not hide the others
            problems.append(f"entry point {point.name!r} in {group} ({point.value}) failed to load: {exc}")
    if problems:
        raise ConfigError(problems, hint="reinstall the package that provides it, or remove it")
    return found
