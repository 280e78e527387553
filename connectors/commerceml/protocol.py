"""The site's side of 1C's «Обмен с сайтом», as hub's ``commerceml_1c`` speaks it (``shared/protocols/1c.md`` §2).

1C calls one URL with ``type`` (``catalog`` or ``sale``) and ``mode`` in the query. Every answer is plain text with
HTTP status 200, 1C reading only the body: the first line is the status word, ``success``, ``progress`` or
``failure``, the lines after it the message, in windows-1251 unless ``answer_encoding`` says otherwise::

    checkauth   HTTP Basic      -> success / <cookie name> / <cookie value> / sessid=<32 hex>
    init        the cookie      -> zip=yes|no / file_limit=<bytes>        (no status word: 1C reads the two lines)
    file        raw bytes       -> success         appended to ``filename``, on disk before the answer
    import      ``filename``    -> progress / <n> records read  (1C asks again) ... success | failure / <why>
    query       (sale)          -> the orders 1C has not confirmed, one CommerceML document
    success     (sale)          -> success         1C stored them: those orders are exported
    deactivate, complete        -> success

Every call after ``checkauth`` carries the cookie and, when 1C sends one, the same ``sessid``. Sessions live in
channel state, so any daemon on the state DB serves them; only a hash of the cookie is kept. A wrong login, an
unknown or expired session, a file name that leaves the upload folder, a file or exchange beyond its limit, a
missing file: each is answered ``failure`` with the reason, as 1C expects.

What the files mean is the site's business (:class:`Site`, which the connector is); this module knows the talk,
the sessions, the upload folders and how far each file's import got.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
import shutil
import time
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from werkzeug.wrappers import Request, Response

from connectors.commerceml.exchange import (
    ENCODINGS,
    FAILURE,
    PROGRESS,
    SUCCESS,
    ArchiveRefused,
    answer,
    safe_name,
    unpack,
)
from connectors.commerceml.imports import Step
from hub.connector import ChannelState
from hub.errors import ProtocolError
from hub.inbound import Inbound
from hub.model import Entity
from hub.values import json_dumps, json_loads, utcnow

log = logging.getLogger("hub.commerceml.server")
"""The connector's logger: what an exchange did is read in one place, whichever module wrote it."""

SESSION, UPLOAD, IMPORT = "session", "upload", "import"
"""Channel state kinds: the live sessions, the archives unpacked, each file's import report."""
KINDS = ("catalog", "sale")
NOT_STARTED: Mapping[str, Any] = {"position": 0, "done": False, "problems": []}
"""The import report of a file no step has read yet."""


class ExchangeSettings(Protocol):
    """What the exchange reads of the source's settings (described on the connector's settings)."""

    username: str
    password: str
    work_dir: Path
    zip: bool
    cookie: str
    session_ttl: int
    answer_encoding: ENCODINGS
    max_file: int
    max_exchange: int
    max_entries: int
    keep_uploads: int


class Orders(NamedTuple):
    """The answer to ``mode=query``: the document, its content type, and key -> version of the orders in it."""

    document: bytes
    content_type: str
    versions: dict[str, str]


class Site(Protocol):
    """What the exchange asks of the site behind it: what 1C's files mean and which orders 1C is due."""

    def import_catalog(self, path: Path, position: int) -> Step:
        """One step of a catalog file (goods, prices, stock) from record ``position``; ProtocolError if unreadable."""

    def apply_order_changes(self, path: Path) -> Step:
        """1C's file of changed orders, all at once; ProtocolError while it is not whole."""

    def orders_for_1c(self) -> Orders:
        """The orders 1C has not confirmed."""

    def orders_confirmed(self, versions: Mapping[str, str]) -> None:
        """1C stored the orders of the last query; those still at the version sent are exported."""

    def forget_old(self) -> None:
        """Drop what the site keeps beyond its time (confirmed orders); called at each ``checkauth``."""


@dataclass
class Session:
    """One exchange, from ``checkauth`` on, as kept in channel state under a hash of its cookie."""

    key: str
    kind: str
    sessid: str
    folder: str
    """The exchange's upload folder under ``work_dir``."""
    expires: str
    query: dict[str, str] = field(default_factory=dict)
    """Order key -> version, of the orders the last ``mode=query`` answered."""

    def dump(self) -> str:
        return json_dumps({"kind": self.kind, "sessid": self.sessid, "folder": self.folder, "expires": self.expires,
                           "query": self.query})

    @classmethod
    def load(cls, key: str, payload: str) -> Session:
        data = json_loads(payload)
        return cls(key, data["kind"], data["sessid"], data["folder"], data["expires"], data.get("query", {}))

    @property
    def expired(self) -> bool:
        return dt.datetime.fromisoformat(self.expires) <= utcnow()


ModeHandler = Callable[[Request, Inbound, Session], Response]
"""What answers one mode: the call, what it may keep, and the live session it comes in."""


class Exchange:
    """The exchange endpoint of one source: :meth:`answer` serves 1C's calls, :meth:`refused` screens callers."""

    def __init__(self, name: str, settings: ExchangeSettings, *, file_limit: int, state: ChannelState,
                 site: Site) -> None:
        self.name = name
        self.settings = settings
        self.file_limit = file_limit
        self.state = state
        self.site = site
        self.modes: dict[str, ModeHandler] = {"init": self.init, "file": self.file, "import": self.import_,
                                       "query": self.query, "success": self.success,
                                       "deactivate": self.nothing, "complete": self.nothing}

    def say(self, status: str, *lines: str) -> Response:
        return answer(status, *lines, encoding=self.settings.answer_encoding)

    def answer(self, request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
        """One call of 1C's, dispatched on ``type`` and ``mode``."""
        kind, mode = request.args.get("type", ""), request.args.get("mode", "")
        if kind not in KINDS:
            return self.say(FAILURE, f"unknown type {kind!r}: catalog or sale")
        if mode == "checkauth":
            return self.checkauth(request, kind)
        session = self.session(request)
        if isinstance(session, Response):
            return session
        handler = self.modes.get(mode)
        if handler is None or (mode in ("query", "success") and kind != "sale"):
            return self.say(FAILURE, f"unknown mode {mode!r} for type={kind}")
        try:
            return handler(request, inbound, session)
        except OSError as exc:  # a full disk, a folder removed: 1C must not take it as received
            log.exception("%s: %s %s failed", self.name, kind, mode)
            return self.say(FAILURE, f"hub could not keep the file: {exc.strerror or exc}")

    def refused(self, request: Request) -> Response | None:
        """``failure`` for a caller without this source's login (checkauth) or a live session (every other call);
        None when it has them. The daemon asks before it reads a body: uploads come only from 1C."""
        if request.args.get("mode") == "checkauth":
            return None if self.credentials_hold(request) else self.say(FAILURE, "wrong login or password")
        session = self.session(request)
        return session if isinstance(session, Response) else None

    # --- checkauth and the session -----------------------------------------------------------------------------

    def credentials_hold(self, request: Request) -> bool:
        auth = request.authorization
        if auth is None or not (hmac.compare_digest((auth.username or "").encode(), self.settings.username.encode())
                                and hmac.compare_digest((auth.password or "").encode(),
                                                        self.settings.password.encode())):
            log.warning("%s: checkauth refused: %s", self.name, "no credentials" if auth is None else "wrong login")
            return False
        return True

    def checkauth(self, request: Request, kind: str) -> Response:
        """A new session and its upload folder: ``success``, the cookie's name and value, ``sessid=…``."""
        if not self.credentials_hold(request):
            return self.say(FAILURE, "wrong login or password")
        self.forget_old()
        value, sessid = secrets.token_urlsafe(24), secrets.token_hex(16)
        now = utcnow()
        folder = f"{now:%Y%m%d-%H%M%S}-{kind}-{secrets.token_hex(4)}"
        (self.settings.work_dir / folder).mkdir(parents=True, exist_ok=True)
        session = Session(digest(value), kind, sessid, folder,
                          (now + dt.timedelta(seconds=self.settings.session_ttl)).isoformat())
        self.state.put_many(SESSION, {session.key: session.dump()})
        response = self.say(SUCCESS, self.settings.cookie, value, f"sessid={sessid}")
        response.set_cookie(self.settings.cookie, value, httponly=True)
        return response

    def session(self, request: Request) -> Session | Response:
        """The live session the call's cookie names, or the ``failure`` that says why there is none."""
        value = request.cookies.get(self.settings.cookie)
        if not value:
            return self.say(FAILURE, f"no {self.settings.cookie} cookie: call checkauth first")
        key = digest(value)
        kept = self.state.get(SESSION, key)
        if kept is None:
            return self.say(FAILURE, "unknown session: call checkauth again")
        session = Session.load(key, kept)
        if session.expired:
            return self.say(FAILURE, "session expired: call checkauth again")
        sessid = request.args.get("sessid")
        if sessid is not None and not hmac.compare_digest(sessid.encode(), session.sessid.encode()):
            return self.say(FAILURE, "wrong sessid")
        return session

    def forget_old(self) -> None:
        """Expired sessions, what the site keeps beyond its time, and upload folders older than ``keep_uploads``
        days go at each new checkauth."""
        self.state.delete(SESSION, [key for key, payload in self.state.all(SESSION)
                                    if Session.load(key, payload).expired])
        self.site.forget_old()
        horizon = time.time() - self.settings.keep_uploads * 86400
        root = self.settings.work_dir
        if not root.is_dir():
            return
        for folder in root.iterdir():
            if folder.is_dir() and folder.stat().st_mtime < horizon:
                shutil.rmtree(folder, ignore_errors=True)

    # --- init, deactivate, complete ----------------------------------------------------------------------------

    def init(self, request: Request, inbound: Inbound, session: Session) -> Response:
        return answer(f"zip={'yes' if self.settings.zip else 'no'}", f"file_limit={self.file_limit}",
                      encoding=self.settings.answer_encoding)

    def nothing(self, request: Request, inbound: Inbound, session: Session) -> Response:
        """deactivate and complete: hub hides goods only through ``missing_goods``, so there is nothing to do."""
        return self.say(SUCCESS)

    # --- file ----------------------------------------------------------------------------------------------

    def file(self, request: Request, inbound: Inbound, session: Session) -> Response:
        """Append one piece to the file, on disk before the answer; an archive is unpacked once it is whole.

        1C's pieces carry no offset, so none is ever taken for a repeat by its content: two identical pieces in a
        row are two pieces of the file. A file sent again after it was imported or unpacked in this exchange is a
        new upload, which starts the file afresh and is imported again.
        """
        path = self.path(request, session)
        body = request.get_data()
        if isinstance(path, Response):
            inbound.reject(Entity.ORDERS if session.kind == "sale" else Entity.CATALOG, body,
                           f"filename {request.args.get('filename', '')!r} leaves the upload folder",
                           external_id=request.args.get("filename"))
            return path
        upload_key = self.import_key(session, path)
        if (self.state.get(IMPORT, upload_key) is not None
                or json_loads(self.state.get(UPLOAD, upload_key) or "{}").get("unpacked")):
            self.start_afresh(session, [path])
        folder = self.settings.work_dir / session.folder
        size = path.stat().st_size if path.exists() else 0
        if size + len(body) > self.settings.max_file:
            return self.say(FAILURE, f"{path.name} would grow beyond max_file ({self.settings.max_file} bytes)")
        used = bytes_in(folder)
        if used + len(body) > self.settings.max_exchange:
            return self.say(FAILURE, f"this exchange's files would grow beyond max_exchange "
                                     f"({self.settings.max_exchange} bytes)")
        append(path, body)
        arrived = [path]
        if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):  # the archive's last piece has come
            unpacked = self.unpack(session, path, left=self.settings.max_exchange - used - len(body))
            if isinstance(unpacked, Response):
                return unpacked
            arrived = unpacked
        if session.kind == "sale":  # 1C may send its order changes with mode=file alone, no mode=import after
            for uploaded in arrived:
                self.order_changes_arrived(session, uploaded)
        return self.say(SUCCESS)

    def path(self, request: Request, session: Session) -> Path | Response:
        """Where ``filename`` is kept in the exchange's folder, or ``failure`` when it would leave the folder."""
        raw = request.args.get("filename", "")
        relative = safe_name(raw)
        if relative is None:
            return self.say(FAILURE, f"filename {raw!r} refused: it must stay inside the upload folder")
        return self.settings.work_dir / session.folder / relative

    def unpack(self, session: Session, path: Path, *, left: int) -> list[Path] | Response:
        """The files a whole archive held, unpacked beside it; ``failure`` for a damaged or oversized one, which
        is kept as uploaded, for whoever looks into it."""
        try:
            names = unpack(path, path.parent, max_entries=self.settings.max_entries, max_file=self.settings.max_file,
                           max_total=left)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            log.warning("%s: %s is a damaged archive: %s", self.name, path.name, exc)
            return self.say(FAILURE, f"{path.name}: damaged archive: {exc}")
        except ArchiveRefused as exc:
            log.warning("%s: %s refused: %s", self.name, path.name, exc)
            return self.say(FAILURE, f"{path.name} refused: {exc}")
        log.info("%s: %s unpacked: %s", self.name, path.name, ", ".join(names[:10]))
        arrived = [path.parent / name for name in names]
        self.start_afresh(session, arrived, unlink=False)
        self.state.put_many(UPLOAD, {self.import_key(session, path): json_dumps({"unpacked": True})})
        return arrived

    def start_afresh(self, session: Session, paths: list[Path], *, unlink: bool = True) -> None:
        """Forget what this exchange did with ``paths`` (imported, unpacked): they are being sent anew."""
        keys = [self.import_key(session, path) for path in paths]
        self.state.delete(IMPORT, keys)
        self.state.delete(UPLOAD, keys)
        if unlink:
            for path in paths:
                path.unlink(missing_ok=True)

    def order_changes_arrived(self, session: Session, path: Path) -> None:
        """Apply a file of order changes once it is whole; a file still missing pieces waits for them."""
        if path.suffix.lower() != ".xml":
            return
        try:
            step = self.site.apply_order_changes(path)
        except ProtocolError as exc:
            # More pieces may be coming; if not, mode=import answers failure with this reason.
            log.info("%s: %s is not whole yet (%s): it waits for its next piece or mode=import", self.name,
                     path.name, exc)
            return
        self.imported(session, path, step, NOT_STARTED)

    # --- import --------------------------------------------------------------------------------------------

    def import_(self, request: Request, inbound: Inbound, session: Session) -> Response:
        """One step of the file's import: ``progress`` while records are left, then ``success``."""
        path = self.path(request, session)
        if isinstance(path, Response):
            return path
        if not path.is_file():
            return self.say(FAILURE, f"{path.name} was not uploaded in this exchange")
        kept_raw = self.state.get(IMPORT, self.import_key(session, path))
        kept = json_loads(kept_raw) if kept_raw else NOT_STARTED
        if kept["done"]:
            return self.say(SUCCESS)  # the answer to the last step was lost: 1C asks again
        try:
            step = (self.site.apply_order_changes(path) if session.kind == "sale"
                    else self.site.import_catalog(path, kept["position"]))
        except ProtocolError as exc:
            log.warning("%s: %s", self.name, exc)
            return self.say(FAILURE, str(exc))
        if not self.imported(session, path, step, kept):
            return self.say(PROGRESS, f"{path.name}: {step.position} records read")
        return self.say(SUCCESS)

    def import_key(self, session: Session, path: Path) -> str:
        return f"{session.key}:{path.relative_to(self.settings.work_dir / session.folder)}"

    def imported(self, session: Session, path: Path, step: Step, kept: Mapping[str, Any]) -> bool:
        """Keep what an import step did (problems logged with file and line); whether the file is done."""
        for problem in step.problems:
            log.warning("%s: skipped %s", self.name, problem)
        problems = [*kept["problems"], *map(str, step.problems)][:50]
        left_out = kept.get("left_out", 0) + step.left_out
        report = {"position": step.position, "done": step.done, "problems": problems, "left_out": left_out,
                  "at": utcnow().isoformat()}
        self.state.put_many(IMPORT, {self.import_key(session, path): json_dumps(report)})
        if step.done:
            log.info("%s: %s imported: %d records, %d skipped, %d left out by the mappings", self.name, path.name,
                     step.position, len(problems), left_out)
        return step.done

    # --- query and success (sale) -------------------------------------------------------------------------

    def query(self, request: Request, inbound: Inbound, session: Session) -> Response:
        """The orders 1C has not confirmed, as one document; what was sent is kept for ``mode=success``."""
        orders = self.site.orders_for_1c()
        session.query = orders.versions
        self.state.put_many(SESSION, {session.key: session.dump()})
        return Response(orders.document, content_type=orders.content_type)

    def success(self, request: Request, inbound: Inbound, session: Session) -> Response:
        """1C stored what the last query sent: those orders (unless changed since) are exported."""
        self.site.orders_confirmed(session.query)
        session.query = {}
        self.state.put_many(SESSION, {session.key: session.dump()})
        return self.say(SUCCESS)


def digest(value: str) -> str:
    # Only a hash of the cookie is kept: a leaked state DB must not hand out live sessions.
    return hashlib.sha256(value.encode()).hexdigest()


def append(path: Path, piece: bytes) -> None:
    """Append ``piece`` to ``path`` and sync it to disk: 1C is told ``success`` only for what survives a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as out:
        out.write(piece)
        out.flush()
        os.fsync(out.fileno())


def bytes_in(folder: Path) -> int:
    """What the files under ``folder`` hold, in bytes."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else 0
