"""Finding connectors and jobs through entry points.

A package adds a connector by declaring, in its own ``pyproject.toml``::

    [project.entry-points."hub.connectors"]
    mysystem = "mypackage.connector:MySystemConnector"

and a job type likewise under ``hub.jobs``. hub never imports either by name.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.connector import Connector
    from hub.jobs import Job

CONNECTOR_GROUP = "hub.connectors"
JOB_GROUP = "hub.jobs"


def _load(group: str) -> dict[str, Any]:
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


@cache
def connector_types() -> dict[str, type[Connector]]:
    """Every installed connector class, by its ``type:`` name."""
    return _load(CONNECTOR_GROUP)


@cache
def job_types() -> dict[str, type[Job]]:
    """Every installed job class, by its ``type:`` name."""
    return _load(JOB_GROUP)
