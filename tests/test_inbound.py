"""What a connector's endpoint may do with what it received: the inbox before the answer."""

from __future__ import annotations

from typing import Any, cast

from hub.connector import Connector
from hub.inbound import Inbound
from hub.model import Entity, RawRecord
from hub.state import StateStore


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
