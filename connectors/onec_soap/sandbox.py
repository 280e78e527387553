"""A 1C base publishing a hand-written trade web service, emulated for tests, ``hub sandbox`` and ``hub demo``.

It serves what 1C serves for a web service published from Designer (fact sheet ``shared/protocols/1c.md`` §3):

* ``GET <publication>/ws/trade.1cws?wsdl``, behind Basic auth like the calls, answers a WSDL shaped as 1C
  generates it: ``tns``/``xsd1`` bound to the service's namespace (``http://www.1c.ru/cafe/trade``), an inline
  qualified schema whose types carry Cyrillic names, ``<op>RequestMessage``/``<op>ResponseMessage``, a
  ``TradePortType``, a SOAP 1.1 and a SOAP 1.2 binding, ``soapAction`` ``<namespace>#Trade:<op>``, and an
  address as 1C sees its own publication (an internal host, which a client must override);
* ``POST <publication>/ws/trade.1cws``: document/literal calls, each answer's value in one ``return`` element;
  what the service's module refuses comes back as a SOAP fault (HTTP 500) carrying 1C's error text.

The operations are those a 1C developer writes for a café's trade: ``ЗаписатьЗаказ`` (a customer order),
``НайтиЗаказ`` (by the channel's order number), and paged ``ПолучитьТовары``, ``ПолучитьОстатки``,
``ПолучитьЦены``. The goods, warehouses, prices and stock are the OData sandbox's seeded café.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree
from werkzeug.wrappers import Request, Response

from connectors import _onec_seed as _seed
from hub.sandbox import Action, ActionRefused, Param, Sandbox, number_param

NAMESPACE = "http://www.1c.ru/cafe/trade"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SERVICE = "Trade"
PUBLICATION = "trade"
FILE = "trade.1cws"
INTERNAL_ADDRESS = f"http://srv-1c/{PUBLICATION}/ws/{FILE}"
"""The address 1C writes into its WSDL: the server's own name, unknown outside the office network."""

TYPES: dict[str, list[tuple[str, str]]] = {
    # field type: an XSD type or tns:<type>; "?" may be absent, "*" repeats
    "СтрокаТоваров": [("Номенклатура", "string"), ("Количество", "decimal"), ("Цена", "decimal"),
                      ("Сумма", "decimal")],
    "Заказ": [("НомерПоДаннымКлиента", "string"), ("Дата", "dateTime"), ("Телефон", "string?"),
              ("Покупатель", "string?"), ("Склад", "string"), ("СуммаДокумента", "decimal"),
              ("Комментарий", "string?"), ("Товары", "tns:СтрокаТоваров*")],
    "РезультатЗаписи": [("Ссылка", "string"), ("Номер", "string")],
    "Товар": [("Ссылка", "string"), ("Код", "string"), ("Артикул", "string?"), ("Наименование", "string"),
              ("ЕдиницаИзмерения", "string"), ("Весовой", "boolean"), ("Группа", "string?"),
              ("Штрихкод", "string?"), ("ПометкаУдаления", "boolean")],
    "СписокТоваров": [("Товар", "tns:Товар*"), ("ЕстьЕще", "boolean")],
    "СтрокаОстатков": [("Номенклатура", "string"), ("Склад", "string"), ("Количество", "decimal")],
    "Остатки": [("Строка", "tns:СтрокаОстатков*"), ("ЕстьЕще", "boolean")],
    "СтрокаЦен": [("Номенклатура", "string"), ("ВидЦены", "string"), ("Цена", "decimal")],
    "Цены": [("Строка", "tns:СтрокаЦен*"), ("ЕстьЕще", "boolean")],
}
PAGE = [("НомерСтраницы", "int"), ("РазмерСтраницы", "int")]
OPERATIONS: dict[str, tuple[list[tuple[str, str]], str]] = {
    # operation: (its parameters, the type of its return)
    "ЗаписатьЗаказ": ([("Заказ", "tns:Заказ")], "tns:РезультатЗаписи"),
    "НайтиЗаказ": ([("НомерПоДаннымКлиента", "string")], "tns:РезультатЗаписи?"),
    "ПолучитьТовары": (PAGE, "tns:СписокТоваров"),
    "ПолучитьОстатки": (PAGE, "tns:Остатки"),
    "ПолучитьЦены": ([("ВидЦены", "string?"), *PAGE], "tns:Цены"),
}


class Refused(Exception):
    """What the service's module raises (ВызватьИсключение): 1C answers it as a SOAP fault with this text."""


def fault_body(text: str, code: str = "soap:Server") -> bytes:
    """A SOAP 1.1 fault as 1C answers one: its error text, the module's place in braces where it has one."""
    return (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><soap:Fault><faultcode>{code}</faultcode>'
            f"<faultstring>{escape(text)}</faultstring></soap:Fault></soap:Body></soap:Envelope>").encode()


LOCK_CONFLICT = ("Конфликт блокировок при выполнении транзакции:\nПревышено максимальное время ожидания "
                 "предоставления блокировки")
"""1C's text when another session holds the records a call needs: the service's fault, retried."""


def _element(name: str, kind: str) -> str:
    bare = kind.rstrip("?*")
    occurs = ' minOccurs="0" maxOccurs="unbounded"' if kind.endswith("*") else \
        ' minOccurs="0" nillable="true"' if kind.endswith("?") else ""
    xs_type = bare if bare.startswith("tns:") else f"xs:{bare}"
    return f'<xs:element name="{name}" type="{xs_type}"{occurs}/>'


def wsdl(operations: Mapping[str, tuple[list[tuple[str, str]], str]] = OPERATIONS,
         types: Mapping[str, list[tuple[str, str]]] = TYPES, namespace: str = NAMESPACE) -> bytes:
    """The WSDL 1C generates for the service, from its operations and types, in the Namespace URI set in Designer
    (any text: ``neo-fly`` and ``trade`` are seen in real services)."""
    complex_types = "".join(f'<xs:complexType name="{name}"><xs:sequence>'
                            f"{''.join(_element(*f) for f in fields)}</xs:sequence></xs:complexType>"
                            for name, fields in types.items())
    elements = "".join(
        f'<xs:element name="{op}"><xs:complexType><xs:sequence>{"".join(_element(*p) for p in params)}'
        f'</xs:sequence></xs:complexType></xs:element><xs:element name="{op}Response"><xs:complexType>'
        f'<xs:sequence>{_element("return", returns)}</xs:sequence></xs:complexType></xs:element>'
        for op, (params, returns) in operations.items())
    messages = "".join(f'<message name="{op}RequestMessage"><part name="parameters" element="tns:{op}"/></message>'
                       f'<message name="{op}ResponseMessage"><part name="parameters" element="tns:{op}Response"/>'
                       "</message>" for op in operations)
    port = "".join(f'<operation name="{op}"><input message="tns:{op}RequestMessage"/>'
                   f'<output message="tns:{op}ResponseMessage"/></operation>' for op in operations)

    def binding(prefix: str, name: str) -> str:
        ops = "".join(f'<operation name="{op}"><{prefix}:operation style="document" '
                      f'soapAction="{namespace}#{SERVICE}:{op}"/><input><{prefix}:body use="literal"/></input>'
                      f'<output><{prefix}:body use="literal"/></output></operation>' for op in operations)
        return (f'<binding name="{name}" type="tns:{SERVICE}PortType"><{prefix}:binding style="document" '
                f'transport="http://schemas.xmlsoap.org/soap/http"/>{ops}</binding>')

    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" '
            'xmlns:soap12bind="http://schemas.xmlsoap.org/wsdl/soap12/" '
            'xmlns:soapbind="http://schemas.xmlsoap.org/wsdl/soap/" '
            f'xmlns:tns="{namespace}" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" '
            'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" '
            f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsd1="{namespace}" name="{SERVICE}" '
            f'targetNamespace="{namespace}"><types><xs:schema xmlns:tns="{namespace}" '
            f'xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{namespace}" '
            f'attributeFormDefault="unqualified" elementFormDefault="qualified">{complex_types}{elements}'
            f'</xs:schema></types>{messages}<portType name="{SERVICE}PortType">{port}</portType>'
            f'{binding("soapbind", f"{SERVICE}SoapBinding")}{binding("soap12bind", f"{SERVICE}Soap12Binding")}'
            f'<service name="{SERVICE}"><port name="{SERVICE}Soap" binding="tns:{SERVICE}SoapBinding">'
            f'<documentation><wsi:Claim xmlns:wsi="http://ws-i.org/schemas/conformanceClaim/" '
            f'conformsTo="http://ws-i.org/profiles/basic/1.1"/></documentation><soapbind:address '
            f'location="{INTERNAL_ADDRESS}"/></port><port name="{SERVICE}Soap12" '
            f'binding="tns:{SERVICE}Soap12Binding"><soap12bind:address location="{INTERNAL_ADDRESS}"/></port>'
            "</service></definitions>").encode()


class OneCSoapSandbox(Sandbox):
    """The café's 1C with its trade web service; thread-safe."""

    name = "onec_soap"
    port = 8112

    def __init__(self, *, username: str = "hub", password: str = "sandbox-secret",  # noqa: S107 - a sandbox
                 seed: int = 7) -> None:
        super().__init__()
        self.username, self.password = username, password
        self.operations = dict(OPERATIONS)
        """What the WSDL publishes; a test removes or changes one as a 1C developer would."""
        self.types = {name: list(fields) for name, fields in TYPES.items()}
        self.orders: dict[str, dict[str, Any]] = {}
        """Customer orders by reference, each as the call's Заказ with its Номер."""
        self.locked_writes = 0
        """How many of the next ЗаписатьЗаказ calls meet another session's locks (1C's lock-conflict fault)."""
        self.missing_order_faults = False
        """НайтиЗаказ raises «Заказ не найден» for a key it does not hold, as many services' modules are written,
        instead of answering an empty result."""
        self.find_fault: str | None = None
        """A fault every НайтиЗаказ call raises, as a module meeting broken data does (1C's «Объект не найден»)."""
        cafe = _seed.cafe(seed)
        self.goods = {good.ref: good for good in cafe.goods}
        self.warehouses = [w.ref for w in cafe.warehouses]
        self.price_types = [p.ref for p in cafe.price_types]
        self.units = {weighed: unit.name for weighed, unit in cafe.units.items()}
        self.stock: dict[tuple[str, str], Decimal] = {}
        for move in cafe.stock:
            held = self.stock.get((move.good, move.warehouse), Decimal(0))
            self.stock[move.good, move.warehouse] = held + (move.quantity if move.receipt else -move.quantity)
        self.prices = {(p.good, p.price_type): p.price for p in sorted(cafe.prices, key=lambda p: p.period)}
        self._data_lock = threading.Lock()
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
            "ЗаписатьЗаказ": self._write_order, "НайтиЗаказ": self._find_order, "ПолучитьТовары": self._goods,
            "ПолучитьОстатки": self._stock, "ПолучитьЦены": self._prices}

    def source_settings(self) -> dict[str, Any]:
        return {"url": f"{self.url}/{PUBLICATION}", "service": FILE.removesuffix(".1cws"),
                "username": self.username, "password": self.password,
                "values": {"warehouse": self.warehouses[0]}}

    def job_options(self, job_type: str) -> dict[str, Any] | None:
        if job_type == "stock":
            return {"venues": {"main": self.warehouses[0]}}
        if job_type == "prices":
            return {"price_type": self.price_types[0]}
        return {}

    def orders_with(self, key: str) -> int:
        """How many customer orders carry the channel's order ``key`` in НомерПоДаннымКлиента."""
        with self._data_lock:
            return sum(1 for order in self.orders.values() if order["НомерПоДаннымКлиента"] == key)

    def calls(self, operation: str, key: str) -> int:
        """How many calls of ``operation`` carried the channel's order ``key`` in НомерПоДаннымКлиента."""
        with self._lock:
            bodies = [r.body for r in self.requests if r.method == "POST" and f"{operation}>".encode() in r.body]
        marker = f"НомерПоДаннымКлиента>{escape(key)}<".encode()
        return sum(1 for body in bodies if marker in body)

    def actions(self) -> list[Action]:
        return [Action("stock", "stock", "a good's balance on the first warehouse changes (a receipt, a sale)",
                       (Param("article", "the good's article, e.g. CAP-300"), Param("quantity", "the new balance")),
                       self._set_stock)]

    def _set_stock(self, args: dict[str, str]) -> dict[str, Any]:
        good = next((g for g in self.goods.values() if g.sku == args["article"]), None)
        if good is None:
            raise ActionRefused(f"no good with the article {args['article']!r}", 404)
        with self._data_lock:
            self.stock[good.ref, self.warehouses[0]] = number_param("quantity", args["quantity"])
        return {"good": good.ref, "warehouse": self.warehouses[0], "quantity": args["quantity"]}

    # --- the web service -------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.rstrip("/") != f"/{PUBLICATION}/ws/{FILE}":
            return Response("Не найден веб-сервис", status=404, content_type="text/plain; charset=utf-8")
        if not self._authorized(request.headers.get("Authorization", "")):
            return Response(status=401, headers={"WWW-Authenticate": 'Basic realm="1C:Enterprise"'})
        if request.method == "GET" and "wsdl" in {key.lower() for key in request.args}:
            return Response(wsdl(self.operations, self.types), content_type="text/xml; charset=utf-8")
        if request.method != "POST":
            return Response(status=405)
        try:
            operation, arguments = self._parse(request.get_data())
            answer = self._handlers[operation](arguments)
        except Refused as refused:
            return Response(fault_body(str(refused)), status=500, content_type="text/xml; charset=utf-8")
        if operation == "ЗаписатьЗаказ":
            self.committed(request)  # the order is in; a dropped connection now is the lost-answer case
        return Response(self._envelope(operation, answer), content_type="text/xml; charset=utf-8")

    def _authorized(self, header: str) -> bool:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return header == f"Basic {expected}"

    def _parse(self, body: bytes) -> tuple[str, dict[str, Any]]:
        try:
            envelope = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise Refused(f"Ошибка разбора XML: {exc}") from None
        call = next(iter(envelope.findall(f"{{{SOAP_ENV}}}Body/*")), None)
        operation = None if call is None else etree.QName(call).localname
        if call is None or operation not in self.operations or operation not in self._handlers:
            raise Refused(f"Операция не найдена: {operation}")
        return operation, _read(call, self.operations[operation][0], self.types)

    def _envelope(self, operation: str, answer: dict[str, Any] | None) -> bytes:
        value = "" if answer is None else "".join(_write(name, item) for name, item in answer.items())
        nil = ' xsi:nil="true"' if answer is None else ""
        return (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Header/><soap:Body>'
                f'<m:{operation}Response xmlns:m="{NAMESPACE}"><m:return '
                f'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"{nil}>{value}</m:return>'
                f"</m:{operation}Response></soap:Body></soap:Envelope>").encode()

    # --- what the service's module does ------------------------------------------------------------

    def _write_order(self, arguments: dict[str, Any]) -> dict[str, Any]:
        with self._data_lock:
            locked, self.locked_writes = self.locked_writes > 0, max(0, self.locked_writes - 1)
        if locked:
            raise Refused(LOCK_CONFLICT)
        order = arguments.get("Заказ") or {}
        lines = order.get("Товары") or []
        if not lines:
            raise Refused("Ошибка при вызове операции ЗаписатьЗаказ: {ВебСервис.Trade.Модуль(48)}: "
                          "Не заполнена табличная часть «Товары»")
        for line in lines:
            if line.get("Номенклатура") not in self.goods:
                raise Refused("Ошибка при вызове операции ЗаписатьЗаказ: {ВебСервис.Trade.Модуль(52)}: "
                              f"Не найдена номенклатура с идентификатором «{line.get('Номенклатура')}»")
        if order.get("Склад") not in self.warehouses:
            raise Refused("Ошибка при вызове операции ЗаписатьЗаказ: {ВебСервис.Trade.Модуль(44)}: "
                          f"Не найден склад «{order.get('Склад')}»")
        with self._data_lock:
            # As such services are written: the order with this channel number is changed, else a new one made.
            ref = next((ref for ref, kept in self.orders.items()
                        if kept["НомерПоДаннымКлиента"] == order.get("НомерПоДаннымКлиента")), None)
            if ref is None:
                ref = f"{len(self.orders) + 1:08x}-5a3c-11f0-8000-00155d01c80a"
                number = f"КФ00-{len(self.orders) + 1:06d}"
            else:
                number = self.orders[ref]["Номер"]
            self.orders[ref] = {**order, "Номер": number}
        return {"Ссылка": ref, "Номер": number}

    def _find_order(self, arguments: dict[str, Any]) -> dict[str, Any] | None:
        if self.find_fault is not None:
            raise Refused(self.find_fault)
        key = arguments.get("НомерПоДаннымКлиента")
        with self._data_lock:
            found = next(({"Ссылка": ref, "Номер": order["Номер"]} for ref, order in self.orders.items()
                          if order["НомерПоДаннымКлиента"] == key), None)
        if found is None and self.missing_order_faults:
            raise Refused(f"Заказ не найден: {key}")
        return found

    def _goods(self, arguments: dict[str, Any]) -> dict[str, Any]:
        rows = [{"Ссылка": g.ref, "Код": g.code, "Артикул": g.sku, "Наименование": g.name,
                 "ЕдиницаИзмерения": self.units[g.weighed], "Весовой": g.weighed, "Группа": g.group,
                 "Штрихкод": g.barcode, "ПометкаУдаления": False} for g in self.goods.values()]
        return _page("Товар", rows, arguments)

    def _stock(self, arguments: dict[str, Any]) -> dict[str, Any]:
        with self._data_lock:
            rows = [{"Номенклатура": good, "Склад": warehouse, "Количество": quantity}
                    for (good, warehouse), quantity in sorted(self.stock.items())]
        return _page("Строка", rows, arguments)

    def _prices(self, arguments: dict[str, Any]) -> dict[str, Any]:
        wanted = arguments.get("ВидЦены")
        rows = [{"Номенклатура": good, "ВидЦены": kind, "Цена": price}
                for (good, kind), price in sorted(self.prices.items()) if wanted in (None, "", kind)]
        return _page("Строка", rows, arguments)


def _page(name: str, rows: list[dict[str, Any]], arguments: dict[str, Any]) -> dict[str, Any]:
    """Page НомерСтраницы (from 1) of ``rows``, РазмерСтраницы a page, as 1C developers write paging."""
    try:
        number, size = int(arguments.get("НомерСтраницы") or 1), int(arguments.get("РазмерСтраницы") or 100)
    except ValueError:
        raise Refused("Ошибка преобразования данных XDTO: НомерСтраницы, РазмерСтраницы: ожидалось число") from None
    if number < 1 or size < 1:
        raise Refused("Номер и размер страницы должны быть больше нуля")
    chosen = rows[(number - 1) * size:number * size]
    return {name: chosen, "ЕстьЕще": number * size < len(rows)}


def _read(element: Any, fields: list[tuple[str, str]], types: Mapping[str, list[tuple[str, str]]]) -> dict[str, Any]:
    """The children of ``element`` by the fields its type declares; nested types as dicts, repeated ones as lists."""
    read: dict[str, Any] = {}
    for name, kind in fields:
        bare = kind.rstrip("?*")
        found = element.findall(f"{{{NAMESPACE}}}{name}")
        values = [_read(child, types[bare[4:]], types) if bare.startswith("tns:") else (child.text or "")
                  for child in found]
        read[name] = values if kind.endswith("*") else (values[0] if values else None)
    return read


def _write(name: str, value: Any) -> str:
    if isinstance(value, list):
        return "".join(_write(name, item) for item in value)
    if isinstance(value, dict):
        return f"<m:{name}>{''.join(_write(key, item) for key, item in value.items())}</m:{name}>"
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else escape(str(value))
    return f"<m:{name}>{text}</m:{name}>"

