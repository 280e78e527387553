"""What a system's failed answers mean, declared per system as a table (hub.http.ErrorTable) and read by one mapper:
refuse the record, retry, or stop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.iiko.client import IIKO_ERRORS
from connectors.onec_odata.odata import ONEC_ERRORS
from connectors.yandex_eda.vendor import VENDOR_ERRORS
from hub import http
from hub.errors import AuthError, RateLimited, RequestRejected, ServerError

_ONEC_20 = '{"odata.error": {"code": "20", "message": {"value": "Недостаточно прав"}}}'.encode()
_ONEC_ATOM = ('<?xml version="1.0" encoding="utf-8"?><m:error xmlns:m="http://schemas.microsoft.com/ado/2007/08/'
              'dataservices/metadata"><m:code>-1</m:code><m:message>Ошибка проведения</m:message></m:error>').encode()


@pytest.mark.parametrize(("table", "status", "body", "method", "meant"), [
    (http.HTTP_ERRORS, 429, b"", "GET", (http.Outcome.RETRY, RateLimited)),
    (http.HTTP_ERRORS, 503, b"", "POST", (http.Outcome.RETRY, ServerError)),
    (http.HTTP_ERRORS, 401, b"", "GET", (http.Outcome.FATAL, AuthError)),
    (http.HTTP_ERRORS, 404, b"", "GET", (http.Outcome.REFUSE, RequestRejected)),
    (ONEC_ERRORS, 400, _ONEC_20, "GET", (http.Outcome.FATAL, AuthError)),       # 1C's rights, whatever the status
    (ONEC_ERRORS, 500, _ONEC_ATOM, "POST", (http.Outcome.REFUSE, RequestRejected)),  # 1C refusing the object
    (ONEC_ERRORS, 500, _ONEC_ATOM, "GET", (http.Outcome.RETRY, ServerError)),
    (ONEC_ERRORS, 500, b"<html>proxy</html>", "POST", (http.Outcome.RETRY, ServerError)),  # not 1C's own error
    (ONEC_ERRORS, 501, b"", "GET", (http.Outcome.REFUSE, RequestRejected)),
    (IIKO_ERRORS, 408, b'{"errorDescription": "Timeout"}', "POST", (http.Outcome.RETRY, ServerError)),
    (IIKO_ERRORS, 403, b"", "POST", (http.Outcome.FATAL, AuthError)),
    (IIKO_ERRORS, 410, b'{"error": "GONE"}', "POST", (http.Outcome.REFUSE, RequestRejected)),
    (VENDOR_ERRORS, 401, b'{"message": "bad token", "code": 401}', "POST", (http.Outcome.FATAL, AuthError)),
])
def test_each_systems_table_says_what_an_answer_means(table: http.ErrorTable, status: int, body: bytes, method: str,
                                                      meant: tuple[http.Outcome, type[Exception]]) -> None:
    outcome, error_class = meant
    verdict = table.judge(status, body, method=method)
    assert verdict.outcome is outcome
    assert type(verdict.error("what failed", status=status)) is error_class


def test_a_rule_carries_its_hint_and_the_code_the_body_said() -> None:
    verdict = ONEC_ERRORS.judge(400, _ONEC_20)
    assert verdict.said is not None and (verdict.said.code, verdict.said.message) == ("20", "Недостаточно прав")
    error = IIKO_ERRORS.judge(400, b'{"errorDescription": "bad", "error": "INVALID_BODY_JSON_FORMAT"}').error(
        "POST /api/1/x -> 400: bad", status=400)
    assert isinstance(error, RequestRejected) and (error.status, error.code) == (400, "INVALID_BODY_JSON_FORMAT")
    assert ONEC_ERRORS.judge(403, b"").error("x", status=403).hint == "check the 1C user name and password"


@given(st.sampled_from([http.HTTP_ERRORS, ONEC_ERRORS, IIKO_ERRORS, VENDOR_ERRORS]),
       st.integers(min_value=0, max_value=1000), st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
       st.sampled_from(["GET", "HEAD", "POST", "PATCH", "DELETE", "get"]))
def test_any_answer_gets_exactly_one_outcome_and_never_an_exception(table: http.ErrorTable, status: int, body: bytes,
                                                                    method: str) -> None:
    verdict = table.judge(status, body, method=method)
    assert verdict.outcome in http.Outcome
    error = verdict.error("what failed", status=status)
    assert isinstance(error, _RAISED[verdict.outcome])


_RAISED: dict[http.Outcome, type[Exception] | tuple[type[Exception], ...]] = {
    http.Outcome.REFUSE: RequestRejected, http.Outcome.FATAL: AuthError, http.Outcome.RETRY: (ServerError, RateLimited)}
