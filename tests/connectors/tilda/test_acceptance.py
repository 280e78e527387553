"""The Tilda connector runs the standard acceptance suite: its CommerceML check over the sandbox's faults, and
its cart webhook as a push endpoint."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

import pytest

from connectors.tilda import TildaSandbox
from connectors.tilda.sandbox import PROJECT, SECRET, encode
from connectors.tilda.webhook import FORM
from hub.connector import Connector, ConnectorContext
from hub.model import Entity, Product
from hub.registry import connector_types
from hub.runtime import StoreChannelState
from hub.sandbox import Sandbox
from hub.state import open_store
from hub.testing.acceptance import Answer, ConnectorAcceptance, Pushed, RecordingClock
from hub.values import json_dumps, json_loads, zone

API_KEY = "tilda-acceptance-api-key"


class TestTildaAcceptance(ConnectorAcceptance):
    connector_type = "tilda"
    entity = Entity.ORDERS
    push_path: ClassVar[str | None] = f"/{PROJECT}/{SECRET}"

    @pytest.fixture(autouse=True)
    def _state(self, tmp_path: Path) -> Iterator[None]:
        self.store = open_store(f"sqlite:///{tmp_path / 'channel.db'}")
        yield
        self.store.close()

    def connect(self, settings: dict[str, Any], clock: RecordingClock) -> Connector:
        """The suite's connector, with the channel state the runtime always gives one."""
        cls = connector_types()[self.connector_type]
        context = ConnectorContext(source="acceptance", timezone=zone("Europe/Moscow"), clock=clock,
                                   log=logging.getLogger("hub.connector.acceptance"),
                                   state=StoreChannelState(self.store, "acceptance"))
        return cls(cls.settings_model.model_validate(settings), context)

    def settings(self, sandbox: Sandbox) -> dict[str, Any]:
        settings = super().settings(sandbox)
        settings["projects"][PROJECT]["api_key"] = API_KEY
        settings["exchange"].update(timeout=0.5, retry={"attempts": 3, "backoff": 0.01, "max_backoff": 0.05})
        settings["feed"] = None  # the exchange is what the faults are checked on: one system per check
        return settings

    def secrets(self, settings: dict[str, Any]) -> list[str]:
        project = settings["projects"][PROJECT]
        return [settings["exchange"]["password"], project["secret"], project["api_key"]]

    def bad_settings(self, sandbox: Sandbox) -> dict[str, Any]:
        settings = self.settings(sandbox)
        settings["exchange"]["password"] = "wrong-" + settings["exchange"]["password"]
        return settings

    def push_body(self, sandbox: Sandbox, number: int) -> bytes:
        assert isinstance(sandbox, TildaSandbox)
        sandbox.site.goods["acceptance-good"] = Product(id="acceptance-good", name="Чай", article="TEA")
        return encode(sandbox.cart([("acceptance-good", Decimal(number))]), "json")[0]

    def push_headers(self, settings: dict[str, Any], body: bytes, *, credential: bool) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-API-Key": API_KEY if credential else "wrong-key"}

    def assert_error_shape(self, status: int, body: bytes) -> None:
        assert body.decode() and not body.startswith(b"{")  # Tilda's side reads plain text, as hub's "ok"

    def ping(self, pushed: Pushed, sandbox: Sandbox) -> Answer:
        """Tilda's connect-time test as captured: the single pair, no API key with it."""
        return pushed.post(self.push_path or "", b"test=test", {"Content-Type": FORM})

    def test_the_ping_with_the_api_key_as_a_field_answers_ok_and_stores_nothing(self, pushed: Pushed,
                                                                             sandbox: Sandbox) -> None:
        answer = pushed.post(self.push_path or "", urlencode({"test": "test", "X-API-Key": API_KEY}).encode(),
                             {"Content-Type": FORM})

        assert (answer.status, answer.body) == (200, b"ok")
        assert self.taken(pushed) == 0
        with pushed.store.reading() as state:
            assert state.inbox.count() == 0

    def test_an_order_with_the_api_key_as_a_field_is_taken_and_without_it_refused(self, pushed: Pushed,
                                                                               sandbox: Sandbox) -> None:
        assert isinstance(sandbox, TildaSandbox)
        cart = sandbox.cart([])
        refused = pushed.post(self.push_path or "", json_dumps(cart).encode(), {"Content-Type": "application/json"})
        taken = pushed.post(self.push_path or "", json_dumps({**cart, "X-API-Key": API_KEY}).encode(),
                            {"Content-Type": "application/json"})

        assert (refused.status, taken.status) == (401, 200)
        assert self.taken(pushed) == 1
        with pushed.store.reading() as state:
            [kept] = state.inbox.pending("acceptance", "orders")
        assert API_KEY.encode() not in kept.body and json_loads(kept.body)["X-API-Key"] == "***"


def test_the_sandbox_secret_is_what_the_suite_posts_to() -> None:
    sandbox = TildaSandbox()
    assert sandbox.secret == SECRET and dataclasses.is_dataclass(sandbox.site.quirks)
