"""ATOL Online on 127.0.0.1: tokens, sell and sell_refund, reports, callbacks, its error objects, duplicate ids.

A receipt waits in the queue ``print_after`` seconds, then the "cash register" prints it by itself: its report says
done when next asked for, and it is posted to its callback URL. ``hub sandbox atol`` prints after
:data:`PRINT_AFTER`; a test made with ``print_after=None`` (the default) decides itself when wait becomes done or
fail, with :meth:`AtolSandbox.process` (``hub sandbox do atol process``), and never sleeps for it.
"""

from __future__ import annotations

import functools
import threading
import uuid as uuids
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from connectors.atol.client import TIMESTAMP
from hub.inbound import json_response
from hub.sandbox import Action, Callback, Param, Processing, Sandbox
from hub.values import json_loads, money, to_local_naive, utcnow, zone

ROOT = "/possystem/v5/"
OPERATIONS = ("sell", "sell_refund")
PRINT_AFTER = 1.5
"""Seconds a receipt waits at ``hub sandbox atol`` before it is printed: ATOL's queue takes a second or two."""
_SNO = ("osn", "usn_income", "usn_income_outcome", "envd", "esn", "patent")


class AtolSandbox(Sandbox):
    """One ATOL Online account with one group of cash registers, in memory; thread-safe."""

    name = "atol"
    port = 8120
    processing: Processing

    def __init__(self, *, login: str = "hub-api", password: str = "atol-secret",  # noqa: S107 - a sandbox
                 group: str = "v5-online-atol-ru_5179", inn: str = "5544332219",
                 print_after: float | None = None) -> None:
        super().__init__()
        self.login, self.password, self.group, self.inn = login, password, group, inn
        self.tz = zone("Europe/Moscow")
        self.documents: dict[str, dict[str, Any]] = {}
        """By external_id: ``operation``, ``body`` (as sent), ``uuid``, ``status``, ``payload``, ``error``."""
        self._tokens: set[str] = set()
        self._data = threading.Lock()
        self.processing = Processing(self.name, self._data, self._print, after=print_after)
        self._document_number = 132896

    def source_settings(self) -> dict[str, Any]:
        return {"url": self.url + ROOT, "login": self.login, "password": self.password, "group": self.group,
                "inn": self.inn, "tax_system": "usn_income", "payment_address": "https://shop.example.ru",
                "email": "receipts@shop.example.ru"}

    def sent(self, operation: str | None = None) -> list[dict[str, Any]]:
        """The bodies of the documents registered (of one operation), in order."""
        with self._data:
            return [d["body"] for d in self.documents.values() if operation in (None, d["operation"])]

    # --- the register prints ---------------------------------------------------------------------------

    def process(self, *, fail: str | None = None) -> list[str]:
        """Print every waiting receipt now (or fail them with ``fail``); POST each report to its callback URL."""
        printed = self.processing.finish_all(functools.partial(self._print, fail=fail))
        with self._data:
            return [self.documents[external_id]["uuid"] for external_id in printed]

    def _print(self, external_id: str, fail: str | None = None) -> Callback | None:
        """The register prints a waiting receipt (or fails it with the driver's ``fail``); its callback, if any."""
        document = self.documents[external_id]
        if fail:
            document.update(status="fail", error=_error(1, fail, "driver"))
        else:
            self._document_number += 1
            document.update(status="done", payload={
                "total": document["body"]["receipt"]["total"], "fns_site": "www.nalog.ru",
                "fn_number": "9999078900006211", "shift_number": 173, "receipt_datetime": self._now(),
                "fiscal_receipt_number": self._document_number - 132000,
                "fiscal_document_number": self._document_number, "ecr_registration_number": "0000000005020922",
                "fiscal_document_attribute": 1313456287 + self._document_number})
        callback = document["body"].get("service", {}).get("callback_url")
        return (callback, self._report(document)) if callback else None

    def actions(self) -> list[Action]:
        return [Action("process", "process", "the cash registers print every waiting receipt (wait → done)",
                       (Param("fail", "print none: fail each with this reason instead", optional=True),),
                       lambda args: {"processed": self.process(fail=args.get("fail"))})]

    # --- the API ---------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if not request.path.startswith(ROOT):
            return json_response(_error(404, f"no such path {request.path}", "system"), 404)
        rest = request.path.removeprefix(ROOT).strip("/").split("/")
        if rest == ["getToken"] and request.method == "POST":
            return self._get_token(request)
        if request.headers.get("Token") not in self._tokens:
            return json_response(_error(11, "Передан некорректный токен", "system"), 401)
        if len(rest) != 2 and not (len(rest) == 3 and rest[1] == "report"):
            return json_response(_error(404, f"no such path {request.path}", "system"), 404)
        if rest[0] != self.group:
            return json_response(_error(3, f"Группа ККТ {rest[0]} не найдена", "system"), 400)
        if len(rest) == 3 and request.method == "GET":
            return self._get_report(rest[2])
        if rest[1] in OPERATIONS and request.method == "POST":
            return self._register(request, rest[1])
        return json_response(_error(404, f"no {request.method} {request.path}", "system"), 404)

    def _get_token(self, request: Request) -> Response:
        body = _body(request)
        if not isinstance(body, dict) or body.get("login") != self.login or body.get("pass") != self.password:
            # ATOL answers a wrong login with HTTP 200 and the error object (samples/fiscal/atol).
            return json_response({**_error(12, "Неверный логин или пароль", "system"), "timestamp": self._now()})
        token = uuids.uuid4().hex
        with self._data:
            self._tokens.add(token)
        return json_response({"token": token, "error": None, "timestamp": self._now()})

    def _register(self, request: Request, operation: str) -> Response:
        body = _body(request)
        problem = _invalid(body, self.inn)
        if problem is not None:
            return json_response({"status": "fail", **_error(32, "Ошибка валидации входного чека. Ошибочные поля : "
                                                                + problem, "system"), "timestamp": self._now()}, 400)
        assert isinstance(body, dict)
        with self._data:
            held = self.documents.get(body["external_id"])
            if held is not None:
                return json_response({"uuid": held["uuid"], "status": "fail", **_error(
                    33, f"В системе существует чек с external_id : {body['external_id']} и group_code: "
                        f"{self.group}", "system"), "timestamp": self._now()}, 409)
            document = {"operation": operation, "body": body, "uuid": str(uuids.uuid4()), "status": "wait",
                        "payload": None, "error": None}
            self.documents[body["external_id"]] = document
            self.processing.queue(body["external_id"])
        self.committed(request)
        return json_response({"uuid": document["uuid"], "status": "wait", "error": None, "timestamp": self._now()})

    def _get_report(self, uuid: str) -> Response:
        with self._data:
            external_id = next((key for key, d in self.documents.items() if d["uuid"] == uuid), None)
            if external_id is None:
                return json_response({"uuid": uuid, "status": "fail", **_error(
                    16, f"Документ с uuid {uuid} не найден", "system"), "timestamp": self._now()}, 404)
            self.processing.settle(external_id)
            return json_response(self._report(self.documents[external_id]))

    def _report(self, document: dict[str, Any]) -> dict[str, Any]:
        error = document["error"] or (_error(34, "Состояние чека не найдено. Попробуйте позднее.", "system")
                                      if document["status"] == "wait" else {"error": None})
        return {"uuid": document["uuid"], "status": document["status"], **error,
                "group_code": self.group, "daemon_code": "sandbox-agent", "device_code": "KKT000120",
                "callback_url": document["body"].get("service", {}).get("callback_url", ""),
                "payload": document["payload"], "timestamp": self._now()}

    def _now(self) -> str:
        return to_local_naive(utcnow(), self.tz).strftime(TIMESTAMP)


def _error(code: int, text: str, kind: str) -> dict[str, Any]:
    return {"error": {"error_id": str(uuids.uuid4()), "code": code, "text": text, "type": kind}}


def _body(request: Request) -> Any:
    try:
        return json_loads(request.get_data())
    except ValueError:
        return None


def _invalid(body: Any, inn: str) -> str | None:
    """The field path of the first problem, as ATOL names it (``NumberTooSmall: #/receipt.total``), or None."""
    if not isinstance(body, dict):
        return "InvalidJson: #"
    receipt = body.get("receipt")
    if not isinstance(body.get("external_id"), str) or not body["external_id"]:
        return "Required: #/external_id"
    if not isinstance(receipt, dict) or not isinstance(receipt.get("items"), list) or not receipt["items"]:
        return "Required: #/receipt.items"
    company = receipt.get("company") or {}
    if company.get("inn") != inn:
        return "InnMismatch: #/receipt.company.inn"
    if company.get("sno") not in _SNO:
        return "Enum: #/receipt.company.sno"
    if not (receipt.get("client") or {}).keys() & {"email", "phone"}:
        return "Required: #/receipt.client"
    try:
        items = [(Decimal(str(i["price"])), Decimal(str(i["quantity"])), Decimal(str(i["sum"])), i["measure"])
                 for i in receipt["items"]]
        paid = sum((Decimal(str(p["sum"])) for p in receipt.get("payments") or []), Decimal(0))
        total = Decimal(str(receipt["total"]))
    except (KeyError, TypeError, ArithmeticError):
        return "Required: #/receipt.items"
    for n, (price, quantity, line_sum, measure) in enumerate(items):
        # A line's sum may be below price × quantity (a discount), never above it.
        if not isinstance(measure, int) or quantity <= 0 or line_sum < 0 or line_sum > money(price * quantity):
            return f"InvalidItem: #/receipt.items[{n}]"
    if total <= 0:
        return "NumberTooSmall: #/receipt.total"
    if sum((s for _, _, s, _ in items), Decimal(0)) != total or paid != total:
        return "SumMismatch: #/receipt.total"
    return None
