"""The state store: everything hub remembers between runs, in one SQL database.

Open it with :func:`open_store`; do work in :meth:`StateStore.transaction`,
which hands out a :class:`State` whose repositories (``links``, ``cursors``,
``inbox``, ``outbox``, ``fingerprints``, ``runs``, ``dead_letters``,
``discrepancies``, ``leases``) all write in that one transaction. That is how a cursor
advances together with the records it covers.
"""

from hub.state.store import (
    DeadLetter,
    Event,
    InboxItem,
    InboxStatus,
    LeaseInfo,
    LetterStatus,
    OutboxItem,
    OutboxStatus,
    RunCounts,
    RunInfo,
    RunStatus,
    State,
    StateStore,
    open_store,
)

__all__ = [
    "DeadLetter",
    "Event",
    "InboxItem",
    "InboxStatus",
    "LeaseInfo",
    "LetterStatus",
    "OutboxItem",
    "OutboxStatus",
    "RunCounts",
    "RunInfo",
    "RunStatus",
    "State",
    "StateStore",
    "open_store",
]
