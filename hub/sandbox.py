"""Sandboxes: local emulators of the external systems, for tests and ``hub demo``.

A sandbox is a WSGI application served on 127.0.0.1 (an ephemeral port unless
told otherwise) by werkzeug's threaded server. It behaves like the real system,
including its errors, and carries fault switches the acceptance suite and the
crash tests use:

* ``latency`` - seconds added before every answer;
* ``error_rate`` - share of requests answered 503 at random (seeded);
* :meth:`Faults.fail_next` - the next requests get a given status (429 with
  ``Retry-After``, 500, ...), then service resumes;
* :meth:`Faults.stall_next` - the next requests hang for a while (client timeouts);
* :meth:`Faults.drop_after_commit` - the next writes are committed, then the
  connection is closed without an answer (the lost-response case);
* ``on_request`` / ``on_commit`` - hooks called with every request, and after
  every committed write before its answer (tests use them to kill a client
  process at an exact point).

Every request is recorded in :attr:`Sandbox.requests` so tests can count calls.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Self

from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from hub.inbound import json_response

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class SeenRequest:
    """A request as the sandbox received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to hub's debug log, not to stderr where they would bury the demo's output."""

    def log(self, type: str, message: str, *args: Any) -> None:
        logging.getLogger("hub.sandbox").debug(message, *args)


class ConnectionDropped(Exception):
    """Raised inside a handler after the socket was closed on purpose; the server answers nothing."""


@dataclass
class Faults:
    """Fault switches; change them at any time from the test."""

    latency: float = 0.0
    error_rate: float = 0.0
    seed: int = 0
    on_request: Callable[[SeenRequest], None] | None = None
    on_commit: Callable[[SeenRequest], None] | None = None
    _scripted: deque[tuple[int, dict[str, str], bytes]] = field(default_factory=deque)
    _stalls: deque[float] = field(default_factory=deque)
    _drops: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._random.seed(self.seed)

    def fail_next(self, count: int = 1, *, status: int = 503, retry_after: str | None = None,
                  body: bytes = b"") -> None:
        """Answer the next ``count`` requests with ``status`` (and ``Retry-After`` if given)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._lock:
            self._scripted.extend((status, headers, body) for _ in range(count))

    def stall_next(self, count: int = 1, *, seconds: float = 2.0) -> None:
        """Hold the next ``count`` requests for ``seconds`` before handling them."""
        with self._lock:
            self._stalls.extend(seconds for _ in range(count))

    def drop_after_commit(self, count: int = 1) -> None:
        """Commit the next ``count`` writes but close the connection instead of answering."""
        with self._lock:
            self._drops += count

    def reset(self) -> None:
        with self._lock:
            self.latency = 0.0
            self.error_rate = 0.0
            self.on_request = None
            self.on_commit = None
            self._scripted.clear()
            self._stalls.clear()
            self._drops = 0

    def _before(self) -> tuple[float, tuple[int, dict[str, str], bytes] | None]:
        with self._lock:
            stall = self._stalls.popleft() if self._stalls else 0.0
            if self._scripted:
                return stall, self._scripted.popleft()
            if self.error_rate and self._random.random() < self.error_rate:
                return stall, (503, {}, b"")
            return stall, None

    def _take_drop(self) -> bool:
        with self._lock:
            if self._drops:
                self._drops -= 1
                return True
            return False


class Sandbox(ABC):
    """Base of every sandbox: serving, recording, faults. Subclasses implement :meth:`handle`."""

    name: str = "sandbox"
    port: int = 8199
    """Where ``hub sandbox`` serves it, the same every time, so a hub.yaml written for it keeps working."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.requests: list[SeenRequest] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wait = threading.Event()

    # --- what subclasses provide -------------------------------------------------------

    @abstractmethod
    def handle(self, request: Request) -> Response:
        """Answer one request as the real system would."""

    @abstractmethod
    def source_settings(self) -> dict[str, Any]:
        """Settings for a hub.yaml source pointing at this running sandbox (without ``type``).

        Values that are secrets in real life are returned as they are; ``hub demo``
        moves them into environment variables so its config shows the real pattern.
        """

    def demo_activity(self) -> list[str]:
        """Make something happen in the system, as a person would, for ``hub demo``; describe it."""
        return []

    def attach(self, partner_url: str) -> None:  # noqa: B027 - most systems never call hub
        """For a system that calls hub: ``hub demo`` serves this source's endpoints at ``partner_url``."""

    def job_options(self, job_type: str) -> dict[str, Any] | None:
        """Options for a ``job_type`` job reading from this sandbox in ``hub demo``; None if it cannot feed one."""
        return {}

    # --- serving -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.name} sandbox is not running")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1:``port`` (0 picks a free one) in a background thread; return the base URL."""
        self._server = make_server("127.0.0.1", port, self._wsgi, threaded=True,
                                   request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"sandbox-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many requests arrived, optionally of one method and under one path."""
        with self._lock:
            return sum(1 for r in self.requests
                       if (method is None or r.method == method) and r.path.startswith(path_prefix))

    def committed(self, request: Request) -> None:
        """Called by a handler right after it committed a write: may drop the connection (fault)."""
        if self.faults.on_commit is not None:
            self.faults.on_commit(SeenRequest(request.method, request.path, "", {}, b""))
        if self.faults._take_drop():
            sock = request.environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionDropped

    def _wsgi(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        seen = SeenRequest(request.method, request.path, request.query_string.decode("latin-1"),
                           dict(request.headers), request.get_data())
        with self._lock:
            self.requests.append(seen)
        if self.faults.on_request is not None:
            self.faults.on_request(seen)
        stall, scripted = self.faults._before()
        delay = self.faults.latency + stall
        if delay:
            self._wait.wait(delay)  # an injected fault: the client's timeout is what is under test
        if scripted is not None:
            status, headers, body = scripted
            response = Response(body, status=status, headers=headers)
        else:
            try:
                response = self.handle(request)
            except HTTPException as exc:
                response = json_response({"error": exc.name, "message": exc.description}, exc.code or 500)
            except ConnectionDropped:
                return []
        return response(environ, start_response)


def available_sandboxes() -> dict[str, Sandbox]:
    """A fresh, unstarted sandbox of every installed connector type that has one, by type name, sorted."""
    from hub.registry import connector_types

    found = {name: cls.sandbox() for name, cls in sorted(connector_types().items())}
    return {name: sandbox for name, sandbox in found.items() if sandbox is not None}


def start_sandboxes(names: Iterable[str], *, port: int | None = None) -> dict[str, Sandbox]:
    """Start the sandboxes of the named connector types, each on its own fixed port (:attr:`Sandbox.port`).

    A name may be a connector type or the start of one (``onec`` for ``onec_odata``);
    no names means every installed connector that has a sandbox. ``port`` moves a
    single sandbox elsewhere.
    """
    from hub.errors import ConfigError
    from hub.registry import suggest

    types = available_sandboxes()
    chosen: list[str] = []
    for name in names or list(types):
        matches = [t for t in types if t == name] or [t for t in types if t.startswith(name)]
        if len(matches) != 1:
            raise ConfigError([f"no sandbox named {name!r}" if not matches else
                               f"{name!r} could be {', '.join(matches)}"], hint=suggest(name, list(types)))
        chosen.append(matches[0])
    chosen = list(dict.fromkeys(chosen))
    if port is not None and len(chosen) != 1:
        raise ConfigError([f"--port {port} names one port for {len(chosen)} sandboxes"],
                          hint="name one system with --port, or leave each on its own fixed port")
    started: dict[str, Sandbox] = {}
    try:
        for type_name in chosen:
            sandbox = types[type_name]
            sandbox.start(port if port is not None else sandbox.port)
            started[type_name] = sandbox
    except OSError:
        for sandbox in started.values():
            sandbox.stop()
        raise
    return started
