"""The installed connectors and jobs (see :mod:`hub.plugins`), typed for the engine's upper layers."""

from __future__ import annotations

from hub.connector import Connector
from hub.jobrun import Job
from hub.plugins import CONNECTOR_GROUP, JOB_GROUP, installed


def connector_types() -> dict[str, type[Connector]]:
    """Every installed connector class, by its ``type:`` name."""
    return installed(CONNECTOR_GROUP)


def job_types() -> dict[str, type[Job]]:
    """Every installed job class, by its ``type:`` name."""
    return installed(JOB_GROUP)
