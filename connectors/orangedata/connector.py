"""The OrangeData connector: hub's receipts in OrangeData's API v2 (FFD 1.2) terms, printed once each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from connectors.orangedata.client import OrangeDataClient, errors_of, load_signing_key, tls_session
from connectors.orangedata.sandbox import PRINT_AFTER, OrangeDataSandbox
from hub.connector import ConnectorContext
from hub.errors import InvalidRecord, ProtocolError, RequestRejected
from hub.fiscal import (
    Fiscal,
    FiscalSettings,
    Method,
    Outcome,
    PaymentType,
    Receipt,
    callback_endpoint,
    fiscal_stream,
    issued_by,
)
from hub.inbound import Endpoint, json_response
from hub.model import Entity
from hub.settings import SourceSettings
from hub.streams import StreamConnector
from hub.values import json_loads

PAYMENT_TYPES = {PaymentType.CASH: 1, PaymentType.ELECTRONIC: 2, PaymentType.PREPAID: 14}
"""``checkClose.payments[].type``: 1 cash, 2 electronic, 14 the prepayment offset (зачёт аванса)."""
METHODS = {Method.FULL_PREPAYMENT: 1, Method.FULL_PAYMENT: 4}
"""``paymentMethodType`` (tag 1214): 1 prepayment 100 %, 4 full settlement."""
TAX = {"vat20": 1, "vat10": 2, "vat120": 3, "vat110": 4, "vat0": 5, "none": 6, "vat5": 7, "vat7": 8, "vat105": 9,
       "vat107": 10}
"""``tax``: OrangeData's own numbering, not FFD's. 22 % (from 2026) is not in the material read: refused."""
TAX_SYSTEMS = {"osn": 0, "usn_income": 1, "usn_income_outcome": 2, "envd": 3, "esn": 4, "patent": 5}
FFD_12 = 4
"""``content.ffdVersion`` of FFD 1.2."""
COMMODITY = 1


class OrangeDataSettings(FiscalSettings):
    """Settings of an OrangeData source: its host, the group, and the files of the client certificate and keys."""

    url: str = Field("https://api.orangedata.ru:12003", description=(
        "API host: https://api.orangedata.ru:12003, the test one https://apip.orangedata.ru:2443."))
    inn: str = Field(pattern=r"^\d{10}(\d{2})?$", description=(
        "The INN OrangeData knows the account by (its certificate and signing key are issued for it); each "
        "receipt names its company's own, from 1C."))
    group: str = Field("Main", description="Group of cash registers (Main_2 at some accounts for FFD 1.2).")
    key: str | None = Field(None, description=(
        "Name of the signing key at OrangeData: the INN (default), or INN_ID for clients registered from 2025-02-01."))
    client_cert: Path = Field(description="PEM client certificate signed by OrangeData's CA (mutual TLS).")
    client_key: Path = Field(description="Its PEM private key.")
    ca_cert: Path = Field(description="OrangeData's CA certificate: the only one the API's certificate is trusted by.")
    signing_key: Path = Field(description="PEM RSA private key the request bodies are signed with (X-Signature).")
    callback_url: str | None = Field(None, description="Where OrangeData posts each document once printed.")


class ReceiptsStream(Fiscal["OrangeDataConnector"]):
    """Receipts created under hub's id, found again by it: POST, then GET its status."""

    entity = Entity.ORDERS

    def register(self, receipt: Receipt) -> Outcome:
        answer = self.connector.client.create(self.body(receipt))
        if answer.status_code == 409:  # the id is taken: this receipt reached OrangeData before
            return self.outcome(receipt, None) or Outcome(status="wait")
        if answer.status_code == 400:
            return Outcome(status="fail", reason=errors_of(answer.content) or answer.text[:300], refused=True)
        return Outcome(status="wait")

    def outcome(self, receipt: Receipt, ref: str | None) -> Outcome | None:
        answer = self.connector.client.status(receipt.id)
        if answer.status_code == 202:
            return Outcome(status="wait", reason="queued")
        if answer.status_code == 400:
            return None  # not known to OrangeData: never reached it
        if answer.status_code == 524:
            return Outcome(status="fail", reason="expired before it was processed: resend under a new id", resend=True)
        try:
            data = json_loads(answer.content)
            return Outcome(status="done", fn_number=str(data["fsNumber"]), document_number=str(data["documentNumber"]),
                           fiscal_sign=str(data["fp"]), total=_total(data),
                           printed_at=dt.datetime.fromisoformat(data["processedAt"]).replace(
                               tzinfo=self.connector.context.timezone))
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(f"OrangeData status of {receipt.id}: unreadable answer ({exc})") from None

    def body(self, receipt: Receipt) -> dict[str, Any]:
        """The request body of ``receipt``: ``{id, inn, group, key, content}``."""
        settings = self.connector.od_settings
        company = issued_by(receipt, settings)
        unknown = sorted({line.vat for line in receipt.lines} - TAX.keys())
        if unknown:
            raise InvalidRecord(f"receipt {receipt.id}: OrangeData has no tax code for {', '.join(unknown)}",
                                hint="map the good's VAT to a rate OrangeData lists (tax 1–10)")
        document: dict[str, Any] = {
            "id": receipt.id, "inn": company.inn, "group": settings.group, "key": settings.key or settings.inn,
            "content": {
                "ffdVersion": FFD_12,
                "type": 2 if receipt.refund else 1,
                "positions": [{"quantity": line.quantity, "price": line.price, "tax": TAX[line.vat],
                               "text": line.name, "paymentMethodType": METHODS[line.method],
                               "paymentSubjectType": COMMODITY, "quantityMeasurementUnit": int(line.measure)}
                              for line in receipt.lines],
                "checkClose": {"payments": [{"type": PAYMENT_TYPES[paid.type], "amount": paid.amount}
                                            for paid in receipt.payments],
                               "taxationSystem": TAX_SYSTEMS[company.tax_system]},
                "customerContact": receipt.contact,
                "settlementAddress": company.payment_address,
            },
        }
        if settings.callback_url:
            document["callbackUrl"] = settings.callback_url
        return document


def _total(data: dict[str, Any]) -> str:
    payments = data.get("content", {}).get("checkClose", {}).get("payments", [])
    return str(sum(p["amount"] for p in payments))


class OrangeDataConnector(StreamConnector):
    """OrangeData: prints hub's receipts; reads and writes nothing else."""

    type_name = "orangedata"
    settings_model = OrangeDataSettings
    streams: ClassVar = (ReceiptsStream,)

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, OrangeDataSettings)
        self.od_settings = settings
        self.session = tls_session(settings.client_cert, settings.client_key, settings.ca_cert)
        self.client = OrangeDataClient(context.http(settings, settings.url, session=self.session), inn=settings.inn,
                                       signing_key=load_signing_key(settings.signing_key))

    @classmethod
    def sandbox(cls) -> OrangeDataSandbox:
        return OrangeDataSandbox(print_after=PRINT_AFTER)

    def endpoints(self) -> list[Endpoint]:
        stream = fiscal_stream(self)
        if not self.od_settings.callback_url or stream is None or self.context.state is None:
            return []
        # OrangeData's result names the receipt by hub's id.
        return [callback_endpoint(stream, self.context.state, lambda result: result.get("id"),
                                  lambda status, reason: json_response({"errors": [reason]}, status))]

    def check(self) -> str:
        # The status of an id never sent: OrangeData's "not found" proves the certificate is taken for this INN.
        answer = self.client.status("hub-check")
        if answer.status_code == 400 and errors_of(answer.content) is None:
            raise RequestRejected(f"OrangeData status -> 400 without its error list: {answer.text[:300]}", status=400)
        return f"OrangeData at {self.od_settings.url}: certificate accepted for INN {self.od_settings.inn}"

    def close(self) -> None:
        self.client.close()
        self.session.close()
