"""``/ui``: the operator's web page served by ``hub daemon``.

Plain server-rendered HTML (Jinja2 templates in ``templates/``), one vendored chart library
(uPlot, in ``static/`` with its licence) and no build step. What each role may do::

    viewer    today per channel, the chart, jobs, dead letters (personal data masked), an order's trace
    operator  + retry and dismiss dead letters
    admin     + a guest's phone and orders, a dead letter's payload; each such view goes to the audit log

Users sign in with a name and password from hub.yaml's ``users:``; the session is a signed cookie
(HttpOnly, SameSite=Strict) and every POST carries the session's CSRF token. The role is looked up in the
config on each request, so a user removed from hub.yaml is out at the next reload.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.security import safe_join
from werkzeug.utils import redirect, send_file
from werkzeug.wrappers import Request, Response

from hub import customers, operations
from hub.config import Role, UserConfig
from hub.daemon import ui_view
from hub.daemon.server import Throttle, client_of
from hub.daemon.ui_auth import Session, Sessions, allowed, check_login
from hub.errors import HubError
from hub.runtime import Runtime
from hub.values import utcnow

log = logging.getLogger("hub.daemon.ui")

_HERE = Path(__file__).parent
STATIC = _HERE / "static"
LOGIN_FAILURES = 10
"""Failed sign-ins from one client within a minute before it must wait: guessing passwords is slow."""

_HEADERS = {
    # Scripts and styles only from /ui/static: an injected tag would not run even if escaping ever failed.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Forbidden(HTTPException):
    code = 403
    description = "your role does not allow this"


class Ui:
    """The /ui pages; ``runtime`` gives the daemon's current runtime (a reload may replace it)."""

    def __init__(self, runtime: Callable[[], Runtime], *, next_runs: Callable[[], dict[str, Any]],
                 wake: Callable[[], None]) -> None:
        self._runtime = runtime
        self._next_runs = next_runs
        self._wake = wake
        self.sessions = Sessions()
        self.throttle = Throttle()
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(_HERE / "templates"),
                                            autoescape=True, undefined=jinja2.StrictUndefined)
        self.map = Map([
            Rule("/ui", endpoint="index", methods=["GET"]),
            Rule("/ui/login", endpoint="login", methods=["GET", "POST"]),
            Rule("/ui/logout", endpoint="logout", methods=["POST"]),
            Rule("/ui/trace", endpoint="trace", methods=["GET"]),
            Rule("/ui/guest", endpoint="guest", methods=["GET"]),
            Rule("/ui/deadletters/<int:letter_id>", endpoint="letter", methods=["GET"]),
            Rule("/ui/deadletters/<int:letter_id>/retry", endpoint="retry", methods=["POST"]),
            Rule("/ui/deadletters/<int:letter_id>/dismiss", endpoint="dismiss", methods=["POST"]),
            Rule("/ui/static/<path:name>", endpoint="static", methods=["GET"]),
        ], strict_slashes=False)

    def __call__(self, request: Request) -> Response:
        try:
            endpoint, args = self.map.bind_to_environ(request.environ).match()
            response = self._route(str(endpoint), request, args)
        except Forbidden as exc:
            response = self._page("error.html", None, status=403, message=exc.description)
        except HTTPException as exc:
            response = exc.get_response()
        response.headers.update(_HEADERS)
        return response

    def _route(self, endpoint: str, request: Request, args: Mapping[str, Any]) -> Response:
        if endpoint == "static":
            return self._static(args["name"], request)
        if endpoint == "login":
            return self._login(request)
        session = self.sessions.read(request.cookies.get(Sessions.COOKIE))
        user = self._user(session)
        if session is None or user is None:
            return redirect(f"/ui/login?next={quote(request.full_path.rstrip('?'))}", 303)
        # As bytes: a csrf field with characters beyond ASCII is just stale, not a crash of compare_digest.
        if request.method == "POST" and not hmac.compare_digest(request.form.get("csrf", "").encode(),
                                                                session.csrf.encode()):
            raise Forbidden("the form is stale or came from another site: reload the page and try again")
        signed_in = Visitor(session, user, client_of(request))
        handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
        return handler(request, signed_in, **args)

    def _user(self, session: Session | None) -> tuple[str, UserConfig] | None:
        if session is None:
            return None
        user = self._runtime().config.users.get(session.user)
        return None if user is None else (session.user, user)

    # --- pages -----------------------------------------------------------------------------------

    def _index(self, request: Request, visitor: Visitor) -> Response:
        runtime = self._runtime()
        now = utcnow()
        with runtime.store.reading() as state:
            day = ui_view.today(state, runtime.config, now)
            jobs = ui_view.jobs(state, runtime.config, self._next_runs())
        letters = operations.dead_letters(runtime.store)
        chart = {"hours": [int(hour.timestamp()) for hour in day.hours], "series": day.per_hour,
                 "timezone": runtime.config.timezone.key}
        return self._page("index.html", visitor, day=day, jobs=jobs, letters=letters, chart=chart,
                          notice=request.args.get("notice", ""))

    def _trace(self, request: Request, visitor: Visitor) -> Response:
        wanted = request.args.get("order", "").strip()
        journeys = []
        if wanted:
            with self._runtime().store.reading() as state:
                journeys = [(entity, key, state.events.of(entity, key)) for entity, key in state.events.keys(wanted)]
        return self._page("trace.html", visitor, wanted=wanted, journeys=journeys)

    def _guest(self, request: Request, visitor: Visitor) -> Response:
        visitor.needs("admin")
        contact = request.args.get("contact", "").strip()
        runtime = self._runtime()
        try:
            found = customers.profile(runtime, contact)
        except HubError as exc:
            return self._page("guest.html", visitor, contact=contact, profile=None, problem=exc.message, status=404)
        visitor.audit(runtime, "guest_viewed", contact)
        return self._page("guest.html", visitor, contact=contact, profile=found, problem="")

    def _letter(self, request: Request, visitor: Visitor, letter_id: int) -> Response:
        visitor.needs("admin")  # the payload is the guest's order as the channel sent it: name, phone, address
        runtime = self._runtime()
        try:
            letter = operations.dead_letter(runtime.store, letter_id)
        except HubError:
            raise NotFound(f"no dead letter {letter_id}") from None
        visitor.audit(runtime, "dead_letter_payload_viewed", f"dead letter {letter_id}")
        return self._page("letter.html", visitor, letter=letter, payload=operations.readable_payload(letter.payload))

    def _retry(self, request: Request, visitor: Visitor, letter_id: int) -> Response:
        visitor.needs("operator")
        runtime = self._runtime()
        visitor.audit(runtime, "dead_letter_retried", f"dead letter {letter_id}")
        try:
            runs = operations.retry_dead_letters(runtime, [letter_id])
        except HubError as exc:  # put back already, or refused: either way the operator is told
            notice = f"dead letter {letter_id}: {exc.message}"
        else:
            notice = f"dead letter {letter_id} retried: " + ", ".join(f"{info.job} {info.status}" for info, _ in runs)
        self._wake()
        return _back(notice)

    def _dismiss(self, request: Request, visitor: Visitor, letter_id: int) -> Response:
        visitor.needs("operator")
        runtime = self._runtime()
        reason = request.form.get("reason", "")
        try:
            operations.dismiss_dead_letters(runtime.store, [letter_id], by=visitor.name, reason=reason)
        except HubError as exc:
            return _back(f"dead letter {letter_id} not dismissed: {exc.message}")
        visitor.audit(runtime, "dead_letter_dismissed", f"dead letter {letter_id}: {reason.strip()}")
        return _back(f"dead letter {letter_id} dismissed")

    def _logout(self, request: Request, visitor: Visitor) -> Response:
        response = redirect("/ui/login", 303)
        response.delete_cookie(Sessions.COOKIE, path="/ui")
        return response

    def _login(self, request: Request) -> Response:
        target = _local(request.values.get("next", "/ui"))
        if request.method == "GET":
            return self._page("login.html", None, target=target, problem="")
        client = ("ui", client_of(request))
        wait = self.throttle.wait(client, LOGIN_FAILURES)
        if wait:
            return self._page("login.html", None, target=target, status=429,
                              problem=f"too many failed sign-ins; try again in {wait} s")
        name = request.form.get("user", "")
        if not check_login(self._runtime().config.users, name, request.form.get("password", "")):
            self.throttle.failed(client)
            # Not the name typed: a password typed into the wrong field would end up in the log.
            log.warning("/ui: a failed sign-in from %s", client[1])
            return self._page("login.html", None, target=target, status=401, problem="wrong user name or password")
        response = redirect(target, 303)
        response.set_cookie(Sessions.COOKIE, self.sessions.issue(name), path="/ui", httponly=True, samesite="Strict",
                            secure=request.headers.get("X-Forwarded-Proto", request.scheme) == "https")
        return response

    def _static(self, name: str, request: Request) -> Response:
        path = safe_join(str(STATIC), name)
        if path is None or not Path(path).is_file():
            raise NotFound()
        return send_file(path, request.environ, max_age=3600)

    def _page(self, template: str, visitor: Visitor | None, *, status: int = 200, **context: Any) -> Response:
        tz = self._runtime().config.timezone
        html = self.templates.get_template(template).render(
            visitor=visitor, local=lambda when: when.astimezone(tz).strftime("%d.%m %H:%M:%S") if when else "—",
            **context)
        return Response(html, status=status, content_type="text/html; charset=utf-8")


class Visitor:
    """Who is signed in, and what their role lets them do."""

    def __init__(self, session: Session, user: tuple[str, UserConfig], client: str) -> None:
        self.name, config = user
        self.role: Role = config.role
        self.csrf = session.csrf
        self.client = client

    def may(self, role: Role) -> bool:
        return allowed(self.role, role)

    def needs(self, role: Role) -> None:
        if not self.may(role):
            raise Forbidden(f"only an {role} may do this; you are signed in as a {self.role}")

    def audit(self, runtime: Runtime, action: str, subject: str) -> None:
        with runtime.store.transaction() as state:
            state.audit.add(user=self.name, role=self.role, action=action, subject=subject, client=self.client)


def _back(notice: str) -> Response:
    return redirect(f"/ui?notice={quote(notice)}", 303)


def _local(target: str) -> str:
    """``target`` if it is a page of /ui, else /ui: a sign-in link must not send anyone to another site."""
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and parts.path.startswith("/ui") else "/ui"

