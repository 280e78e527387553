"""Logging for hub: one handler, text or JSON lines, with secrets redacted and personal data masked.

:func:`setup_logging` installs a single stderr handler on the ``hub`` logger.
Its :class:`RedactingFilter` rewrites every record before it is written:

* secrets are replaced with ``***``: values registered with :func:`add_secrets`
  (the config's ``${ENV}`` substitutions, tokens fetched at runtime),
  ``Authorization`` headers, ``Bearer``/``Basic`` credentials, ``password=...``
  and other secret-looking parameters, and the userinfo of URLs;
* personal data is masked unless ``mask_personal_data`` is off: phones
  (``+7******4567``) and emails (``i***@mail.ru``) are found by pattern; names
  cannot be, so code wraps them: ``log.info("customer %s", pii(name))``.

Secret values shorter than four characters are not registered: they would
shred every message and cannot be real credentials.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from hub.values import json_dumps

CONTEXT_FIELDS = ("run_id", "job", "source", "trigger")
"""Written with each line when known: set for a block by :func:`log_context`, or ``extra=`` on one call."""
_CONTEXT: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar("hub_log_context", default=())

HIDDEN = "***"
_MIN_SECRET = 4

_CREDENTIAL_NAME = r"[\w-]*(?:token|secret|passw(?:or)?d|парол[ьея]|api[_-]?key|sessid|apilogin)[\w-]*|key|pwd"
_PARAM = re.compile(rf"(?i)(?<![\w-])({_CREDENTIAL_NAME})=[^&#\s'\",;]+")
_QUOTED_PARAM = re.compile(rf"""(?i)(["']({_CREDENTIAL_NAME})["']\s*:\s*)(["'])(?:\\.|(?!\3).)*\3""")
# ``password: x`` as servers echo it in plain-text errors (1C: ``Пароль: x``); a quoted value is hidden whole.
_COLON_PARAM = re.compile(rf"""(?i)(?<![\w-])({_CREDENTIAL_NAME})(\s*:\s*)(?:"[^"]*"|'[^']*'|(?!\*\*\*)[^\s,;&'"]+)""")
_AUTH_HEADER = re.compile(r"""(?i)(\bauthorization["']?\s*[:=]\s*["']?)[^"'\r\n,}]+""")
_AUTH_SCHEME = re.compile(r"\b([Bb]earer|Basic|Digest|OAuth)\s+[\w.~+/=-]+")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")

# Phones and emails also appear URL-encoded in echoed form bodies and query strings (%2B7..., ivan%40mail.ru),
# with %20, %28, %29, %2D or a form's '+' for their separators.
_ENCODED = r"%(?:20|28|29|2[Dd])"
_SEP = rf"(?:[\s().-]|\+|{_ENCODED})"
_PHONE = re.compile(
    rf"(?<![\w+*%])(?:(?:\+|%2[Bb])[0-9](?:[0-9]|{_SEP}){{7,40}}[0-9]"
    rf"|[78]{_SEP}*[0-9]{{3}}{_SEP}*[0-9]{{3}}{_SEP}*[0-9]{{2}}{_SEP}*[0-9]{{2}}"
    # a Russian mobile written without its country code: (999) 123-45-67
    rf"|(?:\(|%28)?9[0-9]{{2}}{_SEP}*[0-9]{{3}}{_SEP}*[0-9]{{2}}{_SEP}*[0-9]{{2}})(?![\w*])"
)
_EMAIL = re.compile(r"(?<![\w.+-])([\w+-])[\w.+-]*(@|%40)([\w-]+(?:\.[\w-]+)+)")


class Secrets:
    """A thread-safe set of secret values, each redacted wherever it occurs."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        """Register ``values``; too short ones are skipped (see the module docstring)."""
        new = {value for value in values if len(value) >= _MIN_SECRET}
        with self._lock:
            if new - self._values:
                self._values |= new
                # Longest first, so a secret containing another is hidden whole.
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def redact(self, text: str) -> str:
        """``text`` without any registered value."""
        pattern = self._pattern
        if pattern is None:
            return text
        # Replacing can create a new occurrence when secrets contain '*' or overlap; repeat until none is
        # left. Every pass shortens the text (secrets are longer than HIDDEN), so this ends.
        while pattern.search(text):
            text = pattern.sub(HIDDEN, text)
        return text


SECRETS = Secrets()
"""The process-wide registry used by the logging filter and by error messages."""


def add_secrets(values: Iterable[str]) -> None:
    """Redact ``values`` from now on, e.g. an OAuth access token just fetched."""
    SECRETS.add(values)


def is_secret_name(name: str) -> bool:
    """Whether a parameter or header called ``name`` carries a secret (token, password, api key...)."""
    return name.lower() == "authorization" or re.fullmatch(_CREDENTIAL_NAME, name, re.IGNORECASE) is not None


def redact_url(url: str) -> str:
    """``url`` with its userinfo and secret-looking query (or fragment) parameters replaced by ``***``."""
    return _PARAM.sub(rf"\1={HIDDEN}", _USERINFO.sub(rf"\1{HIDDEN}@", url))


def redact(text: str, secrets: Secrets | None = None) -> str:
    """``text`` without registered secrets, credentials in headers, URLs and parameters."""
    registry = SECRETS if secrets is None else secrets
    # Credentials found by their names first: a registered secret that is also such a name (a password that is
    # "password") would otherwise be hidden first, leaving the value after it with no name to be found by.
    text = redact_url(text)
    text = _QUOTED_PARAM.sub(rf"\1\3{HIDDEN}\3", text)
    text = _COLON_PARAM.sub(rf"\1\2{HIDDEN}", text)
    text = _AUTH_HEADER.sub(rf"\1{HIDDEN}", text)
    text = _AUTH_SCHEME.sub(rf"\1 {HIDDEN}", text)
    return registry.redact(text)


# --- personal data ---------------------------------------------------------------


def _mask_phone_match(match: re.Match[str]) -> str:
    text = match.group()
    digits = re.sub(r"%[0-9A-Fa-f]{2}|[^0-9]", "", text)
    if not 10 <= len(digits) <= 15:
        return text
    return ("+" if text.startswith(("+", "%2B", "%2b")) else "") + digits[0] + "******" + digits[-4:]


def mask_phone(text: str) -> str:
    """Every phone number in ``text`` masked: ``+7 999 123-45-67`` becomes ``+7******4567``."""
    return _PHONE.sub(_mask_phone_match, text)


def mask_email(text: str) -> str:
    """Every email in ``text`` masked: ``ivan.petrov@mail.ru`` becomes ``i***@mail.ru``."""
    return _EMAIL.sub(rf"\1{HIDDEN}\2\3", text)


def mask_name(text: str) -> str:
    """A person's name masked word by word: ``Иван Петров`` becomes ``И*** П***``."""
    return " ".join(word[0] + HIDDEN for word in text.split())


def clean_error(text: str, names: Iterable[str] = ()) -> str:
    """An error message as it may be stored or shown: secrets redacted, phones, emails and ``names`` masked.

    Errors outlive the log's ``mask_personal_data`` choice (``hub status`` prints them to whoever asks), so they
    are always masked; a system's echo of a person's name is found only through ``names``, that record's own.
    """
    for word in sorted({part for name in names for part in name.split() if len(part) > 1}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", mask_name(word), text)
    return SECRETS.redact(mask_email(mask_phone(redact(text))))


class Masked:
    """A personal value that prints masked; the logging filter unwraps it when masking is off."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return mask_name(str(self.value))

    __repr__ = __str__


def pii(value: object) -> Masked:
    """Mark ``value`` (a name) as personal data for logging: ``log.info("customer %s", pii(name))``."""
    return Masked(value)


# --- the logging layer -----------------------------------------------------------


class RedactingFilter(logging.Filter):
    """Rewrites each record's message and traceback with secrets redacted and personal data masked.

    The message is formatted here (``msg % args``) and its ``args`` dropped, so
    no handler or formatter after this one can see an unredacted value.
    """

    def __init__(self, *, mask_personal_data: bool = True, secrets: Secrets | None = None) -> None:
        super().__init__()
        self.mask_personal_data = mask_personal_data
        self.secrets = secrets

    def clean(self, text: str) -> str:
        """``text`` as it may be written to a log."""
        registry = SECRETS if self.secrets is None else self.secrets
        text = redact(text, registry)
        if self.mask_personal_data:
            text = mask_email(mask_phone(text))
        # Masking rewrites text after redaction; a final pass keeps any secret it formed hidden.
        return registry.redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.mask_personal_data:
            record.args = _unmasked(record.args)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format string must not crash the caller
            message = f"{record.msg} {record.args!r}"
        record.msg = self.clean(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        return True


def _unmasked(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(arg.value if isinstance(arg, Masked) else arg for arg in args)
    if isinstance(args, dict):
        return {key: arg.value if isinstance(arg, Masked) else arg for key, arg in args.items()}
    return args


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Every log line written inside the block (in this thread) carries ``fields``, e.g. the run id."""
    merged = {**dict(_CONTEXT.get()), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _CONTEXT.set(tuple(merged.items()))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def _context(record: logging.LogRecord) -> dict[str, str]:
    found = {name: str(getattr(record, name)) for name in CONTEXT_FIELDS if hasattr(record, name)}
    return {**dict(_CONTEXT.get()), **found}


class RunLines(logging.Handler):
    """Keeps the lines one run logs (in the threads that carry its ``run_id``), cleaned as the log cleans them,
    the newest ``limit`` of them: a run's own account, for ``hub runs show`` after the journal has moved on."""

    def __init__(self, run_id: int, *, mask_personal_data: bool, limit: int = 1000) -> None:
        super().__init__()
        self.run_id = str(run_id)
        self.lines: collections.deque[tuple[datetime, str, str]] = collections.deque(maxlen=limit)
        self._cleaner = RedactingFilter(mask_personal_data=mask_personal_data)

    def emit(self, record: logging.LogRecord) -> None:
        if _context(record).get("run_id") != self.run_id:
            return
        copy = logging.makeLogRecord(record.__dict__)  # the log's own handler formats the original its way
        self._cleaner.filter(copy)
        message = copy.getMessage() + (f"\n{copy.exc_text}" if copy.exc_text else "")
        self.lines.append((datetime.fromtimestamp(record.created, UTC), record.levelname, message))

    @contextlib.contextmanager
    def attached(self) -> Iterator[RunLines]:
        """Collect while the block runs."""
        logger = logging.getLogger("hub")
        logger.addHandler(self)
        try:
            yield self
        finally:
            logger.removeHandler(self)


class TextFormatter(logging.Formatter):
    """``time level logger: message [run_id=.. source=.. job=..]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{name}={value}" for name, value in _context(record).items())
        line = super().formatMessage(record)
        return f"{line} [{context}]" if context else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json_dumps(entry)


_HANDLER_NAME = "hub.stderr"


def setup_logging(level: str = "INFO", *, json_format: bool = False, mask_personal_data: bool = True,
                  secrets: Iterable[str] = ()) -> None:
    """Send the ``hub`` loggers to stderr at ``level``, redacted and masked; calling again reconfigures."""
    add_secrets(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    handler.addFilter(RedactingFilter(mask_personal_data=mask_personal_data))
    # urllib3 logs request URLs (query strings included) at DEBUG: it gets the same redacting handler,
    # and never more than warnings. APScheduler's per-run lines repeat what hub writes about each run.
    for name, logger_level in (("hub", level.upper()), ("urllib3", "WARNING"), ("apscheduler", "WARNING")):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(logger_level)
