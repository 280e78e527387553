"""Test helpers shipped with hub: the connector acceptance suite and a real PostgreSQL server for tests."""

from __future__ import annotations

import os


def in_ci() -> bool:
    """Whether this is a CI run (``CI`` set, as CI services do): there a test that cannot run fails, never skips."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false")
