"""The SOAP sandbox answers as a 1C base publishing a web service does: its WSDL, Basic auth, 1C's faults."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from click.testing import CliRunner
from lxml import etree

import cli
from connectors.onec_soap.sandbox import INTERNAL_ADDRESS, NAMESPACE, SOAP_ENV, OneCSoapSandbox
from connectors.onec_soap.wsdl import Contract

ENDPOINT = "/trade/ws/trade.1cws"


@pytest.fixture
def onec() -> Iterator[OneCSoapSandbox]:
    with OneCSoapSandbox() as sandbox:
        yield sandbox


def call(onec: OneCSoapSandbox, operation: str, body: str) -> requests.Response:
    envelope = (f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:t="{NAMESPACE}"><soap:Body><t:{operation}>{body}'
                f"</t:{operation}></soap:Body></soap:Envelope>")
    return requests.post(onec.url + ENDPOINT, data=envelope.encode(), auth=(onec.username, onec.password),
                         headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10)


def test_the_wsdl_is_behind_basic_auth_and_shaped_as_1c_generates_it(onec: OneCSoapSandbox) -> None:
    assert requests.get(f"{onec.url}{ENDPOINT}?wsdl", timeout=10).status_code == 401
    answer = requests.get(f"{onec.url}{ENDPOINT}?wsdl", auth=(onec.username, onec.password), timeout=10)
    assert answer.status_code == 200
    root = etree.fromstring(answer.content)
    assert root.get("targetNamespace") == NAMESPACE == root.nsmap["tns"] == root.nsmap["xsd1"]
    assert [b.get("name") for b in root.iterfind("{*}binding")] == ["TradeSoapBinding", "TradeSoap12Binding"]
    assert {a.get("location") for a in root.iter("{*}address")} == {INTERNAL_ADDRESS}
    contract = Contract.read(answer.content)
    assert [f.name for f in contract.types["Заказ"]][-1] == "Товары"
    assert contract.returns["ЗаписатьЗаказ"] is not None and contract.returns["ЗаписатьЗаказ"].name == "return"


def test_a_call_the_module_refuses_is_a_fault_with_1cs_text(onec: OneCSoapSandbox) -> None:
    answer = call(onec, "ЗаписатьЗаказ", "<t:Заказ><t:НомерПоДаннымКлиента>shop:1</t:НомерПоДаннымКлиента>"
                                         "</t:Заказ>")
    assert answer.status_code == 500
    fault = etree.fromstring(answer.content).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None
    assert fault.findtext("faultcode") == "soap:Server"
    assert "Не заполнена табличная часть «Товары»" in str(fault.findtext("faultstring"))
    assert call(onec, "Удалить", "").status_code == 500
    assert onec.orders == {}


def test_pages_follow_the_numbers_asked_and_say_when_more_follow(onec: OneCSoapSandbox) -> None:
    answer = call(onec, "ПолучитьОстатки", "<t:НомерСтраницы>2</t:НомерСтраницы><t:РазмерСтраницы>10"
                                           "</t:РазмерСтраницы>")
    result = etree.fromstring(answer.content).find(f".//{{{NAMESPACE}}}return")
    assert result is not None
    assert len(result.findall(f"{{{NAMESPACE}}}Строка")) == 10
    assert result.findtext(f"{{{NAMESPACE}}}ЕстьЕще") == "true"


def test_the_stock_action_changes_a_balance_as_a_receipt_would(onec: OneCSoapSandbox) -> None:
    port = onec.url.rsplit(":", 1)[1]
    ran = CliRunner().invoke(cli.main, ["sandbox", "do", "--port", port, "onec_soap", "stock", "article=CHE-01",
                                        "quantity=0.305"])
    assert ran.exit_code == 0, ran.output
    good = next(g for g in onec.goods.values() if g.sku == "CHE-01")
    assert onec.stock[good.ref, onec.warehouses[0]] == Decimal("0.305")


def test_hub_sandbox_onec_soap_serves_it_and_prints_its_settings() -> None:
    process = subprocess.Popen([sys.executable, "-m", "cli", "sandbox", "onec_soap", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("onec_soap sandbox on http://127.0.0.1:"), first
        url = first.split(" on ", 1)[1].strip()
        assert requests.get(f"{url}{ENDPOINT}?wsdl", auth=("hub", "sandbox-secret"), timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
