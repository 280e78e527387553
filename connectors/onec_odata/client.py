"""1C's standard OData interface, call by call, over :class:`hub.http.HttpClient`.

::

    http = HttpClient(base_url=service_root("https://srv/trade"), source="erp", auth=("hub", password))
    onec = OneCClient(http, timezone=zone("Europe/Moscow"))
    for item in onec.iter_rows("Catalog_Номенклатура", filter="IsFolder eq false", select=["Ref_Key", "Description"]):
        ...

Every row read is cleaned (:func:`connectors.onec_odata.odata.clean_row`): empty
references and dates are None, padding is trimmed, datetimes are aware.

1C sends no next-page links, so lists are paged with ``$top``/``$skip`` over a
stable ``$orderby`` and streamed page by page: memory holds one page, however
many rows there are. Rows inserted or deleted between two pages can shift the
window by a row; readers that must not miss one read again from a cursor.

Writes are not repeated by the HTTP layer once 1C may have acted on them: a lost
answer to :meth:`OneCClient.create` raises :class:`hub.errors.NetworkError`, and
the caller looks the document up with :meth:`OneCClient.find` before creating it
again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import requests

from connectors.onec_odata import odata
from hub.errors import ProtocolError
from hub.http import HttpClient
from hub.values import json_dumps, json_loads

PAGE_SIZE = 1000
"""Rows per page; 1C documents no maximum, but big pages run into web-server timeouts."""
KEYS_PER_REQUEST = 40
"""References per ``$filter`` when looking many up: IIS refuses long query strings (404.15)."""
FILTER_CHARS = 1800
"""The longest ``$filter=…`` one request carries, percent-encoded: IIS refuses a query string over 2048 bytes
(404.15) by default, the other options take up to ~200, and each Cyrillic letter of a 1C name takes six."""

# Statuses whose body is 1C's own error: read it instead of letting HttpClient raise a generic one.
# 401 stays with HttpClient (the web server's Basic challenge), 5xx on reads too, so they are retried.
_READ_ERRORS = frozenset({400, 403, 404, 405, 406, 409, 412, 415, 501})
# A write whose answer is a 500 is not retried anyway; its body says why 1C refused it.
_WRITE_ERRORS = _READ_ERRORS | {500}
_ACCEPT = {"Accept": "application/json"}
_SEND = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}
_JSON = {"$format": "json"}


class OneCClient:
    """Typed calls to one published 1C base; no business logic, no mapping."""

    def __init__(self, http: HttpClient, *, timezone: ZoneInfo, allowed_only: bool = False,
                 page_size: int = PAGE_SIZE, keys_per_request: int = KEYS_PER_REQUEST) -> None:
        """``http`` is rooted at the service root (:func:`odata.service_root`) and carries Basic auth.

        ``timezone`` is the 1C base's wall clock; ``allowed_only`` adds 1C's
        ``allowedOnly=true`` to reads, so rows hidden by record-level security are
        skipped instead of failing the whole read with error 20.
        """
        self.http = http
        self.tz = timezone
        self.allowed_only = allowed_only
        self.page_size = page_size
        self.keys_per_request = keys_per_request

    # --- reading -------------------------------------------------------------------------------

    def service_document(self) -> list[str]:
        """Names of the entity sets this base publishes."""
        data = self._read("")
        return [str(entry["name"]) for entry in _value(data, "the service document")]

    def metadata(self) -> bytes:
        """The ``$metadata`` document (EDMX): every published set's properties and references."""
        response = self.http.get("$metadata", headers={"Accept": "application/xml"}, expect=_READ_ERRORS)
        return self._checked(response).content

    def iter_rows(self, entity_set: str, *, filter: str | None = None, select: Sequence[str] | None = None,
                  expand: Sequence[str] | None = None, orderby: str = "Ref_Key",
                  page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every row of ``entity_set`` matching ``filter``, page by page in ``orderby`` order."""
        return self._pages(odata.entity_path(entity_set), filter=filter, select=select, expand=expand,
                           orderby=orderby, page_size=page_size)

    def get(self, entity_set: str, ref: str, *, select: Sequence[str] | None = None,
            expand: Sequence[str] | None = None) -> dict[str, Any] | None:
        """One object by reference; None when 1C says it does not exist (error 9).

        A 404 from the web server in front of 1C still raises: it says nothing about the object.
        """
        response = self._get(odata.entity_path(entity_set, ref), {"$select": _join(select), "$expand": _join(expand)})
        error = odata.parse_error(response.content) if response.status_code == 404 else None
        if error is not None and error.code == "9":
            return None
        return odata.clean_row(self._json(self._checked(response)), self.tz)

    def find(self, entity_set: str, field: str, value: Any, *,
             select: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Objects whose ``field`` equals ``value`` (a ``…_Key`` field takes a reference)."""
        condition = f"{field} eq {odata.literal(value, self.tz, field=field)}"
        return list(self.iter_rows(entity_set, filter=condition, select=select))

    def filter_in(self, field: str, values: Iterable[Any]) -> list[str]:
        """``$filter`` texts matching ``field`` against ``values``: each with :attr:`keys_per_request` values at
        most, and no longer than :data:`FILTER_CHARS` once in the URL."""
        terms = dict.fromkeys(f"{field} eq {odata.literal(value, self.tz, field=field)}" for value in values)
        texts: list[list[str]] = []
        for term in terms:
            if texts and len(texts[-1]) < self.keys_per_request \
                    and len(odata.query_string({"$filter": " or ".join([*texts[-1], term])})) <= FILTER_CHARS:
                texts[-1].append(term)
            else:
                texts.append([term])
        return [" or ".join(text) for text in texts]

    def iter_rows_in(self, entity_set: str, field: str, values: Iterable[Any], *,
                     select: Sequence[str] | None = None, expand: Sequence[str] | None = None,
                     orderby: str = "Ref_Key") -> Iterator[dict[str, Any]]:
        """Rows whose ``field`` is one of ``values``, in as many requests as the URL length needs."""
        for condition in self.filter_in(field, values):
            yield from self.iter_rows(entity_set, filter=condition, select=select, expand=expand, orderby=orderby)

    def slice_last(self, register: str, *, orderby: str, period: dt.datetime | None = None,
                   condition: str | None = None, select: Sequence[str] | None = None,
                   page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """The latest record per dimension set of a periodic information register, as of ``period``.

        ``condition`` is a filter on the register's own fields, applied by 1C before it
        takes the slice; ``orderby`` names the fields that make a row unique (the
        dimensions), since pages need a stable order.
        """
        call = odata.function_call("SliceLast", {"Period": self._period(period), "Condition": _condition(condition)})
        return self._pages(odata.entity_path(register, None, call), orderby=orderby, select=select,
                           page_size=page_size)

    def balance(self, register: str, *, orderby: str, period: dt.datetime | None = None,
                condition: str | None = None, dimensions: Sequence[str] | None = None,
                select: Sequence[str] | None = None, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Balances of an accumulation register as of ``period`` (now when None).

        ``dimensions`` (names without ``_Key``) groups the balances by those only;
        result fields are the dimensions' ``…_Key`` and each resource as ``<Resource>Balance``.
        """
        args = {"Period": self._period(period), "Condition": _condition(condition),
                "Dimensions": odata.string(",".join(dimensions)) if dimensions else None}
        call = odata.function_call("Balance", args)
        return self._pages(odata.entity_path(register, None, call), orderby=orderby, select=select,
                           page_size=page_size)

    # --- writing -------------------------------------------------------------------------------

    def create(self, entity_set: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a new object; returns it as 1C stored it (with ``Ref_Key`` and ``DataVersion``)."""
        response = self._send("POST", odata.entity_path(entity_set), body)
        return odata.clean_row(self._json(response), self.tz)

    def update(self, entity_set: str, ref: str, body: dict[str, Any], *,
               data_version: str | None = None) -> dict[str, Any]:
        """PATCH the fields in ``body``; a tabular section in it replaces the whole section.

        With ``data_version`` (the ``DataVersion`` read earlier) 1C refuses the change
        if someone else changed the object meanwhile: :class:`RequestRejected` with status 412.
        """
        headers = {"If-Match": data_version} if data_version else {}
        response = self._send("PATCH", odata.entity_path(entity_set, ref), body, headers=headers)
        if not response.content.strip():  # tolerated: some platform versions may answer 204
            found = self.get(entity_set, ref)
            if found is None:
                raise ProtocolError(f"1C accepted a change to {entity_set} {ref} that it then cannot find")
            return found
        return odata.clean_row(self._json(response), self.tz)

    def post(self, entity_set: str, ref: str, *, operational: bool = False) -> None:
        """Post a document (``PostingModeOperational`` as ``operational``).

        Posting again gives the same result, so the HTTP layer may repeat it after a lost answer.
        """
        mode = {"PostingModeOperational": "true" if operational else "false"}
        self._send("POST", odata.entity_path(entity_set, ref, "Post"), None, options=mode, idempotent=True)

    def unpost(self, entity_set: str, ref: str) -> None:
        """Cancel a document's posting."""
        self._send("POST", odata.entity_path(entity_set, ref, "Unpost"), None, idempotent=True)

    # --- plumbing ------------------------------------------------------------------------------

    def _pages(self, path: str, *, orderby: str, filter: str | None = None, select: Sequence[str] | None = None,
               expand: Sequence[str] | None = None, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        size = page_size or self.page_size
        options: dict[str, str | int | None] = {"$filter": filter, "$select": _join(select),
                                                "$expand": _join(expand), "$orderby": orderby, "$top": size}
        skip = 0
        while True:
            rows = _value(self._read(path, {**options, "$skip": skip or None}), path)
            for row in rows:
                yield odata.clean_row(row, self.tz)
            if len(rows) < size:
                return
            skip += size

    def _read(self, path: str, options: dict[str, str | int | None] | None = None) -> Any:
        return self._json(self._checked(self._get(path, options or {})))

    def _get(self, path: str, options: dict[str, str | int | None]) -> requests.Response:
        allowed = {"allowedOnly": "true"} if self.allowed_only else {}
        query = odata.query_string({**options, **allowed, **_JSON})
        return self.http.get(path + query, headers=_ACCEPT, expect=_READ_ERRORS)

    def _send(self, method: str, path: str, body: dict[str, Any] | None, *,
              headers: dict[str, str] | None = None, options: Mapping[str, str | int | None] | None = None,
              idempotent: bool | None = None) -> requests.Response:
        data = json_dumps(odata.to_wire(body, self.tz)).encode() if body is not None else None
        response = self.http.request(method, path + odata.query_string({**(options or {}), **_JSON}), data=data,
                                     headers={**_SEND, **(headers or {})}, expect=_WRITE_ERRORS,
                                     idempotent=idempotent)
        return self._checked(response)

    @staticmethod
    def _checked(response: requests.Response) -> requests.Response:
        if response.status_code >= 400:
            raise odata.error_for(response)
        return response

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return json_loads(response.content)
        except ValueError as exc:
            raise ProtocolError(f"1C answered {response.request.method} with non-JSON: "
                                f"{response.content[:100]!r}") from exc

    def _period(self, period: dt.datetime | None) -> str | None:
        return odata.datetime_literal(period, self.tz) if period is not None else None


def _value(data: Any, what: str) -> list[dict[str, Any]]:
    rows = data.get("value") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ProtocolError(f"1C answered {what} without a 'value' list")
    return rows


def _join(names: Sequence[str] | None) -> str | None:
    return ",".join(names) if names else None


def _condition(condition: str | None) -> str | None:
    """A virtual table's Condition is itself a filter inside a quoted string."""
    return odata.string(condition) if condition else None
