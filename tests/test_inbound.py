"""What a connector's endpoint may do with what it received: the inbox before the answer."""

from __future__ import annotations

from typing import Any, cast

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from hub.connector import Connector
from hub.inbound import Inbound, Webhook, json_response
from hub.model import Entity, RawRecord
from hub.state import InboxStatus, StateStore
from hub.values import json_loads


class _Named:
    name = "site"


def test_a_batch_is_stored_once_with_credentials_left_out_and_the_worker_woken(store: StateStore) -> None:
    woken: list[Any] = []
    inbound = Inbound(store, cast(Connector, _Named()), lambda: woken.append(1))
    batch = [RawRecord(str(n), b"<good id='%d'/>" % n, "application/xml", {"Authorization": "Basic x", "X-Id": "1"})
             for n in range(3)]

    assert inbound.receive_many(Entity.CATALOG, batch) == 3
    assert inbound.receive_many(Entity.CATALOG, batch) == 0

    with store.reading() as state:
        kept = state.inbox.pending("site", "catalog")
    assert [(item.external_id, item.body, item.content_type) for item in kept] == [
        (str(n), b"<good id='%d'/>" % n, "application/xml") for n in range(3)]
    assert all("Authorization" not in item.headers and "X-Id" in item.headers for item in kept)
    assert woken == [1]  # only what was new wakes the worker


def _refusal(status: int, reason: str) -> Response:
    return json_response({"status": status, "why": reason}, status)


_KIT = Webhook(Entity.ORDERS, _refusal, media=lambda mimetype: mimetype == "application/json")


def _number(body: bytes) -> int:
    return int(json_loads(body)["n"])


def test_the_webhook_kit_keeps_each_refused_body_before_answering_in_the_systems_shape(store: StateStore) -> None:
    inbound = Inbound(store, cast(Connector, _Named()), lambda: None)
    wrong_type = Request(EnvironBuilder(method="POST", data=b'{"n": 1}', content_type="text/plain").get_environ())
    broken = Request(EnvironBuilder(method="POST", data=b'{"n": "x"}', content_type="application/json").get_environ())
    good = Request(EnvironBuilder(method="POST", data=b'{"n": 7}', content_type="application/json").get_environ())

    refused = _KIT.read(wrong_type, inbound, _number)
    assert isinstance(refused, Response) and refused.status_code == 415
    assert json_loads(refused.get_data()) == {"status": 415,
                                             "why": "expected Content-Type application/json, got 'text/plain'"}
    refused = _KIT.read(broken, inbound, _number)
    assert isinstance(refused, Response) and refused.status_code == 400
    assert _KIT.read(good, inbound, _number) == 7
    refused = _KIT.refuse(good, inbound, 404, "no order '7'", external_id="7")
    assert refused.status_code == 404

    with store.reading() as state:
        assert state.inbox.count(InboxStatus.REJECTED) == 3
        assert state.inbox.count(InboxStatus.PENDING) == 0
        [kept] = state.inbox.named("7", "site")
    assert (kept.body, kept.content_type, kept.error) == (b'{"n": 7}', "application/json", "no order '7'")
    assert _KIT.record(good, "7") == RawRecord("7", b'{"n": 7}', "application/json", dict(good.headers))
