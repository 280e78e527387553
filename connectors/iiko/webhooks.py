"""iiko's webhooks: what iikoCloud POSTs to hub when something changes, and which re-read it calls for.

iikoCloud calls one URL per organization and API key (set with
``/api/1/webhooks/update_settings``, or in iikoWeb) with a JSON **array** of
events, and expects 200::

    [{"eventType": "StopListUpdate", "eventTime": "2024-01-02 03:04:05.678",
      "organizationId": "…", "correlationId": "…",
      "eventInfo": {"terminalGroupsStopListsUpdates": [{"id": "…", "isFull": true}]}}]

``eventTime`` is UTC. ``eventInfo`` of order events is the order itself (the
``OrderInfo`` of ``/deliveries/by_id``), but hub treats every event as a hint
and re-reads the source of truth: webhooks may repeat, come out of order, or be
missed, and iiko documents no retry. :func:`parse_events` tells, per event,
what to re-read (:class:`Reread`) and which ids.

Authentication [U]: the settings carry an ``authToken`` that iiko "passes to the
webhook handler"; receivers in the wild compare it with the ``Authorization``
header, sent bare or as ``Bearer <token>``. :func:`webhook_token` accepts both and
compares in constant time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from werkzeug.wrappers import Response

from connectors.iiko._wire import datetime_or_none, member, objects, text
from hub.errors import InvalidRecord
from hub.inbound import Token, shared
from hub.values import json_loads

EVENT_TYPES: Final = ("DeliveryOrderUpdate", "DeliveryOrderError", "ReserveUpdate", "ReserveError",
                      "TableOrderUpdate", "TableOrderError", "StopListUpdate", "PersonalShift",
                      "KitchenOrderUpdate", "NomenclatureUpdate", "BusinessHoursAndMappingUpdate")
"""Every ``WebHookEventType`` iiko's spec lists."""


class Reread(StrEnum):
    """What hub should read again from iikoCloud after an event."""

    DELIVERY = "delivery"
    """``/deliveries/by_id`` for :attr:`WebhookEvent.ids`."""
    TABLE_ORDER = "table_order"
    """``/order/by_id`` for :attr:`WebhookEvent.ids`."""
    STOP_LIST = "stop_list"
    """``/stop_lists`` of the terminal groups in :attr:`WebhookEvent.ids`."""
    MENU = "menu"
    """``/nomenclature`` from the kept revision."""
    RESERVE = "reserve"
    """A banquet or reservation changed; hub does not sync them, the event is only recorded."""
    NOTHING = "nothing"
    """Nothing hub keeps changed (personal shifts, kitchen and business-hours updates, unknown events)."""


_REREADS: Final[dict[str, Reread]] = {
    "DeliveryOrderUpdate": Reread.DELIVERY,
    "DeliveryOrderError": Reread.DELIVERY,
    "TableOrderUpdate": Reread.TABLE_ORDER,
    "TableOrderError": Reread.TABLE_ORDER,
    "StopListUpdate": Reread.STOP_LIST,
    "NomenclatureUpdate": Reread.MENU,
    "ReserveUpdate": Reread.RESERVE,
    "ReserveError": Reread.RESERVE,
}


@dataclass(frozen=True)
class WebhookEvent:
    """One event of a webhook call, read for what it asks hub to do."""

    event_type: str
    organization_id: str | None
    reread: Reread
    ids: tuple[str, ...] = ()
    """Order ids (deliveries, table orders, reserves) or terminal group ids (stop lists)."""
    event_time: dt.datetime | None = None
    correlation_id: str | None = None
    known: bool = True
    """False for an event type iiko's spec does not list (kept, never acted on)."""
    info: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def error(self) -> bool:
        """An order or reserve iiko failed to save (``…Error`` events): worth a look, not only a re-read."""
        return self.event_type.endswith("Error")


def webhook_token(token: str, refuse: Callable[[str], Response]) -> Token:
    """The check of iiko's ``authToken`` in the ``Authorization`` header, bare or as Bearer [U]; ``refuse`` words
    the 401."""
    return Token(shared(token), refuse, bare=True)


def parse_events(body: bytes) -> list[WebhookEvent]:
    """The events of a webhook body (an array, or a lone event object); :class:`InvalidRecord` if unreadable.

    Unknown event types are kept with :attr:`Reread.NOTHING` (iiko adds types over
    time); an event with no ``eventType`` at all makes the body invalid.
    """
    try:
        data = json_loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidRecord(f"iiko webhook body is not JSON: {exc}") from None
    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InvalidRecord("iiko webhook body is neither an array of events nor an event")
    events: list[WebhookEvent] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidRecord(f"iiko webhook event [{index}] is not an object")
        events.append(_event(item, index))
    return events


def _event(item: Mapping[str, Any], index: int) -> WebhookEvent:
    event_type = text(item.get("eventType"))
    if event_type is None:
        raise InvalidRecord(f"iiko webhook event [{index}] has no eventType")
    info = member(item, "eventInfo")
    reread = _REREADS.get(event_type, Reread.NOTHING)
    if reread is Reread.STOP_LIST:
        ids = tuple(i for i in (text(u.get("id")) for u in objects(info.get("terminalGroupsStopListsUpdates"))) if i)
    elif reread in (Reread.DELIVERY, Reread.TABLE_ORDER, Reread.RESERVE):
        order_id = text(info.get("id"))
        if order_id is None:
            raise InvalidRecord(f"iiko webhook event [{index}] ({event_type}) names no order")
        ids = (order_id,)
    else:
        ids = ()
    return WebhookEvent(event_type=event_type,
                        organization_id=text(item.get("organizationId")) or text(info.get("organizationId")),
                        reread=reread, ids=ids, event_time=datetime_or_none(item.get("eventTime"), dt.UTC),
                        correlation_id=text(item.get("correlationId")), known=event_type in EVENT_TYPES, info=info)
