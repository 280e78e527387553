"""Calls of a 1C web service through zeep, over hub's HTTP client.

zeep builds and reads the SOAP envelopes; every byte still goes through :class:`hub.http.HttpClient` (its
session with Basic auth, timeouts, retries, the source's rate limit, redacted logs), handed to zeep as its
transport, so there is one HTTP stack and one error tree. The WSDL is read once and kept (:mod:`.wsdl`); the
calls go to the public URL of the service, not to the address 1C wrote into its WSDL (its own server name).

A SOAP fault is 1C's answer to an exception in the service's module, with 1C's error text. Which faults
concern the record sent and which the service is told by their code and text (:class:`Faults`): a refused
record is an :class:`~hub.errors.InvalidRecord` (a dead letter; the rest go on), a fault of the service a
:class:`~hub.errors.ServerError` (retried).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import zeep
import zeep.exceptions
import zeep.helpers
from lxml import etree
from zeep.wsdl.bindings import Soap11Binding

from connectors.onec_soap.wsdl import Contract, Wsdl, WsdlCache, service_url
from hub.errors import HubError, InvalidRecord, ProtocolError, RequestRejected, ServerError
from hub.http import HttpClient
from hub.logs import clean_error

RECORD_FAULTS = ("Не найден", "Не заполнен", "Ошибка преобразования данных XDTO", "Неверн", "Некорректн",
                 "Недостаточно товара")
"""Texts of 1C's faults about the data sent: a good or warehouse it does not know, an empty required field, a
value that does not fit the type."""
SERVICE_FAULTS = ("Конфликт блокировок", "Превышено максимальное время ожидания", "Сеанс работы завершен",
                  "лицензи", "Соединение с сервером", "Недостаточно памяти", "Информационная база заблокирована")
"""Texts of 1C's faults about the base itself: locks held by another session, licences, restarts, updates."""


@dataclass(frozen=True)
class Faults:
    """How a SOAP fault is told apart: ``service`` texts first, then a client-side code or a ``record`` text.

    What 1C puts in ``faultcode`` for an exception raised in a module is UNCERTAIN (fact sheet §3: not seen in a
    captured payload), so the text decides and both lists are settings. A fault matching neither is taken as the
    service's (retried), the tolerant choice: a record is never dead-lettered for a fault that may pass.
    """

    record: Sequence[str] = RECORD_FAULTS
    service: Sequence[str] = SERVICE_FAULTS

    def error(self, operation: str, fault: zeep.exceptions.Fault, *, writes: bool) -> HubError:
        text = clean_error(" ".join(str(fault.message or "").split()))  # 1C may echo the guest's phone back
        code = str(fault.code or "")
        message = f"1C web service {operation}: {text or '(no text)'}" + (f" [{code}]" if code else "")
        lowered = text.casefold()
        if any(word.casefold() in lowered for word in self.service):
            return ServerError(message, status=500)
        if code.rpartition(":")[2] in ("Client", "Sender") or any(w.casefold() in lowered for w in self.record):
            if writes:
                return InvalidRecord(message, hint="fix the record (or its id links) and retry the dead letter")
            return RequestRejected(message, status=500, hint="the service refused the call; see its text")
        return ServerError(message, status=500)


class _Transport(zeep.Transport):
    """zeep's transport through hub's HTTP client; the WSDL it asks for is the one hub keeps."""

    def __init__(self, http: HttpClient, wsdl_url: str, wsdl: bytes) -> None:
        super().__init__(session=http.session, operation_timeout=http.timeout)  # type: ignore[no-untyped-call]
        http.session.adapters.pop("file://", None)  # zeep mounts it; hub's session talks HTTP only
        self._http = http
        self._wsdl_url = wsdl_url
        self._wsdl = wsdl
        self._reading = threading.local()

    @contextmanager
    def reading(self, reads: bool) -> Iterator[None]:
        """Calls made inside change nothing in 1C when ``reads``: a failed one may be sent again."""
        self._reading.value = reads
        try:
            yield
        finally:
            self._reading.value = False

    def load(self, url: str) -> bytes:
        if url == self._wsdl_url:
            return self._wsdl
        # An imported schema, where a service has one; from the network only, whatever the WSDL says (zeep would
        # read a file:// path on this machine).
        if urlsplit(url).scheme not in ("http", "https"):
            raise ProtocolError(f"the WSDL imports {url}, which is not on the web; hub reads schemas over HTTP only")
        return self._http.get(url).content

    def post(self, address: str, message: bytes, headers: Mapping[str, str]) -> requests.Response:
        # 1C answers a fault with 500 and the fault in the body: zeep reads it, so 500 is not raised here.
        return self._http.post(address, data=message, headers={k: _header(v) for k, v in headers.items()},
                               expect={500}, idempotent=getattr(self._reading, "value", False))


def _header(value: str) -> str:
    """``value`` as it can go in an HTTP header. A SOAPAction names the operation, which 1C lets a developer name
    in Cyrillic; HTTP headers are Latin-1, so such a one goes as its UTF-8 bytes. How 1C reads it is UNCERTAIN;
    1C routes a call by the body's element (as the sandbox does), so the header only has to pass."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode().decode("latin-1")  # the UTF-8 bytes, each as the Latin-1 character http.client sends
    return value


class SoapClient:
    """One 1C web service: its WSDL (kept in ``cache``) and its operations."""

    def __init__(self, http: HttpClient, *, publication: str, service: str, cache: WsdlCache,
                 faults: Faults) -> None:
        self.http = http
        self.endpoint = service_url(publication, service)
        self.wsdl_url = f"{self.endpoint}?wsdl"
        self.cache = cache
        self.faults = faults
        self._lock = threading.Lock()
        self._service: Any = None
        self._transport: _Transport | None = None
        self._built_from: str | None = None
        """The digest of the WSDL the service proxy was built from."""

    def fetch_wsdl(self) -> Wsdl:
        """The WSDL as 1C serves it now."""
        return Wsdl.of(self.http.get(self.wsdl_url).content)

    def wsdl(self) -> Wsdl:
        """The kept WSDL, read from 1C the first time."""
        kept = self.cache.get()
        if kept is None:
            kept = self.fetch_wsdl()
            Contract.read(kept.text)  # refuse to keep what is not a WSDL
            self.cache.put(kept)
        return kept

    def keep(self, wsdl: Wsdl) -> None:
        """Keep ``wsdl`` from now on (``hub check`` read a newer one); the next call is built from it again."""
        with self._lock:
            self.cache.put(wsdl)

    def call(self, operation: str, arguments: Mapping[str, Any], *, reads: bool) -> Any:
        """Call ``operation`` with ``arguments`` (its parameters by name); its ``return`` as dicts and lists.

        ``reads``: the operation changes nothing, so a call whose answer was lost is sent again.
        """
        service, transport = self._bound()
        try:
            method = service[operation]
        except AttributeError:
            raise RequestRejected(f"1C web service has no operation {operation!r}",
                                  hint="run `hub check`: it lists what the WSDL offers") from None
        try:
            with transport.reading(reads):
                answer = method(**arguments)
        except zeep.exceptions.Fault as fault:
            raise self.faults.error(operation, fault, writes=not reads) from None
        except (zeep.exceptions.ValidationError, TypeError, AttributeError) as exc:
            # zeep refuses a request the WSDL's types do not allow before sending it (a value of the wrong kind
            # fails with AttributeError as it renders it): the record's fault.
            raise InvalidRecord(f"1C web service {operation}: the request does not fit the WSDL: {exc}") from None
        except zeep.exceptions.TransportError as exc:
            raise ServerError(f"1C web service {operation}: HTTP {exc.status_code}: {exc.message}",
                              status=exc.status_code or 500) from None
        except (zeep.exceptions.XMLSyntaxError, etree.XMLSyntaxError) as exc:
            raise ProtocolError(f"1C web service {operation}: the answer is not SOAP: {exc}") from None
        return zeep.helpers.serialize_object(answer, dict)  # type: ignore[no-untyped-call]

    def _bound(self) -> tuple[Any, _Transport]:
        """The service proxy bound to the public endpoint, over the SOAP 1.1 binding (1C publishes 1.2 too)."""
        with self._lock:
            kept = self.wsdl()
            if self._service is None or self._transport is None or self._built_from != kept.digest:
                transport = _Transport(self.http, self.wsdl_url, kept.text)
                # strict=False: what 1C leaves out of an answer (a nillable field it omits) reads as None.
                client = zeep.Client(self.wsdl_url, transport=transport,  # type: ignore[no-untyped-call]
                                     settings=zeep.Settings(strict=False))
                binding = next((name for name, found in client.wsdl.bindings.items()
                                if isinstance(found, Soap11Binding)), None)
                if binding is None:
                    raise ProtocolError("the WSDL has no SOAP 1.1 binding")
                self._service = client.create_service(binding, self.endpoint)  # type: ignore[no-untyped-call]
                self._transport, self._built_from = transport, kept.digest
            return self._service, self._transport
