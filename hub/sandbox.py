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

A system that finishes what it was sent by itself a while later (a cloud cash
register printing a receipt) does it through :class:`Processing`, a worker
thread the sandbox starts and stops with itself.

Every request is recorded in :attr:`Sandbox.requests` so tests can count calls.

An integrator drives a sandbox through its control endpoint, under ``/_sandbox/``
where no real system has a path: ``GET /_sandbox/`` lists the :class:`Action` s the
sandbox declares (:meth:`Sandbox.actions`), ``POST /_sandbox/<action path>`` runs
one with its parameters as a JSON object or in the query string, and
:func:`hub.testing.sandboxes.run_action` is ``hub sandbox do``. Control requests are neither recorded nor
subject to faults, so they change nothing a test of the real protocol counts.
"""

from __future__ import annotations

import contextlib
import logging
import random
import shutil
import socket
import ssl
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import requests
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from hub.inbound import json_response
from hub.values import json_dumps, json_loads

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
CONTROL = "/_sandbox"
"""Where every sandbox serves its control endpoint; no emulated system has a path there."""


@dataclass(frozen=True)
class Param:
    """One parameter of an :class:`Action`: a name, what it means, and whether it may be left out."""

    name: str
    help: str
    optional: bool = False


@dataclass(frozen=True)
class Action:
    """Something an integrator makes the emulated system do, as a person or the system itself would.

    ``path`` is below ``/_sandbox/``; a ``{name}`` segment in it is a parameter
    (``orders/{number}/status``). ``run`` takes the parameters as text, by name, and
    returns what happened, as JSON; it raises :class:`ActionRefused` when it cannot.
    """

    name: str
    path: str
    summary: str
    params: tuple[Param, ...]
    run: Callable[[dict[str, str]], Any]

    def url_path(self, args: Mapping[str, str]) -> str:
        """The path of a call with ``args``, below the sandbox's URL (the path's parameters filled in)."""
        segments = [quote(args[s[1:-1]], safe="") if _is_param(s) else s for s in self.path.split("/")]
        return f"{CONTROL}/{'/'.join(segments)}"

    def path_params(self) -> set[str]:
        """The names of the parameters that go in the path, not in the body."""
        return {s[1:-1] for s in self.path.split("/") if _is_param(s)}

    def usage(self) -> str:
        """``name param=… [optional=…]``, as ``hub sandbox do`` takes it."""
        return " ".join([self.name, *(f"[{p.name}=…]" if p.optional else f"{p.name}=…" for p in self.params)])

    def _match(self, segments: list[str]) -> dict[str, str] | None:
        own = self.path.split("/")
        if len(own) != len(segments) or any(not _is_param(o) and o != s for o, s in zip(own, segments, strict=True)):
            return None
        return {o[1:-1]: s for o, s in zip(own, segments, strict=True) if _is_param(o)}


class ActionRefused(Exception):
    """An action cannot be done as asked; ``status`` is the HTTP status the control endpoint answers with."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def number_param(name: str, text: str) -> Decimal:
    """A parameter that is a number (``12``, ``-3``, ``0.25``)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ActionRefused(f"{name}: {text!r} is not a number", 400)
    return number


def items_param(text: str) -> list[tuple[str, Decimal]]:
    """An ``items`` parameter, ``ID:QUANTITY,ID:QUANTITY`` (a quantity left out is 1), as (id, quantity) pairs."""
    items = []
    for word in filter(None, (w.strip() for w in text.split(","))):
        item, _, quantity = word.rpartition(":") if ":" in word else (word, "", "1")
        amount = number_param("items", quantity)
        if not item or amount <= 0:
            raise ActionRefused(f"items: {word!r} is not ID:QUANTITY with a quantity above 0", 400)
        items.append((item, amount))
    return items


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def attach_action(sandbox: Sandbox, example: str) -> Action:
    """The ``attach`` action of a system that calls hub: from now on it calls hub at the URL given."""

    def attach(args: dict[str, str]) -> dict[str, str]:
        sandbox.attach(args["url"])
        return {"attached": args["url"]}

    return Action("attach", "attach", "call hub at this URL from now on (run hub daemon first)",
                  (Param("url", f"hub daemon's URL and the source's inbound path, e.g. {example}"),), attach)


def needs_attach(calls: str | None) -> str:
    """Where an attached sandbox calls hub; refused, with what to do, while it is not attached."""
    if calls is None:
        raise ActionRefused("not attached to hub yet: run the attach action with hub daemon's URL first")
    return calls


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


Callback = tuple[str, Any]
"""Where a system posts a document's result once it is done (its callback URL), and the JSON it posts."""


class Processing:
    """Documents a system takes at once and finishes a while later by itself, as a cloud cash register prints a
    receipt a second or two after it was registered and then posts the report to the receipt's callback URL.

    Each document :meth:`queue` d is due ``after`` seconds later (None: never by itself, only by :meth:`finish_all`,
    the control a test takes). A due document is finished when it is next asked for (:meth:`settle`, from the
    status handler) or by the worker thread, whichever comes first, with ``finish(key)``; the worker posts the
    callbacks, off the request that finished the document. ``lock`` is the sandbox's own: :meth:`queue` and
    :meth:`settle` are called holding it, and ``finish`` is called holding it. Stopping posts every callback still
    owed before the thread ends, so none is lost to a sandbox stopped right after it printed.
    """

    def __init__(self, name: str, lock: threading.Lock, finish: Callable[[str], Callback | None], *,
                 after: float | None) -> None:
        self.name, self.after, self._finish = name, after, finish
        self._wake = threading.Condition(lock)
        self._due: dict[str, float] = {}
        self._callbacks: list[Callback] = []
        self._stopping = False
        self._thread: threading.Thread | None = None

    def queue(self, key: str) -> None:
        """Take document ``key``: it is due ``after`` seconds from now. Call holding the lock."""
        self._due[key] = time.monotonic() + self.after if self.after is not None else float("inf")
        self._wake.notify()

    def settle(self, key: str) -> None:
        """Finish document ``key`` now if it is due, as the system does when asked how one stands; its callback
        goes to the worker. Call holding the lock."""
        if self._due.get(key, float("inf")) <= time.monotonic():
            del self._due[key]
            self._owe(self._finish(key))
            self._wake.notify()

    def finish_all(self, finish: Callable[[str], Callback | None] | None = None) -> list[str]:
        """Finish every queued document now (with ``finish`` instead of the usual), post their callbacks, and
        return their keys: a test's control over when wait becomes done."""
        with self._wake:
            keys, self._due = list(self._due), {}
            callbacks = [callback for key in keys if (callback := (finish or self._finish)(key)) is not None]
        _post(callbacks)
        return keys

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name=f"sandbox-{self.name}-processing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _owe(self, callback: Callback | None) -> None:
        if callback is not None:
            self._callbacks.append(callback)

    def _work(self) -> None:
        while True:
            with self._wake:
                now = time.monotonic()
                for key in [key for key, at in self._due.items() if at <= now]:
                    del self._due[key]
                    self._owe(self._finish(key))
                callbacks, self._callbacks = self._callbacks, []
            _post(callbacks)
            with self._wake:
                if self._stopping and not self._callbacks:
                    return
                if not self._stopping and not self._callbacks:
                    now = time.monotonic()
                    waits = [at - now for at in self._due.values() if at != float("inf")]
                    self._wake.wait(max(min(waits), 0.0) if waits else None)


def _post(callbacks: list[Callback]) -> None:
    for url, body in callbacks:
        # A real service does not wait for hub to take a callback, nor retry one hub missed: hub's polling of the
        # status is what counts.
        with contextlib.suppress(requests.RequestException):
            requests.post(url, data=json_dumps(body).encode(), timeout=10,
                          headers={"Content-Type": "application/json; charset=utf-8"})


def published_ca(port: int) -> Path:
    """Where a sandbox serving HTTPS on 127.0.0.1:``port`` leaves the CA its certificate is signed by."""
    return Path(tempfile.gettempdir()) / f"hub-sandbox-{port}-ca.pem"


class Sandbox(ABC):
    """Base of every sandbox: serving, recording, faults. Subclasses implement :meth:`handle`."""

    name: str = "sandbox"
    port: int = 8199
    """Where ``hub sandbox`` serves it, the same every time, so a hub.yaml written for it keeps working."""
    gathers_orders: bool = False
    """A CRM: ``hub demo`` sends it every other channel's orders and 1C's customers too."""

    def __init__(self) -> None:
        self.tls: ssl.SSLContext | None = None
        """Set before :meth:`start`, the sandbox serves HTTPS with it (a system that takes client certificates)."""
        self.ca_cert: Path | None = None
        """With :attr:`tls`, the CA its certificate is signed by; left at :func:`published_ca` while it serves, so
        that ``hub sandbox do`` in another process can trust it."""
        self.faults = Faults()
        self.requests: list[SeenRequest] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wait = threading.Event()
        self.processing: Processing | None = None
        """Set by a system that finishes documents by itself a while after taking them; runs while it serves."""

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

    def actions(self) -> list[Action]:
        """What an integrator can make this system do through ``/_sandbox/`` and ``hub sandbox do``."""
        return []

    # --- serving -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.name} sandbox is not running")
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://127.0.0.1:{self._server.server_port}"

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1:``port`` (0 picks a free one) in a background thread; return the base URL."""
        self._server = make_server("127.0.0.1", port, self._wsgi, threaded=True,
                                   request_handler=_QuietHandler, ssl_context=self.tls)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"sandbox-{self.name}",
                                        daemon=True)
        self._thread.start()
        if self.processing is not None:
            self.processing.start()
        if self.ca_cert is not None:
            shutil.copyfile(self.ca_cert, published_ca(self._server.server_port))
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            if self.ca_cert is not None:
                published_ca(self._server.server_port).unlink(missing_ok=True)
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            if self.processing is not None:  # after the server: a callback a last request owes is still posted
                self.processing.stop()

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
        if request.path == CONTROL or request.path.startswith(CONTROL + "/"):
            return self._control(request)(environ, start_response)
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

    def _control(self, request: Request) -> Response:
        """The control endpoint: ``GET /_sandbox/`` lists the actions, ``POST /_sandbox/<path>`` runs one."""
        segments = request.path.removeprefix(CONTROL).strip("/").split("/")
        if segments == [""]:
            if request.method != "GET":
                return _refused(f"{CONTROL}/ lists the actions: use GET", 405)
            return json_response({"sandbox": self.name, "actions": [
                {"name": a.name, "method": "POST", "path": f"{CONTROL}/{a.path}", "summary": a.summary,
                 "params": [{"name": p.name, "help": p.help, "optional": p.optional} for p in a.params]}
                for a in self.actions()]})
        for action in self.actions():
            from_path = action._match(segments)
            if from_path is None:
                continue
            if request.method != "POST":
                return _refused(f"an action is run with POST {CONTROL}/{action.path}", 405)
            try:
                args = {**_control_args(request), **from_path}
                known = {p.name for p in action.params}
                missing = [p.name for p in action.params if not p.optional and not args.get(p.name)]
                if unknown := sorted(set(args) - known):
                    raise ActionRefused(f"{action.name} takes no {', '.join(unknown)}; it takes "
                                        f"{', '.join(sorted(known)) or 'nothing'}", 400)
                if missing:
                    raise ActionRefused(f"{action.name} needs {', '.join(missing)}", 400)
                return json_response(action.run(args))
            except ActionRefused as refused:
                return _refused(str(refused), refused.status)
            except requests.RequestException as exc:
                return _refused(f"hub did not answer: {exc}", 502)
        return _refused(f"no action at {request.path}; GET {CONTROL}/ lists them", 404)


def _control_args(request: Request) -> dict[str, str]:
    """An action's parameters: the query string's, then a JSON object's (numbers and text alike, as text)."""
    args = dict(request.args.items())
    if request.get_data():
        try:
            body = json_loads(request.get_data())
        except ValueError as exc:
            raise ActionRefused(f"the body is not JSON: {exc}", 400) from None
        if not isinstance(body, dict) or not all(isinstance(v, str | int | Decimal) for v in body.values()):
            raise ActionRefused("the body must be a JSON object of texts and numbers", 400)
        args.update({name: str(value) for name, value in body.items()})
    return args


def _refused(message: str, status: int) -> Response:
    return json_response({"error": "refused", "message": message}, status)
