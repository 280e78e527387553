"""HttpClient: retries, Retry-After, error mapping, rate limiting and redaction, on a fake clock."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st

from hub import http, logs
from hub.errors import AuthError, NetworkError, RateLimited, RequestRejected, ServerError
from hub.http import HttpClient
from hub.settings import RateLimit, RetryPolicy

BASE = "https://api.example.test/v1"
URL = f"{BASE}/orders"


class FakeClock:
    """Time that moves only when someone sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> logs.Secrets:
    registry = logs.Secrets()
    monkeypatch.setattr(logs, "SECRETS", registry)
    return registry


def make(clock: FakeClock, *, source: str = "shop", **kwargs: Any) -> HttpClient:
    kwargs.setdefault("retry", RetryPolicy(attempts=3, backoff=0.5, max_backoff=4))
    return HttpClient(base_url=BASE, source=source, clock=clock, **kwargs)


@responses.activate
def test_success_returns_the_response_and_joins_the_path(clock: FakeClock) -> None:
    responses.get(URL, json={"orders": []})
    response = make(clock).get("/orders", params={"page": 2})
    assert response.json() == {"orders": []}
    assert responses.calls[0].request.url == f"{URL}?page=2"
    assert clock.sleeps == []


@responses.activate
def test_a_cyrillic_login_goes_as_utf8_basic_credentials(clock: FakeClock) -> None:
    # 1C's logins are often Cyrillic: a text login requests would write as Latin-1 fails before anything is sent
    responses.get(URL, json={})
    make(clock, auth=("Обмен", "пароль-1С")).get("/orders")
    sent = responses.calls[0].request.headers["Authorization"]
    assert sent == "Basic " + base64.b64encode("Обмен:пароль-1С".encode()).decode()


@responses.activate
def test_absolute_urls_are_used_as_given(clock: FakeClock) -> None:
    responses.post("https://other.example.test/hook", status=204)
    assert make(clock).post("https://other.example.test/hook", json={"a": 1}).status_code == 204


@responses.activate
def test_every_call_has_a_timeout(clock: FakeClock) -> None:
    responses.get(URL)
    client = make(clock, timeout=12.5)
    client.get("orders")
    client.get("orders", timeout=3)
    sent = [call.request.req_kwargs for call in responses.calls]  # type: ignore[attr-defined] # set by responses
    assert [kwargs["timeout"] for kwargs in sent] == [12.5, 3]


@responses.activate
def test_429_waits_retry_after_seconds(clock: FakeClock) -> None:
    responses.get(URL, status=429, headers={"Retry-After": "7"})
    responses.get(URL, json={"ok": True})
    assert make(clock).get("orders").json() == {"ok": True}
    assert clock.sleeps == [7.0]


@responses.activate
def test_429_waits_until_retry_after_date(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(http, "utcnow", lambda: now)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    responses.get(URL, status=429, headers={"Retry-After": later})
    responses.get(URL)
    make(clock).get("orders")
    assert clock.sleeps == [90.0]


@responses.activate
def test_retry_after_beyond_the_cap_is_raised_not_slept(clock: FakeClock) -> None:
    responses.get(URL, status=429, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimited) as caught:
        make(clock).get("orders")
    assert caught.value.retry_after == 3600
    assert len(responses.calls) == 1
    assert clock.sleeps == []


@responses.activate
def test_5xx_is_retried_with_bounded_backoff_then_succeeds(clock: FakeClock) -> None:
    responses.get(URL, status=503)
    responses.get(URL, status=502)
    responses.get(URL, json=[])
    assert make(clock).get("orders").json() == []
    first, second = clock.sleeps
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0


@responses.activate
def test_backoff_never_exceeds_max_backoff(clock: FakeClock) -> None:
    responses.get(URL, status=500)
    with pytest.raises(ServerError):
        make(clock, retry=RetryPolicy(attempts=8, backoff=1, max_backoff=2)).get("orders")
    assert len(clock.sleeps) == 7
    assert max(clock.sleeps) <= 2


@responses.activate
def test_5xx_until_tries_run_out_raises_server_error(clock: FakeClock,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    responses.get(URL, status=500, body="internal trouble " * 50)
    with caplog.at_level(logging.WARNING, logger="hub.http.shop"), pytest.raises(ServerError) as caught:
        make(clock).get("orders")
    assert caught.value.status == 500
    assert len(responses.calls) == 3
    assert len(clock.sleeps) == 2
    message = str(caught.value)
    assert message.startswith(f"GET {URL} -> 500")
    assert "internal trouble" in message and len(message) < 400
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert "try 2 of 3" in caplog.records[0].getMessage()


@responses.activate
@pytest.mark.parametrize("failure", [requests.ConnectionError("refused"), requests.ReadTimeout("slow")])
def test_transport_failures_become_network_error_after_retries(clock: FakeClock, failure: Exception) -> None:
    responses.get(URL, body=failure)
    with pytest.raises(NetworkError, match=type(failure).__name__):
        make(clock).get("orders")
    assert len(responses.calls) == 3


@responses.activate
@pytest.mark.parametrize("failure", [requests.ReadTimeout("slow"), requests.ConnectionError("reset by peer")])
def test_a_post_that_may_have_been_acted_on_is_not_repeated(clock: FakeClock, failure: Exception) -> None:
    responses.post(URL, body=failure)
    with pytest.raises(NetworkError) as caught:
        make(clock).post("orders", json={"id": 1})
    assert caught.value.request_sent
    assert len(responses.calls) == 1


@responses.activate
def test_a_post_answered_5xx_is_not_repeated(clock: FakeClock) -> None:
    responses.post(URL, status=502)
    with pytest.raises(ServerError):
        make(clock).post("orders", json={"id": 1})
    assert len(responses.calls) == 1


@responses.activate
def test_a_post_refused_by_rate_limit_or_never_connected_is_repeated(clock: FakeClock) -> None:
    import urllib3

    never_connected = requests.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, URL, urllib3.exceptions.NewConnectionError(None, "refused")))  # type: ignore[arg-type]
    responses.post(URL, status=429, headers={"Retry-After": "1"})
    responses.post(URL, body=never_connected)
    responses.post(URL, status=201, json={"id": "5"})
    assert make(clock).post("orders", json={"id": 1}).status_code == 201
    assert len(responses.calls) == 3


@responses.activate
def test_an_explicitly_idempotent_post_is_retried_on_5xx(clock: FakeClock) -> None:
    responses.post(URL, status=503)
    responses.post(URL, status=200, json={})
    assert make(clock).post("orders", json={}, idempotent=True).status_code == 200
    assert len(responses.calls) == 2


@responses.activate
@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_other_4xx_is_rejected_without_retry(clock: FakeClock, status: int) -> None:
    responses.post(URL, status=status, json={"error": "no such order"})
    with pytest.raises(RequestRejected) as caught:
        make(clock).post("orders", json={})
    assert caught.value.status == status
    assert "no such order" in str(caught.value)
    assert len(responses.calls) == 1
    assert clock.sleeps == []


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_auth_errors(clock: FakeClock, status: int) -> None:
    responses.get(URL, status=status)
    with pytest.raises(AuthError):
        make(clock).get("orders")
    assert len(responses.calls) == 1


@responses.activate
def test_expected_statuses_are_returned_for_the_connector_to_read(clock: FakeClock) -> None:
    responses.post(URL, status=400, json={"odata.error": {"code": "15", "message": {"value": "bad"}}})
    responses.get(URL, status=503)
    client = make(clock)
    assert client.post("orders", json={}, expect={400}).json()["odata.error"]["code"] == "15"
    assert client.get("orders", expect={503}).status_code == 503
    assert len(responses.calls) == 2


@responses.activate
def test_token_bucket_spaces_calls_on_the_clock(clock: FakeClock) -> None:
    responses.get(URL)
    limit = RateLimit(per_second=2, burst=1)
    first, second = make(clock, rate_limit=limit), make(clock, rate_limit=limit)
    for _ in range(3):
        first.get("orders")
        second.get("orders")
    # Six calls through one shared bucket: the first is free, each next one waits half a second.
    assert sum(clock.sleeps) == pytest.approx(2.5)
    assert clock.sleeps == [0.5] * 5


@responses.activate
def test_burst_is_free_then_the_rate_applies(clock: FakeClock) -> None:
    responses.get(URL)
    client = make(clock, source="burst", rate_limit=RateLimit(per_second=4, burst=3))
    for _ in range(5):
        client.get("orders")
    assert clock.sleeps == [0.25, 0.25]


@responses.activate
def test_secrets_never_reach_logs_or_errors(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    token, password, query_secret = "tok-Abc123456", "hunter2-pw", "q-SECRET-999"
    responses.get(f"{URL}?access_token={query_secret}&page=1", status=500)
    responses.get(f"{URL}?access_token={query_secret}&page=1", status=401,
                  body=f"invalid token {token} for admin:{password}")
    client = make(clock, headers={"Authorization": f"Bearer {token}"}, auth=("admin", password))
    with caplog.at_level(logging.DEBUG, logger="hub"), pytest.raises(AuthError) as caught:
        client.get("orders", params={"access_token": query_secret, "page": 1})
    seen = caplog.text + str(caught.value)
    assert "page=1" in seen and "access_token=***" in seen
    for secret in (token, password, query_secret):
        assert secret not in seen


@given(secret=st.text(min_size=4, max_size=40), before=st.text(max_size=40), after=st.text(max_size=40),
       masking=st.booleans())
def test_a_registered_secret_never_gets_through(secret: str, before: str, after: str, masking: bool) -> None:
    registry = logs.Secrets([secret])
    redacting = logs.RedactingFilter(mask_personal_data=masking, secrets=registry)
    for msg, args in ((before + secret + after, None), ("%s%s%s", (before, secret, after))):
        record = logging.LogRecord("hub.test", logging.INFO, __file__, 1, msg, args, None)
        redacting.filter(record)
        assert secret not in record.getMessage()


# --- token authentication ------------------------------------------------------------------------


TOKEN_URL = f"{BASE}/token"


def token_client(clock: FakeClock, keep: float = 60.0) -> HttpClient:
    client = make(clock)

    def obtain() -> tuple[str, float]:
        return str(client.post("token", with_token=False).json()["token"]), keep

    client.token_auth = http.TokenAuth(obtain, clock=clock.monotonic)
    return client


def bearers() -> list[str | None]:
    return [call.request.headers.get("Authorization") for call in responses.calls if call.request.url == URL]


@responses.activate
def test_a_token_is_obtained_once_reused_and_renewed_when_due(clock: FakeClock) -> None:
    for token in ("tok-AAAA-1", "tok-BBBB-2"):
        responses.post(TOKEN_URL, json={"token": token})
    responses.get(URL, json={})
    client = token_client(clock)
    client.get("orders")
    client.get("orders")
    clock.now += 60
    client.get("orders")
    assert bearers() == ["Bearer tok-AAAA-1", "Bearer tok-AAAA-1", "Bearer tok-BBBB-2"]
    assert "Authorization" not in next(c for c in responses.calls if c.request.url == TOKEN_URL).request.headers


@responses.activate
def test_a_401_gets_one_new_token_and_one_more_try_and_no_token_is_logged(
        clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    tokens = ["tok-CCCC-3", "tok-DDDD-4", "tok-EEEE-5"]
    for token in tokens:
        responses.post(TOKEN_URL, json={"token": token})
    responses.get(URL, status=401, json={"error": f"token {tokens[0]} revoked"})
    responses.get(URL, json={"ok": True})
    responses.get(URL, status=401, json={"error": f"token {tokens[1]} revoked"})
    responses.get(URL, status=401, json={"error": f"token {tokens[2]} revoked"})
    client = token_client(clock)
    with caplog.at_level(logging.DEBUG, logger="hub"):
        assert client.get("orders").json() == {"ok": True}
        with pytest.raises(AuthError) as caught:  # refused again with a new token: the credentials are wrong
            client.get("orders")
    assert bearers() == [f"Bearer {tokens[0]}", f"Bearer {tokens[1]}", f"Bearer {tokens[1]}", f"Bearer {tokens[2]}"]
    assert "the token was refused; fetching a new one" in caplog.text
    assert not any(token in caplog.text + str(caught.value) for token in tokens)


@responses.activate
def test_a_caller_expecting_401_gets_the_second_answer_to_read_itself(clock: FakeClock) -> None:
    for token in ("tok-FFFF-6", "tok-GGGG-7"):
        responses.post(TOKEN_URL, json={"token": token})
    responses.get(URL, status=401, json={"message": "revoked"})
    assert token_client(clock).get("orders", expect={401}).status_code == 401
    assert bearers() == ["Bearer tok-FFFF-6", "Bearer tok-GGGG-7"]


# --- error bodies declared as data ---------------------------------------------------------------


ODATA = http.ErrorShape(messages=(("odata.error", "message", "value"), ("odata.error", "message")),
                        code=("odata.error", "code"))
IIKO = http.ErrorShape(messages=(("errorDescription",), ("message",)), code=("error",), reference=("correlationId",))


@pytest.mark.parametrize(("shape", "body", "expected"), [
    (ODATA, b'{"odata.error": {"code": "14", "message": {"lang": "ru", "value": " bad $filter "}}}',
     http.ErrorText("bad $filter", "14")),
    (ODATA, b'{"odata.error": {"code": -1, "message": "plain"}}', http.ErrorText("plain", "-1")),
    (IIKO, b'{"errorDescription": "", "message": "no org", "error": "ORG", "correlationId": "c-1"}',
     http.ErrorText("no org", "ORG", "c-1")),
    (IIKO, b'{"error": 42}', http.ErrorText("", "42")),
    (IIKO, b'{"something": "else"}', None),
    (IIKO, b"<html>502 Bad Gateway</html>", None),
    (IIKO, b"", None),
])
def test_an_error_shape_reads_what_a_system_says(shape: http.ErrorShape, body: bytes,
                                                 expected: http.ErrorText | None) -> None:
    assert shape.read(body) == expected
