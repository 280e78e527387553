"""The Bitrix24 REST API, call by call, within the portal's limits.

Every call is a POST of a JSON body to ``<method>`` under the portal's REST root: an incoming webhook's
``/rest/<user>/<secret>/`` or, for an OAuth application, ``/rest/`` with the access token as ``auth`` in the
body. Answers are ``{result, total, next, time}``; errors ``{error, error_description}`` with a 4xx/5xx status,
where ``error`` may be empty (``crm.contact.add``) or a number (``catalog.*``).

The limits, as the portal enforces them (protocol fact sheet §2.4–2.5):

* the leaky bucket (2 requests/s, burst 50; 5/s and 250 on Enterprise) is hub's shared token bucket
  (:class:`hub.http.TokenBucket`), which drains and fills as the portal's does, so hub never runs over it;
  a ``QUERY_LIMIT_EXCEEDED`` 503 (another app on the portal spent the bucket) was not run and is retried;
* each method's execution-time budget: every answer's ``time.operating`` (seconds the method spent in the
  last ten minutes) and ``operating_reset_at`` are kept per method, and a method near its budget waits for the
  reset before it is called again; ``OPERATION_TIME_LIMIT`` (429) is retried with backoff;
* ``batch`` takes at most 50 commands; its sub-calls' errors come keyed by command, except on some portals
  where ``result_error`` is an un-keyed list (fast_bitrix24's capture): then only the commands with a keyed
  result are taken and each of the others is sent alone to learn its own answer;
* lists give 50 rows a page; :meth:`Bitrix24Client.pages` walks them by id with ``start=-1`` (no count).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests

from hub.errors import AuthError, ProtocolError, RequestRejected
from hub.http import Clock, ErrorShape, HttpClient, TokenAuth
from hub.logs import clean_error
from hub.values import json_dumps, json_loads

BATCH_LIMIT = 50
"""Commands one ``batch`` call may carry."""
PAGE = 50
"""Rows a list method returns per page."""
ERRORS = ErrorShape(messages=(("error_description",), ("error",)), code=("error",))
"""``{error, error_description}``; ``error`` may be empty or a number."""
EXPIRED = "expired_token"
UNRUN = frozenset({"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT"})
"""Errors that mean the portal refused the call before running it: safe to repeat, even a write."""
_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
_READ_HERE = frozenset({400, 401, 403, 404, 405})
NEAR_BUDGET = 0.9
"""Share of a method's operating budget past which hub waits for the budget's reset before calling it again."""


@dataclass(frozen=True)
class Answer:
    """One call's answer: its ``result``, and for lists ``total`` and ``next``."""

    result: Any
    total: int | None = None
    next: int | None = None


@dataclass(frozen=True)
class CallError:
    """A sub-call of a batch the portal refused: its error code (may be empty) and description."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


def encode_query(params: Mapping[str, Any]) -> str:
    """``params`` as PHP's ``http_build_query`` writes them (``filter[>id]=5&select[0]=id``), as batch commands
    and form-encoded events carry them."""
    return urlencode(list(_flatten("", params)))


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _flatten(f"{prefix}[{key}]" if prefix else str(key), inner)
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            yield from _flatten(f"{prefix}[{index}]", inner)
    elif isinstance(value, bool):
        yield prefix, "Y" if value else "N"
    else:
        yield prefix, "" if value is None else str(value)


def decode_query(text: str) -> dict[str, Any]:
    """A PHP-style query or form body (``data[FIELDS][ID]=7``) as nested dicts; lists stay dicts keyed by index."""
    nested: dict[str, Any] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        head, _, rest = name.partition("[")
        keys = [head, *(part.rstrip("]") for part in rest.split("[") if rest)] if rest else [head]
        node = nested
        for key in keys[:-1]:
            child = node.get(key)
            node = node.setdefault(key, {}) if not isinstance(child, dict) else child
            if not isinstance(node, dict):
                raise ValueError(f"{name}: mixes a value and a list")
        node[keys[-1]] = value
    return nested


def comparable(value: str) -> str:
    """A phone or email as the portal compares them: case, spaces and punctuation aside."""
    return "".join(ch for ch in value.lower() if ch.isalnum() or ch in "@.")


class OperatingBudget:
    """What each method has spent of its execution-time budget, from the portal's own ``time`` answers."""

    def __init__(self, seconds: float, clock: Clock) -> None:
        self.seconds = seconds
        self.clock = clock
        self._resumes: dict[str, float] = {}

    def wait(self, method: str) -> None:
        """Sleep until ``method`` may be called again without an ``OPERATION_TIME_LIMIT``."""
        due = self._resumes.get(method, 0.0) - self.clock.monotonic()
        if due > 0:
            self.clock.sleep(due)

    def note(self, method: str, time: Any) -> None:
        """Keep what an answer's ``time`` says of ``method``'s budget."""
        if not isinstance(time, Mapping):
            return
        operating, reset_at, finish = (_seconds(time.get(k)) for k in ("operating", "operating_reset_at", "finish"))
        if operating is not None and reset_at is not None and finish is not None \
                and operating >= self.seconds * NEAR_BUDGET:
            self._resumes[method] = self.clock.monotonic() + max(0.0, reset_at - finish)


class Bitrix24Client:
    """Calls to one portal; ``tokens`` is None for an incoming webhook (its secret is in the URL)."""

    def __init__(self, http: HttpClient, *, tokens: TokenAuth | None, budget: OperatingBudget,
                 page: int = PAGE) -> None:
        self.http = http
        self.tokens = tokens
        self.budget = budget
        self.page = page
        """Rows the portal gives a page: a shorter page is the last."""
        http.unrun = _unrun

    def call(self, method: str, params: Mapping[str, Any] | None = None, *, read: bool = False) -> Answer:
        """Run one method; ``read`` ones are repeated after any transient failure, writes only when surely not
        run. Raises AuthError for a refused credential and RequestRejected for any other refusal."""
        self.budget.wait(method)
        body = dict(params or {})
        response = self._send(method, body, read=read)
        if response.status_code >= 400:
            raise _refusal(method, response)
        data = _json(response, method)
        self.budget.note(method, data.get("time"))
        return Answer(data.get("result"), _int(data.get("total")), _int(data.get("next")))

    def batch(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], *, read: bool = False,
              ) -> dict[str, Any | CallError]:
        """Run up to :data:`BATCH_LIMIT` commands (id → method, params) in one ``batch`` call, ``halt=0``;
        id → its result or its CallError."""
        if len(commands) > BATCH_LIMIT:
            raise ValueError(f"a batch takes at most {BATCH_LIMIT} commands, got {len(commands)}")
        if not commands:
            return {}
        for method, _ in commands.values():
            self.budget.wait(method)
        cmd = {key: f"{method}?{encode_query(params)}" for key, (method, params) in commands.items()}
        answer = self.call("batch", {"halt": 0, "cmd": cmd}, read=read).result
        if not isinstance(answer, Mapping):
            raise ProtocolError("Bitrix24 answered a batch without its result object")
        results = answer.get("result") or {}
        errors = answer.get("result_error") or {}
        times = answer.get("result_time") or {}
        if isinstance(times, Mapping):
            for key, time in times.items():
                if key in commands:
                    self.budget.note(commands[key][0], time)
        outcome: dict[str, Any | CallError] = {}
        for key in commands:
            if isinstance(results, Mapping) and key in results:
                outcome[key] = results[key]
            elif isinstance(errors, Mapping) and key in errors:
                error = errors[key] if isinstance(errors[key], Mapping) else {}
                outcome[key] = CallError(str(error.get("error", "")), str(error.get("error_description", "")))
            elif isinstance(errors, list) and errors:
                # The un-keyed list: which error belongs to which command is lost, so each command without a
                # keyed result is asked alone (a failed write did not run, so sending it again is safe).
                outcome[key] = self._alone(*commands[key], read=read)
            else:
                outcome[key] = None  # a command whose result is null (PHP drops it from the map)
        return outcome

    def batches(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], *, read: bool = False,
                ) -> dict[str, Any | CallError]:
        """Any number of commands, :data:`BATCH_LIMIT` a ``batch`` call: ceil(n / 50) calls."""
        keys = list(commands)
        outcome: dict[str, Any | CallError] = {}
        for first in range(0, len(keys), BATCH_LIMIT):
            outcome.update(self.batch({k: commands[k] for k in keys[first:first + BATCH_LIMIT]}, read=read))
        return outcome

    def pages(self, method: str, params: Mapping[str, Any], *, rows: str | None, after: int = 0,
              key: str = "id") -> Iterator[list[dict[str, Any]]]:
        """Pages of a list method's rows with ``key`` above ``after``, by id ascending, each page asked with
        ``start=-1`` (no total counted, Bitrix24's fast path); ``rows`` names the list inside ``result``
        (``items`` for ``crm.item.list``), None when ``result`` is the list."""
        while True:
            page_params = {**params, "filter": {**params.get("filter", {}), f">{key}": after},
                           "order": {key: "ASC"}, "start": -1}
            result = self.call(method, page_params, read=True).result
            found = result.get(rows) if rows is not None and isinstance(result, Mapping) else result
            if not isinstance(found, list):
                raise ProtocolError(f"Bitrix24 answered {method} without a list of rows")
            if found:
                yield found
            if len(found) < self.page:
                return
            after = int(found[-1][key])

    def _alone(self, method: str, params: Mapping[str, Any], *, read: bool) -> Any | CallError:
        try:
            return self.call(method, params, read=read).result
        except Rejected as exc:
            return CallError(exc.word, exc.description)

    def _send(self, method: str, body: dict[str, Any], *, read: bool) -> requests.Response:
        if self.tokens is None:
            return self._post(method, body, read=read)
        token = self.tokens.token()
        response = self._post(method, {**body, "auth": token}, read=read)
        if response.status_code == 401 and _code(response) == EXPIRED:
            # The access token lives an hour: a refused one is refreshed once (hub.http.TokenAuth keeps the pair),
            # then the call is sent again; the portal did not run it.
            self.tokens.forget(token)
            response = self._post(method, {**body, "auth": self.tokens.token()}, read=read)
        return response

    def _post(self, method: str, body: dict[str, Any], *, read: bool) -> requests.Response:
        # The portal's refusals are read here, in its own words (ERRORS), rather than raised bare by hub.http.
        return self.http.post(method, data=json_dumps(body).encode(), headers=_JSON, expect=_READ_HERE,
                              idempotent=read)


class Rejected(RequestRejected):
    """The portal refused a call; ``word`` is its ``error`` (may be empty), ``description`` its text."""

    def __init__(self, message: str, *, status: int, code: str, description: str) -> None:
        super().__init__(message, status=status, code=code)
        self.word = code
        self.description = description


def _refusal(method: str, response: requests.Response) -> Exception:
    status = response.status_code
    text = ERRORS.read(response.content)
    code = (text.code if text else None) or ""
    message = f"Bitrix24 refused {method} ({status}): {clean_error(text.message if text else '(no description)')}"
    if (status in (401, 403) and code != "ACCESS_DENIED") or code in ("insufficient_scope", "NO_AUTH_FOUND"):
        return AuthError(message, hint="check the webhook URL or the OAuth application's tokens and scopes")
    return Rejected(message, status=status, code=code, description=text.message if text else "")


def _unrun(response: requests.Response) -> bool:
    return _code(response) in UNRUN


def _code(response: requests.Response) -> str | None:
    text = ERRORS.read(response.content)
    return text.code if text else None


def _json(response: requests.Response, method: str) -> dict[str, Any]:
    try:
        data = json_loads(response.content or b"null")
    except ValueError as exc:
        raise ProtocolError(f"Bitrix24 answered {method} with non-JSON: {response.content[:100]!r}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"Bitrix24 answered {method} with JSON that is not an object")
    return data


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | Decimal) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) or (isinstance(value, str) and value.isdigit()) else None


