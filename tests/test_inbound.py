"""What a connector's endpoint may do with what it received: the inbox before the answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import string
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from hub.connector import Connector
from hub.errors import InvalidRecord
from hub.inbound import (
    Basic,
    BodyToken,
    Endpoint,
    Inbound,
    Secret,
    Signature,
    Token,
    Webhook,
    blank,
    guarded,
    json_response,
    shared,
)
from hub.logs import HIDDEN
from hub.model import Entity, RawRecord
from hub.state import InboxStatus, StateStore
from hub.values import json_dumps, json_loads


class _Named:
    name = "site"

    def endpoints(self) -> list[Endpoint]:
        return []


def test_a_batch_is_stored_once_with_credentials_left_out_and_the_worker_woken(store: StateStore) -> None:
    woken: list[Any] = []
    inbound = Inbound(store, cast(Connector, _Named()), lambda: woken.append(1))
    batch = [RawRecord(str(n), b"<good id='%d'/>" % n, "application/xml", {"Authorization": "Basic x", "X-Id": "1"})
             for n in range(3)]

    assert inbound.receive_many(Entity.CATALOG, batch) == 3
    assert inbound.receive_many(Entity.CATALOG, batch) == 0

    with store.reading() as state:
        kept = state.inbox.pending("site", "catalog")
    assert [(item.external_id, item.body, item.content_type) for item in kept] == [
        (str(n), b"<good id='%d'/>" % n, "application/xml") for n in range(3)]
    assert all("Authorization" not in item.headers and "X-Id" in item.headers for item in kept)
    assert woken == [1]  # only what was new wakes the worker


def _refusal(status: int, reason: str) -> Response:
    return json_response({"status": status, "why": reason}, status)


_KIT = Webhook(Entity.ORDERS, _refusal, media=lambda mimetype: mimetype == "application/json")


def _number(body: bytes) -> int:
    return int(json_loads(body)["n"])


def test_the_webhook_kit_keeps_each_refused_body_before_answering_in_the_systems_shape(store: StateStore) -> None:
    inbound = Inbound(store, cast(Connector, _Named()), lambda: None)
    wrong_type = Request(EnvironBuilder(method="POST", data=b'{"n": 1}', content_type="text/plain").get_environ())
    broken = Request(EnvironBuilder(method="POST", data=b'{"n": "x"}', content_type="application/json").get_environ())
    good = Request(EnvironBuilder(method="POST", data=b'{"n": 7}', content_type="application/json").get_environ())

    refused = _KIT.read(wrong_type, inbound, _number)
    assert isinstance(refused, Response) and refused.status_code == 415
    assert json_loads(refused.get_data()) == {"status": 415,
                                             "why": "expected Content-Type application/json, got 'text/plain'"}
    refused = _KIT.read(broken, inbound, _number)
    assert isinstance(refused, Response) and refused.status_code == 400
    assert _KIT.read(good, inbound, _number) == 7
    refused = _KIT.refuse(good, inbound, 404, "no order '7'", external_id="7")
    assert refused.status_code == 404

    with store.reading() as state:
        assert state.inbox.count(InboxStatus.REJECTED) == 3
        assert state.inbox.count(InboxStatus.PENDING) == 0
        [kept] = state.inbox.named("7", "site")
    assert (kept.body, kept.content_type, kept.error) == (b'{"n": 7}', "application/json", "no order '7'")
    assert _KIT.record(good, "7") == RawRecord("7", b'{"n": 7}', "application/json", dict(good.headers))


class _Enveloped(_Named):
    """A connector whose envelope is a JSON object with an ``id``, and whose decoding must never run here."""

    def envelope(self, entity: Entity, record: RawRecord) -> None:
        if "id" not in json_loads(record.body):
            raise InvalidRecord("id: missing")

    def decode(self, entity: Entity, record: RawRecord) -> Any:
        raise AssertionError("decoded inside the request")


def test_the_endpoint_checks_the_envelope_only_and_keeps_what_fails_it(store: StateStore) -> None:
    inbound = Inbound(store, cast(Connector, _Enveloped()), lambda: None)

    assert inbound.validate(Entity.ORDERS, RawRecord("1", b'{"id": 1, "items": "anything"}')) is None
    assert inbound.validate(Entity.ORDERS, RawRecord("2", b'{"items": []}')) == "id: missing"

    with store.reading() as state:
        [kept] = state.inbox.named("2", "site")
    assert (kept.status, kept.error) == (InboxStatus.REJECTED, "id: missing")


def _request(headers: dict[str, str] | None = None, body: bytes = b"", query: str = "") -> Request:
    return Request(EnvironBuilder(method="POST", data=body, headers=list((headers or {}).items()),
                                  query_string=query).get_environ())


def _unauthorized(reason: str) -> Response:
    return json_response({"why": reason}, 401)


SECRET = "s3cret-ЖЖ"


@pytest.mark.parametrize(("token", "request_", "problem"), [
    (Token(shared(SECRET), _unauthorized), _request({"Authorization": f"Bearer {SECRET}"}), None),
    (Token(shared(SECRET), _unauthorized), _request({"Authorization": SECRET}),
     "missing Authorization: Bearer token"),
    (Token(shared(SECRET), _unauthorized, bare=True), _request({"Authorization": SECRET}), None),
    (Token(shared(SECRET), _unauthorized), _request({"Authorization": "Bearer nope"}), "wrong token"),
    (Token(shared(SECRET), _unauthorized, header="X-Token", scheme=None), _request({"X-Token": SECRET}), None),
    (Token(shared(SECRET), _unauthorized, header=None, query="key"), _request(query="key=s3cret-%D0%96%D0%96"), None),
    (Token(shared(SECRET), _unauthorized, header=None, query="key"), _request(), "missing ?key="),
    (Token(shared(""), _unauthorized), _request({"Authorization": "Bearer "}), "missing Authorization: Bearer token"),
    (Token(shared(""), _unauthorized), _request({"Authorization": "Bearer x"}), "no token is set up for this source"),
])
def test_a_shared_token_is_found_where_declared_and_compared_whole(token: Token, request_: Request,
                                                                    problem: str | None) -> None:
    answer = token(request_)
    assert (None if answer is None else json_loads(answer.get_data())["why"]) == problem
    assert answer is None or (answer.status_code == 401 and SECRET not in answer.get_data(as_text=True))


@pytest.mark.parametrize(("signature", "value"), [
    (Signature(SECRET, _unauthorized, "X-Sig", prefix="sha256="),
     "sha256=" + hmac.new(SECRET.encode(), b"body", hashlib.sha256).hexdigest()),
    (Signature(SECRET, _unauthorized, "X-Sig", algorithm="sha1", encoding="base64"),
     base64.b64encode(hmac.new(SECRET.encode(), b"body", hashlib.sha1).digest()).decode()),
])
def test_a_signature_is_the_hmac_of_the_body_as_declared(signature: Signature, value: str) -> None:
    assert signature.sign(b"body") == value
    assert signature(_request({"X-Sig": value}, b"body")) is None
    assert signature.problem(_request({"X-Sig": value}, b"body!")) == "wrong X-Sig"
    assert signature.problem(_request({}, b"body")) == "missing X-Sig"
    assert signature.problem(_request({"X-Sig": "ЖЖ"}, b"body")) == "wrong X-Sig"


@given(st.text(max_size=20), st.text(max_size=20))
def test_basic_takes_only_its_own_login_and_password(login: str, password: str) -> None:
    basic = Basic("admin", SECRET, _unauthorized, realm="1C exchange")
    sent = base64.b64encode(f"{login}:{password}".encode()).decode()
    answer = basic(_request({"Authorization": f"Basic {sent}"}))
    if (login, password) == ("admin", SECRET):
        assert answer is None
    else:
        assert answer is not None and answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith('Basic realm="1C exchange"')


def test_basic_refuses_a_request_without_credentials_and_takes_the_right_ones() -> None:
    basic = Basic("admin", SECRET, _unauthorized)
    good = base64.b64encode(f"admin:{SECRET}".encode()).decode()
    assert basic.problem(_request()) == "missing Basic credentials"
    assert basic.problem(_request({"Authorization": f"Bearer {good}"})) == "missing Basic credentials"
    assert basic(_request({"Authorization": f"Basic {good}"})) is None


def test_a_guarded_handler_answers_the_first_refusal_and_stores_nothing(store: StateStore) -> None:
    inbound = Inbound(store, cast(Connector, _Named()), lambda: None)
    token = Token(shared(SECRET), _unauthorized)
    signed = Signature(SECRET, _unauthorized, "X-Sig")
    handler = guarded(lambda request, inbound, args: Response("taken"), token, signed)
    bearer = {"Authorization": f"Bearer {SECRET}"}

    assert handler(_request({}, b"x"), inbound, {}).status_code == 401
    assert json_loads(handler(_request(bearer, b"x"), inbound, {}).get_data()) == {"why": "missing X-Sig"}
    assert handler(_request({**bearer, "X-Sig": signed.sign(b"x")}, b"x"), inbound, {}).get_data() == b"taken"
    with store.reading() as state:
        assert state.inbox.count() == 0


def test_basic_words_a_refusal_as_the_protocol_does_before_a_cookie_is_handed_out() -> None:
    """CommerceML's checkauth answers a refusal ``failure`` with 200; no WWW-Authenticate is added to it."""
    basic = Basic("admin", SECRET, lambda reason: Response(f"failure\n{reason}", content_type="text/plain"))
    answer = basic(_request())
    assert answer is not None
    assert (answer.status_code, answer.get_data()) == (200, b"failure\nmissing Basic credentials")
    assert "WWW-Authenticate" not in answer.headers


# --- credentials blanked in what is kept ----------------------------------------------------------------------

_TOKEN = st.text(alphabet=string.ascii_letters + string.digits + "-_.~", min_size=8, max_size=40).map(
    lambda text: "~" + text)  # never a field's name nor a piece of the body's structure
_FIELD_NAMES = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=8)
_FIELDS = st.sampled_from(["auth[application_token]", "X-API-Key", "key"])


def _post(body: bytes, content_type: str) -> Request:
    return Request(EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ())


@given(token=_TOKEN, field=_FIELDS, others=st.dictionaries(_FIELD_NAMES, st.text(max_size=20), max_size=6),
       as_json=st.booleans(), at=st.integers(min_value=0, max_value=6))
def test_for_any_body_the_check_takes_the_kept_one_holds_no_token_and_reads_the_same(
        token: str, field: str, others: dict[str, str], as_json: bool, at: int) -> None:
    others = {name: value for name, value in others.items() if name not in (field, "auth")}
    assume(all(token not in f"{name}={value}" for name, value in others.items()))
    check = BodyToken(shared(token), lambda reason: _refusal(401, reason), field, beside=("auth[access_token]",))
    keys = field.rstrip("]").split("[")
    if as_json:
        data: dict[str, Any] = dict(others)
        data[keys[0]] = {keys[1]: token, "domain": "portal"} if len(keys) == 2 else token
        body, content_type = json_dumps(data).encode(), "application/json"
    else:
        pairs = list(others.items())
        pairs.insert(min(at, len(pairs)), (field, token))
        body, content_type = urlencode(pairs).encode(), "application/x-www-form-urlencoded"

    kept = blank(body, check.secrets)

    assert check.problem(_post(body, content_type)) is None, "the check takes the body as sent"
    assert token.encode() not in kept
    if as_json:
        if len(keys) == 2:
            data[keys[0]][keys[1]] = HIDDEN
        else:
            data[keys[0]] = HIDDEN
        assert json_loads(kept) == data
    else:
        assert parse_qsl(kept.decode(), keep_blank_values=True) == [
            (name, HIDDEN if name == field else value) for name, value in pairs]
    assert blank(kept, check.secrets) == kept, "blanked once: a repeat of a push is kept as the same body"


def test_a_json_body_cut_off_at_the_limit_keeps_no_token_either() -> None:
    cut = '{"Name": "Анна", "X-API-Key": "tilda-key-cut-here'.encode()

    assert blank(cut, [Secret("body", "X-API-Key")]) == '{"Name": "Анна", "X-API-Key": "***"'.encode()
    with_bom = b"\xef\xbb\xbf" + cut
    assert b"tilda-key" not in blank(with_bom, [Secret("body", "X-API-Key")])
    whole = b'\xef\xbb\xbf\n{"X-API-Key": "tilda-key"}'
    assert b"tilda-key" not in blank(whole, [Secret("body", "X-API-Key")])


def test_a_body_holding_half_an_emoji_is_still_kept_without_its_token() -> None:
    # A lone surrogate parses as JSON but UTF-8 cannot encode it: the blanked body is written escaped.
    body = b'{"Name": "\\ud83d", "X-API-Key": "tilda-key-1"}'
    kept = blank(body, [Secret("body", "X-API-Key")])
    assert b"tilda-key-1" not in kept and json_loads(kept) == {"Name": "\ud83d", "X-API-Key": "***"}


def test_the_endpoint_declares_where_its_checks_find_credentials_and_the_inbox_keeps_none(store: StateStore) -> None:
    header = Token(shared("header-token-1"), lambda reason: _refusal(401, reason), header="X-Shop-Key", scheme=None)
    field = BodyToken(shared("body-token-22"), lambda reason: _refusal(401, reason), "auth[application_token]")

    class Serving(_Named):
        def endpoints(self) -> list[Endpoint]:
            return [Endpoint("events", "/events", ("POST",), guarded(_taken, field), authenticate=header)]

    inbound = Inbound(store, cast(Connector, Serving()), lambda: None)
    body = b"event=ONCRMDEALADD&auth%5Bapplication_token%5D=body-token-22&data%5BFIELDS%5D%5BID%5D=7"
    headers = {"X-Shop-Key": "header-token-1", "X-Request-Id": "r-1"}
    inbound.receive(Entity.ORDERS, RawRecord("7", body, "application/x-www-form-urlencoded", headers))
    inbound.receive_many(Entity.ORDERS, [RawRecord("8", body.replace(b"=7", b"=8"), "", headers)])
    inbound.reject(Entity.ORDERS, body, "refused", headers=headers)

    assert inbound.secrets == {Secret("header", "X-Shop-Key"), Secret("body", "auth[application_token]")}
    with store.reading() as state:
        kept = [state.inbox.get(n) for n in range(1, state.inbox.count() + 1)]
    assert len(kept) == 3
    for item in kept:
        assert item is not None and b"token-" not in item.body and "token-" not in item.headers
        assert b"auth%5Bapplication_token%5D=***" in item.body and "X-Request-Id" in item.headers


def _taken(request: Request, inbound: Inbound, args: dict[str, str]) -> Response:
    return Response("taken")
