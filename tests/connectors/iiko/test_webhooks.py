"""iiko's webhook bodies: which re-read each event calls for, and who may send them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.wrappers import Response

from connectors.iiko import Reread, parse_events, webhook_token
from connectors.iiko.webhooks import EVENT_TYPES
from hub.errors import InvalidRecord
from hub.values import json_dumps
from tests.connectors.iiko.conftest import SAMPLES, sample
from tests.connectors.iiko.openapi import spec

TOKEN = "webhook-token-SECRET"


@pytest.mark.samples
def test_stop_list_update_names_the_terminal_groups_and_unknown_events_are_kept() -> None:
    body = (SAMPLES / "issue-and-test-payloads/webhook-body-stoplistupdate-and-unknown_tdeni-test.json").read_bytes()
    stop, unknown = parse_events(body)
    assert (stop.event_type, stop.reread, stop.ids, stop.organization_id) == (
        "StopListUpdate", Reread.STOP_LIST, ("tg",), "org")
    assert stop.event_time == dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert (unknown.event_type, unknown.reread, unknown.known, unknown.ids) == (
        "QuantumEntanglement", Reread.NOTHING, False, ())


@pytest.mark.samples
def test_a_delivery_update_asks_for_that_order() -> None:
    event = sample("issue-and-test-payloads/webhook-event-deliveryorderupdate-envelope_kebrick-readme.json")
    for body in (json_dumps([event]).encode(), json_dumps(event).encode()):  # an array, or one event alone
        (parsed,) = parse_events(body)
        assert (parsed.reread, parsed.ids, parsed.error) == (Reread.DELIVERY, ("497f6eca-6276-4993-bfeb-53cbbbba6f08",),
                                                             False)
        assert parsed.correlation_id == "48fb4cd3-2ef6-4479-bea1-7c92721b988c"


@pytest.mark.parametrize(("event_type", "reread"), [
    ("DeliveryOrderError", Reread.DELIVERY), ("TableOrderUpdate", Reread.TABLE_ORDER),
    ("TableOrderError", Reread.TABLE_ORDER), ("ReserveUpdate", Reread.RESERVE), ("ReserveError", Reread.RESERVE),
    ("NomenclatureUpdate", Reread.MENU), ("PersonalShift", Reread.NOTHING), ("KitchenOrderUpdate", Reread.NOTHING),
    ("BusinessHoursAndMappingUpdate", Reread.NOTHING),
])
def test_every_documented_event_type_has_its_reread(event_type: str, reread: Reread) -> None:
    info = {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}
    (event,) = parse_events(json_dumps([{"eventType": event_type, "organizationId": "o", "eventInfo": info}]).encode())
    assert event.reread is reread and event.known
    assert event.error is event_type.endswith("Error")
    assert event.ids == (() if reread in (Reread.NOTHING, Reread.MENU) else ("3fa85f64-5717-4562-b3fc-2c963f66afa6",))


@pytest.mark.samples
def test_the_documented_event_types_are_the_specs() -> None:
    listed = spec().components["iikoTransport.PublicApi.Contracts.WebHooks.WebHookEventType"]["enum"]
    assert tuple(listed) == EVENT_TYPES


@pytest.mark.parametrize("body", [b"not json", b"42", b"[1]", b'[{"eventInfo": {}}]',
                                  b'[{"eventType": "DeliveryOrderUpdate", "eventInfo": {}}]'])
def test_unreadable_bodies_are_invalid(body: bytes) -> None:
    with pytest.raises(InvalidRecord):
        parse_events(body)


def _problem(headers: dict[str, str], token: str = TOKEN) -> str | None:
    return webhook_token(token, lambda reason: Response(reason, 401)).problem_of(headers)


@pytest.mark.parametrize("header", [TOKEN, f"Bearer {TOKEN}", f"bearer  {TOKEN}"])
def test_the_token_is_taken_bare_or_as_bearer(header: str) -> None:
    assert _problem({"authorization": header}) is None


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": TOKEN + "x"}, {"X-Token": TOKEN}])
def test_a_wrong_or_missing_token_is_refused_without_showing_it(headers: dict[str, str]) -> None:
    problem = _problem(headers)
    assert problem is not None and TOKEN not in problem


def test_no_configured_token_refuses_everything() -> None:
    assert _problem({"Authorization": ""}, "") is not None
    assert _problem({"Authorization": "anything"}, "") == "no token is set up for this source"


@given(st.text(max_size=60))
def test_only_the_token_itself_passes(header: str) -> None:
    if header.strip() in (TOKEN, f"Bearer {TOKEN}"):
        return
    assert _problem({"Authorization": header}) is not None
