"""ATOL Online's API v5, call by call, over :class:`hub.http.HttpClient`."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from hub.errors import AuthError, ProtocolError, RequestRejected
from hub.http import ErrorShape, ErrorText, HttpClient, TokenAuth
from hub.values import json_dumps, json_loads, to_local_naive, utcnow

ATOL_ERRORS = ErrorShape(messages=(("error", "text"),), code=("error", "code"), reference=("error", "error_id"))
"""ATOL's error object: ``{"error": {"error_id", "code", "text", "type"}}``."""

TOKEN_HOURS = 24
"""How long ATOL keeps a token; hub asks anew an hour before."""
TIMESTAMP = "%d.%m.%Y %H:%M:%S"
"""ATOL's times: ``03.08.2018 23:21:00``, without a zone (the company's local time)."""
WRONG_LOGIN = "12"
STILL_QUEUED = "34"
"""Returned with status wait while the receipt is queued: not an error at all."""
DUPLICATE = frozenset({"10", "33"})
"""A document with this external_id exists. UNCERTAIN: v3 answered code 10, v4/v5 are reported to answer 33 with the
uuid of the document held; either code with a uuid is taken as "already registered" (tolerant reading)."""
# ATOL answers errors with HTTP 200 or a 4xx; which status goes with which code is UNCERTAIN (its SDK reads the
# body whatever the status), so every such status is read for the body rather than raised.
_ERROR_STATUSES = frozenset({400, 401, 403, 404, 409, 422})


class AtolClient:
    """One ATOL Online group (``group_code``) of one account."""

    def __init__(self, http: HttpClient, *, login: str, password: str, group: str, timezone: ZoneInfo) -> None:
        self.http = http
        self.group = group
        self.timezone = timezone
        self._login, self._password = login, password
        self.auth = TokenAuth(self._token, clock=http.clock.monotonic, header=lambda token: {"Token": token})
        http.token_auth = self.auth

    def log_in(self) -> None:
        """Log in afresh, proving login and password now (what ``hub check`` asks); the kept token stays."""
        self._token()

    def _token(self) -> tuple[str, float]:
        response = self.http.post("getToken", data=_json({"login": self._login, "pass": self._password}),
                                  headers=_JSON, expect=_ERROR_STATUSES, with_token=False, idempotent=True)
        error = ATOL_ERRORS.read(response.content)
        if error is None and response.status_code >= 400:
            raise RequestRejected(f"ATOL getToken -> {response.status_code}: {response.text[:300]}",
                                  status=response.status_code)
        data = _object(response.content, "getToken")
        token = data.get("token")
        if error is not None or not isinstance(token, str) or not token:
            text = error.message if error else "no token in the answer"
            code = error.code if error else None
            raise AuthError(f"ATOL getToken: {text}" + (f" (code {code})" if code else ""),
                            hint="check login and password of this source (the group's API user in ATOL's cabinet)"
                            if code == WRONG_LOGIN else "check url, login and password of this source")
        return token, (TOKEN_HOURS - 1) * 3600.0

    def register(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST {group}/{operation}``: the answer ``{uuid, status, error}`` as ATOL sent it.

        Sent as idempotent: ATOL keeps an ``external_id`` for good, so a repeat after a lost answer or a 5xx is
        refused as a duplicate instead of printing a second receipt.
        """
        response = self.http.post(f"{self.group}/{operation}", data=_json(body), headers=_JSON,
                                  expect=_ERROR_STATUSES, idempotent=True)
        return _object(response.content, f"{operation} {body.get('external_id')}")

    def report(self, uuid: str) -> dict[str, Any]:
        """``GET {group}/report/{uuid}``: the document's state ``{uuid, status, error, payload}``."""
        response = self.http.get(f"{self.group}/report/{uuid}", expect=_ERROR_STATUSES)
        return _object(response.content, f"report {uuid}")

    def timestamp(self) -> str:
        """Now, as ATOL wants a request's ``timestamp``: the company's local time, no zone."""
        return to_local_naive(utcnow(), self.timezone).strftime(TIMESTAMP)

    def parse_time(self, text: str) -> dt.datetime:
        return dt.datetime.strptime(text, TIMESTAMP).replace(tzinfo=self.timezone)

    def close(self) -> None:
        self.http.close()


def error_of(answer: dict[str, Any]) -> ErrorText | None:
    """The error object an answer carries, if any."""
    return ATOL_ERRORS.read(json_dumps(answer).encode())


_JSON = {"Content-Type": "application/json; charset=utf-8"}


def _json(body: dict[str, Any]) -> bytes:
    # hub.values writes Decimal money as JSON numbers (ATOL's `total: 1000.1`) without a float on the way.
    return json_dumps(body).encode()


def _object(content: bytes, what: str) -> dict[str, Any]:
    try:
        data = json_loads(content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProtocolError(f"ATOL {what}: the answer is not a JSON object: {content[:200]!r}")
    return data
