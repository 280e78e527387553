"""Leases: a job runs in one process at a time, across every hub sharing the state database.

A lease is a row in the state DB naming its holder and when it expires. The
holder renews it from a heartbeat thread while it works; a holder that dies
stops renewing, and its lease is free after one time-to-live. A holder on
this very host whose process is gone is known dead at once, so a killed
``hub sync`` does not block the next one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from types import TracebackType

from hub.errors import JobBusy
from hub.state import StateStore

log = logging.getLogger("hub.leases")

DEFAULT_TTL = dt.timedelta(seconds=60)


def worker_id() -> str:
    """This process, as runs record it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_gone(holder: str) -> bool:
    """Whether ``holder`` (``host:pid…``) was a process on this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive but not ours to signal, or a platform without kill(pid, 0)
        return False
    return False


class Lease:
    """``with Lease(store, "job:orders"):`` holds the lease for the block, or raises JobBusy."""

    def __init__(self, store: StateStore, name: str, *, ttl: dt.timedelta = DEFAULT_TTL) -> None:
        self.store = store
        self.name = name
        self.ttl = ttl
        # Its own token: a daemon's scheduled run and its inbound worker, in one process, are still two holders.
        self.holder = f"{worker_id()}:{secrets.token_hex(4)}"
        self.lost = threading.Event()
        """Set when a renewal found the lease taken by another holder (this one stalled past its ttl)."""
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __enter__(self) -> Lease:
        with self.store.transaction() as state:
            current = state.leases.acquire(self.name, self.holder, self.ttl, dead=holder_gone)
        if current is not None:
            raise JobBusy(f"{self.name} is held by {current.holder} since {current.acquired_at:%Y-%m-%d %H:%M:%S} "
                          "UTC", holder=current.holder)
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._renew, name=f"lease-{self.name}", daemon=True)
        self._heartbeat.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def release(self) -> None:
        """Let the lease go (once; the end of the ``with`` block does it if this was not called)."""
        if self._heartbeat is None:
            return
        self._stop.set()
        self._heartbeat.join()
        self._heartbeat = None
        with self.store.transaction() as state:
            state.leases.release(self.name, self.holder)

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl.total_seconds() / 3):
            try:
                with self.store.transaction() as state:
                    kept = state.leases.renew(self.name, self.holder, self.ttl)
            except Exception:  # a database hiccup: the lease lasts until expiry, try again next beat
                log.warning("cannot renew lease %s", self.name, exc_info=True)
                continue
            if not kept:
                log.error("lease %s was lost: this process stalled longer than %s", self.name, self.ttl)
                self.lost.set()
                return
