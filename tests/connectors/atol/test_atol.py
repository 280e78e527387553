"""ATOL Online's client and stream against ATOL's own answers (the samples) with ``responses``, and its handbooks."""

from __future__ import annotations

import logging
import re
import typing
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import responses

from connectors.atol.connector import PAYMENT_TYPES, AtolConnector, AtolSettings, ReceiptsStream
from hub.connector import ConnectorContext
from hub.errors import AuthError
from hub.fiscal import Measure, Method, PaymentType, Vat, fiscal_stream, issuer, prepayment
from hub.model import Company, Order, Product
from hub.values import json_loads
from tests._shared import SAMPLES

pytestmark = pytest.mark.samples
ATOL = SAMPLES / "fiscal" / "atol"
URL = "https://testonline.atol.ru/possystem/v5/"
GROUP = "v5-online-atol-ru_5179"
MOSCOW = ZoneInfo("Europe/Moscow")


def connector() -> AtolConnector:
    settings = AtolSettings(type="atol", url=URL, login="l", password="p", group=GROUP, inn="5544332219",
                            tax_system="usn_income", payment_address="https://shop.example.ru", email="a@b.ru",
                            retry={"attempts": 1})
    return AtolConnector(settings, ConnectorContext(source="atol", timezone=MOSCOW, log=logging.getLogger("t")))


GOODS = {"APL": Product(id="APL", name="Яблоки", unit="kg", weighed=True)}
"""1C's goods by the order's product ids, as the id links give them."""


def order() -> Order:
    return Order.model_validate({
        "channel": "shop", "external_id": "7", "created_at": "2026-01-05T10:00:00+03:00", "total": "44.85",
        "customer": {"emails": ["a@b.ru"]}, "payments": [{"method": "card", "amount": "44.85", "paid": True}],
        "lines": [{"product": "APL", "name": "Яблоки", "quantity": "0.300", "unit_price": "149.50", "sum": "44.85"}]})


def sample(name: str) -> bytes:
    return (ATOL / name).read_bytes()


@responses.activate
def test_a_receipt_is_registered_with_its_token_and_waits_while_atol_says_code_34() -> None:
    responses.post(URL + "getToken", body=sample("v5_getToken_ok.json"))
    responses.post(f"{URL}{GROUP}/sell", body=sample("v5_sell_accepted_wait.json"))
    responses.get(f"{URL}{GROUP}/report/1c9de7c1-3501-4d90-abf2-c78cde3ef33c",
                  body=sample("v5_report_wait_code34.json"))
    stream = fiscal_stream(connector())
    assert stream is not None
    settings = connector().atol_settings
    receipt = prepayment(order(), {"APL": Product(id="APL", name="Яблоки", unit="kg", weighed=True)}, settings,
                         issuer(None, settings))

    registered = stream.register(receipt)
    waiting = stream.outcome(receipt, registered.ref)

    assert (registered.status, registered.ref) == ("wait", "1c9de7c1-3501-4d90-abf2-c78cde3ef33c")
    assert waiting is not None and waiting.status == "wait"  # code 34 comes with wait: not an error
    assert responses.calls[1].request.headers["Token"] == "token"
    item, = json_loads(responses.calls[1].request.body or b"")["receipt"]["items"]
    assert (item["quantity"], item["measure"], item["payment_method"]) == (Decimal("0.300"), 11, "full_prepayment")


@responses.activate
@pytest.mark.parametrize("name", ["v5_report_done.json", "v4_report_done.json"])
def test_a_done_report_gives_number_sign_and_time(name: str) -> None:
    responses.get(f"{URL}{GROUP}/report/u", body=sample(name))
    atol = connector()
    atol.client.auth.token = lambda: "t"  # type: ignore[method-assign]
    stream = fiscal_stream(atol)
    assert stream is not None
    done = stream.outcome(prepayment(order(), GOODS, atol.atol_settings, issuer(None, atol.atol_settings)), "u")
    assert done is not None and done.status == "done"
    assert (done.fn_number, done.document_number, done.fiscal_sign) == ("9999078900006211", "132896", "1313456287")
    assert done.printed_at is not None and done.printed_at.isoformat() == "2018-08-03T23:21:00+03:00"
    assert done.total == Decimal("1000.1")


@responses.activate
def test_a_validation_error_fails_the_receipt_with_atols_reason() -> None:
    responses.post(URL + "getToken", body=sample("v5_getToken_ok.json"))
    responses.post(f"{URL}{GROUP}/sell", body=sample("v5_sell_error_code32_validation.json"), status=400)
    atol = connector()
    stream = fiscal_stream(atol)
    assert stream is not None
    failed = stream.register(prepayment(order(), GOODS, atol.atol_settings, issuer(None, atol.atol_settings)))
    assert failed.status == "fail" and failed.reason is not None
    assert failed.reason.startswith("code 32: Ошибка валидации") and "#/receipt.total" in failed.reason


@responses.activate
def test_a_wrong_login_is_an_auth_error_naming_it_without_the_password() -> None:
    responses.post(URL + "getToken", body=sample("v5_getToken_error_code12.json"))
    with pytest.raises(AuthError, match="Неверный логин или пароль") as raised:
        connector().check()
    assert "code 12" in str(raised.value) and raised.value.hint is not None and "login" in raised.value.hint


def _constants(name: str) -> dict[str, str]:
    text = (ATOL / name).read_text()
    return dict(re.findall(r"(\w+)\s*=\s*'?([\w]+)'?[,;]", text)) | dict(re.findall(r"case (\w+) = (\d+);", text))


def test_hubs_codes_are_atols_handbooks() -> None:
    measures = _constants("platron_v5_handbook_Measures.php")
    names = ("ONE", "GR", "KGR", "LITRE", "MILLILITRE", "OTHER")
    assert {int(measures[n]) for n in names} == {m.value for m in Measure}
    methods = set(_constants("platron_v5_handbook_PaymentMethods.php").values())
    assert {m.value for m in Method} <= methods
    assert _constants("platron_v5_handbook_PaymentObjects.php")["COMMODITY"] == "1"
    for handbook, prepaid in (("platron_v5_handbook_PaymentTypes.php", "PRE_PAID"), ("axenov_enum_PaymentType.php",
                                                                                     "PREPAID")):
        types = _constants(handbook)
        assert (int(types["CASH"]), int(types["ELECTRON"]), int(types[prepaid])) == (
            PAYMENT_TYPES[PaymentType.CASH], PAYMENT_TYPES[PaymentType.ELECTRONIC], PAYMENT_TYPES[PaymentType.PREPAID])
    assert {"vat20", "vat22", "vat120", "none"} <= set(typing.get_args(Vat))


def test_every_atol_sample_is_taken_by_a_test() -> None:
    taken = {"v5_getToken_ok.json", "v5_getToken_error_code12.json", "v5_sell_accepted_wait.json",
             "v5_sell_error_code32_validation.json", "v5_report_wait_code34.json", "v5_report_done.json",
             "v4_report_done.json", "platron_v5_handbook_Measures.php", "platron_v5_handbook_PaymentMethods.php",
             "platron_v5_handbook_PaymentObjects.php", "platron_v5_handbook_PaymentTypes.php",
             "axenov_enum_PaymentType.php", "SOURCES.md"}
    assert {path.name for path in Path(ATOL).iterdir()} == taken


def test_the_body_names_the_receipts_company_not_the_settings() -> None:
    atol = connector()
    stream = fiscal_stream(atol)
    assert isinstance(stream, ReceiptsStream)
    from_1c = Company(inn="7701234567", tax_system="osn", payment_address="https://tverskaya.example.ru",
                      email="cheki@tverskaya.example.ru")
    body = stream.body(prepayment(order(), GOODS, atol.atol_settings, issuer(from_1c, atol.atol_settings)))
    assert body["receipt"]["company"] == {"inn": "7701234567", "sno": "osn", "email": "cheki@tverskaya.example.ru",
                                          "payment_address": "https://tverskaya.example.ru"}
