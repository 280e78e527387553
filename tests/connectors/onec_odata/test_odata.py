"""The 1C OData dialect as text: literals, paths, query strings, value quirks, error bodies - and the real samples."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote
from uuid import UUID

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from connectors.onec_odata import odata
from connectors.onec_odata.sandbox import FilterParser, Prop, Refusal
from hub.errors import AuthError, RequestRejected, ServerError
from hub.values import json_loads
from tests._shared import sample_files

from .conftest import MOSCOW, SAMPLES

REF = "b1c89d94-cb6a-11e6-aede-5404a6b4b8ed"


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _response(status: int, body: bytes,
              url: str = "https://srv/trade/odata/standard.odata/Catalog_X") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.url = url
    response.request = requests.Request("GET", url).prepare()
    return response


# --- literals and paths ------------------------------------------------------------------------


def test_service_root_accepts_the_publication_or_the_odata_root() -> None:
    assert odata.service_root("http://srv/trade") == "http://srv/trade/odata/standard.odata/"
    assert odata.service_root("http://srv/trade/") == "http://srv/trade/odata/standard.odata/"
    assert odata.service_root("http://srv/trade/odata/standard.odata") == "http://srv/trade/odata/standard.odata/"


def test_guid_literal_normalises_and_refuses_non_uuids() -> None:
    assert odata.guid(REF.upper()) == f"guid'{REF}'"
    assert odata.guid(UUID(REF)) == f"guid'{REF}'"
    with pytest.raises(ValueError):
        odata.guid("1' or 1 eq 1")


def test_datetime_literal_is_local_wall_clock_and_refuses_naive() -> None:
    moment = dt.datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=dt.UTC)
    assert odata.datetime_literal(moment, MOSCOW) == "datetime'2026-11-20T12:30:15'"
    with pytest.raises(ValueError, match="naive"):
        odata.datetime_literal(dt.datetime(2026, 1, 1), MOSCOW)  # noqa: DTZ001 - the refused case


def test_string_literal_doubles_quotes() -> None:
    assert odata.string("О'Коннор") == "'О''Коннор'"


@pytest.mark.parametrize(("value", "field", "expected"), [
    (None, "X", "null"), (True, "X", "true"), (False, "X", "false"), (5, "X", "5"),
    (Decimal("0.305"), "X", "0.305"), ("A-1001", "Number", "'A-1001'"), (REF, "Owner_Key", f"guid'{REF}'"),
    (UUID(REF), "Anything", f"guid'{REF}'"),
    (dt.datetime(2026, 1, 1, tzinfo=MOSCOW), "Date", "datetime'2026-01-01T00:00:00'"),
])
def test_literal_picks_the_form_by_type_and_field(value: object, field: str, expected: str) -> None:
    assert odata.literal(value, MOSCOW, field=field) == expected


def test_literal_refuses_floats() -> None:
    with pytest.raises(TypeError):
        odata.literal(1.5, MOSCOW)


def test_entity_path_encodes_cyrillic_and_keeps_odata_punctuation() -> None:
    path = odata.entity_path("Document_ЗаказКлиента", REF, "Post")
    encoded = "%D0%97%D0%B0%D0%BA%D0%B0%D0%B7%D0%9A%D0%BB%D0%B8%D0%B5%D0%BD%D1%82%D0%B0"
    assert path == f"Document_{encoded}(guid'{REF}')/Post"
    assert unquote(path) == f"Document_ЗаказКлиента(guid'{REF}')/Post"


def test_function_call_leaves_out_missing_arguments_and_encodes_inside_the_path() -> None:
    call = odata.function_call("Balance", {"Period": "datetime'2026-01-01T00:00:00'", "Condition": None,
                                           "Dimensions": "'Номенклатура,Склад'"})
    assert call == "Balance(Period=datetime'2026-01-01T00:00:00',Dimensions='Номенклатура,Склад')"
    path = odata.entity_path("AccumulationRegister_ТоварыНаСкладах", None, call)
    assert "(Period=datetime'2026-01-01T00:00:00',Dimensions='" in path
    assert " " not in path and "Склад" not in path


def test_query_string_escapes_spaces_as_percent_20_and_drops_none() -> None:
    query = odata.query_string({"$filter": "Description eq 'A & B+C'", "$select": None, "$top": 10})
    assert query == "?$filter=Description%20eq%20'A%20%26%20B%2BC'&$top=10"
    assert odata.query_string({"$select": None}) == ""


# --- values --------------------------------------------------------------------------------------


def test_clean_row_takes_out_1c_quirks() -> None:
    row = {"odata.metadata": "…", "Ref_Key": REF, "Контрагент_Key": odata.EMPTY_GUID,
           "ДатаКонтракта": odata.EMPTY_DATE, "Date": "2016-12-26T16:00:52", "НомерКонтракта": "   ",
           "Артикул": "412   ", "Количество": Decimal("0.305"), "Posted": False,
           "Склад@navigationLinkUrl": "Document_X(guid'…')/Склад",
           "Товары": [{"LineNumber": "2", "ШтрихКод": "                    ", "Номенклатура_Key": odata.EMPTY_GUID}]}
    assert odata.clean_row(row, MOSCOW) == {
        "Ref_Key": REF, "Контрагент_Key": None, "ДатаКонтракта": None,
        "Date": dt.datetime(2016, 12, 26, 16, 0, 52, tzinfo=MOSCOW), "НомерКонтракта": "", "Артикул": "412",
        "Количество": Decimal("0.305"), "Posted": False,
        "Товары": [{"LineNumber": 2, "ШтрихКод": "", "Номенклатура_Key": None}]}


def test_to_wire_writes_local_times_empty_guids_and_numbers_lines() -> None:
    body = {"Date": dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC), "Контрагент_Key": None, "Комментарий": None,
            "Ref": UUID(REF), "Day": dt.date(2026, 1, 2),
            "Товары": [{"Количество": Decimal("0.305")}, {"Количество": Decimal(1), "LineNumber": "7"}]}
    assert odata.to_wire(body, MOSCOW) == {
        "Date": "2026-11-20T12:00:00", "Контрагент_Key": odata.EMPTY_GUID, "Комментарий": None, "Ref": REF,
        "Day": "2026-01-02T00:00:00",
        "Товары": [{"Количество": Decimal("0.305"), "LineNumber": "1"}, {"Количество": Decimal(1), "LineNumber": "7"}]}


# --- errors --------------------------------------------------------------------------------------


def test_parse_error_reads_json_with_the_code_as_a_string() -> None:
    body = b'\xef\xbb\xbf{"odata.error": {"code": "9", "message": {"lang": "ru", "value": "Not found"}}}'
    assert odata.parse_error(body) == odata.ODataError("9", "Not found")
    assert odata.parse_error(b'{"error": "nope"}') is None
    assert odata.parse_error(b"<html><body>404</body></html>") is None
    assert odata.parse_error(b"{broken") is None


def test_parse_error_reads_atom_xml() -> None:
    body = ('<?xml version="1.0" encoding="utf-8"?><m:error xmlns:m="x"><m:code>14</m:code>'
            '<m:message xml:lang="ru">Ошибка &amp; разбор</m:message></m:error>').encode()
    assert odata.parse_error(body) == odata.ODataError("14", "Ошибка & разбор")


@pytest.mark.parametrize(("status", "code", "error_class"), [
    (404, "9", RequestRejected), (400, "14", RequestRejected), (403, "20", AuthError), (400, "20", AuthError),
    (412, "0", RequestRejected), (500, "-1", ServerError), (501, "0", RequestRejected), (404, "8", RequestRejected),
])
def test_error_for_maps_codes_to_hub_errors_keeping_the_message(status: int, code: str,
                                                                error_class: type[Exception]) -> None:
    body = f'{{"odata.error": {{"code": "{code}", "message": {{"lang": "ru", "value": "Сообщение 1С"}}}}}}'
    error = odata.error_for(_response(status, body.encode()))
    assert type(error) is error_class
    assert "Сообщение 1С" in str(error) and f"1C error {code}" in str(error)
    if isinstance(error, RequestRejected):
        assert (error.status, error.code) == (status, code)


def test_web_server_404_is_told_apart_from_1c() -> None:
    error = odata.error_for(_response(404, b"<html><title>404 Not Found</title></html>"))
    assert isinstance(error, RequestRejected) and error.code is None
    assert "web server answered, not 1C" in str(error)
    assert error.hint is not None and "publication URL" in error.hint


def test_error_message_shows_the_path_but_not_the_query() -> None:
    url = "https://srv/trade/odata/standard.odata/Catalog_%D0%A5?$filter=Phone%20eq%20'79161234567'"
    error = odata.error_for(_response(400, b'{"odata.error": {"code": "14", "message": {"value": "bad"}}}', url))
    assert "Catalog_Х" in str(error) and "7916" not in str(error)


# --- the real samples -------------------------------------------------------------------------------


REAL_BODIES = sample_files(SAMPLES, "*.json", but="errors24*")


@pytest.mark.samples
def test_the_samples_are_there() -> None:
    assert len(REAL_BODIES) >= 9, f"expected the shared 1C samples in {SAMPLES}"


@pytest.mark.samples
@pytest.mark.parametrize("path", REAL_BODIES)
def test_every_real_body_cleans_without_1c_quirks_left(path: Path) -> None:
    data = json_loads(path.read_bytes())
    rows = data.get("value", [data])
    for row in rows:
        cleaned = odata.clean_row(row, MOSCOW)
        _assert_clean(cleaned)


def _assert_clean(value: object) -> None:
    if isinstance(value, dict):
        assert not any(k.startswith("odata.") or k.endswith("@navigationLinkUrl") for k in value)
        if "LineNumber" in value:
            assert isinstance(value["LineNumber"], int)
        for item in value.values():
            _assert_clean(item)
    elif isinstance(value, list):
        for item in value:
            _assert_clean(item)
    elif isinstance(value, str):
        assert value not in (odata.EMPTY_GUID, odata.EMPTY_DATE) and value == value.rstrip(" ")
    elif isinstance(value, dt.datetime):
        assert value.tzinfo is MOSCOW


@pytest.mark.samples
def test_real_document_list_keeps_its_facts() -> None:
    data = json_loads(_sample("roman-nevr_IncomeJSON_1.json"))
    first = odata.clean_row(data["value"][0], MOSCOW)
    assert first["Date"] == dt.datetime(2016, 12, 26, 16, 0, 52, tzinfo=MOSCOW)
    assert first["ДатаКонтракта"] is None and first["ДокументОснование_Key"] is None
    assert first["НомерКонтракта"] == "" and first["Товары"][0]["ШтрихКод"] == ""
    assert first["Товары"][0]["LineNumber"] == 1 and first["Излишки"] == []


@pytest.mark.samples
def test_real_service_document_lists_its_entity_sets() -> None:
    data = json_loads(_sample("roman-nevr_MetaOData_service-document.json"))
    names = [entry["name"] for entry in data["value"]]
    assert len(names) == 70 and "AccumulationRegister_ТоварыНаСкладах" in names


def _error(message: str) -> bytes:
    return f'{{"odata.error": {{"code": "-1", "message": {{"lang": "ru", "value": "{message}"}}}}}}'.encode()


@pytest.mark.parametrize(("method", "body", "error_class"), [
    ("POST", _error("Ошибка проведения"), RequestRejected),
    ("PATCH", _error("Ошибка записи"), RequestRejected),
    ("POST", b"<html><body>500 Internal Server Error</body></html>", ServerError),
    ("GET", _error("Ошибка чтения"), ServerError),
])
def test_a_500_with_1cs_own_error_refuses_a_write_but_leaves_reads_and_the_web_server_retriable(
        method: str, body: bytes, error_class: type[Exception]) -> None:
    response = _response(500, body)
    response.request = requests.Request(method, response.url).prepare()
    error = odata.error_for(response)
    assert type(error) is error_class
    if isinstance(error, RequestRejected):
        assert error.status == 500 and "posting code" in (error.hint or "")


@pytest.mark.samples
@pytest.mark.parametrize(("name", "status", "error_class", "code", "text"), [
    ("errors24_odata-error_code-1_internal.json", 500, ServerError, "-1", "технологическом журнале"),
    ("errors24_odata-error_code13_tabular-rows.json", 400, RequestRejected, "13", "табличной части напрямую"),
    ("errors24_odata-error_post-unpost_fragment.xml", 500, ServerError, "-1", "ОбработкаУдаленияПроведения"),
])
def test_real_error_bodies_map_to_hub_errors(name: str, status: int, error_class: type[Exception],
                                             code: str, text: str) -> None:
    parsed = odata.parse_error(_sample(name))
    assert parsed is not None and parsed.code == code and text in parsed.message
    error = odata.error_for(_response(status, _sample(name)))
    assert type(error) is error_class and text in str(error)


# --- literals round-trip through the sandbox's parser ---------------------------------------------------

_PROPS = {"Description": Prop("Description", "string"), "Owner_Key": Prop("Owner_Key", "guid"),
          "Date": Prop("Date", "date"), "Price": Prop("Price", "number")}


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40))
def test_any_string_literal_round_trips_through_the_sandbox_parser(text: str) -> None:
    matches = FilterParser(f"Description eq {odata.string(text)}", _PROPS).predicate()
    assert matches({"Description": text})
    assert not matches({"Description": "\x00" + text + "x"})


# 1C's calendar: year 1 to 9999 in wall-clock time, a day's margin for the zone's offset.
@given(st.uuids(), st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),  # noqa: DTZ001
                                timezones=st.just(MOSCOW)),
       st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**9, max_value=10**9))
def test_typed_literals_round_trip_through_the_sandbox_parser(ref: UUID, moment: dt.datetime, price: Decimal) -> None:
    text = (f"Owner_Key eq {odata.literal(str(ref), MOSCOW, field='Owner_Key')} and "
            f"Date eq {odata.literal(moment, MOSCOW)} and Price eq {odata.literal(price, MOSCOW)}")
    row = {"Owner_Key": str(ref), "Date": moment.replace(tzinfo=None, microsecond=0), "Price": price}
    assert FilterParser(text, _PROPS).predicate()(row)


@pytest.mark.parametrize(("text", "code"), [
    ("Description eq 'unclosed", "14"), ("Owner_Key eq 'not-a-guid-literal'", "14"), ("Nope eq 1", "14"),
    ("Price add 1 eq 2", "0"), ("Owner/Code eq 'x'", "0"), ("isof(Description, 'Edm.String')", "21"),
    ("Description", "14"), ("Date gt datetime'yesterday'", "14"),
])
def test_the_sandbox_parser_refuses_with_1c_codes(text: str, code: str) -> None:
    with pytest.raises(Refusal) as refused:
        FilterParser(text, _PROPS).predicate()
    assert refused.value.code == code
