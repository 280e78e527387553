"""The iikoCloud sandbox, clients pointed at it, and the OpenAPI checks every exchange goes through.

Every request the sandbox receives is validated against iiko's OpenAPI request
schema, and every JSON answer it gives against the response schema of its path
and status; a test fails at teardown if any exchange did not conform. A clone
without ``../shared`` lacks the document: there the exchanges go unchecked, so
the sandbox tests still run (CI has it, and fails its ``samples`` tests without it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from connectors.iiko import ApiLogin, AppCredentials, IikoClient, IikoSandbox
from hub import logs
from hub.http import HttpClient
from hub.sandbox import SeenRequest
from hub.settings import RetryPolicy
from hub.testing.acceptance import RecordingClock
from hub.values import json_loads, zone
from tests._shared import SAMPLES as SHARED_SAMPLES
from tests.connectors.iiko.openapi import SPEC, spec

SAMPLES = SHARED_SAMPLES / "iiko"
"""iiko's published examples and payloads from public issues (see SOURCES.md there); never copied here."""
MOSCOW = zone("Europe/Moscow")


def sample(relative: str) -> Any:
    return json_loads((SAMPLES / relative).read_bytes())


@pytest.fixture(autouse=True)
def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "SECRETS", logs.Secrets())


@dataclass
class Conformance:
    """OpenAPI problems found in the exchanges with one sandbox (none looked for without iiko's document)."""

    problems: list[str] = field(default_factory=list)
    checking: bool = field(default_factory=SPEC.is_file)

    def request(self, seen: SeenRequest) -> None:
        if not self.checking or seen.method != "POST" or seen.path not in spec().document["paths"]:
            return
        try:
            body = json_loads(seen.body)
        except ValueError:
            self.problems.append(f"request {seen.path}: not JSON")
            return
        self.problems += [f"request {seen.path}: {p}" for p in spec().request_errors(seen.path, body)]

    def response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        path = urlsplit(response.url).path
        if not self.checking or path not in spec().document["paths"] or not response.content:
            return
        body = json_loads(response.content)
        self.problems += [f"answer {path} {response.status_code}: {p}"
                          for p in spec().response_errors(path, response.status_code, body)]


@dataclass
class Stand:
    sandbox: IikoSandbox
    conformance: Conformance
    clock: RecordingClock

    def client(self, *, v2: bool = False, timeout: float = 5.0, api_login: str | None = None) -> IikoClient:
        """A client of the sandbox over real HTTP, checked by :attr:`conformance`, on a clock that never sleeps."""
        session = requests.Session()
        session.hooks["response"].append(self.conformance.response)
        http = HttpClient(base_url=self.sandbox.url, source="iiko-test", timeout=timeout, session=session,
                          retry=RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.02), clock=self.clock)
        credentials = (AppCredentials(self.sandbox.api_key, self.sandbox.app_id, self.sandbox.client_secret) if v2
                       else ApiLogin(api_login or self.sandbox.api_login))
        return IikoClient(http, credentials, timezone=MOSCOW)


@pytest.fixture
def stand() -> Iterator[Stand]:
    conformance = Conformance()
    with IikoSandbox() as sandbox:
        sandbox.faults.on_request = conformance.request
        yield Stand(sandbox, conformance, RecordingClock())
    assert conformance.problems == []


@pytest.fixture
def iiko(stand: Stand) -> IikoSandbox:
    return stand.sandbox


@pytest.fixture
def client(stand: Stand) -> IikoClient:
    return stand.client()
