"""ATOL's callbacks: a report posted to hub makes hub ask ATOL, and what ATOL answers is kept before hub answers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from connectors.atol import AtolConnector, AtolSandbox, AtolSettings
from hub.connector import ConnectorContext
from hub.fiscal import RECEIPTS, Kept, fiscal_stream, issuer, prepayment
from hub.inbound import Endpoint
from hub.model import Order
from hub.values import json_dumps, zone


class Memory(dict[tuple[str, str], str]):
    """A channel state in memory."""

    def put_many(self, kind: str, payloads: Mapping[str, str]) -> None:
        self.update({(kind, key): payload for key, payload in payloads.items()})

    def get(self, kind: str, key: str) -> str | None:  # type: ignore[override]
        return super().get((kind, key))

    def all(self, kind: str) -> list[tuple[str, str]]:
        return sorted((key, payload) for (k, key), payload in self.items() if k == kind)

    def delete(self, kind: str, keys: Iterable[str]) -> None:
        for key in keys:
            self.pop((kind, key), None)


@pytest.fixture
def atol() -> Iterator[AtolSandbox]:
    with AtolSandbox() as sandbox:
        yield sandbox


def post(endpoint: Endpoint, body: object) -> tuple[int, bytes]:
    request = Request(EnvironBuilder(method="POST", data=json_dumps(body),
                                     content_type="application/json").get_environ())
    response = endpoint.handler(request, None, {})  # type: ignore[arg-type] # the endpoint keeps nothing inbound
    return response.status_code, response.get_data()


def test_a_callback_keeps_what_atol_reports_not_what_the_body_claims(atol: AtolSandbox) -> None:
    state = Memory()
    settings = AtolSettings.model_validate({**atol.source_settings(), "type": "atol",
                                            "callback_url": "http://127.0.0.1:1/atol/callback"})
    connector = AtolConnector(settings, ConnectorContext(source="atol", timezone=zone("Europe/Moscow"),
                                                         log=logging.getLogger("t"), state=state))
    stream = fiscal_stream(connector)
    assert stream is not None
    order = Order.model_validate({"channel": "shop", "external_id": "9", "created_at": "2026-01-05T10:00:00+03:00",
                                  "total": "145", "customer": {"emails": ["a@b.ru"]},
                                  "payments": [{"method": "card", "amount": "145", "paid": True}],
                                  "lines": [{"product": "C", "name": "Круассан", "quantity": 1, "unit_price": "145",
                                             "sum": "145"}]})
    receipt = prepayment(order, {}, settings, issuer(None, settings))
    outcome = stream.register(receipt)
    state.put_many(RECEIPTS, {receipt.id: Kept(receipt=receipt, outcome=outcome).model_dump_json()})
    endpoint, = connector.endpoints()

    forged = post(endpoint, {"uuid": outcome.ref, "status": "done"})  # ATOL has not printed it
    waiting = Kept.model_validate_json(state.get(RECEIPTS, receipt.id) or "").outcome
    assert forged[0] == 200 and waiting is not None and waiting.status == "wait"
    atol.process()
    status, _ = post(endpoint, atol.documents[receipt.id] | {"uuid": outcome.ref})
    kept = Kept.model_validate_json(state.get(RECEIPTS, receipt.id) or "")
    assert status == 200 and kept.outcome is not None and kept.outcome.status == "done"
    assert kept.outcome.document_number is not None
    assert post(endpoint, {"uuid": "not-ours"})[0] == 404
    assert post(endpoint, "[")[0] == 400
