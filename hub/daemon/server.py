"""The daemon's HTTP side: the connectors' inbound endpoints, ``/healthz``, ``/readyz`` and ``/metrics``.

Served by cheroot (CherryPy's server): production-grade, pure Python so it
runs on Linux and on the Windows servers 1C often lives on, with a bounded
thread pool, request-size limits and a graceful stop that lets requests in
flight finish. TLS is left to a reverse proxy (see docs/operations.md).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from hub.daemon.metrics import CONTENT_TYPE, Metrics
from hub.inbound import Endpoint, Inbound, Refused, json_response
from hub.settings import InboundSettings

log = logging.getLogger("hub.daemon.http")

Readiness = Callable[[], dict[str, str]]
"""Each part the daemon needs (state DB, scheduler, worker) → "ok" or what is wrong with it."""

_BUILT_IN = ("healthz", "readyz", "metrics")
REQUEST_TIMEOUT = 30.0
"""Seconds a client has to send a whole request, headers and body, from its first byte; a slower one is cut off."""


@dataclass(frozen=True)
class Mounted:
    """A connector endpoint at its full path, with what it needs to serve a request."""

    source: str
    endpoint: Endpoint
    inbound: Inbound
    max_body: int

    @property
    def label(self) -> str:
        return f"{self.source}.{self.endpoint.name}"

    @property
    def settings(self) -> InboundSettings:
        return self.inbound.connector.settings.inbound

    @property
    def kept_as(self) -> str:
        """The entity what it refuses is kept under: the endpoint's, else its name."""
        return self.endpoint.entity.value if self.endpoint.entity else self.endpoint.name

    def refusal(self, status: int, reason: str) -> Response:
        """An error answer worded as this endpoint's system expects; hub's JSON when the connector names none."""
        if self.endpoint.refuse is not None:
            response = self.endpoint.refuse(status, reason)
            # A protocol that says failure in a 200 (CommerceML) keeps its status; the others get the error's.
            if response.status_code >= 400:
                response.status_code = status
            return response
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                429: "too_many_requests"}
        return _json({"error": code.get(status, "internal"), "message": reason}, status)


class DaemonApp:
    """The WSGI application: routing, body limits, metrics; handlers do the rest."""

    def __init__(self, mounted: Iterable[tuple[str, Mounted]], *, metrics: Metrics, readiness: Readiness,
                 ui: Callable[[Request], Response] | None = None) -> None:
        self.metrics = metrics
        self.readiness = readiness
        self.ui = ui
        """The operator's pages under /ui (:mod:`hub.daemon.ui`), which route within themselves."""
        self.throttle = Throttle()
        self.reading = Reading(REQUEST_TIMEOUT)
        self.routes: dict[str, Mounted] = {}
        self.prefixes: list[tuple[str, Mounted]] = []
        """Each source's path with one of its endpoints, longest first: who words a 404 or 405 under that path."""
        rules = [Rule(f"/{name}", endpoint=name, methods=["GET"]) for name in _BUILT_IN]
        if ui is not None:
            rules += [Rule(path, endpoint="ui", methods=["GET", "POST"]) for path in ("/ui", "/ui/<path:rest>")]
        for path, mount in mounted:
            self.routes[mount.label] = mount
            self.prefixes.append((path.removesuffix(mount.endpoint.rule.rstrip("/")).rstrip("/") + "/", mount))
            rules.append(Rule(path, endpoint=mount.label, methods=list(mount.endpoint.methods)))
        self.prefixes.sort(key=lambda pair: len(pair[0]), reverse=True)
        self.map = Map(rules, strict_slashes=False)

    def remount(self, mounted: Iterable[tuple[str, Mounted]]) -> None:
        """Serve ``mounted`` from now on (hub.yaml reloaded); a request already routed finishes with its mount."""
        fresh = DaemonApp(mounted, metrics=self.metrics, readiness=self.readiness, ui=self.ui)
        self.routes, self.prefixes, self.map = fresh.routes, fresh.prefixes, fresh.map

    def paths(self) -> list[str]:
        """Every served path with its methods, for the start-up message."""
        return sorted(f"{' '.join(sorted(r.methods or ()))} {r.rule}" for r in self.map.iter_rules())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        request = Request(environ)
        label = "unmatched"
        try:
            key, args = self.map.bind_to_environ(environ).match()
            label = str(key)
            if label not in self.routes:
                self.reading.done()  # the built-in paths take no body: the request is read
            response = self._dispatch(label, request, dict(args))
        except (NotFound, MethodNotAllowed) as exc:
            self.reading.done()  # nothing more of it is read
            response = self._unrouted(request, exc)
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            response = self._failed(label, request)
        self.metrics.request_served(label, response.status_code, time.monotonic() - started)
        return response(environ, start_response)

    def _dispatch(self, key: str, request: Request, args: dict[str, str]) -> Response:
        if key == "healthz":
            return _json({"status": "alive"})
        if key == "readyz":
            parts = self.readiness()
            ready = all(state == "ok" for state in parts.values())
            return _json({"status": "ready" if ready else "not ready", **parts}, 200 if ready else 503)
        if key == "metrics":
            return Response(self.metrics.exposition(), content_type=CONTENT_TYPE)
        if key == "ui" and self.ui is not None:
            return self.ui(request)
        mount = self.routes[key]
        client = (mount.source, client_of(request))
        wait = self.throttle.wait(client, mount.settings.auth_failures)
        if wait:
            refusal = mount.refusal(429, f"too many failed credential checks from {client[1]}; try again in {wait} s")
            refusal.headers.update({"Retry-After": str(wait), "Connection": "close"})  # its body is never read
            return refusal
        if mount.endpoint.authenticate is not None:
            refused = mount.endpoint.authenticate(request)
            if refused is not None:
                self._unauthorized(client, request, refused)
                refused.headers["Connection"] = "close"
                return refused
        too_large = _read_limited(request, mount.max_body)
        self.reading.done()
        if too_large is not None:
            reason = f"body larger than {mount.max_body} bytes (inbound.max_body)"
            if mount.endpoint.authenticate is None:  # nobody verified the sender: only a bounded start is kept
                mount.inbound.keep_unverified(too_large, reason, content_type=request.content_type or "",
                                              headers=dict(request.headers))
            else:
                mount.inbound.reject(mount.kept_as, too_large, f"{reason}; the first {mount.max_body} kept",
                                     content_type=request.content_type or "", headers=dict(request.headers))
            log.warning("%s %s refused: %s", request.method, request.path, reason)
            refusal = mount.refusal(413, reason)
            refusal.headers["Connection"] = "close"  # the rest of the body was not read
            return refusal
        try:
            response = mount.endpoint.handler(request, mount.inbound, args)
        except Refused as exc:
            return mount.refusal(400, exc.message)
        if response.status_code == 401:  # a protocol whose handler checks credentials itself (a signed body)
            self._unauthorized(client, request, response)
        return response

    def _unauthorized(self, client: tuple[str, str], request: Request, refusal: Response) -> None:
        """Count a failed credential check towards the client's throttle and log it (what the system was told, which
        never holds the credential): an integrator sees a channel set up with a wrong secret at once."""
        self.throttle.failed(client)
        log.warning("%s %s from %s refused %d: %s", request.method, request.path, client[1], refusal.status_code,
                    refusal.get_data(as_text=True)[:200].strip() or "credentials not accepted")

    def _unrouted(self, request: Request, exc: NotFound | MethodNotAllowed) -> Response:
        """404 or 405, in the words of the source whose path the request is under; hub's JSON elsewhere."""
        path = request.path.rstrip("/") + "/"
        mount = next((m for prefix, m in self.prefixes if path.startswith(prefix)), None)
        if mount is None:
            return _error(exc)
        reason = f"{request.method} {request.path}: {exc.description}"
        response = mount.refusal(exc.code or 404, reason)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    def _failed(self, label: str, request: Request) -> Response:
        """hub itself failed on a request: what was sent is kept (as rejected, never processed) for whoever looks
        into it, and the system is answered 500 in its own words."""
        reason = "hub failed to handle the request; see its log"
        mount = self.routes.get(label)
        if mount is None:
            return _json({"error": "internal", "message": reason}, 500)
        try:
            mount.inbound.reject(mount.kept_as, request.get_data(), f"{reason} ({mount.label})",
                                 content_type=request.content_type or "", headers=dict(request.headers))
        except Exception:  # the state DB may be what failed: the answer must still go out
            log.exception("%s %s: the body could not be kept", request.method, request.path)
        return mount.refusal(500, reason)


class Throttle:
    """Failed credential checks per (source, client) over the last minute: a client that failed too often is
    refused without its credentials being checked until the minute is over, so guessing them is slow."""

    WINDOW = 60.0
    _MOST_CLIENTS = 10_000
    """Clients remembered at once; beyond it, those whose failures are all older than the window are forgotten."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def wait(self, client: tuple[str, str], limit: int) -> int:
        """Whole seconds ``client`` must wait before its credentials are checked again; 0 when it need not."""
        with self._lock:
            failures = self._failures.get(client)
            if failures is None:
                return 0
            now = self._clock()
            while failures and failures[0] <= now - self.WINDOW:
                failures.popleft()
            if len(failures) < limit:
                return 0
            return max(1, math.ceil(failures[-limit] + self.WINDOW - now))

    def failed(self, client: tuple[str, str]) -> None:
        with self._lock:
            now = self._clock()
            if client not in self._failures and len(self._failures) >= self._MOST_CLIENTS:
                self._failures = {key: times for key, times in self._failures.items()
                                  if times and times[-1] > now - self.WINDOW}
            self._failures.setdefault(client, deque(maxlen=1000)).append(now)


class Reading:
    """Requests still being read, each by a worker thread: a watchdog cuts off those not sent whole within
    ``timeout`` seconds, and one client may have at most ``per_client`` being read at once (see
    :meth:`HttpServer.__init__`), so clients sending a byte now and then cannot hold every thread."""

    def __init__(self, timeout: float, per_client: int = 8) -> None:
        self.timeout = timeout
        self.per_client = per_client
        self._lock = threading.Lock()
        self._by_thread: dict[int, tuple[float, socket.socket, str]] = {}

    def start(self, conn: socket.socket) -> bool:
        """A request's first byte came on ``conn``: watch it; False when its client has too many being read."""
        try:
            peer = str(conn.getpeername()[0])
        except OSError:  # gone already
            return False
        with self._lock:
            if sum(1 for _, _, other in self._by_thread.values() if other == peer) >= self.per_client:
                return False
            self._by_thread[threading.get_ident()] = (time.monotonic() + self.timeout, conn, peer)
        return True

    def done(self) -> None:
        """This thread's request is read (the body too, if any): its handling has no deadline here."""
        with self._lock:
            self._by_thread.pop(threading.get_ident(), None)

    def cut_off_late(self) -> None:
        """Shut the connections whose request is past its deadline: their threads' reads end at once."""
        now = time.monotonic()
        with self._lock:
            late = [thread for thread, (deadline, _, _) in self._by_thread.items() if deadline <= now]
            cut = [self._by_thread.pop(thread) for thread in late]
        for _, conn, peer in cut:
            log.warning("cut off %s: it did not send its request within %.0f s", peer, self.timeout)
            with contextlib.suppress(OSError):  # closed meanwhile
                conn.shutdown(socket.SHUT_RDWR)


class _Connection(cheroot_server.HTTPConnection):
    """cheroot's connection, watched by :class:`Reading` while its request is read."""

    reading: Reading

    def communicate(self) -> bool:
        if not self.reading.start(self.socket):
            log.warning("refused a connection: its client already has %d requests being read",
                        self.reading.per_client)
            return False  # cheroot closes it
        try:
            return bool(super().communicate())  # type: ignore[no-untyped-call]
        finally:
            self.reading.done()


def client_of(request: Request) -> str:
    """The caller's address; behind a reverse proxy on this machine, the one the proxy says it forwarded."""
    address = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For")
    try:
        local = ipaddress.ip_address(address).is_loopback
    except ValueError:
        local = False
    if local and forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()  # the proxy appends the address it took the request from
    return address


def _read_limited(request: Request, limit: int) -> bytes | None:
    """Read the body into the request's cache if it fits in ``limit`` bytes; else return its first ``limit`` bytes."""
    if request.content_length is not None and request.content_length <= limit:
        request.get_data(cache=True)
        return None
    head = request.stream.read(limit + 1)
    if len(head) > limit:
        return head[:limit]
    request._cached_data = head  # the whole (chunked) body was read: handlers get it from get_data()
    return None


def _json(data: Any, status: int = 200) -> Response:
    return json_response(data, status)


def _error(exc: HTTPException) -> Response:
    response = _json({"error": (exc.name or "error").lower().replace(" ", "_"), "message": exc.description},
                     exc.code or 500)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


class _Server(wsgi.Server):
    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        log.log(level, "%s", msg, exc_info=traceback)


class HttpServer:
    """cheroot serving the app on ``host:port`` from a background thread."""

    def __init__(self, app: DaemonApp, host: str, port: int, *, threads: int, shutdown_timeout: float,
                 max_body: int) -> None:
        # A fixed pool (max = numthreads): a flood waits in the accept queue instead of growing threads without end.
        self._server = _Server((host, port), app, numthreads=threads, max=threads,
                               shutdown_timeout=round(shutdown_timeout), server_name="hub")
        # cheroot's own ceiling, well above every endpoint's: bigger bodies are cut off unread, not kept.
        self._server.max_request_body_size = max_body * 4
        # Half the threads at most for one client's requests still being read: the rest serve everyone else.
        app.reading.per_client = max(1, threads // 2)
        self._server.ConnectionClass = type("Connection", (_Connection,), {"reading": app.reading})
        self._reading = app.reading
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None

    def start(self) -> tuple[str, int]:
        """Bind (raises OSError when the port is taken) and serve; returns the address actually bound."""
        self._server.prepare()
        self._thread = threading.Thread(target=self._server.serve, name="http", daemon=True)
        self._thread.start()
        self._watchdog = threading.Thread(target=self._watch, name="http-watchdog", daemon=True)
        self._watchdog.start()
        host, port = self._server.bind_addr[:2]
        return str(host), int(port)

    def stop(self) -> None:
        """Stop accepting; let requests in flight finish (up to the shutdown timeout)."""
        self._stopped.set()
        self._server.stop()
        if self._thread is not None:
            self._thread.join()
        if self._watchdog is not None:
            self._watchdog.join()

    def _watch(self) -> None:
        while not self._stopped.wait(min(1.0, self._reading.timeout / 4)):
            self._reading.cut_off_late()
