"""OrangeData's client and stream against OrangeData's own documents (the samples) with ``responses``."""

from __future__ import annotations

import base64
import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import responses
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.orangedata.client import sign
from connectors.orangedata.connector import PAYMENT_TYPES, OrangeDataConnector, OrangeDataSettings, ReceiptsStream
from connectors.orangedata.sandbox import OrangeDataSandbox, _problems
from hub.connector import ConnectorContext
from hub.fiscal import PaymentType, fiscal_stream, issuer, prepayment
from hub.model import Company, Order, Product
from hub.values import json_dumps, json_loads
from tests._shared import SAMPLES, sample_files

pytestmark = pytest.mark.samples
ORANGE = SAMPLES / "fiscal" / "orangedata"
URL = "https://apip.orangedata.ru:2443"
INN = "7725327863"
STATUS = f"{URL}/api/v2/documents/{INN}/status/shop:7:prepayment"


def normalised(path: Path) -> Any:
    """A DOCX example as JSON: its non-breaking spaces, typographic quotes and guillemets made plain (SOURCES.md)."""
    text = path.read_text(encoding="utf-8").replace("\u00a0", " ")
    for quote in "“”«»":
        text = text.replace(quote, '"')
    return json_loads(re.sub(r",(\s*[}\]])", r"\1", text))  # a trailing comma, as one example has


@pytest.fixture(scope="module")
def sandbox() -> OrangeDataSandbox:
    return OrangeDataSandbox(inn=INN)  # not started: only its certificate files and signing key are used


def connector(sandbox: OrangeDataSandbox) -> OrangeDataConnector:
    settings = OrangeDataSettings.model_validate({**_files(sandbox), "type": "orangedata", "url": URL, "inn": INN,
                                                  "tax_system": "osn", "payment_address": "x", "email": "a@b.ru",
                                                  "retry": {"attempts": 1}})
    return OrangeDataConnector(settings, ConnectorContext(source="od", timezone=ZoneInfo("Europe/Moscow"),
                                                          log=logging.getLogger("t")))


def _files(sandbox: OrangeDataSandbox) -> dict[str, str]:
    folder = sandbox.folder
    return {name: str(folder / f"{name}.pem") for name in ("client_cert", "client_key", "ca_cert", "signing_key")}


GOODS = {"APL": Product(id="APL", name="Яблоки", unit="kg", weighed=True)}
"""1C's goods by the order's product ids, as the id links give them."""


def order() -> Order:
    return Order.model_validate({
        "channel": "shop", "external_id": "7", "created_at": "2026-01-05T10:00:00+03:00", "total": "44.85",
        "customer": {"phones": ["+79160000000"]}, "payments": [{"method": "card", "amount": "44.85", "paid": True}],
        "lines": [{"product": "APL", "name": "Яблоки", "quantity": "0.300", "unit_price": "149.50", "sum": "44.85"}]})


@pytest.mark.parametrize("path", sample_files(ORANGE, "doc_ru_*.json"))
def test_every_documented_example_reads_once_normalised(path: Path) -> None:
    data = normalised(path)
    assert isinstance(data, dict)
    assert data.keys() & {"id", "errors", "devices", "plannedStatus"}


@responses.activate
def test_a_receipt_is_signed_queued_then_done_with_orangedatas_status(sandbox: OrangeDataSandbox) -> None:
    od = connector(sandbox)
    stream = fiscal_stream(od)
    assert stream is not None
    responses.post(f"{URL}/api/v2/documents/", status=201)
    responses.get(STATUS, status=202)
    receipt = prepayment(order(), GOODS, od.od_settings, issuer(None, od.od_settings))

    assert stream.register(receipt).status == "wait"
    waiting = stream.outcome(receipt, None)
    responses.replace(responses.GET, STATUS, body=(ORANGE / "doc_ru_documents_status_200.json").read_text()
                      .replace("\u00a0", " "))
    done = stream.outcome(receipt, None)

    sent = responses.calls[0].request
    assert sent.body is not None
    body = sent.body if isinstance(sent.body, bytes) else sent.body.encode()
    sandbox.signing_public.verify(base64.b64decode(sent.headers["X-Signature"]), body,
                                   padding.PKCS1v15(), hashes.SHA256())
    position, = json_loads(body)["content"]["positions"]
    assert (position["quantity"], position["paymentMethodType"], position["quantityMeasurementUnit"]) == (
        Decimal("0.300"), 1, 11)  # apples, weighed in kilograms
    assert waiting is not None and waiting.status == "wait"
    assert done is not None and (done.status, done.fn_number, done.document_number, done.fiscal_sign) == (
        "done", "9999078900001341", "117", "2364009522")
    assert done.printed_at is not None and done.printed_at.isoformat() == "2017-02-14T14:16:00+03:00"


@responses.activate
@pytest.mark.parametrize("name", ["doc_ru_documents_error_400.json", "doc_ru_signature_error_400.json"])
def test_a_refused_document_fails_with_orangedatas_errors(sandbox: OrangeDataSandbox, name: str) -> None:
    od = connector(sandbox)
    stream = fiscal_stream(od)
    assert stream is not None
    expected = normalised(ORANGE / name)["errors"]
    responses.post(f"{URL}/api/v2/documents/", status=400, body=json_dumps(normalised(ORANGE / name)))
    failed = stream.register(prepayment(order(), GOODS, od.od_settings, issuer(None, od.od_settings)))
    assert (failed.status, failed.reason) == ("fail", "; ".join(expected))


@responses.activate
def test_a_repeated_id_is_found_by_its_status_not_sent_again(sandbox: OrangeDataSandbox) -> None:
    od = connector(sandbox)
    stream = fiscal_stream(od)
    assert stream is not None
    responses.post(f"{URL}/api/v2/documents/", status=409)
    responses.get(STATUS, status=202)
    assert stream.register(prepayment(order(), GOODS, od.od_settings, issuer(None, od.od_settings))).status == "wait"
    assert [call.request.method for call in responses.calls] == ["POST", "GET"]


def test_orangedatas_own_ffd12_example_passes_the_sandboxs_checks() -> None:
    assert _problems(normalised(ORANGE / "doc_ru_documents_request_ffd12.json"), INN) == []
    assert _problems(normalised(ORANGE / "doc_ru_documents_request_ffd105.json"), INN) != []  # another INN


def test_a_signature_verifies_with_the_public_half() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = json_dumps(normalised(ORANGE / "doc_ru_documents_request_ffd12.json")).encode()
    key.public_key().verify(base64.b64decode(sign(key, body)), body, padding.PKCS1v15(),
                            hashes.SHA256())


def test_the_sdks_agree_with_the_hosts_and_payment_types_hub_uses() -> None:
    for name in ("sdk_node_examples_index.js", "sdk_python_example.py", "api_files_for_test_readme_eng.txt"):
        assert URL in (ORANGE / name).read_bytes().decode("utf-8", errors="replace")
    assert "'api_url' => '2443'" in (ORANGE / "sdk_php_examples_order.php").read_text(encoding="utf-8")
    assert "causeDocumentNumber" in (ORANGE / "sdk_php_examples_correction.php").read_text(encoding="utf-8")
    assert "X-Signature" in (ORANGE / "api_readme.md").read_text(encoding="utf-8")
    node = (ORANGE / "sdk_node_examples_index.js").read_text(encoding="utf-8")
    assert ".addPayment({ type: 1, amount: 10 })" in node and PAYMENT_TYPES[PaymentType.CASH] == 1
    assert "fractional quantity" not in node and "6.123456" in (ORANGE / "sdk_python_example.py").read_text()


def test_the_body_names_the_receipts_company_not_the_settings(sandbox: OrangeDataSandbox) -> None:
    od = connector(sandbox)
    stream = fiscal_stream(od)
    assert isinstance(stream, ReceiptsStream)
    from_1c = Company(inn="7701234567", tax_system="usn_income", payment_address="https://tverskaya.example.ru",
                      email="cheki@tverskaya.example.ru")
    body = stream.body(prepayment(order(), GOODS, od.od_settings, issuer(from_1c, od.od_settings)))
    assert (body["inn"], body["content"]["checkClose"]["taxationSystem"], body["content"]["settlementAddress"]) == (
        "7701234567", 1, "https://tverskaya.example.ru")
    assert body["key"] == INN  # the account's signing key stays the settings'
