"""OrangeData on 127.0.0.1 over real mutual TLS: signed document POSTs, status GETs, 409 on a repeated id.

At start it makes its own CA, a server certificate for 127.0.0.1, a client certificate signed by the CA and the
client's signing key pair, in a temporary folder (:meth:`OrangeDataSandbox.source_settings` names the files): a
request without the client certificate is refused (401), a body whose ``X-Signature`` does not verify gets
OrangeData's 400. A document waits ``print_after`` seconds (its status 202), then is printed by itself (200, and
its result posted to its callbackUrl); made with ``print_after=None`` (the default, what tests take) it waits until
:meth:`OrangeDataSandbox.process` (the ``process`` action) prints it, or expires it (524).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import ipaddress
import shutil
import ssl
import tempfile
import threading
import weakref
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from werkzeug.wrappers import Request, Response

from hub.inbound import json_response
from hub.sandbox import Action, Callback, Param, Processing, Sandbox
from hub.values import json_loads, to_local_naive, utcnow, zone

DOCUMENTS = "/api/v2/documents/"
PRINT_AFTER = 1.5
"""Seconds a document waits at ``hub sandbox orangedata`` before it is printed (OrangeData: about a receipt a second
per register)."""


class OrangeDataSandbox(Sandbox):
    """One organisation at OrangeData, in memory; thread-safe."""

    name = "orangedata"
    port = 8121
    processing: Processing

    def __init__(self, *, inn: str = "7725327863", print_after: float | None = None) -> None:
        super().__init__()
        self.inn = inn
        self.tz = zone("Europe/Moscow")
        self.documents: dict[str, dict[str, Any]] = {}
        """By id: ``body`` (as sent), ``status`` (wait, done, expired), ``result`` (the status answer once done)."""
        self._data = threading.Lock()
        self.processing = Processing(self.name, self._data, self._print, after=print_after)
        self.folder = Path(tempfile.mkdtemp(prefix="orangedata-sandbox-"))
        weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)  # its keys go with it
        self.signing_public = _make_certificates(self.folder)
        self.tls = _server_context(self.folder)
        self.ca_cert = self.folder / "ca_cert.pem"
        self._number = 116

    def source_settings(self) -> dict[str, Any]:
        return {"url": self.url, "inn": self.inn, "group": "Main_2", "tax_system": "usn_income",
                "payment_address": "https://shop.example.ru", "email": "receipts@shop.example.ru",
                **{name: str(self.folder / f"{name}.pem")
                   for name in ("client_cert", "client_key", "ca_cert", "signing_key")}}

    def sent(self) -> list[dict[str, Any]]:
        """The bodies of the documents created, in order."""
        with self._data:
            return [d["body"] for d in self.documents.values()]

    def process(self, *, expire: bool = False) -> list[str]:
        """Print every queued document now (or let each expire unprinted: status 524); POST each result to its
        callbackUrl."""
        return self.processing.finish_all(functools.partial(self._print, expire=expire))

    def _print(self, document_id: str, expire: bool = False) -> Callback | None:
        document = self.documents[document_id]
        if expire:
            document["status"] = "expired"
            return None  # OrangeData posts the results of printed documents only (UNCERTAIN for an expired one)
        self._number += 1
        document.update(status="done", result={
            "id": document_id, "deviceSN": "0000000000001358", "deviceRN": "0000000400054952",
            "fsNumber": "9999078900001341", "ofdName": "ООО \"Ярус\"(\"ОФД-Я\")", "fnsWebsite": "www.nalog.ru",
            "companyINN": self.inn, "documentNumber": self._number, "shiftNumber": 20, "documentIndex": 5,
            "change": 0, "fp": str(2364009522 + self._number),
            "processedAt": to_local_naive(utcnow(), self.tz).replace(microsecond=0).isoformat(),
            "content": document["body"]["content"]})
        callback = document["body"].get("callbackUrl")
        return (callback, document["result"]) if callback else None

    def actions(self) -> list[Action]:
        return [Action("process", "process", "the cash registers print every queued document (202 → 200)",
                       (Param("expire", "yes: print none, each expires unprinted (524: resend under a new id)",
                              optional=True),),
                       lambda args: {"processed": self.process(
                           expire=args.get("expire", "").lower() in ("yes", "true", "1"))})]

    def handle(self, request: Request) -> Response:
        sock = request.environ.get("werkzeug.socket")
        if not isinstance(sock, ssl.SSLSocket) or not sock.getpeercert():
            return json_response({"errors": ["Клиентский сертификат не предоставлен или не подписан ЦС"]}, 401)
        if request.path == DOCUMENTS and request.method == "POST":
            return self._create(request)
        parts = request.path.removeprefix(DOCUMENTS).split("/")
        if request.path.startswith(DOCUMENTS) and request.method == "GET" and len(parts) == 3 and parts[1] == "status":
            if parts[0] != self.inn:  # a client certificate is issued for one organisation (UNCERTAIN: the status)
                return json_response({"errors": [f"Сертификат клиента не выдан для ИНН {parts[0]}"]}, 401)
            return self._status(parts[2])
        return json_response({"errors": [f"Не найдено: {request.method} {request.path}"]}, 404)

    def _create(self, request: Request) -> Response:
        body = request.get_data()
        try:
            self.signing_public.verify(base64.b64decode(request.headers.get("X-Signature", "")), body,
                                        padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return json_response({"errors": ["Подпись не прошла проверку"]}, 400)
        try:
            document = json_loads(body)
        except ValueError:
            return json_response({"errors": ["Некорректный JSON"]}, 400)
        problems = _problems(document, self.inn)
        if problems:
            return json_response({"errors": problems}, 400)
        with self._data:
            if document["id"] in self.documents:
                return Response(b"", status=409)
            self.documents[document["id"]] = {"body": document, "status": "wait", "result": None}
            self.processing.queue(document["id"])
        self.committed(request)
        return Response(b"", status=201)

    def _status(self, document_id: str) -> Response:
        with self._data:
            document = self.documents.get(document_id)
            if document is None:
                return json_response({"errors": [f"Документ {document_id} не найден"]}, 400)
            self.processing.settle(document_id)
            if document["status"] == "wait":
                return Response(b"", status=202)
            if document["status"] == "expired":
                return Response(b"", status=524)  # its body is not in the material read (UNCERTAIN): none
            return json_response(document["result"])


def _problems(document: Any, inn: str) -> list[str]:
    """What OrangeData's validation says of a document (the wording of its 400 answers)."""
    if not isinstance(document, dict):
        return ["Отсутствует содержимое документа 'Content'"]
    problems = []
    if not document.get("id") or len(str(document["id"])) > 64:
        problems.append("Не указан идентификатор документа 'Id'")
    if document.get("inn") != inn:
        problems.append("Не указан ИНН организации 'INN'")
    content = document.get("content")
    if not isinstance(content, dict) or not content.get("positions"):
        return [*problems, "Отсутствует содержимое документа 'Content'"]
    try:
        total = sum((Decimal(str(p["quantity"])) * Decimal(str(p["price"])) for p in content["positions"]),
                    Decimal(0))
        paid = sum((Decimal(str(p["amount"])) for p in content["checkClose"]["payments"]), Decimal(0))
    except (KeyError, TypeError, ArithmeticError):
        return [*problems, "Некорректные позиции или оплаты"]
    if abs(total - paid) >= Decimal("0.01") * len(content["positions"]):
        problems.append(f"Сумма оплат {paid} не равна сумме позиций {total}")
    return problems


def _make_certificates(folder: Path) -> rsa.RSAPublicKey:
    """A CA, a server and a client certificate, and the signing key pair, as PEM files in ``folder``."""
    now = utcnow()

    def key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def certificate(name: str, subject_key: rsa.RSAPrivateKey, issuer: x509.Name, issuer_key: rsa.RSAPrivateKey,
                    **extensions: Any) -> x509.Certificate:
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(issuer).public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30)))
        if extensions.get("ca"):
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        if extensions.get("ip"):
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, server_key, client_key, signing_key = key(), key(), key(), key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OrangeData sandbox CA")])
    files = {"ca_cert": certificate("OrangeData sandbox CA", ca_key, ca_name, ca_key, ca=True),
             "server_cert": certificate("127.0.0.1", server_key, ca_name, ca_key, ip=True),
             "client_cert": certificate("hub", client_key, ca_name, ca_key)}
    for name, cert in files.items():
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for name, private in {"server_key": server_key, "client_key": client_key, "signing_key": signing_key}.items():
        (folder / f"{name}.pem").write_bytes(private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return signing_key.public_key()


def _server_context(folder: Path) -> ssl.SSLContext:
    """TLS that asks for a client certificate of the sandbox's CA; one without is answered 401, as OrangeData does."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server_cert.pem", folder / "server_key.pem")
    context.load_verify_locations(folder / "ca_cert.pem")
    context.verify_mode = ssl.CERT_OPTIONAL
    return context
