"""Yandex Eda runs the shared connector acceptance suite, its push checks against hub's own partner API.

Yandex pushes its orders to hub with a bearer token hub issued (``POST /security/oauth/token``), for dishes of
the menu hub serves it; the suite's connector keeps its channel state in the store the pushes are kept in, as
``hub daemon``'s does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.yandex_eda import YandexEdaSimulator
from connectors.yandex_eda.connector import YandexEdaConnector, YandexEdaSettings
from connectors.yandex_eda.orders import MEDIA_ORDER
from connectors.yandex_eda.sandbox import VENUE
from hub.connector import ConnectorContext
from hub.model import Entity, PriceEntry, Product
from hub.runtime import StoreChannelState, StoreLinks
from hub.sandbox import Sandbox
from hub.state import StateStore, open_store
from hub.testing.acceptance import ConnectorAcceptance, Pushed, RecordingClock
from hub.values import json_dumps, json_loads, to_decimal, zone

MENU = [Product(id="latte", name="Латте"), Product(id="cheese", name="Сыр", unit="kg", weighed=True)]
PRICES = [PriceEntry(product="latte", price_type="delivery", amount=Decimal("210.00")),
          PriceEntry(product="cheese", price_type="delivery", amount=Decimal("899.90"))]


class TestYandexEdaAcceptance(ConnectorAcceptance):
    connector_type = "yandex_eda"
    entity = Entity.ORDERS
    push_path = "/order"

    @pytest.fixture(autouse=True)
    def _store(self, tmp_path: Path) -> Iterator[None]:
        # The file the suite's push endpoints keep into: tokens and orders in one state DB, as the daemon has them.
        self.store: StateStore = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        yield
        self.store.close()

    def connect(self, settings: dict[str, Any], clock: RecordingClock) -> YandexEdaConnector:
        model = YandexEdaSettings.model_validate(settings)
        context = ConnectorContext(source="acceptance", timezone=zone("Europe/Moscow"),
                                   log=logging.getLogger("hub.connector.acceptance"), clock=clock,
                                   state=StoreChannelState(self.store, "acceptance"), links=StoreLinks(self.store))
        return YandexEdaConnector(model, context)

    def bad_settings(self, sandbox: Sandbox) -> dict[str, Any]:
        settings = self.settings(sandbox)
        return {**settings, "vendor": {**settings["vendor"], "client_secret": "wrong-secret"}}

    def secrets(self, settings: dict[str, Any]) -> list[str]:
        return [settings["vendor"]["client_secret"], *(client["client_secret"] for client in settings["clients"])]

    def push_body(self, sandbox: Sandbox, number: int) -> bytes:
        """An order of dishes on the menu hub serves, as Yandex reads the menu and places the order."""
        assert isinstance(sandbox, YandexEdaSimulator)
        served = self.served.connector
        served.write_batch(Entity.CATALOG, MENU)
        served.write_batch(Entity.PRICES, PRICES)
        sandbox.attach(self.served.url)
        dishes = sandbox.pull_menu(VENUE)["composition"]["items"]
        assert dishes, "hub's menu should list the goods it was given"
        lines = [(dish["id"], dish["name"], Decimal("0.305") if dish.get("isCatchweight") else Decimal(number),
                  to_decimal(dish["price"])) for dish in dishes]
        return json_dumps(sandbox.make_order(lines, restaurant_id=VENUE)).encode()

    def undecodable_push_body(self, sandbox: Sandbox) -> bytes:
        """A well-formed order the mapping cannot read: no paymentInfo, so no total."""
        order = json_loads(self.push_body(sandbox, 1))
        return json_dumps({key: value for key, value in order.items() if key != "paymentInfo"}).encode()

    def push_headers(self, settings: dict[str, Any], body: bytes, *, credential: bool) -> dict[str, str]:
        token = self._token(settings) if credential else "not-a-token-hub-issued"
        return {"Content-Type": MEDIA_ORDER, "Authorization": f"Bearer {token}"}

    def _token(self, settings: dict[str, Any]) -> str:
        client = settings["clients"][0]
        answer = requests.post(self.served.url + "/security/oauth/token", timeout=10, data={
            "client_id": client["client_id"], "client_secret": client["client_secret"],
            "grant_type": "client_credentials"})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def assert_error_shape(self, status: int, body: bytes) -> None:
        [error] = json_loads(body)
        assert error["code"] == status and error["description"], error

    def test_a_token_request_hub_fails_on_is_kept_without_its_client_secret(
            self, pushed: Pushed, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
        client = self.settings(sandbox)["clients"][0]
        connector = pushed.connector
        assert isinstance(connector, YandexEdaConnector)

        def broken(kind: str) -> list[tuple[str, str]]:
            raise RuntimeError("the state DB went away")

        monkeypatch.setattr(connector.state, "all", broken)
        answer = requests.post(pushed.url + "/security/oauth/token", timeout=10, data={
            "client_id": client["client_id"], "client_secret": client["client_secret"],
            "grant_type": "client_credentials"})

        assert answer.status_code == 500
        with pushed.store.reading() as state:
            [kept] = [state.inbox.get(n) for n in range(1, state.inbox.count() + 1)]
        assert kept is not None and client["client_secret"].encode() not in kept.body
        assert b"client_secret=***" in kept.body and client["client_id"].encode() in kept.body
