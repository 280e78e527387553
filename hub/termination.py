"""Waiting for SIGTERM or Ctrl-C in a command that runs until stopped (``hub daemon``, ``hub sandbox``).

On POSIX the signals are blocked before any thread starts (threads inherit the
mask) and taken with ``sigwait``: no handler runs at an arbitrary moment of the
main thread, so none can deadlock on a lock the main thread holds, and a signal
that arrives early stays pending until :meth:`Termination.wait`. Windows has
neither call and gets a handler that sets an event.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


class Termination:
    """``arm()`` before starting anything; ``wait()`` returns once SIGTERM or SIGINT arrived."""

    def __init__(self) -> None:
        self._blocking = hasattr(signal, "pthread_sigmask") and hasattr(signal, "sigwait")
        self._stop = threading.Event()

    def arm(self) -> None:
        if self._blocking:
            signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        else:
            for signum in SIGNALS:
                signal.signal(signum, lambda *_: self._stop.set())

    def wait(self) -> None:
        if self._blocking:
            signal.sigwait(SIGNALS)
        else:
            self._stop.wait()
