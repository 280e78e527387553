"""SOAP faults and HTTP failures of a 1C web service, mapped onto hub's error tree (``responses``, no server)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st

from connectors.onec_soap.client import Faults, SoapClient
from connectors.onec_soap.sandbox import LOCK_CONFLICT, fault_body, wsdl
from connectors.onec_soap.wsdl import Contract, WsdlCache
from hub.errors import InvalidRecord, NetworkError, ProtocolError, RequestRejected, RetriableError, ServerError
from hub.http import HttpClient
from hub.settings import RetryPolicy
from hub.testing.acceptance import RecordingClock

PUBLICATION = "https://1c.example.ru/trade"
ENDPOINT = f"{PUBLICATION}/ws/trade.1cws"
FIND = {"НомерПоДаннымКлиента": "shop:1"}
ORDER = {"Заказ": {"НомерПоДаннымКлиента": "shop:1", "Дата": "2026-12-01T12:30:00", "Склад": "w",
                   "СуммаДокумента": Decimal("420.00"),
                   "Товары": [{"Номенклатура": "g", "Количество": Decimal("0.305"), "Цена": Decimal("899.90"),
                               "Сумма": Decimal("274.47")}]}}


def client(faults: Faults | None = None) -> SoapClient:
    http = HttpClient(base_url=PUBLICATION, source="soap-test", auth=("hub", "secret"), clock=RecordingClock(),
                      retry=RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.02))
    return SoapClient(http, publication=PUBLICATION, service="trade", cache=WsdlCache(None, ENDPOINT),
                      faults=faults or Faults())


def serve_wsdl() -> None:
    responses.get(f"{ENDPOINT}?wsdl", body=wsdl(), content_type="text/xml; charset=utf-8")


def answer_fault(text: str, code: str = "soap:Server") -> None:
    responses.post(ENDPOINT, body=fault_body(text, code), status=500, content_type="text/xml; charset=utf-8")


@responses.activate
def test_a_refused_record_is_an_invalid_record_carrying_1cs_text() -> None:
    serve_wsdl()
    answer_fault("Ошибка при вызове операции ЗаписатьЗаказ: {ВебСервис.Trade.Модуль(52)}: "
                 "Не найдена номенклатура с идентификатором «x»")
    with pytest.raises(InvalidRecord, match="Не найдена номенклатура") as raised:
        client().call("ЗаписатьЗаказ", ORDER, reads=False)
    assert "[soap:Server]" in raised.value.message
    assert len(responses.calls) == 2  # the WSDL, then the one call: a refusal is not sent again


@responses.activate
def test_a_lock_conflict_is_the_services_fault_and_retriable() -> None:
    serve_wsdl()
    answer_fault(LOCK_CONFLICT)
    with pytest.raises(ServerError, match="Конфликт блокировок"):
        client().call("ЗаписатьЗаказ", ORDER, reads=False)


@responses.activate
def test_a_fault_matching_neither_list_is_taken_as_the_services() -> None:
    serve_wsdl()
    answer_fault("Что-то пошло не так")
    with pytest.raises(RetriableError):
        client().call("НайтиЗаказ", FIND, reads=True)


@responses.activate
def test_a_client_fault_on_a_read_refuses_the_call_not_a_record() -> None:
    serve_wsdl()
    answer_fault("Неверный номер страницы", code="soap:Client")
    with pytest.raises(RequestRejected, match="Неверный номер страницы") as raised:
        client().call("ПолучитьТовары", {"НомерСтраницы": 0, "РазмерСтраницы": 10}, reads=True)
    assert not isinstance(raised.value, InvalidRecord)


@responses.activate
def test_the_integrators_own_texts_decide() -> None:
    serve_wsdl()
    answer_fault("Документ заблокирован бухгалтерией")
    with pytest.raises(InvalidRecord):
        client(Faults(record=("заблокирован бухгалтерией",))).call("ЗаписатьЗаказ", ORDER, reads=False)


@responses.activate
def test_a_5xx_without_a_fault_is_sent_again_for_a_read_only() -> None:
    serve_wsdl()
    responses.post(ENDPOINT, status=503)
    responses.post(ENDPOINT, status=503)
    responses.post(ENDPOINT, body=b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                   b'<soap:Body><m:\xd0\x9d\xd0\xb0\xd0\xb9\xd1\x82\xd0\xb8\xd0\x97\xd0\xb0\xd0\xba\xd0\xb0\xd0\xb7'
                   b'Response xmlns:m="http://www.1c.ru/cafe/trade"><m:return xmlns:xsi="http://www.w3.org/2001/'
                   b'XMLSchema-instance" xsi:nil="true"/></m:\xd0\x9d\xd0\xb0\xd0\xb9\xd1\x82\xd0\xb8\xd0\x97\xd0'
                   b'\xb0\xd0\xba\xd0\xb0\xd0\xb7Response></soap:Body></soap:Envelope>',
                   content_type="text/xml; charset=utf-8")
    assert client().call("НайтиЗаказ", FIND, reads=True) == {"Ссылка": None, "Номер": None}  # not found
    assert len(responses.calls) == 4


@responses.activate
def test_a_write_whose_answer_is_lost_is_not_sent_again() -> None:
    serve_wsdl()
    responses.post(ENDPOINT, body=requests.ConnectionError("reset by peer"))
    with pytest.raises(NetworkError):
        client().call("ЗаписатьЗаказ", ORDER, reads=False)
    assert len(responses.calls) == 2


@responses.activate
def test_calls_go_to_the_public_url_not_the_address_1c_wrote_in_its_wsdl() -> None:
    serve_wsdl()
    answer_fault(LOCK_CONFLICT)
    with pytest.raises(ServerError):
        client().call("НайтиЗаказ", FIND, reads=True)
    sent = responses.calls[1].request
    assert sent.url == ENDPOINT
    assert sent.headers["Authorization"].startswith("Basic ")
    assert "Trade:НайтиЗаказ".encode() in str(sent.headers["SOAPAction"]).encode("latin-1")


@given(st.lists(st.sampled_from(["Количество", "Цена", "Склад", "Номенклатура", "Код"]), min_size=1, unique=True),
       st.booleans())
def test_any_type_the_wsdl_declares_is_read_back_as_declared(fields: list[str], repeated: bool) -> None:
    kind = "decimal*" if repeated else "string?"
    contract = Contract.read(wsdl(types={"Строка": [(name, kind) for name in fields]}))
    assert [(f.name, f.repeated) for f in contract.types["Строка"]] == [(name, repeated) for name in fields]
    assert set(contract.operations) == {"ЗаписатьЗаказ", "НайтиЗаказ", "ПолучитьТовары", "ПолучитьОстатки",
                                        "ПолучитьЦены"}


@responses.activate
def test_a_service_whose_namespace_is_a_bare_word_is_called_and_read() -> None:
    responses.get(f"{ENDPOINT}?wsdl", body=wsdl(namespace="neo-fly"), content_type="text/xml; charset=utf-8")
    row = ("<m:Строка><m:Номенклатура>g1</m:Номенклатура><m:Склад>w1</m:Склад><m:Количество>12.305</m:Количество>"
           "</m:Строка>")
    answer = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
              f'<m:ПолучитьОстаткиResponse xmlns:m="neo-fly"><m:return>{row}<m:ЕстьЕще>false</m:ЕстьЕще>'
              "</m:return></m:ПолучитьОстаткиResponse></soap:Body></soap:Envelope>")
    responses.post(ENDPOINT, body=answer.encode(), content_type="text/xml; charset=utf-8")
    got = client().call("ПолучитьОстатки", {"НомерСтраницы": 1, "РазмерСтраницы": 10}, reads=True)
    assert got == {"Строка": [{"Номенклатура": "g1", "Склад": "w1", "Количество": Decimal("12.305")}],
                   "ЕстьЕще": False}
    assert b"neo-fly" in (responses.calls[1].request.body or b"")


@responses.activate
def test_a_wsdl_importing_a_local_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xsd"
    secret.write_text("<schema/>")
    imported = wsdl().replace(b"<types>", f'<types><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
                                          f'<xs:import namespace="x" schemaLocation="file://{secret}"/>'
                                          "</xs:schema>".encode())
    responses.get(f"{ENDPOINT}?wsdl", body=imported, content_type="text/xml; charset=utf-8")
    with pytest.raises(ProtocolError, match="not on the web"):
        client().call("НайтиЗаказ", FIND, reads=True)


@responses.activate
def test_a_phone_1c_echoes_in_its_fault_is_masked() -> None:
    serve_wsdl()
    answer_fault("Не найден контрагент с телефоном +79165551234")
    with pytest.raises(InvalidRecord) as raised:
        client().call("ЗаписатьЗаказ", ORDER, reads=False)
    assert "+79165551234" not in str(raised.value)
    assert "Не найден контрагент" in str(raised.value)


@responses.activate
def test_a_value_zeep_cannot_render_is_the_records_fault_not_a_missing_operation() -> None:
    serve_wsdl()
    with pytest.raises(InvalidRecord, match="does not fit the WSDL") as raised:
        client().call("ЗаписатьЗаказ", {"Заказ": {**ORDER["Заказ"], "Дата": 5}}, reads=False)
    assert "no operation" not in str(raised.value)
    assert len(responses.calls) == 1  # the WSDL only: nothing was sent


@responses.activate
def test_an_operation_the_wsdl_lacks_is_named_with_a_hint_to_check() -> None:
    serve_wsdl()
    with pytest.raises(RequestRejected, match="no operation 'ОтменитьЗаказ'") as raised:
        client().call("ОтменитьЗаказ", FIND, reads=True)
    assert not isinstance(raised.value, InvalidRecord)
    assert "hub check" in str(raised.value)
