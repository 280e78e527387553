"""OneCClient against canned HTTP (``responses``): every request shape, and how answers and errors are read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest
import requests
import responses

from connectors.onec_odata import OneCClient
from connectors.onec_odata.client import FILTER_CHARS
from connectors.onec_odata.odata import EMPTY_DATE, EMPTY_GUID, query_string
from hub.errors import AuthError, NetworkError, ProtocolError, RequestRejected, ServerError
from hub.http import HttpClient
from hub.settings import RetryPolicy
from hub.testing.acceptance import RecordingClock
from hub.values import json_dumps, json_loads

from .conftest import MOSCOW, SAMPLES

ROOT = "https://srv.test/trade/odata/standard.odata/"
GOODS = "Catalog_Номенклатура"
ORDERS = "Document_ЗаказКлиента"
REF = "b1c89d94-cb6a-11e6-aede-5404a6b4b8ed"
OTHER = "3aa3cd58-c109-11e6-a7a6-5404a6b4b8ed"


@pytest.fixture
def onec() -> OneCClient:
    http = HttpClient(base_url=ROOT, source="onec-unit", retry=RetryPolicy(attempts=3, backoff=0.01),
                      clock=RecordingClock(), auth=("hub", "secret"))
    return OneCClient(http, timezone=MOSCOW)


def url(path: str) -> str:
    return ROOT + path


def page(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"odata.metadata": f"{ROOT}$metadata#X", "value": list(rows)}


def error(code: str, message: str) -> dict[str, Any]:
    return {"odata.error": {"code": code, "message": {"lang": "ru", "value": message}}}


def sent(index: int = 0) -> str:
    """The decoded URL of a call, as a person would read it."""
    return unquote(responses.calls[index].request.url or "")


def goods(count: int) -> list[dict[str, Any]]:
    return [{"Ref_Key": f"00000000-0000-0000-0000-{n:012d}", "Description": f"Товар {n}   "} for n in range(count)]


# --- reading -----------------------------------------------------------------------------------------


@responses.activate
def test_pages_are_read_with_top_and_skip_in_a_stable_order_until_a_short_page(onec: OneCClient) -> None:
    rows = goods(5)
    for chunk in (rows[0:2], rows[2:4], rows[4:5]):
        responses.get(url(GOODS), json=page(*chunk))
    read = list(onec.iter_rows(GOODS, page_size=2))
    assert [r["Description"] for r in read] == [f"Товар {n}" for n in range(5)]
    assert responses.calls[0].request.url == (
        f"{ROOT}Catalog_%D0%9D%D0%BE%D0%BC%D0%B5%D0%BD%D0%BA%D0%BB%D0%B0%D1%82%D1%83%D1%80%D0%B0"
        "?$orderby=Ref_Key&$top=2&$format=json")
    assert [sent(i).rsplit("?", 1)[1] for i in (1, 2)] == [
        "$orderby=Ref_Key&$top=2&$skip=2&$format=json", "$orderby=Ref_Key&$top=2&$skip=4&$format=json"]


@responses.activate
def test_a_full_last_page_costs_one_empty_read(onec: OneCClient) -> None:
    responses.get(url(GOODS), json=page(*goods(2)))
    responses.get(url(GOODS), json=page())
    assert len(list(onec.iter_rows(GOODS, page_size=2))) == 2
    assert len(responses.calls) == 2


@responses.activate
def test_rows_are_streamed_page_by_page(onec: OneCClient) -> None:
    responses.get(url(GOODS), json=page(*goods(2)))
    responses.get(url(GOODS), json=page(*goods(1)))
    rows = onec.iter_rows(GOODS, page_size=2)
    next(rows)
    assert len(responses.calls) == 1  # the second page is not asked for before it is needed
    assert len(list(rows)) == 2


@responses.activate
def test_query_options_and_allowed_only(onec: OneCClient) -> None:
    onec.allowed_only = True
    responses.get(url(ORDERS), json=page())
    list(onec.iter_rows(ORDERS, filter="Posted eq true and Number eq 'A&B'", select=["Ref_Key", "Number"],
                        expand=["Контрагент"], orderby="Date desc"))
    assert sent() == (f"{ROOT}{ORDERS}?$filter=Posted eq true and Number eq 'A&B'&$select=Ref_Key,Number"
                      "&$expand=Контрагент&$orderby=Date desc&$top=1000&allowedOnly=true&$format=json")
    assert "%26" in (responses.calls[0].request.url or "")  # the & inside the filter is not a separator
    assert responses.calls[0].request.headers["Accept"] == "application/json"


@pytest.mark.samples
@responses.activate
def test_get_cleans_the_entity(onec: OneCClient) -> None:
    responses.get(url(f"{GOODS}(guid'{REF}')"), body=(SAMPLES / "roman-nevr_IncomeJSON_2.json").read_bytes())
    item = onec.get(GOODS, REF)
    assert item is not None
    assert item["Description"] == "НеЖенскаяНеСумка" and item["ЕдиницаИзмеренияДляСравненияОтгрузок_Key"] is None
    assert "odata.metadata" not in item and "Parent@navigationLinkUrl" not in item


@responses.activate
def test_get_of_a_missing_object_is_none_but_a_web_server_404_raises(onec: OneCClient) -> None:
    responses.get(url(f"{GOODS}(guid'{REF}')"), json=error("9", "Экземпляр сущности не найден"), status=404)
    assert onec.get(GOODS, REF) is None
    responses.get(url(f"{GOODS}(guid'{OTHER}')"), body="<html>Not Found</html>", status=404)
    with pytest.raises(RequestRejected, match="web server answered"):
        onec.get(GOODS, OTHER)


@responses.activate
def test_find_filters_by_the_attribute_with_the_right_literal(onec: OneCClient) -> None:
    responses.get(url(ORDERS), json=page({"Ref_Key": REF, "НомерПоДаннымКлиента": "A-1001"}))
    responses.get(url(ORDERS), json=page())
    assert [r["Ref_Key"] for r in onec.find(ORDERS, "НомерПоДаннымКлиента", "O'Brien-1")] == [REF]
    assert onec.find(ORDERS, "Контрагент_Key", OTHER) == []
    assert "$filter=НомерПоДаннымКлиента eq 'O''Brien-1'&" in sent(0)
    assert f"$filter=Контрагент_Key eq guid'{OTHER}'&" in sent(1)


def test_filter_in_splits_many_keys_as_a_url_takes_them_and_drops_repeats(onec: OneCClient) -> None:
    refs = [f"00000000-0000-0000-0000-{n:012d}" for n in range(85)]
    chunks = onec.filter_in("Номенклатура_Key", [*refs, refs[0]])
    # Each Cyrillic letter is six characters in the URL: 13 references fit, not 40.
    assert [chunk.count(" eq ") for chunk in chunks] == [13] * 6 + [7]
    assert max(len(query_string({"$filter": chunk})) for chunk in chunks) <= FILTER_CHARS
    assert chunks[-1] == " or ".join(f"Номенклатура_Key eq guid'{r}'" for r in refs[78:])
    onec.keys_per_request = 5
    assert [chunk.count(" eq ") for chunk in onec.filter_in("Номенклатура_Key", refs)] == [5] * 17


@responses.activate
def test_rows_in_many_keys_take_one_request_per_chunk(onec: OneCClient) -> None:
    onec.keys_per_request = 2
    for _ in range(3):
        responses.get(url(GOODS), json=page(*goods(1)))
    rows = list(onec.iter_rows_in(GOODS, "Code", ["1", "2", "3", "4", "5"]))
    assert len(rows) == 3 and len(responses.calls) == 3
    assert "$filter=Code eq '5'&" in sent(2)


@responses.activate
def test_slice_last_puts_period_and_condition_in_the_path(onec: OneCClient) -> None:
    path = "InformationRegister_ЦеныНоменклатуры/SliceLast(Period=datetime'2026-11-20T12:00:00'," \
           f"Condition='ВидЦены_Key eq guid''{REF}''')"
    responses.get(url(path), body=json_dumps(page({"Period": "2026-09-01T00:00:00", "Номенклатура_Key": OTHER,
                                                   "ВидЦены_Key": REF, "Цена": Decimal("194.40")})))
    rows = list(onec.slice_last("InformationRegister_ЦеныНоменклатуры", orderby="Номенклатура_Key",
                                period=dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC),
                                condition=f"ВидЦены_Key eq guid'{REF}'"))
    assert rows == [{"Period": dt.datetime(2026, 9, 1, tzinfo=MOSCOW), "Номенклатура_Key": OTHER,
                     "ВидЦены_Key": REF, "Цена": Decimal("194.40")}]
    assert sent().endswith("?$orderby=Номенклатура_Key&$top=1000&$format=json")


@responses.activate
def test_balance_names_its_dimensions(onec: OneCClient) -> None:
    path = "AccumulationRegister_ТоварыНаСкладах/Balance(Dimensions='Номенклатура,Склад')"
    responses.get(url(path), json=page({"Номенклатура_Key": OTHER, "Склад_Key": REF, "ВНаличииBalance": 5}))
    rows = list(onec.balance("AccumulationRegister_ТоварыНаСкладах", orderby="Номенклатура_Key,Склад_Key",
                             dimensions=["Номенклатура", "Склад"]))
    assert rows == [{"Номенклатура_Key": OTHER, "Склад_Key": REF, "ВНаличииBalance": 5}]


@pytest.mark.samples
@responses.activate
def test_service_document_lists_names(onec: OneCClient) -> None:
    responses.get(ROOT, body=(SAMPLES / "roman-nevr_MetaOData_service-document.json").read_bytes())
    names = onec.service_document()
    assert len(names) == 70 and "Catalog_СпецификацииНоменклатуры" in names


# --- writing -----------------------------------------------------------------------------------------


@responses.activate
def test_create_sends_exact_numbers_local_dates_and_numbered_lines(onec: OneCClient) -> None:
    responses.post(url(ORDERS), status=201, json={"odata.metadata": "…", "Ref_Key": REF, "DataVersion": "AAAAAQAAAAA=",
                                                  "Date": "2026-11-20T12:00:00", "Контрагент_Key": EMPTY_GUID})
    created = onec.create(ORDERS, {"Date": dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC), "Контрагент_Key": None,
                                   "Товары": [{"Номенклатура_Key": OTHER, "Количество": Decimal("0.305"),
                                               "Цена": Decimal("899.90")}]})
    assert created == {"Ref_Key": REF, "DataVersion": "AAAAAQAAAAA=",
                       "Date": dt.datetime(2026, 11, 20, 12, 0, tzinfo=MOSCOW), "Контрагент_Key": None}
    request = responses.calls[0].request
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.body == json_dumps({"Date": "2026-11-20T12:00:00", "Контрагент_Key": EMPTY_GUID,
                                       "Товары": [{"Номенклатура_Key": OTHER, "Количество": Decimal("0.305"),
                                                   "Цена": Decimal("899.90"), "LineNumber": "1"}]}).encode()


@pytest.mark.samples
@responses.activate
def test_create_refused_by_1c_keeps_its_message_and_is_not_retried(onec: OneCClient) -> None:
    rows_refused = (SAMPLES / "errors24_odata-error_code13_tabular-rows.json").read_bytes()
    responses.post(url(ORDERS), status=400, body=rows_refused)
    with pytest.raises(RequestRejected, match="табличной части напрямую") as refused:
        onec.create(ORDERS, {})
    assert refused.value.code == "13" and refused.value.hint is not None
    responses.post(url(GOODS), status=500, body=(SAMPLES / "errors24_odata-error_code-1_internal.json").read_bytes())
    with pytest.raises(RequestRejected, match="технологическом журнале") as failed:
        onec.create(GOODS, {})
    assert failed.value.status == 500
    assert len(responses.calls) == 2


@responses.activate
def test_update_sends_if_match_and_a_stale_version_is_refused(onec: OneCClient) -> None:
    target = url(f"{ORDERS}(guid'{REF}')")
    responses.patch(target, json={"Ref_Key": REF, "DataVersion": "AAAAAgAAAAA=", "Комментарий": "ok"})
    responses.patch(target, status=412, json=error("0", "Версия не совпадает"))
    updated = onec.update(ORDERS, REF, {"Комментарий": "ok"}, data_version="AAAAAQAAAAA=")
    assert updated["DataVersion"] == "AAAAAgAAAAA="
    assert responses.calls[0].request.headers["If-Match"] == "AAAAAQAAAAA="
    assert json_loads(responses.calls[0].request.body or b"") == {"Комментарий": "ok"}
    with pytest.raises(RequestRejected, match="Версия не совпадает") as stale:
        onec.update(ORDERS, REF, {"Комментарий": "late"}, data_version="AAAAAQAAAAA=")
    assert stale.value.status == 412 and "read it again" in (stale.value.hint or "")


@responses.activate
def test_update_without_a_body_in_the_answer_reads_the_object_back(onec: OneCClient) -> None:
    target = url(f"{ORDERS}(guid'{REF}')")
    responses.patch(target, status=204)
    responses.get(target, json={"Ref_Key": REF, "DataVersion": "AAAAAgAAAAA=", "ДатаОтгрузки": EMPTY_DATE})
    assert onec.update(ORDERS, REF, {"Комментарий": "ok"}) == {"Ref_Key": REF, "DataVersion": "AAAAAgAAAAA=",
                                                              "ДатаОтгрузки": None}
    assert "If-Match" not in responses.calls[0].request.headers


@responses.activate
def test_post_and_unpost_are_document_actions(onec: OneCClient) -> None:
    responses.post(url(f"{ORDERS}(guid'{REF}')/Post"))
    responses.post(url(f"{ORDERS}(guid'{REF}')/Unpost"))
    onec.post(ORDERS, REF)
    onec.post(ORDERS, REF, operational=True)
    onec.unpost(ORDERS, REF)
    assert [sent(i).split("standard.odata/")[1] for i in range(3)] == [
        f"{ORDERS}(guid'{REF}')/Post?PostingModeOperational=false&$format=json",
        f"{ORDERS}(guid'{REF}')/Post?PostingModeOperational=true&$format=json",
        f"{ORDERS}(guid'{REF}')/Unpost?$format=json"]


@pytest.mark.samples
@responses.activate
def test_posting_code_failure_carries_1c_message(onec: OneCClient) -> None:
    responses.post(url(f"{ORDERS}(guid'{REF}')/Post"), status=500,
                   body=(SAMPLES / "errors24_odata-error_post-unpost_fragment.xml").read_bytes())
    with pytest.raises(RequestRejected, match="ОбработкаУдаленияПроведения") as failed:
        onec.post(ORDERS, REF)
    assert failed.value.status == 500 and "posting code" in (failed.value.hint or "")
    assert len(responses.calls) == 1


# --- failures ----------------------------------------------------------------------------------------


@responses.activate
def test_reads_are_retried_on_5xx(onec: OneCClient) -> None:
    responses.get(url(GOODS), status=503)
    responses.get(url(GOODS), json=page(*goods(1)))
    assert len(list(onec.iter_rows(GOODS))) == 1
    assert len(responses.calls) == 2


@responses.activate
def test_reads_failing_until_tries_run_out_are_retriable(onec: OneCClient) -> None:
    responses.get(url(GOODS), status=500, json=error("-1", "Внутренняя ошибка"))
    with pytest.raises(ServerError):
        list(onec.iter_rows(GOODS))
    assert len(responses.calls) == 3


@responses.activate
def test_bad_credentials_and_missing_rights_are_auth_errors(onec: OneCClient) -> None:
    responses.get(url(GOODS), status=401)
    with pytest.raises(AuthError, match="401"):
        list(onec.iter_rows(GOODS))
    responses.get(url(ORDERS), status=403, json=error("20", "Нарушение прав доступа!"))
    with pytest.raises(AuthError, match="Нарушение прав доступа") as denied:
        list(onec.iter_rows(ORDERS))
    assert "rights" in (denied.value.hint or "")


@responses.activate
def test_a_bad_filter_is_fatal_with_1c_message(onec: OneCClient) -> None:
    responses.get(url(GOODS), status=400, json=error("14", "Ошибка разбора параметров запроса"))
    with pytest.raises(RequestRejected, match="Ошибка разбора параметров запроса") as refused:
        list(onec.iter_rows(GOODS, filter="Code eq"))
    assert refused.value.code == "14" and len(responses.calls) == 1


@responses.activate
def test_non_json_answer_is_a_protocol_error(onec: OneCClient) -> None:
    responses.get(url(GOODS), body="<html>login page</html>")
    with pytest.raises(ProtocolError, match="non-JSON"):
        list(onec.iter_rows(GOODS))
    responses.get(ROOT, json={"odata.metadata": "…"})
    with pytest.raises(ProtocolError, match="'value'"):
        onec.service_document()


@responses.activate
def test_a_lost_answer_to_a_create_is_not_repeated(onec: OneCClient) -> None:
    responses.post(url(ORDERS), body=requests.ConnectionError("connection reset by peer"))
    with pytest.raises(NetworkError):
        onec.create(ORDERS, {"Комментарий": "x"})
    assert len(responses.calls) == 1
