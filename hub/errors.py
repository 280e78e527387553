"""Every error hub raises, grouped by what the caller should do about it.

::

    HubError
    ├── FatalError                stop the run; a person must fix something first
    │   ├── ConfigError           hub.yaml or a mapping file is wrong (file:line in the message)
    │   ├── StateSchemaError      the state DB is newer than this hub, or unusable
    │   ├── AuthError             the remote system refused our credentials (401/403)
    │   ├── RequestRejected       the remote system refused a request (4xx other than 429)
    │   └── ProtocolError         the remote system answered something we cannot understand
    ├── RetriableError            transient; try again later with backoff
    │   ├── NetworkError          connection refused or reset, timeout
    │   ├── ServerError           5xx from the remote system
    │   ├── RateLimited           429; ``retry_after`` says how long to wait
    │   ├── JobBusy               the job is running in another process (its lease is held)
    │   └── Interrupted           hub is shutting down; the run stopped at a checkpoint, the next one goes on
    └── RecordError               this one record cannot be processed: send it to dead letters,
        │                         carry on with the rest, retry it after the cause is fixed
        ├── InvalidRecord         the payload is malformed or misses required data
        ├── UnresolvedReference   a product, customer or warehouse has no id link
        └── LinkConflict          the record's id is already linked to another 1C object

Messages never carry secrets; personal data in them is masked by the logging
layer (:mod:`hub.logs`). ``hint`` says what to do, for the CLI to print.
"""

from __future__ import annotations

import difflib


class HubError(Exception):
    """Base of every error hub raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class FatalError(HubError):
    """Stop the run: retrying without a human fixing something will fail again."""


class ConfigError(FatalError):
    """Configuration or a mapping file is invalid; ``problems`` lists every one found."""

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), hint=hint)


class StateSchemaError(FatalError):
    """The state database cannot be used by this version of hub."""


class AuthError(FatalError):
    """The remote system refused our credentials."""


class RequestRejected(FatalError):
    """The remote system refused a request for a reason retrying will not fix."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code


class ProtocolError(FatalError):
    """The remote system answered something that does not follow its protocol."""


class RetriableError(HubError):
    """A transient failure: the same call may succeed later."""

    retry_after: float | None = None


class NetworkError(RetriableError):
    """The connection failed or timed out.

    ``request_sent`` is False only when the server surely never saw the request
    (refused, or no connection within the timeout): then even a POST may be repeated.
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class ServerError(RetriableError):
    """The remote system answered with a 5xx status."""

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RateLimited(RetriableError):
    """The remote system asked us to slow down (429)."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobBusy(RetriableError):
    """The job is already running in another process; ``holder`` says which (``host:pid:…``)."""

    def __init__(self, message: str, *, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class Interrupted(RetriableError):
    """The run was asked to stop (hub is shutting down) and stopped where everything done is saved."""


class RecordError(HubError):
    """One record cannot be processed; it goes to dead letters and the run goes on."""


class InvalidRecord(RecordError):
    """The record is malformed or lacks required data."""


class UnresolvedReference(RecordError):
    """The record refers to something (a product, a customer) that has no id link."""


class LinkConflict(RecordError):
    """A channel id is already linked to a different object; a person must decide which is right."""


def suggest(word: str, choices: list[str]) -> str:
    """A 'did you mean' hint, or a list of what exists."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "known: " + ", ".join(sorted(choices)) if choices else "none is installed"
