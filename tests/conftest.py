"""Fixtures shared by every test.

State-store fixtures run each test on both SQLite and a real PostgreSQL server:

* ``postgres_url`` - one PostgreSQL server for the whole session (started only if a test needs it);
* ``state_url`` - an empty database per test, once on SQLite and once on PostgreSQL
  (the PostgreSQL run carries the ``postgres`` marker: ``-m "not postgres"`` skips it);
* ``store`` - a migrated :class:`hub.state.StateStore` on ``state_url``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.state import StateStore, open_store
from hub.testing.postgres import create_database, postgres_server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a database on a PostgreSQL server started for this test session."""
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database of this test's own, on each dialect the state store supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    # Looked up here, not declared as an argument, so SQLite-only runs never start a server.
    return create_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    """A migrated state store on ``state_url``."""
    opened = open_store(state_url)
    yield opened
    opened.close()
