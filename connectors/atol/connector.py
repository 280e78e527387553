"""The ATOL Online connector: hub's receipts, in ATOL's v5 (FFD 1.2) terms, printed once each."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field
from werkzeug.wrappers import Response

from connectors.atol.client import DUPLICATE, STILL_QUEUED, AtolClient, error_of
from connectors.atol.sandbox import PRINT_AFTER, AtolSandbox
from hub.connector import ConnectorContext
from hub.fiscal import (
    Fiscal,
    FiscalSettings,
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

PAYMENT_TYPES = {PaymentType.CASH: 0, PaymentType.ELECTRONIC: 1, PaymentType.PREPAID: 2}
"""``payments[].type``: 0 cash, 1 electronic, 2 the prepayment offset (зачёт аванса)."""
COMMODITY = 1
"""``payment_object`` (tag 1212) of a good in v5, an integer (v4 said "commodity")."""


class AtolSettings(FiscalSettings):
    """Settings of an ATOL Online source."""

    url: str = Field("https://online.atol.ru/possystem/v5/", description=(
        "API base, v5 (FFD 1.2): https://online.atol.ru/possystem/v5/, the test stand "
        "https://testonline.atol.ru/possystem/v5/."))
    login: str = Field(description="The group's API login (ATOL's cabinet, «Интеграция»).")
    password: str = Field(description="Its password; write it as ${ENV_VAR}.")
    group: str = Field(description="The group code of the cash registers, e.g. v5-online-atol-ru_5179.")
    callback_url: str | None = Field(None, description=(
        "Where ATOL posts each report once printed; hub polls the reports in any case."))


class ReceiptsStream(Fiscal["AtolConnector"]):
    """Receipts registered with ``sell``/``sell_refund`` under hub's id as ``external_id``, followed by report."""

    entity = Entity.ORDERS

    def register(self, receipt: Receipt) -> Outcome:
        atol = self.connector
        answer = atol.client.register("sell_refund" if receipt.refund else "sell", self.body(receipt))
        error, uuid = error_of(answer), answer.get("uuid")
        if error is not None and error.code in DUPLICATE and isinstance(uuid, str):
            return self.outcome(receipt, uuid) or Outcome(status="wait", ref=uuid)
        if error is not None or not isinstance(uuid, str):
            reason = f"code {error.code}: {error.message}" if error else f"no uuid in ATOL's answer {answer}"
            # A repeated external_id answered without its uuid is held at ATOL: no refusal, so never resent under it.
            return Outcome(status="fail", reason=reason, refused=error is not None and error.code not in DUPLICATE)
        return Outcome(status="wait", ref=uuid)

    def outcome(self, receipt: Receipt, ref: str | None) -> Outcome | None:
        if ref is None:
            return None  # ATOL reports by its own uuid only: an unanswered receipt is registered again
        report = self.connector.client.report(ref)
        error, status = error_of(report), report.get("status")
        if status == "done":
            payload = report.get("payload") or {}
            return Outcome(status="done", ref=ref, fn_number=str(payload["fn_number"]),
                           document_number=str(payload["fiscal_document_number"]),
                           fiscal_sign=str(payload["fiscal_document_attribute"]),
                           printed_at=self.connector.client.parse_time(payload["receipt_datetime"]),
                           total=str(payload["total"]))
        if status == "wait" and (error is None or error.code == STILL_QUEUED):
            return Outcome(status="wait", ref=ref, reason=error.message if error else None)
        reason = f"code {error.code}: {error.message}" if error else f"status {status!r}"
        # ATOL refuses a bad receipt at registration (code 32): a fail its report gives is the register's own (its
        # driver, a timeout), and the receipt may be sent again under a new external_id.
        return Outcome(status="fail", ref=ref, reason=reason, resend=status == "fail")

    def body(self, receipt: Receipt) -> dict[str, Any]:
        """The request body of ``receipt``: ``{external_id, timestamp, service, receipt}``."""
        settings = self.connector.atol_settings
        company = issued_by(receipt, settings)
        contact = {"email": receipt.contact} if "@" in receipt.contact else {"phone": receipt.contact}
        body: dict[str, Any] = {
            "external_id": receipt.id,
            "timestamp": self.connector.client.timestamp(),
            "receipt": {
                "client": contact,
                "company": {"email": company.email, "sno": company.tax_system, "inn": company.inn,
                            "payment_address": company.payment_address},
                "items": [{"name": line.name, "price": line.price, "quantity": line.quantity,
                           "measure": int(line.measure), "sum": line.sum, "payment_method": line.method.value,
                           "payment_object": COMMODITY, "vat": {"type": line.vat}} for line in receipt.lines],
                "payments": [{"type": PAYMENT_TYPES[paid.type], "sum": paid.amount} for paid in receipt.payments],
                "total": receipt.total,
            },
        }
        if settings.callback_url:
            body["service"] = {"callback_url": settings.callback_url}
        return body


def _atol_error(status: int, reason: str) -> Response:
    return json_response({"error": {"code": status, "text": reason, "type": "system"}}, status)


class AtolConnector(StreamConnector):
    """ATOL Online: prints hub's receipts; reads and writes nothing else."""

    type_name = "atol"
    settings_model = AtolSettings
    streams: ClassVar = (ReceiptsStream,)

    def __init__(self, settings: SourceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, AtolSettings)
        self.atol_settings = settings
        self.client = AtolClient(context.http(settings, settings.url), login=settings.login,
                                 password=settings.password, group=settings.group, timezone=context.timezone)

    @classmethod
    def sandbox(cls) -> AtolSandbox:
        return AtolSandbox(print_after=PRINT_AFTER)

    def endpoints(self) -> list[Endpoint]:
        stream = fiscal_stream(self)
        if not self.atol_settings.callback_url or stream is None or self.context.state is None:
            return []
        # ATOL's report names the receipt by its uuid.
        return [callback_endpoint(stream, self.context.state, lambda report: report.get("uuid"), _atol_error)]

    def check(self) -> str:
        self.client.log_in()
        return f"ATOL Online at {self.atol_settings.url}: logged in, group {self.atol_settings.group}"

    def close(self) -> None:
        self.client.close()
