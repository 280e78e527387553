"""One record's journey, for ``hub trace``: from what the channel sent to the 1C document and back.

A journey is read from what hub keeps anyway, so it cannot disagree with what
happened: the inbox (each payload as received, or refused with the reason) and
the ``events`` each stage writes in the transaction of the step it describes
(decoded, queued, customer matched, each write's answer with the target's
number, posted, status sent back, dead letter). A record is named by its key
(``shop:1001``), its channel's id (``1001``) or the number the target gave it
(1C's document number).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from hub.errors import ConfigError
from hub.logs import clean_error
from hub.model import Entity, personal_names
from hub.state import InboxItem, InboxStatus, StateStore

NUMBERED = ("created", "updated", "posted")
"""Steps whose detail carries the number the target gave the record."""


@dataclass(frozen=True)
class Step:
    at: dt.datetime
    stage: str
    detail: str
    run_id: int | None = None


@dataclass
class Journey:
    entity: str
    key: str
    steps: list[Step] = field(default_factory=list)
    bodies: dict[int, str] = field(default_factory=dict)
    """Inbox id → the payload as received (personal data masked unless asked for)."""

    def as_json(self, tz: ZoneInfo, *, bodies: bool = False) -> dict[str, Any]:
        """The journey; with ``bodies``, each payload as received too (``hub trace --json --body``)."""
        journey: dict[str, Any] = {
            "entity": self.entity, "key": self.key,
            "steps": [{"at": step.at.astimezone(tz), "stage": step.stage, "detail": step.detail,
                       "run_id": step.run_id} for step in self.steps]}
        if bodies:
            journey["received"] = [{"inbox_id": inbox_id, "body": body} for inbox_id, body in self.bodies.items()]
        return journey


def trace(store: StateStore, wanted: str, *, personal: bool) -> list[Journey]:
    """The journey of every record ``wanted`` names, oldest step first; ``personal`` shows received payloads
    unmasked (the admin's view, as ``hub customers show``). Masked, a payload's phones and emails are hidden, and
    the guest's names and delivery address as the record hub decoded from it has them (a payload that could not
    be decoded has no record to name them)."""
    with store.reading() as state:
        keys = state.events.keys(wanted, written_as=NUMBERED)
        source, _, external_id = wanted.partition(":")
        named = state.inbox.named(wanted) + (state.inbox.named(external_id, source) if external_id else [])
        keys += [_key(item) for item in named if _key(item) not in keys]
        journeys = [Journey(entity, key) for entity, key in keys]
        for journey in journeys:
            steps = [Step(e.at, e.stage, e.detail, e.run_id) for e in state.events.of(journey.entity, journey.key)]
            source, _, external_id = journey.key.partition(":")
            names = [] if personal else _personal(journey, state.outbox.payloads(journey.entity, journey.key))
            for item in state.inbox.named(external_id, source):
                if item.entity == journey.entity:
                    steps.append(_arrival(item))
                    body = item.body.decode("utf-8", "replace")
                    journey.bodies[item.id] = body if personal else clean_error(body, names)
            journey.steps = sorted(steps, key=lambda step: step.at)
    if not journeys:
        raise ConfigError([f"hub has no record {wanted!r}"],
                          hint="give a channel's order id (1001), its key (shop:1001) or the 1C document's number")
    return journeys


def _personal(journey: Journey, payloads: list[str]) -> list[str]:
    """The guest's names and address in the canonical records queued for ``journey``'s key."""
    entity = Entity(journey.entity)
    return [text for payload in payloads for text in personal_names(entity, payload, address=True)]


def _key(item: InboxItem) -> tuple[str, str]:
    """(entity, key) of the record a received payload carries."""
    return item.entity, f"{item.source}:{item.external_id}"


def _arrival(item: InboxItem) -> Step:
    kept = f"{len(item.body)} bytes kept as inbox {item.id}"
    if item.status == InboxStatus.REJECTED:
        return Step(item.received_at, "refused", f"{item.error}; {kept}")
    return Step(item.received_at, "received", kept)
