"""Inbound endpoints: what a connector serves inside ``hub daemon`` for its system to call.

A connector lists its endpoints in :meth:`hub.connector.Connector.endpoints`;
the daemon mounts them under the source's path (``inbound.path`` in hub.yaml,
``/<source>`` by default), checks the caller's credentials before it reads a
body where the protocol allows (:attr:`Endpoint.authenticate`, throttled per
client after repeated failures), refuses bodies over ``inbound.max_body``,
words its own refusals (404, 405, 413, 429, 500) as the endpoint's system
expects (:attr:`Endpoint.refuse`), and counts every request. Credentials are
declared, not coded: a :class:`Token` (shared, as :func:`shared`, or issued),
:class:`Basic`, a :class:`Signature` of the body or a :class:`BodyToken` inside it
(Bitrix24's ``auth[application_token]``), each wording its 401 as the system does,
and the handler :func:`guarded` by them. Each check declares where its credential
sits (:class:`Secret`): whatever :class:`Inbound` keeps of a request (the inbox,
so dead letters; a refused body) holds ``***`` there instead, so nothing that
shows a kept body shows a credential. The handler does what only the connector
knows: it checks the body's envelope and answers in the system's own terms. What
it accepts it hands to :class:`Inbound`::

    signed = Signature(secret, unauthorized, "X-Shop-Signature", prefix="sha256=")
    Endpoint("orders", "/orders", ("POST",), guarded(self._order, signed), entity=Entity.ORDERS)

    def _order(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        raw = RawRecord(external_id=..., body=request.get_data())
        problem = inbound.validate(Entity.ORDERS, raw)             # the envelope only: decoded by the worker
        if problem is not None:
            return json_response({"error": problem}, 400)          # the body is kept, as rejected
        inbound.receive(Entity.ORDERS, raw)                        # stored, then the worker is woken
        return json_response({"status": "accepted"})

:meth:`Inbound.receive` stores the record in the inbox *before* the handler
answers, so what a channel was told is accepted survives any crash after;
the daemon's worker then takes it on to 1C within moments, not at the next
scheduled run. Rejected bodies are kept too (status ``rejected``, with the
reason) for ``hub status`` and for whoever debugs the channel.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote_plus

from werkzeug.wrappers import Request, Response

from hub.errors import InvalidRecord, RecordError
from hub.logs import HIDDEN, clean_error, is_secret_name
from hub.model import Entity, RawRecord
from hub.settings import SourceSettings
from hub.state import InboxStatus, StateStore
from hub.values import json_dumps, json_loads, utcnow

log = logging.getLogger("hub.inbound")

Handler = Callable[[Request, "Inbound", dict[str, str]], Response]
"""``handler(request, inbound, path_args)``: answers one request to an endpoint."""
Authenticate = Callable[[Request], Response | None]
"""Checks a request's credentials: None when they hold, else the system's own refusal (nothing is stored)."""

_UNKEPT_HEADERS = frozenset({"cookie", "proxy-authorization"})
ID_LIMIT = 255
"""Characters an external id may have: the inbox's column (longer ones are refused, their body kept)."""
UNVERIFIED = "unverified"
"""What bodies from callers hub could not verify are kept under, apart from every entity's records."""
_TYPE_LIMIT = 128
"""Characters of a Content-Type the inbox keeps (its column): a longer one is cut, the body kept whole."""


class Refused(InvalidRecord):
    """A request refused for what it carries, its body already kept as rejected with this reason; the daemon
    answers it 400 in the system's own words."""


@dataclass(frozen=True)
class Endpoint:
    """One URL a system calls, relative to the source's path."""

    name: str
    """Short name, for metrics and logs (``orders``): requests are counted as ``<source>.<name>``."""
    rule: str
    """werkzeug URL rule under the source's path, e.g. ``/order/<order_id>``."""
    methods: tuple[str, ...]
    handler: Handler
    entity: Entity | None = None
    """What the bodies it takes carry; rejected bodies are kept under it."""
    refuse: Callable[[int, str], Response] | None = None
    """How the system expects an error worded, for the refusals the daemon makes itself (404, 405, 413, 429, 500);
    None: hub's JSON."""
    authenticate: Authenticate | None = None
    """Checks the caller's credentials from what precedes the body (headers, query, cookie): None when they hold,
    else the system's own refusal (:class:`Token`, :class:`Basic`). The daemon asks it before it reads or keeps
    anything, and counts refusals towards the client's throttle. None for a protocol that signs the body itself:
    its handler is :func:`guarded` by a :class:`Signature`."""
    credentials: tuple[Secret, ...] = ()
    """Where credentials sit that the handler reads itself, being what it serves (the client_secret of an OAuth
    token request), beside those of its checks."""

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """Where the credentials it reads sit in a request: blanked in whatever is kept of one."""
        checks = [self.authenticate, *(self.handler.checks if isinstance(self.handler, Guarded) else ())]
        return (*self.credentials,
                *(secret for check in checks if isinstance(check, Check) for secret in check.secrets))


@dataclass(frozen=True)
class Secret:
    """Where a credential sits in a request: a header, a query parameter, or a field of the body (a form field named
    as sent, ``auth[application_token]``, or in a JSON body the keys its brackets spell: ``auth``, then
    ``application_token``). The inbox keeps no URL, so a query parameter is named for the record only."""

    where: Literal["header", "query", "body"]
    name: str


class Check(ABC):
    """A credential check that words its refusal as the system does; reasons never hold a credential."""

    refuse: Callable[[str], Response]

    @abstractmethod
    def problem(self, request: Request) -> str | None:
        """Why ``request``'s credentials do not hold, or None."""

    @property
    @abstractmethod
    def secrets(self) -> tuple[Secret, ...]:
        """Where the credential it reads sits, so that what is kept of a request holds none."""

    def __call__(self, request: Request) -> Response | None:
        problem = self.problem(request)
        return None if problem is None else self.refuse(problem)


def shared(secret: str) -> Callable[[str], str | None]:
    """What :class:`Token` accepts for a secret shared with the system: exactly it, compared in constant time."""
    def accept(given: str) -> str | None:
        # As bytes: a token with characters beyond ASCII is just wrong, not a crash of compare_digest.
        if secret and hmac.compare_digest(given.encode(), secret.encode()):
            return None
        return "wrong token" if secret else "no token is set up for this source"
    return accept


@dataclass(frozen=True)
class Token(Check):
    """A token the caller sends before the body: in ``header`` after the word ``scheme`` (alone too, when
    ``bare``), or as the query parameter ``query``. Checked before the body is read: an :attr:`Endpoint.authenticate`.
    """

    accept: Callable[[str], str | None]
    """Why a token is refused (unknown, expired), None when it is good: :func:`shared`, or the system's own."""
    refuse: Callable[[str], Response]
    """The system's 401 for a reason."""
    header: str | None = "Authorization"
    scheme: str | None = "Bearer"
    bare: bool = False
    query: str | None = None

    def problem(self, request: Request) -> str | None:
        return self.problem_of(dict(request.headers), request.args)

    def problem_of(self, headers: Mapping[str, str], args: Mapping[str, str] | None = None) -> str | None:
        """:meth:`problem` of a request made of ``headers`` and query ``args``."""
        given = self._given(headers, args or {})
        return self.accept(given) if given else f"missing {self._where()}"

    def _given(self, headers: Mapping[str, str], args: Mapping[str, str]) -> str:
        if self.query is not None and args.get(self.query):
            return args[self.query]
        if self.header is None:
            return ""
        sent = next((value for name, value in headers.items() if name.lower() == self.header.lower()), "").strip()
        word, _, rest = sent.partition(" ")
        if self.scheme is not None and word.lower() == self.scheme.lower():
            return rest.strip()
        return sent if self.bare or self.scheme is None else ""

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return tuple(secret for secret in (None if self.header is None else Secret("header", self.header),
                                           None if self.query is None else Secret("query", self.query))
                     if secret is not None)

    def _where(self) -> str:
        places = []
        if self.header is not None:
            places.append(f"{self.header}: {self.scheme} token" if self.scheme else f"{self.header} token")
        if self.query is not None:
            places.append(f"?{self.query}=")
        return " or ".join(places)


@dataclass(frozen=True)
class Signature(Check):
    """An HMAC of the body in a header (``sha256=<hex>`` as GitHub writes it: ``prefix`` ``sha256=``). It needs the
    body, so the daemon cannot ask it before reading one: put it in :func:`guarded`, never in
    :attr:`Endpoint.authenticate`; the daemon has read the body within ``inbound.max_body`` by then."""

    secret: str
    refuse: Callable[[str], Response]
    header: str
    algorithm: str = "sha256"
    """A :mod:`hashlib` name."""
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return (Secret("header", self.header),)  # no secret itself, but whoever holds it may replay the body

    def sign(self, body: bytes) -> str:
        """The header's value for ``body``, as the system computes it."""
        digest = hmac.new(self.secret.encode(), body, self.algorithm).digest()
        return self.prefix + (digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode())

    def problem(self, request: Request) -> str | None:
        given = request.headers.get(self.header, "")
        if not given:
            return f"missing {self.header}"
        # Bytes: any character compares, not only ASCII.
        return None if hmac.compare_digest(given.encode(), self.sign(request.get_data()).encode()) \
            else f"wrong {self.header}"


@dataclass(frozen=True)
class Basic(Check):
    """HTTP Basic credentials, compared in constant time; a 401 refusal carries ``WWW-Authenticate``. A protocol
    that hands out a session cookie after it (CommerceML's ``checkauth``, which words a refusal as ``failure``)
    asks it, or its :meth:`problem`, on that one request, then checks its cookie."""

    login: str
    password: str
    refuse: Callable[[str], Response]
    realm: str = "hub"

    def problem(self, request: Request) -> str | None:
        given = request.authorization
        if given is None or given.type != "basic":
            return "missing Basic credentials"
        fits = [hmac.compare_digest((given.username or "").encode(), self.login.encode()),
                hmac.compare_digest((given.password or "").encode(), self.password.encode())]
        return None if all(fits) else "wrong login or password"

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return (Secret("header", "Authorization"),)

    def __call__(self, request: Request) -> Response | None:
        refusal = super().__call__(request)
        if refusal is not None and refusal.status_code == 401:
            refusal.headers.setdefault("WWW-Authenticate", f'Basic realm="{self.realm}", charset="UTF-8"')
        return refusal


@dataclass(frozen=True)
class BodyToken(Check):
    """A token the caller sends inside the body: the form field ``field`` (as sent, ``auth[application_token]``) or
    the JSON keys its brackets spell; or in the header ``header``, when the system may send it there instead
    (Tilda: either, as the shop's owner set it up), which then wins. It needs the body: put it in :func:`guarded`,
    never in :attr:`Endpoint.authenticate`."""

    accept: Callable[[str], str | None]
    """Why a token is refused, None when it is good: :func:`shared`, or the system's own."""
    refuse: Callable[[str], Response]
    field: str
    header: str | None = None
    beside: tuple[str, ...] = ()
    """Other fields of the body the system sends credentials in beside it (Bitrix24's OAuth tokens to an
    application), never checked, blanked in what is kept all the same."""

    def problem(self, request: Request) -> str | None:
        if self.header is not None and self.header in request.headers:
            given = request.headers[self.header]
        else:
            given = body_field(request.get_data(), self.field)
        return self.accept(given) if given else f"missing {self.field}"

    @property
    def secrets(self) -> tuple[Secret, ...]:
        header = () if self.header is None else (Secret("header", self.header),)
        return (*header, *(Secret("body", name) for name in (self.field, *self.beside)))


@dataclass(frozen=True)
class Guarded:
    """A handler behind credential checks, which the endpoint declares (:attr:`Endpoint.secrets`): :func:`guarded`."""

    handler: Handler
    checks: tuple[Authenticate, ...]

    def __call__(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        for check in self.checks:
            refused = check(request)
            if refused is not None:
                return refused
        return self.handler(request, inbound, args)


def guarded(handler: Handler, *checks: Authenticate) -> Handler:
    """``handler`` behind ``checks``, asked in turn: the first refusal is the answer and nothing is stored. The
    daemon asks an endpoint's :attr:`Endpoint.authenticate` before it reads the body as well; asked again here, it
    also guards a caller that serves the handler otherwise."""
    return Guarded(handler, checks)


T = TypeVar("T")


@dataclass(frozen=True)
class Webhook:
    """The opening steps every webhook handler shares, declared once per endpoint: the media types it takes, the
    body read into what the system sends, and each refusal kept (the body as rejected, with the reason) before it is
    answered in the system's own error shape. The handler keeps only what is its system's own."""

    entity: Entity
    """What the bodies carry; refused bodies are kept under it."""
    error: Callable[[int, str], Response]
    """The system's error answer for a status and a reason."""
    media: Callable[[str], bool] | None = None
    """Whether a body's media type (without parameters) is one the system sends; None: any."""
    expected: str = "Content-Type application/json"
    """What a 415's reason says was expected."""

    def refuse(self, request: Request, inbound: Inbound, status: int, reason: str, *,
               external_id: str | None = None) -> Response:
        """Keep the request's body as rejected, then answer ``status`` in the system's words."""
        inbound.reject(self.entity, request.get_data(), reason, external_id=external_id,
                       content_type=request.content_type or "", headers=dict(request.headers))
        return self.error(status, reason)

    def read(self, request: Request, inbound: Inbound, parse: Callable[[bytes], T]) -> T | Response:
        """The body as ``parse`` reads it, or the kept refusal: 415 for another media type, 400 for what ``parse``
        refuses (an InvalidRecord or ValueError, its message the reason)."""
        if self.media is not None and not self.media(request.mimetype):
            return self.refuse(request, inbound, 415,
                               f"expected {self.expected}, got {request.mimetype or 'none'!r}")
        try:
            return parse(request.get_data())
        except (InvalidRecord, ValueError) as exc:
            return self.refuse(request, inbound, 400, str(exc))

    def record(self, request: Request, external_id: str) -> RawRecord:
        """The request's body as the record ``external_id``, with what the inbox keeps of its headers."""
        return RawRecord(external_id=external_id, body=request.get_data(), content_type=request.content_type or "",
                         headers=dict(request.headers))


class Receipt(NamedTuple):
    inbox_id: int
    new: bool
    """False for a byte-identical repeat of something already received (a channel retrying)."""


class Receiver(Protocol):
    """What the endpoints' plumbing needs of the connector serving them (a :class:`hub.connector.Connector`)."""

    @property
    def name(self) -> str: ...
    @property
    def settings(self) -> SourceSettings: ...
    def envelope(self, entity: Entity, record: RawRecord) -> None: ...
    def endpoints(self) -> list[Endpoint]: ...


class Inbound:
    """What a handler may do with what it received: validate, store, reject."""

    def __init__(self, store: StateStore, connector: Receiver, wake: Callable[[], None]) -> None:
        self.store = store
        self.connector = connector
        self.source = connector.name
        self._wake = wake
        self.secrets = frozenset(secret for endpoint in connector.endpoints() for secret in endpoint.secrets)
        """Where the credentials of the connector's endpoints sit: blanked in every body and header kept."""

    def validate(self, entity: Entity, record: RawRecord) -> str | None:
        """Why ``record`` cannot be taken (kept as rejected), or None when its envelope holds.

        Only the envelope (:meth:`hub.connector.Connector.envelope`): the channel waits for this answer, so
        nothing here reads a mapping, a link or another system. The record is decoded once, by the worker; one
        that cannot be decoded there becomes a dead letter with the reason.
        """
        try:
            self.connector.envelope(entity, record)
        except (RecordError, ValueError, ArithmeticError) as exc:  # a number too big for a Decimal is bad input too
            self.reject(entity, record.body, str(exc), external_id=record.external_id,
                        content_type=record.content_type, headers=record.headers)
            return str(exc)
        return None

    def receive(self, entity: Entity, record: RawRecord, *, keep: Mapping[str, Mapping[str, str]] | None = None,
                forget: Mapping[str, dt.datetime] | None = None) -> Receipt:
        """Store ``record`` in the inbox (committed when this returns) and wake the worker.

        ``keep`` is channel state (kind → key → payload, as :class:`hub.connector.ChannelState` holds it) written
        in the same transaction, so what the connector answers later about the record never disagrees with the
        inbox, whatever stops the process; ``forget`` (kind → a time) deletes that kind's rows written before it in
        that transaction too, so state kept per record stays bounded.
        """
        problem = id_problem(record.external_id)
        if problem is not None:
            self.reject(entity, record.body, problem, content_type=record.content_type, headers=record.headers)
            raise Refused(problem)
        with self.store.transaction() as state:
            for kind, before in (forget or {}).items():
                state.channel_state.forget(self.source, kind, before=before)
            inbox_id, new = state.inbox.add(self.source, entity.value, blank(record.body, self.secrets),
                                            external_id=record.external_id, content_type=_cut(record.content_type),
                                            headers=keepable(record.headers, self.secrets))
            for kind, payloads in (keep or {}).items():
                state.channel_state.put_many(self.source, kind, payloads)
        if new:
            self._wake()
        return Receipt(inbox_id, new)

    def receive_many(self, entity: Entity, records: Sequence[RawRecord]) -> int:
        """Store a batch of records in one transaction (a file a system uploaded, read record by record), skipping
        byte-identical repeats, and wake the worker; returns how many were new. A record whose id cannot be kept
        is kept as rejected instead, the others go on."""
        storable = []
        for r in records:
            problem = id_problem(r.external_id)
            if problem is None:
                storable.append(RawRecord(r.external_id, blank(r.body, self.secrets), _cut(r.content_type),
                                          keepable(r.headers, self.secrets)))
            else:
                self.reject(entity, r.body, problem, content_type=r.content_type, headers=r.headers)
        with self.store.transaction() as state:
            new = state.inbox.add_many(self.source, entity.value, storable)
        if new:
            self._wake()
        return new

    def keep_unverified(self, body: bytes, reason: str, *, content_type: str, headers: Mapping[str, str]) -> None:
        """Keep the start of a body refused before its sender could be verified (``inbound.unverified_keep`` bytes,
        for ``inbound.unverified_days``), so nobody can fill the disk with what they send hub."""
        settings = self.connector.settings.inbound
        with self.store.transaction() as state:
            state.inbox.forget(self.source, UNVERIFIED, before=utcnow() - dt.timedelta(days=settings.unverified_days))
        if settings.unverified_keep:
            self.reject(UNVERIFIED, body[:settings.unverified_keep], reason, content_type=content_type,
                        headers=headers)

    def reject(self, entity: Entity | str, body: bytes, reason: str, *, external_id: str | None = None,
               content_type: str = "application/octet-stream", headers: Mapping[str, str] | None = None) -> int:
        """Keep a body that was refused, with the reason, for inspection; it is never processed.

        An id the inbox cannot hold is left out (the reason says why), so the body is kept whatever it names.
        """
        problem = id_problem(external_id)
        if problem is not None:
            external_id, reason = None, f"{reason} ({problem})"
        log.warning("refused %s %s %s: %s", self.source, entity if isinstance(entity, str) else entity.value,
                    external_id or "(no id)", clean_error(reason))
        with self.store.transaction() as state:
            inbox_id, _ = state.inbox.add(self.source, entity if isinstance(entity, str) else entity.value,
                                          blank(body, self.secrets), external_id=external_id,
                                          content_type=_cut(content_type),
                                          headers=keepable(headers or {}, self.secrets), status=InboxStatus.REJECTED,
                                          error=_storable(clean_error(reason)))
        return inbox_id


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer written with hub's Decimal-safe encoder."""
    return Response(json_dumps(data), status=status, headers=headers, content_type="application/json")


def id_problem(external_id: str | None) -> str | None:
    """Why ``external_id`` cannot be kept as an inbox record's id (on every database hub runs on), or None."""
    if external_id is None:
        return None
    if len(external_id) > ID_LIMIT:
        return f"an id longer than {ID_LIMIT} characters"
    if "\0" in external_id:
        return "an id with a NUL character"
    if _storable(external_id) != external_id:
        return "an id that is not valid Unicode (a lone surrogate)"
    return None


def _storable(text: str) -> str:
    """``text`` as any database takes it: NULs and lone surrogates escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\0", "\\x00")


def _cut(content_type: str) -> str:
    return _storable(content_type)[:_TYPE_LIMIT]


def keepable(headers: Mapping[str, str], secrets: Iterable[Secret] = ()) -> dict[str, str]:
    """Headers that may be stored: without credentials (those ``secrets`` name, and any that look like one), which
    never belong in the state DB."""
    declared = {secret.name.lower() for secret in secrets if secret.where == "header"}
    return {name: value for name, value in headers.items()
            if name.lower() not in _UNKEPT_HEADERS | declared and not is_secret_name(name)
            and "signature" not in name.lower()}


def body_field(body: bytes, field: str) -> str:
    """The value of ``field`` (as a form names it, ``auth[application_token]``) in a form or JSON body; empty when
    the body holds none, or is neither."""
    data = _json_object(body)
    if data is not None:
        found: Any = data
        for key in _keys(field):
            found = found.get(key) if isinstance(found, dict) else None
        return found if isinstance(found, str) else ""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return ""
    return next((value for name, value in pairs if name == field), "")


BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte order mark some senders put before a JSON body."""


def blank(body: bytes, secrets: Iterable[Secret]) -> bytes:
    """``body`` with ``***`` for the value of each body field ``secrets`` name, the rest as it came: a form byte
    for byte, a JSON object written again (the same values; a start cut off a longer one is blanked where the key
    shows). Decoding it reads the same record, so the worker and a replayed dead letter take it as they took the
    body, which they never check the credential of again."""
    fields = {secret.name for secret in secrets if secret.where == "body"}
    if not fields or not body:
        return body
    data = _json_object(body)
    if data is not None:
        blanked = [_blank_key(data, _keys(field)) for field in fields]
        if not any(blanked):
            return body
        try:
            return json_dumps(data).encode()
        except UnicodeEncodeError:  # half an emoji (a lone surrogate) parses, but only escaped is it written again
            return json_dumps(data, ascii_only=True).encode()
    if _opens_object(body):  # a JSON object cut off (a body over the limit): no parser reads it
        for field in fields:
            key = re.escape(json_dumps(_keys(field)[-1])).encode()
            body = re.sub(rb'(' + key + rb'\s*:\s*)"(?:\\.|[^"\\])*"?', rb'\1"' + HIDDEN.encode() + rb'"', body)
        return body
    pairs = body.split(b"&")
    for n, pair in enumerate(pairs):
        name, equals, _ = pair.partition(b"=")
        if equals and unquote_plus(name.decode("utf-8", "replace")) in fields:
            pairs[n] = name + b"=" + HIDDEN.encode()
    return b"&".join(pairs)


def _opens_object(body: bytes) -> bool:
    """Whether ``body`` starts as a JSON object does (after a byte order mark and blanks); a form never does."""
    return body.lstrip().removeprefix(BOM).lstrip()[:1] == b"{"


def _json_object(body: bytes) -> dict[str, Any] | None:
    if not _opens_object(body):
        return None
    try:
        data = json_loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _keys(field: str) -> list[str]:
    """The JSON keys a form field's brackets spell: ``auth[application_token]`` → auth, application_token."""
    head, _, rest = field.partition("[")
    return [head, *rest.rstrip("]").split("][")] if rest else [head]


def _blank_key(data: dict[str, Any], keys: Sequence[str]) -> bool:
    """Put ``***`` at ``keys`` in ``data``; whether a value was there."""
    *path, last = keys
    node: Any = data
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict) or last not in node or node[last] == HIDDEN:
        return False
    node[last] = HIDDEN
    return True
