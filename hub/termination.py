"""Waiting for SIGTERM or Ctrl-C in a command that runs until stopped (``hub daemon``, ``hub sandbox``), and for
SIGHUP in one that reloads its configuration (``hub daemon``).

On POSIX the signals are blocked before any thread starts (threads inherit the
mask) and taken with ``sigwait``: no handler runs at an arbitrary moment of the
main thread, so none can deadlock on a lock the main thread holds, and a signal
that arrives early stays pending until :meth:`Termination.wait`. Windows has
neither call (nor SIGHUP) and gets a handler that sets an event.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
RELOAD = getattr(signal, "SIGHUP", None)


class Termination:
    """``arm()`` before starting anything; ``wait()`` returns once SIGTERM or SIGINT arrived, or, with
    ``reload``, SIGHUP (it then says so, and the caller reloads and waits again)."""

    def __init__(self, *, reload: bool = False) -> None:
        self._blocking = hasattr(signal, "pthread_sigmask") and hasattr(signal, "sigwait")
        self._signals = SIGNALS | ({RELOAD} if reload and RELOAD is not None and self._blocking else set())
        self._stop = threading.Event()

    def arm(self) -> None:
        if self._blocking:
            signal.pthread_sigmask(signal.SIG_BLOCK, self._signals)
        else:
            for signum in SIGNALS:
                signal.signal(signum, lambda *_: self._stop.set())

    def wait(self) -> bool:
        """Block until a signal came: True when it asks for a reload (SIGHUP), False when it asks to stop."""
        if self._blocking:
            return signal.sigwait(self._signals) == RELOAD
        self._stop.wait()
        return False
