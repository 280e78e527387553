"""The HTTP client every connector uses: timeouts, retries, rate limits and safe logging.

::

    http = HttpClient(base_url="https://api.example.ru/v1/", source="shop", timeout=30,
                      rate_limit=RateLimit(per_second=5, burst=10), auth=("login", "password"))
    orders = http.get("orders", params={"since": cursor}).json()

Every call has a timeout (connect and read). ``path`` is appended to
``base_url`` (an absolute URL is used as it is).

Failures become :mod:`hub.errors`:

* transient ones are retried with exponential backoff and jitter, up to
  ``retry.attempts`` tries: connection errors and timeouts (:class:`NetworkError`),
  429 (:class:`RateLimited`) and 5xx (:class:`ServerError`). A ``Retry-After``
  header (seconds or an HTTP date) lengthens the wait; one longer than
  :data:`MAX_RETRY_AFTER` is raised at once rather than slept through. When the
  tries run out the last error is raised;
* 401 and 403 raise :class:`AuthError`, any other 4xx :class:`RequestRejected`,
  without a retry.

POST and PATCH are not idempotent: repeating one whose answer was lost can
create a second order. They are retried only when the server surely did not act
on them (429, or no connection was made); a 5xx or a lost answer is raised at
once, and the caller repeats the write through its idempotency key (the
pipeline looks the object up before it creates it again). Pass
``idempotent=True`` for a POST the remote system deduplicates itself.

Error messages carry the method, the URL with secrets redacted, the status and
the start of the body.

Reading error bodies: a connector that understands its system's error payload
(1C's ``odata.error``, Yandex's ``[{code, description}]``) names the statuses it
handles in ``expect=``. Responses with those statuses are returned instead of
raised (and never retried), so the connector raises the precise error itself::

    response = http.post("Document_Order", json=doc, expect={400})
    if response.status_code == 400:
        raise RequestRejected(odata_error_text(response), status=400)

A system that hands out bearer tokens (iikoCloud, Yandex's vendor API) gets a
:class:`TokenAuth` as ``http.token_auth``: every request then carries the token, obtained when
first needed and reused until it is due, and a 401 gets one new token and one more try (a token
revoked early) before the answer counts. The token never reaches a log::

    http.token_auth = TokenAuth(lambda: (fetch_token(), 3000.0), clock=http.clock.monotonic)

Where a system's error object keeps its message, code and reference is declared once per system as an
:class:`ErrorShape` (iiko's ``{errorDescription, error, correlationId}``, 1C's ``odata.error``), not parsed by hand::

    IIKO_ERRORS = ErrorShape(messages=(("errorDescription",), ("message",)), code=("error",))
    error = IIKO_ERRORS.read(response.content)    # ErrorText(message, code, reference) or None

What a system's failed answers mean for the caller (refuse the record, retry, or stop: :class:`Outcome`) is
declared as data too, an :class:`ErrorTable` of :class:`ErrorRule` rows by status, error code and method, read
by one mapper::

    IIKO_ERRORS = ErrorTable(read=ERRORS.read, rules=(ErrorRule(Outcome.RETRY, status=408),))
    raise IIKO_ERRORS.judge(response.status_code, response.content).error(message, status=response.status_code)

Requests to one source share a token bucket (``rate_limit``) across every client
of that source in the process. All waiting, for a token or before a retry, goes
through a :class:`Clock`, so tests run on a fake one without sleeping.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3
from requests.auth import HTTPBasicAuth
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from hub.errors import (
    AuthError,
    HubError,
    NetworkError,
    RateLimited,
    RequestRejected,
    RetriableError,
    ServerError,
)
from hub.logs import add_secrets, clean_error, is_secret_name, redact, redact_url
from hub.settings import RateLimit, RetryPolicy
from hub.values import json_loads, utcnow

MAX_RETRY_AFTER = 600.0
"""Seconds; a server asking to wait longer gets its RateLimited/ServerError raised instead."""

_EXCERPT = 300
_NOT_IDEMPOTENT = frozenset({"POST", "PATCH"})
_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class Clock(Protocol):
    """Where the client reads time and waits."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class TokenBucket:
    """``rate.per_second`` requests a second on average, up to ``rate.burst`` at once; thread-safe."""

    def __init__(self, rate: RateLimit, clock: Clock) -> None:
        self.rate = rate
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens = float(rate.burst)
        self._stamp = clock.monotonic()

    def acquire(self) -> None:
        """Take a token, waiting until it is due."""
        with self._lock:
            now = self.clock.monotonic()
            refilled = self._tokens + (now - self._stamp) * self.rate.per_second
            self._tokens = min(float(self.rate.burst), refilled) - 1
            self._stamp = now
            # A negative balance reserves a future token: callers queue up without holding the lock.
            wait = -self._tokens / self.rate.per_second if self._tokens < 0 else 0.0
        if wait:
            self.clock.sleep(wait)


_buckets: dict[str, TokenBucket] = {}
_buckets_lock = threading.Lock()


def _bucket(source: str, rate: RateLimit, clock: Clock) -> TokenBucket:
    """The bucket shared by ``source``'s clients; a changed limit or clock starts a fresh one."""
    with _buckets_lock:
        bucket = _buckets.get(source)
        if bucket is None or bucket.rate != rate or bucket.clock is not clock:
            bucket = _buckets[source] = TokenBucket(rate, clock)
        return bucket


@dataclass(frozen=True)
class ErrorText:
    """What a system's error answer says: its message, its code and a reference for its support, where given."""

    message: str
    code: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class ErrorShape:
    """Where one system's JSON error object keeps its message, code and reference: paths of keys from the top
    (a key with a dot in it is one key, as 1C's ``odata.error``). ``messages`` are tried in turn."""

    messages: tuple[tuple[str, ...], ...]
    code: tuple[str, ...] | None = None
    reference: tuple[str, ...] | None = None

    def read(self, body: bytes) -> ErrorText | None:
        """The error ``body`` carries; None when it is not such an object (not JSON, or neither message nor code)."""
        try:
            data = json_loads(body or b"null")
        except ValueError:
            return None
        message = next(filter(None, (_text_at(data, path) for path in self.messages)), None)
        code = None if self.code is None else _text_at(data, self.code)
        if message is None and code is None:
            return None
        return ErrorText(message or "", code, None if self.reference is None else _text_at(data, self.reference))


class Outcome(StrEnum):
    """What the caller of a system does about one of its failed answers."""

    REFUSE = "refuse"
    """The request is refused as sent, and would be again: the record it carries is refused (RequestRejected)."""
    RETRY = "retry"
    """A passing failure: the same request may succeed later (ServerError; RateLimited for a 429)."""
    FATAL = "fatal"
    """The credentials or rights do not hold: nothing will succeed until someone fixes them (AuthError)."""


@dataclass(frozen=True)
class ErrorRule:
    """One row of a system's :class:`ErrorTable`: the answers it matches (every condition left None matches
    anything) and what they mean."""

    outcome: Outcome
    status: int | None = None
    code: str | None = None
    """The code the system's error body carries (1C's ``"20"``, iiko's ``error``)."""
    writes: bool | None = None
    """True: only answers to a request that writes (any method but GET and HEAD); False: only to reads."""
    declared: bool | None = None
    """True: only when the body is the system's own error object; False: only when it is not (a proxy's page)."""
    hint: str | None = None
    """What to do about it, for the error raised."""


@dataclass(frozen=True)
class Verdict:
    """What a failed answer means: its outcome, what the system's error body said, and the hint of its rule."""

    outcome: Outcome
    said: ErrorText | None = None
    hint: str | None = None

    def error(self, message: str, *, status: int, retry_after: float | None = None) -> HubError:
        """The :mod:`hub.errors` error the caller raises for it."""
        code = self.said.code if self.said is not None else None
        if self.outcome is Outcome.FATAL:
            return AuthError(message, hint=self.hint or "check the credentials of this source in hub.yaml")
        if self.outcome is Outcome.RETRY:
            if status == 429:
                return RateLimited(message, retry_after=retry_after)
            return ServerError(message, status=status, retry_after=retry_after)
        return RequestRejected(message, status=status, code=code, hint=self.hint)


@dataclass(frozen=True)
class ErrorTable:
    """What one system's failed answers mean, declared as data: rules tried in order, the first that matches
    decides; an answer none matches means what it means over HTTP (429 and 5xx: retry; 401 and 403: fatal; any
    other: refuse). Every status and body gets exactly one verdict; reading a body never raises."""

    read: Callable[[bytes], ErrorText | None] | None = None
    """Reads the system's error body (an :meth:`ErrorShape.read`); None: the codes are not read."""
    rules: tuple[ErrorRule, ...] = ()

    def judge(self, status: int, body: bytes, *, method: str = "GET") -> Verdict:
        said = self._said(body)
        writes = method.upper() not in ("GET", "HEAD")
        for rule in self.rules:
            if ((rule.status is None or rule.status == status)
                    and (rule.code is None or (said is not None and said.code == rule.code))
                    and (rule.writes is None or rule.writes == writes)
                    and (rule.declared is None or rule.declared == (said is not None))):
                return Verdict(rule.outcome, said, rule.hint)
        if status == 429 or status >= 500:
            return Verdict(Outcome.RETRY, said)
        return Verdict(Outcome.FATAL if status in (401, 403) else Outcome.REFUSE, said)

    def _said(self, body: bytes) -> ErrorText | None:
        if self.read is None:
            return None
        try:
            return self.read(body)
        except (ValueError, RecursionError):  # a body no parser makes sense of says nothing: the status decides
            return None


HTTP_ERRORS = ErrorTable()
"""What failed answers mean where a system declares nothing more: :class:`HttpClient`'s own."""


def _text_at(data: Any, path: tuple[str, ...]) -> str | None:
    """The non-blank text (or whole number: codes and ids come as either) at ``path`` in ``data``, or None."""
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    if type(data) is int:
        return str(data)
    return data.strip() if isinstance(data, str) and data.strip() else None


class TokenAuth:
    """A bearer token kept for as long as its system allows; thread-safe, one token shared by every caller.

    ``obtain`` asks the system for a token (call ``http.post(..., with_token=False)``) and returns it with how
    many seconds to keep it; ``clock`` is what those seconds are counted on.
    """

    def __init__(self, obtain: Callable[[], tuple[str, float]], *, clock: Callable[[], float] = time.monotonic,
                 header: Callable[[str], dict[str, str]] | None = None) -> None:
        self._obtain = obtain
        self.header = header or _bearer
        """The headers a request carries the token in: ``Authorization: Bearer`` unless the system says otherwise
        (ATOL Online's ``Token:``)."""
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        """The kept token, or a new one when none is kept or the kept one is due."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                asked_at = self._clock()  # counted from the asking: the token may expire on the way back
                token, keep = self._obtain()
                add_secrets([token])
                self._token, self._renew_at = token, asked_at + keep
            return self._token

    def renew(self) -> str:
        """A new token, whatever is kept: proof the credentials hold now (``hub check``), not when it was issued."""
        with self._lock:
            self._token = None
        return self.token()

    def forget(self, refused: str) -> None:
        """Drop the kept token if it is ``refused`` (another thread may have renewed it meanwhile)."""
        with self._lock:
            if self._token == refused:
                self._token = None


class HttpClient:
    """A requests session towards one source with timeouts, retries, a rate limit and redacted logs."""

    def __init__(self, *, base_url: str, source: str, timeout: float = 30.0,
                 rate_limit: RateLimit | None = None, retry: RetryPolicy | None = None,
                 auth: requests.auth.AuthBase | tuple[str, str] | None = None,
                 headers: Mapping[str, str] | None = None,
                 session: requests.Session | None = None,
                 clock: Clock | None = None, token_auth: TokenAuth | None = None,
                 unrun: Callable[[requests.Response], bool] | None = None) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.source = source
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.clock = clock or SYSTEM_CLOCK
        self.log = logging.getLogger(f"hub.http.{source}")
        self.token_auth = token_auth
        """Set, every request but those sent ``with_token=False`` carries its bearer token."""
        self._bucket = _bucket(source, rate_limit, self.clock) if rate_limit else None
        self.unrun = unrun
        """Set, says whether an error answer means the system refused the request before running it (Bitrix24's
        ``QUERY_LIMIT_EXCEEDED`` 503): such an answer is raised as :class:`RateLimited`, so even a POST is retried."""
        self._owns_session = session is None
        self.session = session or requests.Session()
        if isinstance(auth, tuple):
            # requests writes a text login as Latin-1 and fails on any other letter; 1C's logins are Cyrillic as
            # often as not (Обмен, Администратор). As bytes they go as UTF-8, which 1C's web publication reads
            # (UNCERTAIN for every web server in front of it: the fact sheet does not say).
            user, password = auth
            self.session.auth = HTTPBasicAuth(user.encode(), password.encode())
        elif auth is not None:
            self.session.auth = auth
        if headers:
            self.session.headers.update(headers)
        # Credentials given here are known secrets: hide them even where a server echoes them back.
        add_secrets([value.split()[-1] for name, value in (headers or {}).items()
                     if is_secret_name(name) and value.strip()])
        if isinstance(auth, tuple):
            add_secrets([auth[1]])

    def url(self, path: str) -> str:
        """``path`` joined to the base URL; an absolute URL is returned unchanged."""
        return path if urlsplit(path).scheme else self.base_url + path.lstrip("/")

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                data: Mapping[str, Any] | str | bytes | None = None, headers: Mapping[str, str] | None = None,
                expect: Collection[int] = (), timeout: float | None = None,
                idempotent: bool | None = None, with_token: bool = True) -> requests.Response:
        """Send a request, retrying transient failures; raise a HubError for any failure not in ``expect``."""
        if idempotent is None:
            idempotent = method.upper() not in _NOT_IDEMPOTENT
        send = functools.partial(self._request, method, path, params=params, json=json, data=data, timeout=timeout,
                                 idempotent=idempotent)
        auth = self.token_auth if with_token else None
        if auth is None:
            return send(headers=headers, expect=expect)
        token = auth.token()
        response = send(headers={**(headers or {}), **auth.header(token)}, expect={*expect, 401})
        if response.status_code != 401:
            return response
        self.log.info("%s %s: the token was refused; fetching a new one and trying once more", method.upper(), path)
        auth.forget(token)
        return send(headers={**(headers or {}), **auth.header(auth.token())}, expect=expect)

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None, json: Any,
                 data: Mapping[str, Any] | str | bytes | None, headers: Mapping[str, str] | None,
                 expect: Collection[int], timeout: float | None, idempotent: bool) -> requests.Response:
        prepared = self.session.prepare_request(requests.Request(
            method.upper(), self.url(path), params=params, json=json, data=data, headers=headers))
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception(_worth_retrying if idempotent else _surely_not_acted_on),
            sleep=self.clock.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self._send, prepared, expect, self.timeout if timeout is None else timeout)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        """Close the session, unless it was handed in by the caller."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, prepared: requests.PreparedRequest, expect: Collection[int],
              timeout: float) -> requests.Response:
        if self._bucket:
            self._bucket.acquire()
        what = f"{prepared.method} {redact(redact_url(prepared.url or ''))}"  # a secret in the path too (Bitrix24's)
        # Proxies and CA bundles from the environment, as Session.request would apply them.
        settings = self.session.merge_environment_settings(prepared.url, {}, None, None, None)
        started = self.clock.monotonic()
        try:
            response = self.session.send(prepared, timeout=timeout, **settings)
        except _TRANSPORT_ERRORS as exc:
            raise NetworkError(f"{what}: {type(exc).__name__}: {redact(str(exc))[:_EXCERPT]}",
                               request_sent=not _never_connected(exc)) from exc
        elapsed_ms = (self.clock.monotonic() - started) * 1000
        self.log.debug("%s -> %d in %.0f ms", what, response.status_code, elapsed_ms)
        if response.status_code < 400 or response.status_code in expect:
            return response
        error = _error(what, response)
        if self.unrun is not None and not isinstance(error, RateLimited) and self.unrun(response):
            raise RateLimited(str(error), retry_after=_retry_after(response))
        raise error

    def _wait(self, state: RetryCallState) -> float:
        # Exponential backoff with "equal jitter": half the delay fixed, half random, so clients that
        # failed together spread out yet none retries immediately.
        delay = min(self.retry.max_backoff, self.retry.backoff * 2.0 ** (state.attempt_number - 1))
        backoff = delay / 2 + random.uniform(0, delay / 2)
        error = state.outcome.exception() if state.outcome else None
        retry_after = error.retry_after if isinstance(error, RetriableError) else None
        return max(backoff, retry_after or 0.0)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.log.warning("%s; try %d of %d in %.1f s", error, state.attempt_number + 1,
                         self.retry.attempts, wait)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _worth_retrying(error: BaseException) -> bool:
    if not isinstance(error, RetriableError):
        return False
    return error.retry_after is None or error.retry_after <= MAX_RETRY_AFTER


def _surely_not_acted_on(error: BaseException) -> bool:
    unsent = isinstance(error, NetworkError) and not error.request_sent
    return (unsent or isinstance(error, RateLimited)) and _worth_retrying(error)


def _never_connected(exc: Exception) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _error(what: str, response: requests.Response) -> HubError:
    status = response.status_code
    message = f"{what} -> {status} {response.reason or ''}".rstrip() + f": {_excerpt(response)}"
    return HTTP_ERRORS.judge(status, b"").error(message, status=status, retry_after=_retry_after(response))


def _excerpt(response: requests.Response) -> str:
    # What a server echoes of a request (1C repeats the fields it refused) is personal data too.
    text = clean_error(" ".join(response.text.split()))
    if not text:
        return "(empty body)"
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


def _retry_after(response: requests.Response) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After`` in seconds or as an HTTP date."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no claim about the local zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utcnow()).total_seconds())
