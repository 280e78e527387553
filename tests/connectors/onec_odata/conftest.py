"""1C sandboxes and clients pointed at them, on a clock that never really sleeps.

``cafe``/``reader`` are shared by a module's read-only tests (a sandbox costs half
a second to stop); tests that write or switch faults on take ``onec``/``client``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.onec_odata import OneCClient, OneCSandbox, service_root
from hub.http import HttpClient
from hub.settings import RetryPolicy
from hub.testing.acceptance import RecordingClock
from hub.values import zone
from tests._shared import SAMPLES as SHARED_SAMPLES

MOSCOW = zone("Europe/Moscow")
SAMPLES = SHARED_SAMPLES / "1c" / "odata"
"""Real 1C bodies, read where they are (never copied into the repo)."""


def connect(sandbox: OneCSandbox, *, password: str | None = None, **options: Any) -> OneCClient:
    """A client of ``sandbox`` over real HTTP with fast retries; ``options`` go to :class:`OneCClient`."""
    settings = sandbox.source_settings()
    http = HttpClient(base_url=service_root(settings["url"]), source="onec-test", timeout=2.0,
                      retry=RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.02), clock=RecordingClock(),
                      auth=(settings["username"], password or settings["password"]))
    return OneCClient(http, timezone=MOSCOW, **options)


@pytest.fixture
def onec() -> Iterator[OneCSandbox]:
    with OneCSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def client(onec: OneCSandbox) -> OneCClient:
    return connect(onec)


@pytest.fixture(scope="module")
def cafe() -> Iterator[OneCSandbox]:
    with OneCSandbox() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def reader(cafe: OneCSandbox) -> OneCClient:
    return connect(cafe)
