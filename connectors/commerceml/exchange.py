"""The HTTP exchange of CommerceML 2 ("Обмен с сайтом"), as both sides speak it.

1C is always the client and calls one URL on the site with ``type`` and ``mode``
in the query string (``shared/protocols/1c.md`` §2)::

    GET  ?type=catalog&mode=checkauth            Basic auth  -> success / cookie name / cookie value / sessid=…
    GET  ?type=catalog&mode=init                 cookie      -> zip=yes|no / file_limit=<bytes>
    POST ?type=catalog&mode=file&filename=…      raw bytes   -> success   (a file over file_limit: several POSTs)
    GET  ?type=catalog&mode=import&filename=…                -> progress (ask again) … success | failure / why
    GET  ?type=sale&mode=query                               -> the orders document
    GET  ?type=sale&mode=success                             -> success   (the site marks those orders exported)
    POST ?type=sale&mode=file&filename=…                     -> success   (1C's changes to the orders)

Answers are plain text lines; the first is the status word, the rest the
message. This module holds what both of hub's roles share: writing an answer
(:func:`answer`), reading one (:func:`read_answer`), and the file handling a
site needs (:func:`safe_name`, :func:`unpack`). :class:`ExchangeClient` is the
client side, used by the ``commerceml_site`` connector (hub as 1C) and by the
1C driver sandbox (which plays 1C against hub's ``commerceml_1c``).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from werkzeug.wrappers import Response

from hub.errors import AuthError, ProtocolError, RequestRejected
from hub.http import HttpClient
from hub.model import OrderStatus

log = logging.getLogger("hub.commerceml.exchange")

SUCCESS, PROGRESS, FAILURE = "success", "progress", "failure"
Kind = Literal["catalog", "sale"]
"""``type=`` of an exchange: goods, prices and stock (catalog) or orders (sale)."""

DEFAULT_STATUSES = {"N": OrderStatus.NEW, "P": OrderStatus.ACCEPTED, "F": OrderStatus.DELIVERED}
"""Bitrix's status letters (``Статуса заказа ИД``), the ones 1C's exchange module knows."""
ENCODINGS = Literal["UTF-8", "windows-1251"]
"""The encodings either side of the exchange writes files and answers in."""
_DRIVE = re.compile(r"^[A-Za-z]:")


def answer(status: str, *lines: str, encoding: str = "windows-1251") -> Response:
    """A protocol answer: the status word and message lines, ``\\n``-separated, as text/plain.

    1C reads only the body, so the HTTP status is always 200. Characters the
    encoding lacks become ``?`` rather than failing the answer.
    """
    text = "\n".join([status, *(line.replace("\n", " ") for line in lines)])
    return Response(text.encode(encoding, errors="replace"), status=200,
                    content_type=f"text/plain; charset={encoding}")


@dataclass(frozen=True)
class Answer:
    """A site's answer: its status word and the lines after it."""

    status: str
    lines: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return " ".join(line for line in self.lines if line)


def read_answer(body: bytes, encoding: str | None = None) -> Answer:
    """Read a status answer. Without ``encoding``, UTF-8 (with or without a BOM) if it decodes, else windows-1251,
    the two encodings sites answer in (Bitrix: windows-1251)."""
    if encoding is None:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = body.decode("windows-1251", errors="replace")
    else:
        text = body.decode(encoding, errors="replace").lstrip("\ufeff")
    lines = [line.strip() for line in text.strip().splitlines()]
    return Answer(lines[0].lower() if lines else "", lines[1:])


def safe_name(filename: str) -> PurePosixPath | None:
    """The relative path ``filename`` names inside an upload folder, or None when it would leave the folder.

    1C sends plain names (``import.xml``), relative ones for images
    (``import_files/ab/ab12.jpg``) and has been seen sending a Windows path
    (``C:\\v8_8789_c.xml``), whose drive and root are dropped. ``..`` is refused.
    """
    cleaned = _DRIVE.sub("", filename.replace("\\", "/")).lstrip("/")
    parts = [part for part in cleaned.split("/") if part not in ("", ".")]
    if not parts or any(part == ".." or "\x00" in part for part in parts):
        return None
    return PurePosixPath(*parts)


class ArchiveRefused(Exception):
    """An archive beyond the limits it is unpacked within; what it unpacked so far is removed."""


def unpack(archive: Path, into: Path, *, max_entries: int, max_file: int, max_total: int) -> list[str]:
    """Extract a zip archive 1C uploaded into ``into``; returns the names extracted.

    Members whose names would leave ``into`` are skipped and logged, never written. At most ``max_entries``
    members, none over ``max_file`` bytes and ``max_total`` bytes in all: the bytes written are counted, not
    the sizes the archive claims, which a bomb may fake (and members may share their packed data).
    """
    extracted: list[Path] = []
    with zipfile.ZipFile(archive) as packed:
        members = packed.infolist()
        if len(members) > max_entries:
            raise ArchiveRefused(f"{len(members)} entries, more than max_entries ({max_entries})")
        left = max_total
        try:
            for member in members:
                relative = safe_name(member.filename)
                if relative is None:
                    log.warning("%s: member %r refused: its path leaves the upload folder", archive.name,
                                member.filename)
                    continue
                target = into.joinpath(relative)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                extracted.append(target)
                written = 0
                with packed.open(member) as source, target.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        left -= len(chunk)
                        if written > max_file:
                            raise ArchiveRefused(f"{relative} unpacks to more than max_file ({max_file} bytes)")
                        if left < 0:
                            raise ArchiveRefused(f"it unpacks to more than the {max_total} bytes the exchange has "
                                                 "left (max_exchange)")
                        out.write(chunk)
        except ArchiveRefused:
            for path in extracted:
                path.unlink(missing_ok=True)
            raise
    return list(dict.fromkeys(str(path.relative_to(into)) for path in extracted))


def pack(files: Mapping[str, bytes]) -> bytes:
    """One zip archive holding ``files`` (name → bytes), for a site that takes zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as packed:
        for name, data in files.items():
            packed.writestr(name, data)
    return buffer.getvalue()


def chunks(data: bytes, limit: int) -> Iterator[bytes]:
    """``data`` in pieces of at most ``limit`` bytes (one empty piece for empty data: the file must exist)."""
    if not data:
        yield b""
        return
    for start in range(0, len(data), limit):
        yield data[start:start + limit]


# --- the client side ----------------------------------------------------------------------------------------------


@dataclass
class Session:
    """One authenticated exchange: the cookie, the session key and what ``init`` allowed."""

    kind: Kind
    cookie: str
    sessid: str | None
    zip: bool = False
    file_limit: int = 0


class ExchangeClient:
    """1C's side of the exchange, over :class:`~hub.http.HttpClient` (its timeouts, retries and rate limit).

    ::

        client = ExchangeClient(http)                  # http's base URL is the site's exchange URL
        with client.session("catalog") as session:
            client.upload(session, {"import.xml": data, "offers.xml": offers})
            client.import_file(session, "import.xml")
            client.import_file(session, "offers.xml")

    Every answer is checked: ``failure`` raises :class:`~hub.errors.RequestRejected`
    with the site's reason (:class:`~hub.errors.AuthError` on ``checkauth``), an
    answer that is no status at all (a PHP error page) raises
    :class:`~hub.errors.ProtocolError`.
    """

    def __init__(self, http: HttpClient, *, encoding: str | None = None, use_zip: bool = True,
                 max_progress: int = 10_000, version: str | None = None) -> None:
        self.http = http
        self.url = http.base_url.rstrip("/")
        """The exchange URL exactly as configured: a script's path takes no trailing slash."""
        self.encoding = encoding
        self.use_zip = use_zip
        self.max_progress = max_progress
        self.version = version
        self.progress_answers = 0
        """``progress`` answers seen, for tests and logs."""

    @contextmanager
    def session(self, kind: Kind) -> Iterator[Session]:
        """checkauth and init of a ``kind`` exchange."""
        said = self.call(None, kind, "checkauth", auth_failure=True)
        if len(said.lines) < 2:
            raise ProtocolError(f"checkauth answered success without a cookie: {said.lines!r}")
        cookie = f"{said.lines[0]}={said.lines[1]}"
        sessid = next((line.partition("=")[2] for line in said.lines[2:] if line.startswith("sessid=")), None)
        session = Session(kind, cookie, sessid)
        extra = {"version": self.version} if self.version else {}
        settings = self.call(session, kind, "init", params=extra, status_word=False)
        for line in [settings.status, *settings.lines]:
            name, _, value = line.partition("=")
            if name == "zip":
                session.zip = value.strip() == "yes" and self.use_zip
            elif name == "file_limit" and value.strip().isdigit():
                session.file_limit = int(value)
        if session.file_limit <= 0:
            session.file_limit = 1 << 20  # a site that names no limit: 1 MiB pieces are safe everywhere
        yield session

    def upload(self, session: Session, files: Mapping[str, bytes], *, archive: str = "hub.zip") -> None:
        """Send ``files`` (name → bytes): in one zip archive when the site takes zip, else one by one,
        each in ``file_limit`` pieces appended by the site."""
        sending: Iterable[tuple[str, bytes]] = ([(archive, pack(files))] if session.zip
                                                 else list(files.items()))
        for name, data in sending:
            for piece in chunks(data, session.file_limit):
                self.call(session, session.kind, "file", params={"filename": name}, data=piece)

    def import_file(self, session: Session, name: str) -> int:
        """``mode=import`` for ``name``, asked again while the site answers ``progress``; returns how many times."""
        for step in range(self.max_progress + 1):
            said = self.call(session, session.kind, "import", params={"filename": name}, progress=True)
            if said.status == SUCCESS:
                return step
            self.progress_answers += 1
            log.debug("%s: import of %s goes on: %s", self.http.source, name, said.message)
        raise ProtocolError(f"import of {name} still in progress after {self.max_progress} answers; "
                            "raise max_progress if the site is only slow")

    def query(self, session: Session) -> bytes:
        """``type=sale&mode=query``: the orders document, as the site sent it."""
        response = self.http.get(self.url, params=self._params(session, "sale", "query"), headers=self._cookie(session))
        head = response.content.lstrip()[:64].lstrip(b"\xef\xbb\xbf")
        if not head.startswith(b"<"):
            said = read_answer(response.content, self.encoding)
            raise RequestRejected(f"{self.http.source}: the orders query was refused: {said.status} {said.message}")
        return response.content

    def call(self, session: Session | None, kind: Kind, mode: str, *, params: Mapping[str, str] | None = None,
             data: bytes | None = None, progress: bool = False, auth_failure: bool = False,
             status_word: bool = True) -> Answer:
        """One request; its answer, checked (see the class docstring)."""
        query = {**self._params(session, kind, mode), **(params or {})}
        if data is None:
            response = self.http.get(self.url, params=query, headers=self._cookie(session))
        else:
            response = self.http.post(self.url, params=query, data=data, headers={
                **self._cookie(session), "Content-Type": "application/octet-stream"})
        said = read_answer(response.content, self.encoding)
        if not status_word:  # init answers its settings without a status word
            if said.status == FAILURE:
                raise RequestRejected(f"{self.http.source}: {kind} init refused: {said.message}")
            return said
        if said.status == SUCCESS or (progress and said.status == PROGRESS):
            return said
        if said.status == FAILURE:
            error = AuthError if auth_failure else RequestRejected
            raise error(f"{self.http.source}: {kind} {mode} failed: {said.message or 'no reason given'}")
        raise ProtocolError(f"{self.http.source}: {kind} {mode}: not a protocol answer: "
                            f"{response.content[:120]!r}")

    def _params(self, session: Session | None, kind: Kind, mode: str) -> dict[str, str]:
        params = {"type": kind, "mode": mode}
        if session is not None and session.sessid:
            params["sessid"] = session.sessid
        return params

    @staticmethod
    def _cookie(session: Session | None) -> dict[str, str]:
        return {"Cookie": session.cookie} if session is not None else {}

