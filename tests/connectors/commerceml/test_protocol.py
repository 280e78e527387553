"""The site's side of «Обмен с сайтом» alone (``commerceml/protocol.py``): no connector, no mappings, no daemon;
a site that only records what it is asked, and the real state store the sessions live in."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from connectors.commerceml.exchange import ENCODINGS
from connectors.commerceml.imports import Step
from connectors.commerceml.protocol import IMPORT, SESSION, Exchange, Orders
from hub.errors import ProtocolError
from hub.inbound import Endpoint, Inbound
from hub.model import Entity, RawRecord
from hub.runtime import StoreChannelState
from hub.settings import SourceSettings
from hub.state import InboxStatus, StateStore
from hub.values import json_dumps, json_loads

PASSWORD = "1c-secret"


@dataclass
class Settings:
    username: str = "site-exchange"
    password: str = PASSWORD
    work_dir: Path = Path()
    zip: bool = False
    cookie: str = "HUBSESSID"
    session_ttl: int = 3600
    answer_encoding: ENCODINGS = "windows-1251"
    max_file: int = 1 << 20
    max_exchange: int = 1 << 22
    max_entries: int = 100
    keep_uploads: int = 7


@dataclass
class RecordingSite:
    """A site whose catalog files hold ``records`` records each, read two per step; it records every call."""

    records: int = 5
    refuse: str | None = None
    imports: list[tuple[str, int]] = field(default_factory=list)
    order_files: list[bytes] = field(default_factory=list)
    confirmed: list[dict[str, str]] = field(default_factory=list)
    tidied: int = 0

    def import_catalog(self, path: Path, position: int) -> Step:
        if self.refuse:
            raise ProtocolError(self.refuse)
        self.imports.append((path.name, position))
        reached = min(position + 2, self.records)
        return Step(reached, done=reached == self.records)

    def apply_order_changes(self, path: Path) -> Step:
        data = path.read_bytes()
        if not data.endswith(b"</end>"):
            raise ProtocolError(f"{path.name}: the document ends too early")
        self.order_files.append(data)
        return Step(1, done=True)

    def orders_for_1c(self) -> Orders:
        return Orders(b"<orders/>", "application/xml; charset=windows-1251", {"shop:1": "v1", "shop:2": "v7"})

    def orders_confirmed(self, versions: Mapping[str, str]) -> None:
        self.confirmed.append(dict(versions))

    def forget_old(self) -> None:
        self.tidied += 1


class Receiver:
    name = "onec"
    settings = SourceSettings(type="commerceml_1c")

    def envelope(self, entity: Entity, record: RawRecord) -> None:
        raise AssertionError("the exchange checks its uploads itself")

    def endpoints(self) -> list[Endpoint]:
        return []


@dataclass
class OneC:
    """1C's side, calling the exchange as the daemon would hand it each request."""

    exchange: Exchange
    inbound: Inbound
    cookie: str | None = None

    def call(self, kind: str, mode: str, body: bytes | None = None, *, auth: tuple[str, str] | None = None,
             **params: str) -> Response:
        headers = [("Cookie", self.cookie)] if self.cookie else []
        builder = EnvironBuilder(method="GET" if body is None else "POST", query_string={"type": kind, "mode": mode,
                                 **params}, data=body, auth=auth, headers=headers)
        return self.exchange.answer(Request(builder.get_environ()), self.inbound, {})

    def said(self, kind: str, mode: str, body: bytes | None = None, *, filename: str | None = None) -> list[str]:
        response = self.call(kind, mode, body) if filename is None else self.call(kind, mode, body, filename=filename)
        assert response.status_code == 200 and response.mimetype == "text/plain"
        return response.get_data().decode("cp1251").split("\n")

    def login(self, kind: str = "catalog") -> list[str]:
        lines = self.call(kind, "checkauth", auth=("site-exchange", PASSWORD)).get_data().decode().split("\n")
        assert lines[0] == "success", lines
        self.cookie = f"{lines[1]}={lines[2]}"
        return lines


@pytest.fixture
def site() -> RecordingSite:
    return RecordingSite()


@pytest.fixture
def onec(store: StateStore, site: RecordingSite, tmp_path: Path) -> Iterator[OneC]:
    state = StoreChannelState(store, "onec")
    exchange = Exchange("onec", Settings(work_dir=tmp_path / "uploads"), file_limit=4096, state=state, site=site)
    yield OneC(exchange, Inbound(store, Receiver(), lambda: None))


def test_checkauth_opens_a_session_kept_only_as_a_hash_of_its_cookie(onec: OneC, site: RecordingSite) -> None:
    lines = onec.login()

    assert lines[:2] == ["success", "HUBSESSID"] and lines[3].startswith("sessid=")
    [(key, _)] = onec.exchange.state.all(SESSION)
    assert key == hashlib.sha256(lines[2].encode()).hexdigest() != lines[2]
    assert site.tidied == 1, "each checkauth lets the site forget what it keeps beyond its time"


@pytest.mark.parametrize("auth", [None, ("site-exchange", "wrong"), ("someone", PASSWORD)])
def test_a_wrong_login_opens_no_session(onec: OneC, auth: tuple[str, str] | None) -> None:
    response = onec.call("catalog", "checkauth", auth=auth)

    assert response.get_data() == b"failure\nwrong login or password"
    assert onec.exchange.state.all(SESSION) == []
    assert onec.exchange.refused(Request(EnvironBuilder(query_string={"mode": "checkauth"}).get_environ())) is not None


def test_init_answers_zip_and_file_limit_without_a_status_word(onec: OneC) -> None:
    assert onec.said("catalog", "init") == ["failure", "no HUBSESSID cookie: call checkauth first"]
    onec.login()

    assert onec.said("catalog", "init") == ["zip=no", "file_limit=4096"]


@pytest.mark.parametrize(("kind", "mode", "reason"), [
    ("goods", "init", "unknown type 'goods': catalog or sale"),
    ("catalog", "query", "unknown mode 'query' for type=catalog"),
    ("catalog", "dance", "unknown mode 'dance' for type=catalog"),
])
def test_an_unknown_type_or_mode_is_answered_failure_with_the_reason(onec: OneC, kind: str, mode: str,
                                                                    reason: str) -> None:
    onec.login()
    assert onec.said(kind, mode) == ["failure", reason]


def test_pieces_are_appended_and_the_file_is_imported_a_step_at_a_time(onec: OneC, site: RecordingSite,
                                                                       tmp_path: Path) -> None:
    onec.login()
    for piece in (b"<a>", b"<a>", b"</a>"):  # identical pieces in a row are two pieces, not a repeat
        assert onec.said("catalog", "file", piece, filename="import.xml") == ["success"]
    [kept] = (tmp_path / "uploads").glob("*/import.xml")
    assert kept.read_bytes() == b"<a><a></a>"

    answers = [onec.said("catalog", "import", filename="import.xml") for _ in range(3)]

    assert answers == [["progress", "import.xml: 2 records read"], ["progress", "import.xml: 4 records read"],
                       ["success"]]
    assert site.imports == [("import.xml", 0), ("import.xml", 2), ("import.xml", 4)]
    assert onec.said("catalog", "import", filename="import.xml") == ["success"]  # the last answer was lost
    assert len(site.imports) == 3, "a file done is not read again"


def test_a_file_sent_again_after_its_import_starts_afresh(onec: OneC, site: RecordingSite, tmp_path: Path) -> None:
    site.records = 1
    onec.login()
    onec.said("catalog", "file", b"old", filename="import.xml")
    assert onec.said("catalog", "import", filename="import.xml") == ["success"]

    assert onec.said("catalog", "file", b"new", filename="import.xml") == ["success"]

    [kept] = (tmp_path / "uploads").glob("*/import.xml")
    assert kept.read_bytes() == b"new"
    assert onec.exchange.state.all(IMPORT) == []
    assert onec.said("catalog", "import", filename="import.xml") == ["success"]
    assert site.imports == [("import.xml", 0), ("import.xml", 0)]


def test_a_file_the_site_cannot_read_is_answered_failure_with_the_sites_reason(onec: OneC,
                                                                              site: RecordingSite) -> None:
    site.refuse = "import.xml:3: not CommerceML"
    onec.login()
    onec.said("catalog", "file", b"<html>", filename="import.xml")

    assert onec.said("catalog", "import", filename="import.xml") == ["failure", "import.xml:3: not CommerceML"]
    assert onec.said("catalog", "import", filename="offers.xml") == [
        "failure", "offers.xml was not uploaded in this exchange"]


def test_a_name_leaving_the_upload_folder_is_refused_and_its_body_kept(onec: OneC, store: StateStore) -> None:
    onec.login()

    said = onec.said("catalog", "file", b"evil", filename="../../etc/passwd")

    assert said == ["failure", "filename '../../etc/passwd' refused: it must stay inside the upload folder"]
    with store.reading() as state:
        item = state.inbox.get(1)
    assert item is not None and (item.body, item.status) == (b"evil", InboxStatus.REJECTED)


def test_order_changes_are_applied_once_their_file_is_whole(onec: OneC, site: RecordingSite) -> None:
    onec.login("sale")

    assert onec.said("sale", "file", b"<doc>", filename="documents.xml") == ["success"]
    assert site.order_files == [], "a file still missing pieces waits for them"
    assert onec.said("sale", "file", b"</end>", filename="documents.xml") == ["success"]

    assert site.order_files == [b"<doc></end>"]
    assert onec.said("sale", "import", filename="documents.xml") == ["success"]
    assert len(site.order_files) == 1, "mode=import after mode=file does not apply the changes twice"


def test_success_confirms_exactly_what_the_last_query_sent(onec: OneC, site: RecordingSite) -> None:
    onec.login("sale")

    response = onec.call("sale", "query")
    assert (response.get_data(), response.content_type) == (b"<orders/>", "application/xml; charset=windows-1251")
    assert onec.said("sale", "success") == ["success"]
    assert onec.said("sale", "success") == ["success"]

    assert site.confirmed == [{"shop:1": "v1", "shop:2": "v7"}, {}]


def test_an_expired_session_is_refused(onec: OneC) -> None:
    onec.login()
    [(key, payload)] = onec.exchange.state.all(SESSION)
    kept: dict[str, Any] = {**json_loads(payload), "expires": "2000-01-01T00:00:00+00:00"}
    onec.exchange.state.put_many(SESSION, {key: json_dumps(kept)})

    assert onec.said("catalog", "init") == ["failure", "session expired: call checkauth again"]
