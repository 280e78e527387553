"""The 1C dialect of OData v3, as text: URLs, literals, query strings, value quirks and error bodies.

Nothing here talks to the network; :mod:`connectors.onec_odata.client` does,
with these helpers. The pieces, in the order a request meets them:

* :func:`service_root` - the publication URL an integrator writes in hub.yaml,
  turned into the ``…/odata/standard.odata/`` root every path is joined to;
* :func:`entity_path` and :func:`function_call` - ``Catalog_Номенклатура(guid'…')/Post``
  and ``Balance(Period=datetime'…',Condition='…')``, percent-encoded the way 1C
  expects (UTF-8, with ``( ) ' = , $`` left alone);
* :func:`guid`, :func:`datetime_literal`, :func:`string` and :func:`literal` -
  OData v3 literals: ``guid'…'``, ``datetime'…'`` in 1C's local wall-clock time,
  quoted strings with ``''`` for a quote;
* :func:`query_string` - ``$filter`` and friends with spaces as ``%20``, never ``+``;
* :func:`clean_row` - what 1C sends made plain: empty references and dates become
  None, padding is trimmed, ``LineNumber`` is an int, naive datetimes get the
  configured time zone; :func:`to_wire` does the reverse for bodies we send;
* :func:`parse_error` and :func:`error_for` - ``odata.error`` bodies (JSON or
  Atom XML) turned into :mod:`hub.errors`, keeping 1C's own message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

import requests
from lxml import etree

from hub.errors import HubError
from hub.http import ErrorRule, ErrorShape, ErrorTable, ErrorText, Outcome
from hub.logs import redact
from hub.values import from_local_naive, to_local_naive

SERVICE_PATH = "odata/standard.odata/"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01T00:00:00"
"""1C never sends null for an unset reference or date: it sends these."""

_PATH_SAFE = "()'=,$_-.:/"
# Quotes, parentheses, commas and colons stay readable in the query; everything that means
# something to a URL parser (& = + # % and spaces) is escaped, spaces as %20 rather than +.
_QUERY_SAFE = "'(),:$/*_-."
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
_ANNOTATION = "@navigationLinkUrl"


def service_root(url: str) -> str:
    """The OData root of a publication: ``http://srv/trade`` → ``http://srv/trade/odata/standard.odata/``.

    A URL that already ends in the OData root is returned as it is (with the slash).
    """
    base = url.rstrip("/") + "/"
    return base if base.endswith(SERVICE_PATH) else base + SERVICE_PATH


# --- literals --------------------------------------------------------------------------------


def guid(value: str | UUID) -> str:
    """``guid'…'`` for a reference; ValueError when ``value`` is not a UUID."""
    return f"guid'{UUID(str(value))}'"


def datetime_literal(value: dt.datetime, tz: ZoneInfo) -> str:
    """``datetime'…'`` in 1C's local time; a naive ``value`` is refused rather than guessed."""
    return f"datetime'{_local_text(value, tz)}'"


def string(value: str) -> str:
    """A quoted OData string; a quote inside is doubled."""
    return "'" + value.replace("'", "''") + "'"


def literal(value: Any, tz: ZoneInfo, *, field: str | None = None) -> str:
    """The literal for a Python value; strings compared with a ``…_Key`` field are references."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, UUID) or (isinstance(value, str) and field is not None and field.endswith("_Key")):
        return guid(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, dt.datetime):
        return datetime_literal(value, tz)
    if isinstance(value, int | Decimal):
        return str(value)
    raise TypeError(f"no OData literal for {type(value).__name__}")


# --- paths and query strings -------------------------------------------------------------------


def entity_path(entity_set: str, key: str | UUID | None = None, *segments: str) -> str:
    """``Set``, ``Set(guid'…')`` and ``Set(guid'…')/Post`` percent-encoded as 1C expects.

    ``segments`` are appended as they are (use :func:`function_call` for virtual tables).
    """
    path = entity_set if key is None else f"{entity_set}({guid(key)})"
    return quote("/".join((path, *segments)), safe=_PATH_SAFE)


def function_call(name: str, args: Mapping[str, str | None]) -> str:
    """``Balance(Period=datetime'…',Condition='…')`` from already-built literals; None args are left out.

    Slashes inside arguments (navigation paths in a Condition) stay unescaped: Apache
    refuses ``%2F`` in a path by default. Whether 1C accepts a raw one inside the
    parentheses is UNCERTAIN; the conditions hub builds have none.
    """
    inner = ",".join(f"{key}={value}" for key, value in args.items() if value is not None)
    return f"{name}({inner})"


def query_string(options: Mapping[str, str | int | None]) -> str:
    """``?$filter=…&$top=…`` with None options left out; empty when nothing is left."""
    parts = [f"{key}={quote(str(value), safe=_QUERY_SAFE)}" for key, value in options.items() if value is not None]
    return "?" + "&".join(parts) if parts else ""


# --- values ------------------------------------------------------------------------------------


def clean_row(row: Mapping[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """One entity as 1C sent it, with 1C's quirks taken out (see :func:`clean_value`).

    ``odata.*`` and ``…@navigationLinkUrl`` annotations are dropped; ``LineNumber``
    arrives as a string (it is an Edm.Int64, which OData v3 JSON writes quoted) and
    leaves as an int.
    """
    cleaned: dict[str, Any] = {}
    for key, value in row.items():
        if key.startswith("odata.") or key.endswith(_ANNOTATION):
            continue
        cleaned[key] = int(value) if key == "LineNumber" and value is not None else clean_value(value, tz)
    return cleaned


def clean_value(value: Any, tz: ZoneInfo) -> Any:
    """Empty GUID and empty date → None, right padding trimmed, naive datetimes made aware in ``tz``.

    A string is taken for a datetime when it has exactly 1C's ``YYYY-MM-DDTHH:MM:SS``
    shape: without ``$metadata`` types that is the only sign 1C gives.
    """
    if isinstance(value, str):
        if value in (EMPTY_GUID, EMPTY_DATE):
            return None
        if _DATETIME.fullmatch(value):
            return from_local_naive(dt.datetime.fromisoformat(value), tz)
        return value.rstrip(" ")
    if isinstance(value, dict):
        return clean_row(value, tz)
    if isinstance(value, list):
        return [clean_value(item, tz) for item in value]
    return value


def to_wire(value: Any, tz: ZoneInfo, *, key: str = "") -> Any:
    """A body for POST/PATCH: datetimes in 1C's local time, unset references as the empty GUID.

    Tabular sections (lists of objects) are numbered: 1C answered 500 to rows without
    ``LineNumber``, so rows that lack one get their position, as a string like 1C's own.
    """
    if isinstance(value, dict):
        return {name: to_wire(item, tz, key=name) for name, item in value.items()}
    if isinstance(value, list):
        rows = [to_wire(item, tz) for item in value]
        for number, row in enumerate(rows, start=1):
            if isinstance(row, dict):
                row.setdefault("LineNumber", str(number))
        return rows
    if value is None and key.endswith("_Key"):
        return EMPTY_GUID
    if isinstance(value, dt.datetime):
        return _local_text(value, tz)
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00"
    if isinstance(value, UUID):
        return str(value)
    return value


def _local_text(value: dt.datetime, tz: ZoneInfo) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` in ``tz``; isoformat, because strftime does not pad years before 1000."""
    return to_local_naive(value, tz).replace(microsecond=0).isoformat()


# --- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ODataError:
    """1C's error: ``code`` is a string (``"-1"``, ``"9"``, ``"14"``), ``message`` its own words."""

    code: str
    message: str


ERRORS = ErrorShape(messages=(("odata.error", "message", "value"), ("odata.error", "message")),
                    code=("odata.error", "code"))
"""Where 1C's JSON error answers keep what they say; its Atom XML ones are read by :func:`parse_error`."""
_METADATA = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
"""The namespace of ``m:error``, declared around a fragment that does not declare it."""
_XML = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, remove_comments=True)

HINTS: dict[str, str] = {
    "6": "the URL names something 1C does not know: check the entity set or virtual table name",
    "8": "add the object to the OData composition of the 1C base (SetStandardODataInterfaceContent) "
         "or fix its name in the mapping",
    "9": "the object does not exist in 1C (deleted, or a stale id link)",
    "10": "the property does not exist on this object in this 1C configuration: fix the mapping",
    "13": "tabular-section rows are written inside their owner's body, whole",
    "14": "this 1C platform version does not understand the query; simplify the $filter",
    "15": "an object with this key already exists in 1C",
    "20": "give the 1C user rights to this object, or read with allowed_only",
    "21": "this 1C platform version lacks the function used in the $filter",
}


def parse_error(body: bytes) -> ODataError | None:
    """1C's error from a response body, JSON (``odata.error``) or Atom XML; None if it is not one.

    Real XML bodies arrive truncated or as bare ``<m:code>…<m:message>`` fragments: they are read inside a root
    that declares the ``m`` prefix, by a parser that recovers what it can.
    """
    text = body.decode("utf-8", "replace").lstrip("\ufeff").strip()
    if text.startswith("{"):
        error = ERRORS.read(text.encode())
        return None if error is None or error.code is None else ODataError(error.code, error.message)
    if text.startswith("<?xml"):  # a declaration may only open a document, not sit inside the root around it
        text = text.partition("?>")[2]
    root = etree.fromstring(f'<body xmlns:m="{_METADATA}">{text}</body>'.encode(), _XML)
    code = _first(root, "code")
    if code is None:
        return None
    return ODataError(code, _first(root, "message") or "")


def _first(root: etree._Element | None, name: str) -> str | None:
    """The text of the first ``m:<name>`` (or ``<name>`` in OData's metadata namespace) under ``root``, stripped:
    an HTML page's ``<code>`` is no 1C error code."""
    if root is None:
        return None
    found = root.xpath(f"string((//*[name()='m:{name}' or (local-name()='{name}' and namespace-uri()=$ns)])[1])",
                       ns=_METADATA)
    return found.strip() if isinstance(found, str) and found.strip() else None


ONEC_ERRORS = ErrorTable(read=lambda body: _said(parse_error(body)), rules=(
    ErrorRule(Outcome.FATAL, code="20", hint=HINTS["20"]),
    ErrorRule(Outcome.FATAL, status=401, hint="check the 1C user name and password"),
    ErrorRule(Outcome.FATAL, status=403, hint="check the 1C user name and password"),
    # 1C's own error answering a write is 1C refusing the object (its posting code failed, a row is malformed):
    # the same write gets the same answer.
    ErrorRule(Outcome.REFUSE, status=500, writes=True, declared=True, hint=(
        "1C's own code refused the object (the document's posting code failed, or the 1C user lacks a right it "
        "needs); 1C's technological log has the details")),
    ErrorRule(Outcome.REFUSE, status=501),  # "not implemented": asking again changes nothing
    ErrorRule(Outcome.REFUSE, status=412, hint="the object changed in 1C since it was read: read it again and "
                                               "repeat the change"),
    ErrorRule(Outcome.REFUSE, status=404, declared=False, hint=(
        "check the publication URL and that the standard OData interface is published; IIS also answers 404 to a "
        "query string that is too long")),
))
"""What 1C's failed answers mean; the codes' own hints are :data:`HINTS`."""


def error_for(response: requests.Response) -> HubError:
    """The hub error for a failed 1C answer (:data:`ONEC_ERRORS`), carrying 1C's message when it sent one; a 404
    whose body is not 1C's came from the web server in front of 1C and says so."""
    status = response.status_code
    what = f"{response.request.method} {_readable(response.url)} -> {status}"
    verdict = ONEC_ERRORS.judge(status, response.content, method=response.request.method or "GET")
    if verdict.said is not None:
        text = f"{what}: 1C error {verdict.said.code}: {verdict.said.message}"
    elif status == 404:
        text = f"{what}: the web server answered, not 1C ({_excerpt(response)})"
    else:
        text = f"{what}: {_excerpt(response)}"
    if verdict.hint is None and verdict.said is not None and verdict.said.code in HINTS:
        verdict = replace(verdict, hint=HINTS[verdict.said.code])
    return verdict.error(text, status=status)


def _said(error: ODataError | None) -> ErrorText | None:
    return None if error is None else ErrorText(error.message, error.code)


def _readable(url: str) -> str:
    """The URL's path, decoded, without the query: filters may carry personal data."""
    return unquote(urlsplit(url).path)


def _excerpt(response: requests.Response, limit: int = 200) -> str:
    text = redact(" ".join(response.text.split()))
    if not text:
        return "(empty body)"
    return text if len(text) <= limit else text[:limit] + "…"
