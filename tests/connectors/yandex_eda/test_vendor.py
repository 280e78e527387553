"""VendorClient against canned HTTP: the Vendor Management token and menu import initiation.

The bodies are Yandex's published examples (``../shared/samples/yandex-eda``, see
its SOURCES.md): ``vendor-management-push/`` for the token and initiation,
``retail/push-auth-*`` for the same token answer and the 401 body.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from responses import matchers

from connectors.yandex_eda.vendor import DEFAULT_URL, VendorClient
from hub import logs
from hub.errors import AuthError, ProtocolError, RequestRejected, ServerError
from hub.http import HttpClient
from hub.settings import RetryPolicy
from hub.testing.acceptance import RecordingClock
from hub.values import json_loads
from tests._shared import SAMPLES as SHARED_SAMPLES

pytestmark = pytest.mark.samples

SAMPLES = SHARED_SAMPLES / "yandex-eda"
TOKEN_URL = f"{DEFAULT_URL}/oauth2/token"
IMPORT_URL = f"{DEFAULT_URL}/menu/import/initiation"
SECRET = "vendor-secret-XYZ-123"
PARTNER = "hub-partner"
VENUE = "937c57f6-4508-4858-be7f-20691a16fbb0"
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def sample(name: str) -> Any:
    return json_loads((SAMPLES / name).read_bytes())


def documented_token() -> Any:
    """Yandex's documented answer to a token request."""
    return sample("vendor-management-push/oauth2-token-response.json")


def refusal() -> Any:
    """Yandex's documented answer to refused credentials."""
    return sample("retail/push-auth-401-error.json")


class Now:
    """A settable clock for the token cache."""

    def __init__(self) -> None:
        self.value = START

    def __call__(self) -> datetime:
        return self.value


@pytest.fixture(autouse=True)
def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "SECRETS", logs.Secrets())


@pytest.fixture
def now() -> Now:
    return Now()


def client(now: Now | None = None, *, client_id: str = "hub-client", secret: str = SECRET) -> VendorClient:
    http = HttpClient(base_url=DEFAULT_URL, source="yandex-vendor", retry=RetryPolicy(attempts=3, backoff=0.01),
                      clock=RecordingClock())
    return VendorClient(http, client_id, secret, PARTNER, now=now or Now())


def token_answer(access_token: str, expires_in: int = 120) -> dict[str, Any]:
    return {**documented_token(), "access_token": access_token, "expires_in": expires_in}


def calls(url: str) -> list[Any]:
    return [call for call in responses.calls if call.request.url == url]


def bearer(call: Any) -> str:
    return str(call.request.headers["Authorization"])


@responses.activate
def test_the_token_request_carries_exactly_the_sample_fields() -> None:
    fields = sample("vendor-management-push/oauth2-token-request.form-fields.json")
    responses.post(TOKEN_URL, json=documented_token(), match=[matchers.urlencoded_params_matcher(fields)])
    issued = client(client_id=fields["client_id"], secret=fields["client_secret"]).token()
    assert issued == documented_token()["access_token"]
    assert calls(TOKEN_URL)[0].request.headers["Content-Type"] == "application/x-www-form-urlencoded"


@responses.activate
@pytest.mark.parametrize("answer", ["vendor-management-push/oauth2-token-response.json",
                                    "retail/push-auth-oauth2-token-response.json"])
def test_the_sample_token_is_parsed_and_kept_within_its_lifetime(answer: str, now: Now) -> None:
    responses.post(TOKEN_URL, json=sample(answer))
    responses.post(IMPORT_URL, json={})
    vendor = client(now)
    vendor.initiate_menu_import(VENUE)
    now.value += timedelta(seconds=99)
    vendor.initiate_menu_import(VENUE)
    assert len(calls(TOKEN_URL)) == 1
    assert [bearer(c) for c in calls(IMPORT_URL)] == [f"Bearer {sample(answer)['access_token']}"] * 2


@responses.activate
def test_a_token_is_renewed_20_seconds_before_it_expires(now: Now) -> None:
    responses.post(TOKEN_URL, json=token_answer("first-token"))
    responses.post(TOKEN_URL, json=token_answer("second-token"))
    vendor = client(now)
    assert vendor.token() == "first-token"
    now.value += timedelta(seconds=100)
    assert vendor.token() == "second-token"
    assert len(calls(TOKEN_URL)) == 2


@settings(max_examples=40, deadline=None)
@given(expires_in=st.integers(min_value=1, max_value=86_400), elapsed=st.integers(min_value=0, max_value=90_000))
def test_a_token_is_reused_exactly_until_its_margin(expires_in: int, elapsed: int) -> None:
    now = Now()
    with responses.RequestsMock() as mock:
        mock.post(TOKEN_URL, json=token_answer("kept-token", expires_in))
        vendor = client(now)
        vendor.token()
        now.value += timedelta(seconds=elapsed)
        vendor.token()
        assert len(mock.calls) == (2 if elapsed >= expires_in - 20 else 1)


@responses.activate
def test_the_initiation_sends_the_sample_body_and_both_headers() -> None:
    expected = sample("vendor-management-push/menu-import-initiation-request.json")
    responses.post(TOKEN_URL, json=documented_token())
    responses.post(IMPORT_URL, json={}, match=[
        matchers.json_params_matcher({**expected, "restaurantId": VENUE}),
        matchers.header_matcher({"Authorization": f"Bearer {documented_token()['access_token']}",
                                 "Partner-Name": PARTNER})])
    client().initiate_menu_import(VENUE)
    assert expected["operationType"] == "menu"
    assert json_loads(calls(IMPORT_URL)[0].request.body) == {"restaurantId": VENUE, "operationType": "menu"}


@responses.activate
@pytest.mark.parametrize(("status", "body"), [(200, b"{}"), (202, b""), (204, b"")])
def test_any_2xx_is_success(status: int, body: bytes) -> None:
    responses.post(TOKEN_URL, json=documented_token())
    responses.post(IMPORT_URL, status=status, body=body)
    client().initiate_menu_import(VENUE, "stoplist")
    assert json_loads(calls(IMPORT_URL)[0].request.body)["operationType"] == "stoplist"


@responses.activate
def test_a_401_on_the_initiation_gets_one_new_token_and_one_retry() -> None:
    responses.post(TOKEN_URL, json=token_answer("revoked-token"))
    responses.post(TOKEN_URL, json=token_answer("fresh-token"))
    responses.post(IMPORT_URL, status=401, json=refusal())
    responses.post(IMPORT_URL, json={})
    client().initiate_menu_import(VENUE)
    assert len(calls(TOKEN_URL)) == 2
    assert [bearer(c) for c in calls(IMPORT_URL)] == ["Bearer revoked-token", "Bearer fresh-token"]


@responses.activate
def test_a_second_401_is_an_auth_error_with_yandex_message() -> None:
    responses.post(TOKEN_URL, json=token_answer("token-one"))
    responses.post(TOKEN_URL, json=token_answer("token-two"))
    responses.post(IMPORT_URL, status=401, json=refusal())
    with pytest.raises(AuthError, match=refusal()["message"]):
        client().initiate_menu_import(VENUE)
    assert len(calls(TOKEN_URL)) == 2
    assert len(calls(IMPORT_URL)) == 2


@responses.activate
def test_refused_credentials_are_an_auth_error_without_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    responses.post(TOKEN_URL, status=401, json={**refusal(), "message": f"client secret {SECRET} is not valid"})
    with caplog.at_level(logging.DEBUG, logger="hub"), pytest.raises(AuthError) as caught:
        client().initiate_menu_import(VENUE)
    assert "is not valid" in str(caught.value)
    assert SECRET not in str(caught.value) + caplog.text
    assert calls(IMPORT_URL) == []


@responses.activate
def test_no_secret_or_token_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    tokens = ["token-AAAA-1111", "token-BBBB-2222"]
    responses.post(TOKEN_URL, json=token_answer(tokens[0]))
    responses.post(TOKEN_URL, json=token_answer(tokens[1]))
    responses.post(IMPORT_URL, status=401, json={**refusal(), "message": f"token {tokens[0]} was revoked"})
    responses.post(IMPORT_URL, status=401, json={**refusal(), "message": f"token {tokens[1]} was revoked"})
    with caplog.at_level(logging.DEBUG, logger="hub"), pytest.raises(AuthError) as caught:
        client().initiate_menu_import(VENUE)
    seen = caplog.text + str(caught.value)
    assert "POST https://dc-partner.eda.yandex.net/oauth2/token -> 200" in caplog.text
    assert "was revoked" in seen
    for secret in [SECRET, *tokens]:
        assert secret not in seen


@responses.activate
@pytest.mark.parametrize(("answer", "problem"), [
    ({"expires_in": 120, "token_type": "bearer"}, "no access_token"),
    ({"access_token": "t-1234", "token_type": "bearer"}, "expires_in"),
    ({"access_token": "t-1234", "expires_in": "120"}, "expires_in"),
    ({"access_token": "t-1234", "expires_in": 120, "token_type": "mac"}, "'mac'"),
    (["not", "an", "object"], "JSON object"),
])
def test_a_token_answer_hub_cannot_use_is_a_protocol_error(answer: Any, problem: str) -> None:
    responses.post(TOKEN_URL, json=answer)
    with pytest.raises(ProtocolError, match=problem):
        client().token()


@responses.activate
def test_other_refusals_come_from_the_http_client_and_are_not_repeated() -> None:
    responses.post(TOKEN_URL, json=documented_token())
    responses.post(IMPORT_URL, status=400, json={"message": "unknown restaurant", "code": 400, "details": {}})
    responses.post(IMPORT_URL, status=503)
    vendor = client()
    with pytest.raises(RequestRejected, match="unknown restaurant"):
        vendor.initiate_menu_import("nowhere")
    with pytest.raises(ServerError):
        vendor.initiate_menu_import(VENUE)
    assert len(calls(IMPORT_URL)) == 2


# --- order history ---------------------------------------------------------------------------------

HISTORY_URL = f"{DEFAULT_URL}/v1/orders-history"


@responses.activate
def test_the_history_request_has_the_sample_fields_and_pages_until_a_short_answer() -> None:
    documented = sample("vendor-management-push/orders-history-request.json")
    responses.post(TOKEN_URL, json=documented_token())
    first = [{"eats_id": f"250301-{n:07d}"} for n in range(1000)]
    responses.post(HISTORY_URL, json={"orders": first})
    responses.post(HISTORY_URL, json={"orders": [{"eats_id": "250301-9999999", "status": "DELIVERED"}]})

    ids = list(client().orders_history([VENUE, "second"], START, START + timedelta(days=1)))

    assert ids == [o["eats_id"] for o in first] + ["250301-9999999"]
    bodies = [json_loads(call.request.body) for call in calls(HISTORY_URL)]
    assert set(bodies[0]) <= set(documented) and set(bodies[0]) >= {"origin_ids", "from", "to", "pagination"}
    assert bodies[0]["origin_ids"] == [{"origin_id": VENUE}, {"origin_id": "second"}]
    assert (bodies[0]["from"], bodies[0]["to"]) == ("2025-03-01T09:00:00.000+00:00", "2025-03-02T09:00:00.000+00:00")
    assert bodies[0]["status"] == ["NEW", "DELIVERED"]  # a cancelled order need not be in 1C
    assert [b["pagination"] for b in bodies] == [{"offset": 0, "limit": 1000}, {"offset": 1000, "limit": 1000}]
    assert calls(HISTORY_URL)[0].request.headers["Partner-Name"] == PARTNER


@responses.activate
@pytest.mark.parametrize("answer", [{"orders": [{"status": "NEW"}]}, {"orders": [{"eats_id": ""}]}, {"items": []},
                                    ["250301-0000001"]])
def test_a_history_answer_without_eats_ids_is_refused(answer: Any) -> None:
    responses.post(TOKEN_URL, json=documented_token())
    responses.post(HISTORY_URL, json=answer)
    with pytest.raises(ProtocolError, match="order history"):
        list(client().orders_history([VENUE], START, START + timedelta(hours=1)))


@responses.activate
def test_a_refused_history_token_is_renewed_once() -> None:
    responses.post(TOKEN_URL, json=token_answer("first"))
    responses.post(TOKEN_URL, json=token_answer("second"))
    responses.post(HISTORY_URL, json=refusal(), status=401)
    responses.post(HISTORY_URL, json={"orders": []})
    assert list(client().orders_history([VENUE], START, START + timedelta(hours=1))) == []
    assert [bearer(call) for call in calls(HISTORY_URL)] == ["Bearer first", "Bearer second"]
