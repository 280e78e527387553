"""Bitrix24Client against canned HTTP: every sample in ../shared/samples/bitrix/ read as the fact sheet says,
and the limits' answers (batch quirk, expired token, 429, 503, paging by id)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from connectors.bitrix24.client import (
    Bitrix24Client,
    CallError,
    OperatingBudget,
    Rejected,
    decode_query,
    encode_query,
)
from connectors.bitrix24.connector import _event_deal
from connectors.commerceml.exchange import read_answer
from hub.errors import AuthError, ProtocolError, RateLimited, ServerError
from hub.http import HttpClient, TokenAuth
from hub.settings import RetryPolicy
from hub.testing.acceptance import RecordingClock
from hub.values import json_dumps, json_loads
from tests._shared import SAMPLES

BITRIX = SAMPLES / "bitrix"
PORTAL = "https://portal.bitrix24.ru/rest/1/webhook-secret/"
pytestmark = pytest.mark.samples


def sample(name: str) -> Any:
    return json_loads((BITRIX / name).read_bytes())


def client(clock: RecordingClock | None = None, *, tokens: TokenAuth | None = None, url: str = PORTAL,
           attempts: int = 4) -> Bitrix24Client:
    clock = clock or RecordingClock()
    http = HttpClient(base_url=url, source="b24-unit", clock=clock,
                      retry=RetryPolicy(attempts=attempts, backoff=0.5, max_backoff=8))
    return Bitrix24Client(http, tokens=tokens, budget=OperatingBudget(480, clock))


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def answer(mock: responses.RequestsMock, method: str, body: Any, status: int = 200, url: str = PORTAL) -> None:
    mock.post(url + method, body=json_dumps(body) if not isinstance(body, bytes) else body, status=status,
              content_type="application/json")


# --- every response and error body, read as documented -------------------------------------------------

ENVELOPES = {
    "b24-crm-contact-add-response.json": "crm.contact.add",
    "b24-crm-deal-add-response.json": "crm.deal.add",
    "b24-crm-deal-productrows-set-response.json": "crm.deal.productrows.set",
    "b24-crm-duplicate-findbycomm-response.json": "crm.duplicate.findbycomm",
    "b24-crm-item-list-response.json": "crm.item.list",
    "b24-crm-contact-list-response.json": "crm.contact.list",
    "b24-crm-deal-list-response.json": "crm.deal.list",
    "b24-catalog-product-list-response.json": "catalog.product.list",
    "b24-catalog-store-list-response.json": "catalog.store.list",
    "b24-catalog-storeproduct-list-response.json": "catalog.storeproduct.list",
    "b24-sale-order-add-response.json": "sale.order.add",
    "fb24-real-crm_item_list.json": "crm.item.list",
    "fb24-real-crm_lead_list_one_page_success.json": "crm.lead.list",
}


@pytest.mark.parametrize(("name", "method"), ENVELOPES.items())
def test_each_envelope_gives_its_result_total_and_next(mocked: responses.RequestsMock, name: str,
                                                       method: str) -> None:
    body = sample(name)
    answer(mocked, method, body)
    got = client().call(method, read=True)
    assert got.result == body["result"]
    assert got.total == body.get("total")
    assert got.next == body.get("next")


def test_a_budget_near_its_end_waits_for_the_reset_the_answer_names(mocked: responses.RequestsMock) -> None:
    body = sample("b24-crm-duplicate-findbycomm-response.json")
    time = body["time"]
    body["time"] = {**time, "operating": 470}
    answer(mocked, "crm.duplicate.findbycomm", body)
    answer(mocked, "crm.duplicate.findbycomm", body)
    clock = RecordingClock()
    portal = client(clock)
    portal.call("crm.duplicate.findbycomm", read=True)
    assert clock.sleeps == []
    portal.call("crm.duplicate.findbycomm", read=True)
    assert clock.sleeps == [pytest.approx(float(time["operating_reset_at"] - time["finish"]))]


ERRORS = {
    "b24-crm-contact-add-error.json": ("", "Parameter 'fields' must be array."),
    "b24-catalog-product-add-error.json": ("200040300010", "Access Denied"),
    "b24-crm-deal-productrows-set-error.json": ("ERROR_CORE", "Discount Sum (DISCOUNT_SUM) is required"),
    "b24-crm-duplicate-findbycomm-error.json": ("Communication type is not defined", "Parameter 'type' is required."),
    "b24-error-generic.json": ("ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!"),
    "b24-oauth-error-payment-required.json": ("PAYMENT_REQUIRED", "Payment required"),
}


@pytest.mark.parametrize(("name", "expected"), ERRORS.items())
def test_each_error_body_is_read_with_its_code_and_description(mocked: responses.RequestsMock, name: str,
                                                               expected: tuple[str, str]) -> None:
    answer(mocked, "some.method", sample(name), status=400)
    with pytest.raises(Rejected) as raised:
        client().call("some.method")
    assert raised.value.code == expected[0]
    assert expected[1] in raised.value.message
    assert len(mocked.calls) == 1, "a refusal is not retried"


def test_the_sale_order_list_as_published_is_not_json_and_is_a_protocol_error(
        mocked: responses.RequestsMock) -> None:
    answer(mocked, "sale.order.list", (BITRIX / "b24-sale-order-list-response.as-published.json.txt").read_bytes())
    with pytest.raises(ProtocolError, match="non-JSON"):
        client().call("sale.order.list", read=True)


def test_query_limit_exceeded_503_is_retried_even_for_a_write(mocked: responses.RequestsMock) -> None:
    answer(mocked, "crm.item.add", sample("b24-error-query-limit-exceeded.json"), status=503)
    answer(mocked, "crm.item.add", {"result": {"item": {"id": 5}}})
    assert client().call("crm.item.add", {"entityTypeId": 3, "fields": {}}).result == {"item": {"id": 5}}
    assert len(mocked.calls) == 2


def test_operation_time_limit_429_is_backed_off_and_retried(mocked: responses.RequestsMock) -> None:
    for _ in range(2):
        answer(mocked, "crm.item.list", sample("b24-error-operation-time-limit.json"), status=429)
    answer(mocked, "crm.item.list", {"result": {"items": []}})
    clock = RecordingClock()
    client(clock).call("crm.item.list", read=True)
    assert len(mocked.calls) == 3
    assert len(clock.sleeps) == 2 and clock.sleeps[1] > 0


def test_a_5xx_other_than_the_limit_is_not_repeated_for_a_write(mocked: responses.RequestsMock) -> None:
    answer(mocked, "crm.item.add", {"error": "INTERNAL_SERVER_ERROR", "error_description": "oops"}, status=500)
    with pytest.raises(ServerError):
        client().call("crm.item.add", {"fields": {}})
    assert len(mocked.calls) == 1, "the portal may have run it: the pipeline looks it up before writing again"


def test_the_limit_until_tries_run_out_is_rate_limited(mocked: responses.RequestsMock) -> None:
    for _ in range(3):
        answer(mocked, "crm.item.add", sample("b24-error-query-limit-exceeded.json"), status=503)
    with pytest.raises(RateLimited):
        client(attempts=3).call("crm.item.add", {"fields": {}})


def test_a_wrong_webhook_is_an_auth_error_without_its_secret(mocked: responses.RequestsMock) -> None:
    answer(mocked, "profile", {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}, 401)
    with pytest.raises(AuthError) as raised:
        client().call("profile", read=True)
    assert "Wrong authorization data" in raised.value.message


# --- OAuth: expired token, refresh, the new pair ----------------------------------------------------------

def test_an_expired_token_is_refreshed_once_and_the_call_sent_again(mocked: responses.RequestsMock) -> None:
    root = "https://portal.bitrix24.ru/rest/"
    issued = sample("b24-oauth-token-response.json")
    pairs = iter([("old-access", 3600.0), (issued["access_token"], float(issued["expires_in"]))])
    tokens = TokenAuth(lambda: next(pairs))
    answer(mocked, "crm.item.get", sample("b24-error-expired-token.json"), status=401, url=root)
    answer(mocked, "crm.item.get", {"result": {"item": {"id": 1}}}, url=root)
    assert client(tokens=tokens, url=root).call("crm.item.get", {"id": 1}, read=True).result == {"item": {"id": 1}}
    sent = [json_loads(call.request.body or b'')["auth"] for call in mocked.calls]
    assert sent == ["old-access", issued["access_token"]]


# --- batch ------------------------------------------------------------------------------------------------

KEYED_BATCHES = ["b24-batch-response.json", "b24-batch-error-halt0.json", "b24-batch-error-halt1.json",
                 "fb24-real-call_batch.json", "fb24-real-batch_list_empty.json",
                 "fb24-real-crm_contact_add_batch.json", "fb24-real-crm_item_add.json",
                 "fb24-real-crm_item_productrow_list.json"]


@pytest.mark.parametrize("name", KEYED_BATCHES)
def test_a_keyed_batch_answer_gives_each_command_its_result_or_error(mocked: responses.RequestsMock,
                                                                    name: str) -> None:
    body = sample(name)
    inner = body["result"]
    results = inner["result"] or {}
    errors = inner["result_error"] or {}
    commands = {key: ("crm.item.get", {"id": 1}) for key in [*results, *errors]}
    answer(mocked, "batch", body)
    got = client().batch(commands, read=True)
    assert {k: v for k, v in got.items() if not isinstance(v, CallError)} == results
    assert {k: (v.code, v.message) for k, v in got.items() if isinstance(v, CallError)} == {
        k: (e["error"], e["error_description"]) for k, e in errors.items()}
    sent = json_loads(mocked.calls[0].request.body or b'')
    assert sent["halt"] == 0 and sent["cmd"] == {key: "crm.item.get?id=1" for key in commands}


@pytest.mark.parametrize("name", ["fb24-real-crm_get_batch_mix_success_and_errors.json",
                                  "fb24-real-crm_get_batch_of_two_error.json",
                                  "fb24-real-crm_lead_get_batch_error.json"])
def test_an_unkeyed_result_error_list_trusts_only_keyed_results_and_asks_the_rest_alone(
        mocked: responses.RequestsMock, name: str) -> None:
    body = sample(name)
    results = body["result"]["result"] or {}
    errors = body["result"]["result_error"]
    assert isinstance(errors, list)
    commands = {**{key: ("crm.lead.get", {"id": key}) for key in results},
                **{f"missing{n}": ("crm.lead.get", {"id": f"9{n}"}) for n in range(len(errors))}}
    answer(mocked, "batch", body)
    for error in errors:  # asked alone, each answers its own error
        answer(mocked, "crm.lead.get", error, status=400)
    got = client().batch(commands, read=True)
    assert {k: got[k] for k in results} == results
    alone = [got[f"missing{n}"] for n in range(len(errors))]
    assert [(e.code, e.message) for e in alone if isinstance(e, CallError)] == [
        (e["error"], e["error_description"]) for e in errors]
    assert len(mocked.calls) == 1 + len(errors)


def test_a_batch_of_more_than_50_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="at most 50"):
        client().batch({str(n): ("crm.item.get", {"id": n}) for n in range(51)})


def test_batches_split_any_number_of_commands_fifty_a_call(mocked: responses.RequestsMock) -> None:
    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        cmd = json_loads(request.body or b'')["cmd"]
        return 200, {}, json_dumps({"result": {"result": dict.fromkeys(cmd, True), "result_error": []}})

    mocked.add_callback(responses.POST, PORTAL + "batch", callback=reply)
    got = client().batches({str(n): ("crm.item.get", {"id": n}) for n in range(120)})
    assert len(got) == 120 and all(v is True for v in got.values())
    assert len(mocked.calls) == 3


# --- paging by id -----------------------------------------------------------------------------------------

def test_pages_walk_by_id_with_start_minus_one_and_stop_on_a_short_page(mocked: responses.RequestsMock) -> None:
    first = [{"id": n} for n in range(1, 51)]
    answer(mocked, "crm.item.list", {"result": {"items": first}})
    answer(mocked, "crm.item.list", {"result": {"items": [{"id": 51}, {"id": 52}]}})
    pages = list(client().pages("crm.item.list", {"entityTypeId": 3}, rows="items"))
    assert [len(p) for p in pages] == [50, 2]
    sent = [json_loads(call.request.body or b'') for call in mocked.calls]
    assert [s["start"] for s in sent] == [-1, -1]
    assert [s["filter"][">id"] for s in sent] == [0, 50]
    assert all(s["order"] == {"id": "ASC"} for s in sent)


# --- queries, events, requests ----------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="[]"), max_size=8)
_KEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_>@", min_size=1, max_size=6)


@given(st.dictionaries(_KEY, st.one_of(_TEXT, st.dictionaries(_KEY, _TEXT, min_size=1, max_size=3)), max_size=4))
def test_a_query_decodes_to_what_was_encoded(params: dict[str, Any]) -> None:
    assert decode_query(encode_query(params)) == params


def test_the_item_add_request_sample_survives_a_batch_command() -> None:
    request = {"entityTypeId": 3, "fields": sample("b24-crm-item-add-request.json")}
    decoded = decode_query(encode_query(request))
    assert decoded["entityTypeId"] == "3"
    assert set(decoded["fields"]) == set(request["fields"])


@pytest.mark.parametrize(("name", "deal"), [("b24-event-oncrmdealadd-to-app.json", "7405"),
                                            ("b24-event-oncrmdealadd-to-outgoing-webhook.json", "7405")])
def test_events_documented_as_json_are_read_as_they_travel_form_encoded(name: str, deal: str) -> None:
    event = sample(name)
    body = encode_query(event).encode()
    assert _event_deal(body) == deal
    assert decode_query(body.decode())["auth"]["application_token"] == event["auth"]["application_token"]


def test_the_raw_form_encoded_event_names_its_deal_and_token() -> None:
    body = (BITRIX / "b24-event-oncrmdealadd-form-encoded.txt").read_bytes().strip()
    assert _event_deal(body) == "123"
    assert decode_query(body.decode())["auth"] == {"application_token": "tok"}
    assert parse_qs(body.decode())["event"] == ["ONCRMDEALADD"]


def test_the_multifield_sample_values_are_kept_and_the_new_one_added_with_its_type() -> None:
    from connectors.bitrix24.connector import added_values

    held = sample("b24-crm-contact-multifield-phone-values.json")
    fm = added_values(held, [("PHONE", "222222", "WORK"), ("PHONE", "444444", "MOBILE")])
    assert fm == {"n0": {"typeId": "PHONE", "valueType": "MOBILE", "value": "444444"}}


@pytest.mark.parametrize("name", ["bus-1c-exchange-sale-transcript.txt", "bus-1c-exchange-failure-response.txt"])
def test_the_sites_1c_exchange_answers_are_read_by_the_commerceml_client(name: str) -> None:
    """§3: the on-prem site speaks CommerceML's exchange, which the commerceml connector reads."""
    text = (BITRIX / name).read_text(encoding="utf-8")
    if "failure" in name:
        lines = text.splitlines()
        said = read_answer("\n".join(lines[lines.index("Ответ сервера:") + 1:]).encode(), None)
        assert said.status == "failure" and "единицы измерения" in said.message
        return
    blocks = [[line[3:] for line in chunk.splitlines() if line.startswith("<- ")] for chunk in text.split("\n\n")]
    checkauth, init = (b for b in blocks if b)
    said = read_answer("\n".join(checkauth).encode(), None)
    assert said.status == "success" and said.lines[:2] == ["PHPSESSID", "26abebd6e578cc6d129cd14227438ee8"]
    assert read_answer("\n".join(init).encode(), None).status == "zip=yes"


def test_decimal_time_figures_are_read_as_seconds() -> None:
    budget = OperatingBudget(1, RecordingClock())
    budget.note("m", {"operating": Decimal("0.95"), "operating_reset_at": 1000, "finish": Decimal("990.5")})
    budget.wait("m")
    assert budget.clock.sleeps == [9.5]  # type: ignore[attr-defined]


def test_samples_folder_is_read_whole() -> None:
    """Every file in the folder is taken by a test above."""
    taken = {*ENVELOPES, *ERRORS, *KEYED_BATCHES, "fb24-real-crm_get_batch_mix_success_and_errors.json",
             "fb24-real-crm_get_batch_of_two_error.json", "fb24-real-crm_lead_get_batch_error.json",
             "b24-sale-order-list-response.as-published.json.txt", "b24-error-query-limit-exceeded.json",
             "b24-error-operation-time-limit.json", "b24-error-expired-token.json", "b24-oauth-token-response.json",
             "b24-crm-item-add-request.json", "b24-event-oncrmdealadd-to-app.json",
             "b24-event-oncrmdealadd-to-outgoing-webhook.json", "b24-event-oncrmdealadd-form-encoded.txt",
             "b24-crm-contact-multifield-phone-values.json", "bus-1c-exchange-sale-transcript.txt",
             "bus-1c-exchange-failure-response.txt", "SOURCES.md"}
    assert {path.name for path in Path(BITRIX).iterdir()} == taken


_PHONES = st.lists(st.from_regex(r"\+7916[0-9]{7}", fullmatch=True), max_size=5)


@given(_PHONES, _PHONES)
def test_values_added_are_those_the_contact_lacks_each_with_its_type(held: list[str], wanted: list[str]) -> None:
    from connectors.bitrix24.connector import added_values

    portal = [{"ID": str(n), "TYPE_ID": "PHONE", "VALUE": "8" + phone[2:]} for n, phone in enumerate(held)]
    fm = added_values(portal, [("PHONE", phone, "MOBILE") for phone in wanted])
    assert [entry["value"] for entry in fm.values()] == [p for p in dict.fromkeys(wanted) if p not in held]
    assert all(entry["typeId"] == "PHONE" for entry in fm.values())
    assert list(fm) == [f"n{n}" for n in range(len(fm))]
