"""The daemon's endpoints over real HTTP on 127.0.0.1. Fed bad input: never a 5xx, what an authenticated caller
sent is kept, every answer in the shape the calling system reads (Yandex's ``[{code, description}]``, 1C's
``failure`` line, hub's JSON for the testchannel shop and iiko). Attacked: credentials are checked before a body
is read or kept, what unverified callers send is kept bounded, repeated credential failures are throttled per
client, and slow senders cannot take every thread."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import itertools
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.iiko.sandbox import IikoSandbox
from connectors.testchannel import TestChannelSandbox
from connectors.testchannel.client import SIGNATURE_HEADER
from connectors.yandex_eda import connector as yandex_connector
from connectors.yandex_eda.sandbox import PARTNER_CLIENT, YandexEdaSimulator
from hub.config import load_config
from hub.daemon import Daemon
from hub.daemon.server import Throttle
from hub.state import InboxStatus, schema
from hub.testing.postgres import create_database
from hub.values import json_dumps, json_loads, utcnow

SHOP_SECRET, EXCHANGE_PASSWORD = "hook-secret", "1c-secret"


@dataclass
class Served:
    daemon: Daemon
    url: str
    yandex_token: str
    iiko_token: str
    exchange_cookie: str

    def bodies(self, source: str) -> set[bytes]:
        with self.daemon.runtime.store.reading() as state:
            return set(state.conn.execute(select(schema.inbox.c.body).where(schema.inbox.c.source == source))
                       .scalars())


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("fuzz")
    state_url = (f"sqlite:///{folder / 'state.db'}" if request.param == "sqlite"
                 else create_database(request.getfixturevalue("postgres_url")))
    with YandexEdaSimulator() as yandex, IikoSandbox() as iiko, pytest.MonkeyPatch.context() as env:
        env.setenv("SHOP_WEBHOOK_SECRET", SHOP_SECRET)
        env.setenv("EXCHANGE_PASSWORD", EXCHANGE_PASSWORD)
        env.setenv("IIKO_WEBHOOK_TOKEN", iiko.webhook_token)
        config = {
            "state": {"url": state_url}, "system_of_record": "onec",
            "daemon": {"listen": "127.0.0.1:0"},
            "sources": {
                "shop": {"type": "testchannel", "url": "http://127.0.0.1:9", "token": "t",
                         "webhook_secret": "${SHOP_WEBHOOK_SECRET}",
                         "inbound": {"unverified_keep": 100, "unverified_days": 1}},
                "yandex": {"type": "yandex_eda", **yandex.source_settings()},
                "iiko": {"type": "iiko", **iiko.source_settings(), "webhook_token": "${IIKO_WEBHOOK_TOKEN}"},
                "onec": {"type": "commerceml_1c", "username": "site", "password": "${EXCHANGE_PASSWORD}",
                         "work_dir": str(folder / "uploads"), "inbound": {"path": "/1c_exchange"}},
            },
        }
        path = folder / "hub.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        daemon = Daemon(load_config(path))
        url = daemon.start()
        try:
            token = requests.post(f"{url}/yandex/security/oauth/token", timeout=10, data={
                "client_id": PARTNER_CLIENT[0], "client_secret": PARTNER_CLIENT[1],
                "grant_type": "client_credentials"}).json()["access_token"]
            login = requests.get(f"{url}/1c_exchange", params={"type": "catalog", "mode": "checkauth"},
                                 auth=("site", EXCHANGE_PASSWORD), timeout=10).text.split("\n")
            yield Served(daemon, url, token, iiko.webhook_token, f"{login[1]}={login[2]}")
        finally:
            daemon.stop()


# --- what is sent -----------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.sampled_from(["1e400", "-1e400", "NaN", "\ud800", "\x00", "x" * 300]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


def _order_like(fields: dict[str, Any]) -> bytes:
    return json_dumps(fields).encode("utf-8", "surrogatepass")


ids = st.sampled_from(["1", "x" * 256, "a\x00b", "\ud800", "٣", ""]) | st.text(max_size=30)
order_bodies = st.builds(
    lambda order_id, amount, extra: _order_like({
        "id": order_id, "eatsId": order_id, "discriminator": "marketplace", "restaurantId": "r",
        "items": [{"id": "i", "name": "n", "quantity": amount, "price": amount}], "total": amount,
        "eventType": "DeliveryOrderUpdate", "eventInfo": {"id": order_id, "order": {"sum": amount}}, **extra}),
    ids, st.sampled_from(["1", "1e400", "-0", "1" * 60, "abc"]) | json_values,
    st.dictionaries(st.text(max_size=8), json_values, max_size=3))
bodies = (st.binary(max_size=300) | order_bodies
          | st.integers(1, 4).map(lambda n: (b"[" * 10 ** n) + b"]" * 10 ** n)
          | json_values.map(lambda v: json_dumps(v).encode("utf-8", "surrogatepass")))
content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                 "application/octet-stream", "application/json; x=" + "y" * 200, ""])
path_args = st.binary(min_size=1, max_size=300).map(lambda b: quote_from_bytes(b, safe=""))
credentials = st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)


@dataclass(frozen=True)
class Call:
    source: str
    method: str
    path: str
    authenticated: bool

    @property
    def carries_a_record(self) -> bool:
        """Whether it goes to an endpoint that takes records: what it sends is kept, whatever the answer."""
        return (self.source, self.method, self.path) in RECORD_ENDPOINTS


RECORD_ENDPOINTS = {("shop", "POST", "/orders"), ("iiko", "POST", "/webhook"), ("yandex", "POST", "/order"),
                    ("yandex", "PUT", "/order/{id}"), ("yandex", "DELETE", "/order/{id}"),
                    ("yandex", "PUT", "/order/{id}/status")}
YANDEX_PATHS = ["/order", "/order/{id}", "/order/{id}/status", "/restaurants", "/menu/{id}/composition",
                "/menu/{id}/availability", "/security/oauth/token", "/nothing/here"]
calls = st.one_of(
    st.builds(Call, st.just("shop"), st.sampled_from(["POST", "GET", "PUT"]),
              st.sampled_from(["/orders", "/elsewhere"]), st.booleans()),
    st.builds(Call, st.just("yandex"), st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH"]),
              st.sampled_from(YANDEX_PATHS), st.booleans()),
    st.builds(Call, st.just("iiko"), st.sampled_from(["POST", "GET"]), st.sampled_from(["/webhook", "/x"]),
              st.booleans()),
    st.builds(Call, st.just("1c_exchange"), st.sampled_from(["POST", "GET"]), st.just(""), st.booleans()),
)


@dataclass(frozen=True)
class Sent:
    """One request: where to, what, and with which (possibly wrong) credential."""

    call: Call
    body: bytes
    content_type: str
    arg: str
    credential: str
    query: dict[str, str]


requests_sent = st.builds(
    Sent, calls, bodies, content_types, path_args, credentials,
    st.dictionaries(st.sampled_from(["type", "mode", "filename", "sessid"]),
                    st.sampled_from(["catalog", "sale", "file", "import", "query", "init", "checkauth", "../x",
                                     "a\x00b", "import.xml"]) | st.text(max_size=10)))


_clients = itertools.count()


def send(served: Served, sent: Sent) -> requests.Response:
    call, body = sent.call, sent.body
    headers = {"Content-Type": sent.content_type} if sent.content_type else {}
    if call.source == "shop":
        signature = "sha256=" + hmac.new(SHOP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = signature if call.authenticated else sent.credential
    elif call.source == "yandex":
        headers["Authorization"] = f"Bearer {served.yandex_token if call.authenticated else sent.credential}"
    elif call.source == "iiko":
        headers["Authorization"] = served.iiko_token if call.authenticated else sent.credential
    elif call.authenticated:
        headers["Cookie"] = served.exchange_cookie
    n = next(_clients)
    headers["X-Forwarded-For"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"  # a new client: never throttled
    encoded = {k: v.encode("latin-1") for k, v in headers.items()}
    return requests.request(call.method, f"{served.url}/{call.source}{call.path.replace('{id}', sent.arg)}",
                            data=body, headers=encoded, params=sent.query, timeout=30)


def in_its_shape(source: str, response: requests.Response) -> bool:
    """Whether the answer is worded as ``source``'s system reads it."""
    if source == "1c_exchange":
        first = response.content.split(b"\n", 1)[0]
        return response.status_code == 200 and (first in (b"success", b"failure", b"progress")
                                                or first.startswith(b"zip=") or first.startswith(b"<?xml"))
    if response.status_code < 400:
        return True
    data = json_loads(response.content)
    if source == "yandex":
        return (isinstance(data, list) and all(set(e) == {"code", "description"} for e in data)) or (
            response.status_code == 401 and set(data) == {"reason"})
    return isinstance(data, dict) and {"error", "message"} <= set(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=requests_sent)
def test_no_bad_input_gets_a_5xx_and_each_answer_is_in_its_system_s_shape(served: Served, sent: Sent) -> None:
    response = send(served, sent)

    assert response.status_code < 500, response.text
    assert in_its_shape(sent.call.source, response), (response.status_code, response.text)
    if sent.call.authenticated and sent.call.carries_a_record and response.status_code >= 400 \
            and response.status_code != 401:
        assert sent.body in served.bodies(sent.call.source)  # refused, and kept with the reason


def test_a_daemon_error_under_a_source_s_path_is_in_its_system_s_words(served: Served) -> None:
    yandex = requests.patch(f"{served.url}/yandex/order", timeout=10)
    assert yandex.status_code == 405 and re.match(r"PATCH /yandex/order", yandex.json()[0]["description"])
    assert requests.get(f"{served.url}/yandex/nowhere", timeout=10).json()[0]["code"] == 404
    exchange = requests.get(f"{served.url}/1c_exchange/nowhere", timeout=10)
    assert exchange.status_code == 200 and exchange.text.startswith("failure\n")
    elsewhere = requests.get(f"{served.url}/nowhere", timeout=10)
    assert elsewhere.status_code == 404 and elsewhere.json()["error"] == "not_found"


def test_a_handler_that_fails_keeps_the_body_and_answers_in_its_system_s_words(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(yandex_connector, "parse_order", broken)
    body = b'{"eatsId": "fails-1"}'
    answer = requests.post(f"{served.url}/yandex/order", data=body, timeout=10, headers={
        "Authorization": f"Bearer {served.yandex_token}", "Content-Type": "application/json"})

    assert answer.status_code == 500 and answer.json()[0]["code"] == 500
    assert body in served.bodies("yandex")


@pytest.mark.parametrize(("order_id", "content_type", "kept_as"), [
    ("x" * 256, "application/json", "rejected"),
    ("a\x00b", "application/json", "rejected"),
    ("\ud800", "application/json", "rejected"),
    ("long-type", "application/json; profile=" + "p" * 200, "pending"),
])
def test_what_the_inbox_cannot_hold_as_it_is_is_kept_all_the_same(
        served: Served, order_id: str, content_type: str, kept_as: str) -> None:
    order = {**TestChannelSandbox(seed=3).place_order(), "id": order_id}
    body = json_dumps(order).encode("utf-8", "surrogatepass")
    signature = "sha256=" + hmac.new(SHOP_SECRET.encode(), body, hashlib.sha256).hexdigest()

    answer = requests.post(f"{served.url}/shop/orders", data=body, timeout=10,
                           headers={"Content-Type": content_type, SIGNATURE_HEADER: signature})

    assert answer.status_code == (200 if kept_as == "pending" else 400), answer.text
    with served.daemon.runtime.store.reading() as state:
        [status] = state.conn.execute(select(schema.inbox.c.status).where(schema.inbox.c.body == body)).scalars()
    assert status == kept_as


# --- attacks ----------------------------------------------------------------------------------------------------


def rows(served: Served, source: str) -> int:
    with served.daemon.runtime.store.reading() as state:
        return len(state.conn.execute(select(schema.inbox.c.id).where(schema.inbox.c.source == source)).all())


def test_credentials_are_checked_before_a_body_is_read_or_kept(served: Served) -> None:
    huge = b"{" + b" " * (2 << 20)
    before = {source: rows(served, source) for source in ("yandex", "iiko", "onec")}

    yandex = requests.post(f"{served.url}/yandex/order", data=huge, timeout=30,
                           headers={"Authorization": "Bearer forged", "X-Forwarded-For": "10.201.0.1"})
    iiko = requests.post(f"{served.url}/iiko/webhook", data=huge, timeout=30,
                         headers={"Authorization": "forged", "X-Forwarded-For": "10.201.0.1"})
    exchange = requests.post(f"{served.url}/1c_exchange", data=huge, timeout=30,
                             params={"type": "catalog", "mode": "file", "filename": "import.xml"},
                             headers={"X-Forwarded-For": "10.201.0.1"})

    assert (yandex.status_code, yandex.json()) == (401, {"reason": "unknown access token"})
    assert iiko.status_code == 401 and iiko.json()["error"] == "unauthorized"
    assert exchange.text.startswith("failure\nno HUBSESSID cookie")
    assert {source: rows(served, source) for source in before} == before


def test_what_an_unverified_caller_sends_is_kept_bounded_and_for_a_while(served: Served) -> None:
    with served.daemon.runtime.store.transaction() as state:
        old, _ = state.inbox.add("shop", "unverified", b"old", status=InboxStatus.REJECTED,
                                 error="body larger than ...")
        state.conn.execute(schema.inbox.update().where(schema.inbox.c.id == old).values(
            received_at=utcnow() - dt.timedelta(days=2)))
    huge = b"x" * (2 << 20)

    answer = requests.post(f"{served.url}/shop/orders", data=huge, timeout=30,
                           headers={SIGNATURE_HEADER: "forged", "X-Forwarded-For": "10.202.0.1"})

    assert answer.status_code == 413 and "larger than" in answer.json()["message"]
    with served.daemon.runtime.store.reading() as state:
        kept = state.conn.execute(select(schema.inbox.c.body).where(
            schema.inbox.c.source == "shop", schema.inbox.c.entity == "unverified")).scalars().all()
    assert kept == [huge[:100]]


def test_a_client_failing_its_credentials_again_and_again_is_throttled_and_others_are_not(served: Served) -> None:
    def restaurants(token: str, client: str) -> requests.Response:
        return requests.get(f"{served.url}/yandex/restaurants", timeout=10,
                            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": client})

    assert {restaurants("guess", "10.203.0.1").status_code for _ in range(10)} == {401}

    throttled = restaurants(served.yandex_token, "10.203.0.1")
    assert throttled.status_code == 429 and 0 < int(throttled.headers["Retry-After"]) <= 60
    assert throttled.json()[0]["code"] == 429 and "too many failed credential checks" in throttled.text
    assert restaurants(served.yandex_token, "10.203.0.2").status_code == 200
    shop = [requests.post(f"{served.url}/shop/orders", data=b"{}", timeout=10,
                          headers={SIGNATURE_HEADER: "forged", "X-Forwarded-For": "10.203.0.3"}) for _ in range(11)]
    assert [a.status_code for a in shop] == [401] * 10 + [429]
    assert shop[-1].json()["error"] == "too_many_requests"


def test_the_throttle_lets_a_client_try_again_once_its_failures_are_a_minute_old() -> None:
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    client = ("yandex", "10.0.0.1")
    for _ in range(3):
        throttle.failed(client)
        now[0] += 10
    assert throttle.wait(client, 3) == 30  # the first of the three is a minute old then
    assert throttle.wait(client, 4) == 0
    now[0] += 30
    assert throttle.wait(client, 3) == 0


def test_clients_sending_a_byte_now_and_then_do_not_stop_the_daemon_answering_orders(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served.daemon.app.reading, "timeout", 2.0)
    host, port = served.url.removeprefix("http://").split(":")
    slow = []
    for _ in range(24):
        conn = socket.create_connection((host, int(port)), timeout=10, source_address=("127.0.0.2", 0))
        conn.sendall(b"POST /shop/orders HTTP/1.1\r\nHost: hub\r\n")  # and nothing more, for now
        slow.append(conn)
    order = json_dumps({**TestChannelSandbox(seed=4).place_order(), "id": "while-slow"}).encode()
    signature = "sha256=" + hmac.new(SHOP_SECRET.encode(), order, hashlib.sha256).hexdigest()

    answer = requests.post(f"{served.url}/shop/orders", data=order, timeout=5,
                           headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature})

    assert answer.status_code == 200, answer.text
    for conn in slow:  # every slow one is cut off by the deadline or refused at once: none holds a thread
        conn.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            while conn.recv(4096):
                pass
        conn.close()
