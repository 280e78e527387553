"""Both cloud cash register sandboxes print a receipt by themselves a while after it was registered, as the
services do: its status turns done when asked with no ``process`` call, and its report is posted to its callback
URL; stopping a sandbox posts the callbacks it still owes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import requests
from werkzeug.wrappers import Request, Response

from connectors.atol import AtolConnector, AtolSandbox, AtolSettings
from connectors.orangedata import OrangeDataConnector, OrangeDataSandbox, OrangeDataSettings
from hub.connector import Connector, ConnectorContext
from hub.fiscal import Fiscal, FiscalSettings, Outcome, Receipt, fiscal_stream, issuer, prepayment
from hub.inbound import json_response
from hub.model import Order
from hub.sandbox import Processing, Sandbox
from hub.values import json_loads, zone

T = TypeVar("T")
DEADLINE = 20.0
"""Seconds a poll waits at most: far beyond the sandbox's delay, so a slow machine never fails a test."""


class Hub(Sandbox):
    """Where the services post their callbacks: answers 200 and keeps each request (``requests``)."""

    name = "callbacks"

    def handle(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    def source_settings(self) -> dict[str, Any]:
        return {}


def poll(ask: Callable[[], T | None]) -> T:
    """What ``ask`` answers once it answers something, asked until the deadline."""
    deadline = time.monotonic() + DEADLINE
    while (answer := ask()) is None:
        assert time.monotonic() < deadline, "nothing came before the deadline"
        threading.Event().wait(0.05)  # between two polls, not waiting for an outcome
    return answer


def connector(service: Sandbox, callback_url: str) -> Connector:
    context = ConnectorContext(source="kkt", timezone=zone("Europe/Moscow"), log=logging.getLogger("t"))
    settings = {**service.source_settings(), "callback_url": callback_url}
    if isinstance(service, AtolSandbox):
        return AtolConnector(AtolSettings.model_validate({**settings, "type": "atol"}), context)
    return OrangeDataConnector(OrangeDataSettings.model_validate({**settings, "type": "orangedata"}), context)


def receipts_of(service: Sandbox, callback_url: str) -> tuple[Fiscal[Connector], Receipt]:
    """The service's receipts stream, and ORDER's prepayment receipt as its connector's settings issue it."""
    kkt = connector(service, callback_url)
    stream, settings = fiscal_stream(kkt), kkt.settings
    assert stream is not None and isinstance(settings, FiscalSettings)
    return stream, prepayment(ORDER, {}, settings, issuer(None, settings))


ORDER = Order.model_validate({"channel": "shop", "external_id": "9", "created_at": "2026-01-05T10:00:00+03:00",
                              "total": "145", "customer": {"emails": ["a@b.ru"]},
                              "payments": [{"method": "card", "amount": "145", "paid": True}],
                              "lines": [{"product": "C", "name": "Круассан", "quantity": 1, "unit_price": "145",
                                         "sum": "145"}]})


@pytest.fixture(params=["atol", "orangedata"])
def service(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    made = AtolSandbox(print_after=0.2) if request.param == "atol" else OrangeDataSandbox(print_after=0.2)
    with made:
        yield made


def test_a_receipt_is_printed_by_itself_and_its_callback_posted(service: Sandbox) -> None:
    with Hub() as hub:
        stream, receipt = receipts_of(service, f"{hub.url}/kkt/callback")
        registered = stream.register(receipt)
        assert registered.status == "wait"

        def printed() -> Outcome | None:
            outcome = stream.outcome(receipt, registered.ref)
            return outcome if outcome is not None and outcome.status == "done" else None

        done = poll(printed)
        assert done.fiscal_sign and done.document_number
        posted = poll(lambda: next((r for r in hub.requests if r.path == "/kkt/callback"), None))
        report = json_loads(posted.body)
        # ATOL's report names the receipt by its uuid, OrangeData's result by hub's id.
        assert report.get("uuid", report.get("id")) in (registered.ref, receipt.id)
        stream.connector.close()


def test_a_callback_owed_when_the_sandbox_stops_is_posted_before_it_stops() -> None:
    with Hub() as hub:
        lock = threading.Lock()
        processing = Processing("kkt", lock, lambda key: (f"{hub.url}/callback", {"id": key}), after=0.0)
        processing.start()
        with lock:
            processing.queue("shop:1:prepayment")
            processing.settle("shop:1:prepayment")  # printed when asked: its callback is owed
        processing.stop()
        assert [json_loads(r.body) for r in hub.requests] == [{"id": "shop:1:prepayment"}]


def test_without_a_delay_nothing_is_printed_until_a_test_says_so() -> None:
    processing = Processing("kkt", threading.Lock(), lambda key: None, after=None)
    with processing._wake:
        processing.queue("a")
        processing.settle("a")
    assert processing.finish_all() == ["a"]
    assert processing.finish_all() == []  # each document is finished once


@pytest.mark.parametrize("kind", ["atol", "orangedata"])
def test_a_receipt_the_register_fails_may_be_resent_and_one_refused_at_registration_may_not(kind: str) -> None:
    made = AtolSandbox() if kind == "atol" else OrangeDataSandbox()
    with made as service:
        stream, receipt = receipts_of(service, "http://127.0.0.1:9/unused")
        registered = stream.register(receipt)
        # Through the control endpoint, as `hub sandbox do` does: ATOL's driver fails it, OrangeData lets it expire.
        args = {"fail": "Ошибка ФН"} if kind == "atol" else {"expire": "yes"}
        answer = requests.post(f"{service.url}/_sandbox/process", json=args, timeout=10,
                               verify=str(service.ca_cert) if service.ca_cert else True)
        assert answer.status_code == 200, answer.text
        failed = stream.outcome(receipt, registered.ref)
        assert failed is not None and (failed.status, failed.resend) == ("fail", True)

        refused = stream.register(receipt.model_copy(update={"id": "shop:9:full", "lines": []}))
        assert (refused.status, refused.resend, refused.refused) == ("fail", False, True) and refused.reason
        stream.connector.close()
