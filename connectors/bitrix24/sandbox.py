"""A Bitrix24 portal, emulated: its URL forms, envelopes, errors and limits, for tests, ``hub sandbox bitrix24``
and ``hub demo``.

It serves ``POST /rest/<user>/<secret>/<method>`` (an incoming webhook) and ``POST /rest/<method>`` with an
OAuth access token as ``auth`` (body or query), and ``/oauth/token/`` to refresh tokens, which expire after
:attr:`Bitrix24Sandbox.token_life` seconds (401 ``expired_token``). Answers carry ``result``, ``total``,
``next`` and ``time`` (with ``operating`` and ``operating_reset_at``); errors are ``{error, error_description}``
with the portal's statuses. Limits: a leaky bucket per portal (``QUERY_LIMIT_EXCEEDED`` 503 over it, counted
in :attr:`Bitrix24Sandbox.over_limit`), a per-method operating budget (``OPERATION_TIME_LIMIT`` 429; one
ten-minute basket, where the portal sums ten one-minute ones), ``batch`` of at most 50 commands, pages of 50.
:attr:`Bitrix24Sandbox.throttle_rate` answers that share of calls with a real 429 or 503 at random, as a busy
portal does. A manager's new deal is sent, thin and form-encoded, to an attached event handler.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from connectors.bitrix24.client import BATCH_LIMIT, PAGE, comparable, decode_query, encode_query
from hub.http import SYSTEM_CLOCK, Clock
from hub.inbound import json_response
from hub.sandbox import Action, Param, Sandbox, attach_action
from hub.values import json_loads, utcnow

USER, SECRET = "1", "sandbox-webhook-secret"
CLIENT_ID, CLIENT_SECRET = "local.sandbox", "sandbox-client-secret"
APPLICATION_TOKEN = "sandbox-application-token"  # noqa: S105 - the sandbox's own, published on purpose
CONTACT, DEAL = 3, 2
CATALOG_IBLOCK = 23
"""The CRM catalog's iblockId on this portal."""
Method = Callable[[dict[str, Any]], Any]


class PortalError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


ENTERPRISE = (5.0, 250)
"""An Enterprise portal's leaky bucket: 5 requests a second, bursts of 250 (a standard one: 2 and 50)."""


class Bitrix24Sandbox(Sandbox):
    """One portal's CRM: contacts and deals (``crm.item.*``), their product rows, goods and prices."""

    name = "bitrix24"
    port = 8207
    gathers_orders = True

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK, per_second: float = 2.0, burst: int = 50,
                 operating_budget: float = 480.0, method_cost: float = 0.01, page: int = PAGE, seed: int = 0) -> None:
        super().__init__()
        self.clock = clock
        self.per_second, self.burst = per_second, burst
        self.operating_budget, self.method_cost = operating_budget, method_cost
        self.page = page
        self.token_life = 3600.0
        self.throttle_rate = 0.0
        self.items: dict[int, dict[int, dict[str, Any]]] = {CONTACT: {}, DEAL: {}}
        self.rows: dict[int, list[dict[str, Any]]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.prices: dict[tuple[int, int], dict[str, Any]] = {}
        self.calls: dict[str, int] = {}
        """Calls per method, batch commands counted under their own method too."""
        self.over_limit = 0
        """Calls the leaky bucket refused: hub should make none."""
        self.peak = 0.0
        """The fullest the bucket has been."""
        self.events_to: str | None = None
        self._ids = itertools.count(1)
        self._fm_ids = itertools.count(100)
        self._tokens: dict[str, float] = {}
        self._refresh = {"sandbox-refresh-0"}
        self._level, self._drained_at = 0.0, clock.monotonic()
        self._operating: dict[str, float] = {}
        self._window = clock.monotonic()
        self._random = random.Random(seed)
        self._state = threading.Lock()
        self._methods: dict[str, Method] = {
            "profile": lambda p: {"ID": USER, "ADMIN": True, "NAME": "Sandbox"},
            "batch": self._batch,
            "crm.item.add": self._item_add, "crm.item.update": self._item_update,
            "crm.item.get": self._item_get, "crm.item.list": self._item_list,
            "crm.duplicate.findbycomm": self._findbycomm,
            "crm.deal.productrows.set": self._rows_set, "crm.deal.productrows.get": self._rows_get,
            "catalog.product.add": self._product_add, "catalog.product.update": self._product_update,
            "catalog.product.list": self._product_list,
            "catalog.price.add": self._price_add, "catalog.price.update": self._price_update,
            "catalog.price.list": self._price_list,
            "catalog.storeproduct.add": self._stock_refused,
        }

    # --- HTTP ------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.rstrip("/") == "/oauth/token":
            return self._oauth(request)
        parts = request.path.strip("/").split("/")
        if parts[0] != "rest" or len(parts) not in (2, 4):
            return _error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        method = parts[-1].removesuffix(".json").lower()
        try:
            params = self._params(request)
            with self._state:
                self._authorize(parts, params)
                self._spend_bucket()
                self._throttle()
                result = self._run(method, params)
                time = self._time(method)
            if method in _WRITES:
                self.committed(request)
            return json_response({**result, "time": time})
        except PortalError as exc:
            return _error(exc.status, exc.code, exc.description)

    def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = decode_query(request.query_string.decode("latin-1"))
        body = request.get_data()
        if body:
            try:
                loaded = json_loads(body) if request.mimetype == "application/json" \
                    else decode_query(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise PortalError(400, "INVALID_REQUEST", "Request body is not valid") from None
            if not isinstance(loaded, dict):
                raise PortalError(400, "", "Parameters must be an object")
            params.update(loaded)
        return params

    def _authorize(self, parts: list[str], params: dict[str, Any]) -> None:
        if len(parts) == 4:
            if (parts[1], parts[2]) != (USER, SECRET):
                raise PortalError(401, "NO_AUTH_FOUND", "Wrong authorization data")
            return
        token = params.pop("auth", None)
        if not isinstance(token, str) or token not in self._tokens:
            raise PortalError(401, "NO_AUTH_FOUND", "Wrong authorization data")
        if self.clock.monotonic() >= self._tokens[token]:
            raise PortalError(401, "expired_token", "The access token provided has expired.")

    def _oauth(self, request: Request) -> Response:
        args = {**request.args, **request.form}
        if (args.get("client_id"), args.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET) \
                or args.get("grant_type") != "refresh_token" or args.get("refresh_token") not in self._refresh:
            return json_response({"error": "invalid_grant", "error_description": "Invalid refresh token"}, 400)
        with self._state:
            self._refresh.discard(str(args["refresh_token"]))
            number = next(self._ids)
            access, refresh = f"sandbox-access-{number}", f"sandbox-refresh-{number}"
            self._tokens[access] = self.clock.monotonic() + self.token_life
            self._refresh.add(refresh)
        return json_response({"access_token": access, "refresh_token": refresh, "expires_in": int(self.token_life),
                              "domain": "oauth.bitrix.info", "member_id": "sandbox", "status": "L",
                              "scope": "crm,catalog", "client_endpoint": f"{self.url}/rest/",
                              "server_endpoint": f"{self.url}/oauth/"})

    def _spend_bucket(self) -> None:
        """The portal's leaky bucket: each call adds one, it drains ``per_second``; a full one refuses."""
        now = self.clock.monotonic()
        self._level = max(0.0, self._level - (now - self._drained_at) * self.per_second)
        self._drained_at = now
        # A hair of slack: hub's bucket and this one read the same clock a moment apart.
        if self._level + 1 > self.burst + 1e-6:
            self.over_limit += 1
            raise PortalError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        self._level += 1
        self.peak = max(self.peak, self._level)

    def _throttle(self) -> None:
        if self.throttle_rate and self._random.random() < self.throttle_rate:
            if self._random.random() < 0.5:
                raise PortalError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
            raise PortalError(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")

    def _run(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._methods.get(method)
        if handler is None:
            raise PortalError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        self.calls[method] = self.calls.get(method, 0) + 1
        self._operate(method)
        result = handler(params)
        return result if method.endswith(".list") or method == "batch" else {"result": result}

    def _operate(self, method: str) -> None:
        now = self.clock.monotonic()
        if now - self._window >= 600:
            self._operating.clear()
            self._window = now
        if self._operating.get(method, 0.0) >= self.operating_budget:
            raise PortalError(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")
        self._operating[method] = self._operating.get(method, 0.0) + self.method_cost

    def _time(self, method: str) -> dict[str, Any]:
        start = Decimal(str(round(self.clock.monotonic(), 6)))
        return {"start": start, "finish": start, "duration": Decimal(0), "processing": Decimal(0),
                "date_start": utcnow().isoformat(), "date_finish": utcnow().isoformat(),
                "operating": Decimal(str(round(self._operating.get(method, 0.0), 6))),
                "operating_reset_at": Decimal(str(round(self._window + 600, 6)))}

    # --- batch -----------------------------------------------------------------------------------

    def _batch(self, params: dict[str, Any]) -> dict[str, Any]:
        commands = params.get("cmd")
        if not isinstance(commands, dict) or not commands:
            raise PortalError(400, "", "Parameter 'cmd' must be an array.")
        if len(commands) > BATCH_LIMIT:
            raise PortalError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        times: dict[str, Any] = {}
        for key, command in commands.items():
            method, _, query = str(command).partition("?")
            method = method.lower()
            if method == "batch":
                raise PortalError(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
            try:
                answer = self._run(method, decode_query(query))
            except PortalError as exc:
                errors[key] = {"error": exc.code, "error_description": exc.description}
                if str(params.get("halt", 0)) in ("1", "true", "Y"):
                    break  # halt=1: the commands after the first error are not run
                continue
            results[key] = answer["result"]
            if "total" in answer:
                totals[key] = answer["total"]
            times[key] = self._time(method)
        # PHP writes an empty map as [] (fact sheet §2.2).
        return {"result": {"result": results or [], "result_error": errors or [], "result_total": totals or [],
                           "result_next": [], "result_time": times or []}}

    # --- CRM items -------------------------------------------------------------------------------

    def _entity(self, params: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
        try:
            return self.items[int(params.get("entityTypeId", 0))]
        except (KeyError, ValueError, TypeError):
            raise PortalError(400, "NOT_FOUND", "Smart process not found") from None

    def _item_add(self, params: dict[str, Any]) -> dict[str, Any]:
        items = self._entity(params)
        fields = params.get("fields")
        if not isinstance(fields, dict):
            raise PortalError(400, "", "Parameter 'fields' must be array.")
        item_id = next(self._ids)
        stamp = utcnow().isoformat()
        item: dict[str, Any] = {"id": item_id, "createdTime": stamp, "updatedTime": stamp, "fm": [],
                                "createdBy": int(USER)}
        if items is self.items[DEAL]:
            item["stageId"] = "NEW"
        items[item_id] = item
        self._apply(item, fields)
        return {"item": _public(item)}

    def _item_update(self, params: dict[str, Any]) -> dict[str, Any]:
        item = self._item(params)
        fields = params.get("fields")
        if not isinstance(fields, dict):
            raise PortalError(400, "", "Parameter 'fields' must be array.")
        self._apply(item, fields)
        item["updatedTime"] = utcnow().isoformat()
        return {"item": _public(item)}

    def _apply(self, item: dict[str, Any], fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            if name == "fm":
                self._multifields(item, value)
            elif name not in ("id", "createdTime", "updatedTime"):
                item[name] = value

    def _multifields(self, item: dict[str, Any], values: Any) -> None:
        """``fm``: ``n0, n1…`` add values, a value's id changes (empty VALUE deletes) it; an entry without
        ``typeId`` is skipped without a word, as the portal does."""
        if not isinstance(values, dict):
            return
        for key, entry in values.items():
            if not isinstance(entry, dict) or not entry.get("typeId"):
                continue
            value = str(entry.get("value", ""))
            if str(key).startswith("n"):
                if value:
                    item["fm"].append({"id": next(self._fm_ids), "typeId": entry["typeId"],
                                       "valueType": entry.get("valueType", "WORK"), "value": value})
                continue
            for held in item["fm"]:
                if str(held["id"]) == str(key):
                    if value:
                        held.update(value=value, valueType=entry.get("valueType", held["valueType"]))
                    else:
                        item["fm"].remove(held)
                    break

    def _item(self, params: Mapping[str, Any]) -> dict[str, Any]:
        items = self._entity(params)
        try:
            return items[int(params.get("id", 0))]
        except (KeyError, ValueError, TypeError):
            raise PortalError(400, "NOT_FOUND", "Element not found") from None

    def _item_get(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"item": _public(self._item(params))}

    def _item_list(self, params: dict[str, Any]) -> dict[str, Any]:
        found = [_public(i) for i in self._entity(params).values() if _matches(i, params.get("filter") or {})]
        found.sort(key=lambda i: int(i["id"]))
        page, answer = _page(found, params, self.page)
        return {"result": {"items": page}, **answer}

    def _findbycomm(self, params: dict[str, Any]) -> dict[str, Any]:
        kind = params.get("type")
        if kind not in ("PHONE", "EMAIL"):
            raise PortalError(400, "Communication type is not defined", "Parameter 'type' is required.")
        values = params.get("values")
        wanted = set((values.values() if isinstance(values, dict) else values) or [])
        if len(wanted) > 20:
            raise PortalError(400, "", "Too many values: at most 20")
        same = _same_phone if kind == "PHONE" else comparable
        looked_for = {same(str(w)) for w in wanted}
        ids = [i["id"] for i in self.items[CONTACT].values()
               if any(v["typeId"] == kind and same(v["value"]) in looked_for for v in i["fm"])]
        return {"CONTACT": ids} if ids else []  # type: ignore[return-value]  # PHP's empty map

    def _rows_set(self, params: dict[str, Any]) -> bool:
        deal = self._item({"entityTypeId": DEAL, "id": params.get("id")})
        rows = params.get("rows") or []
        rows = list(rows.values()) if isinstance(rows, dict) else rows
        for row in rows:
            if not isinstance(row, dict) or (not row.get("PRODUCT_NAME") and not row.get("PRODUCT_ID")):
                raise PortalError(400, "ERROR_CORE", "Product name is required<br>")
        self.rows[deal["id"]] = [dict(row) for row in rows]  # the whole set is replaced
        return True

    def _rows_get(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.rows.get(int(self._item({"entityTypeId": DEAL, "id": params.get("id")})["id"]), [])

    # --- catalog ---------------------------------------------------------------------------------

    def _product_add(self, params: dict[str, Any]) -> dict[str, Any]:
        fields = params.get("fields")
        if not isinstance(fields, dict) or not fields.get("name") or not fields.get("iblockId"):
            raise PortalError(400, "", "Required fields: name, iblockId")
        product_id = next(self._ids)
        self.products[product_id] = {**fields, "id": product_id}
        return {"element": self.products[product_id]}

    def _product_update(self, params: dict[str, Any]) -> dict[str, Any]:
        product = self.products.get(int(params.get("id", 0) or 0))
        if product is None:
            raise PortalError(400, "200040300040", "Product not found")
        product.update(params.get("fields") or {})
        return {"element": product}

    def _product_list(self, params: dict[str, Any]) -> dict[str, Any]:
        filters = params.get("filter") or {}
        if "iblockId" not in filters:
            raise PortalError(400, "200040300010", "Required filter: iblockId")
        found = sorted((p for p in self.products.values() if _matches(p, filters)), key=lambda p: int(p["id"]))
        page, answer = _page(found, params, self.page)
        return {"result": {"products": page}, **answer}

    def _price_add(self, params: dict[str, Any]) -> dict[str, Any]:
        fields = params.get("fields") or {}
        key = (int(fields.get("productId", 0) or 0), int(fields.get("catalogGroupId", 0) or 0))
        if key[0] not in self.products:
            raise PortalError(400, "200040300040", "Product not found")
        if key in self.prices:
            raise PortalError(400, "200040300020", "Price for this product and price type already exists")
        self.prices[key] = {**fields, "id": next(self._ids)}
        return {"price": self.prices[key]}

    def _price_update(self, params: dict[str, Any]) -> dict[str, Any]:
        for price in self.prices.values():
            if str(price["id"]) == str(params.get("id")):
                price.update(params.get("fields") or {})
                return {"price": price}
        raise PortalError(400, "200040300040", "Price not found")

    def _price_list(self, params: dict[str, Any]) -> dict[str, Any]:
        found = sorted((p for p in self.prices.values() if _matches(p, params.get("filter") or {})),
                       key=lambda p: int(p["id"]))
        page, answer = _page(found, params, self.page)
        return {"result": {"prices": page}, **answer}

    def _stock_refused(self, params: dict[str, Any]) -> Any:
        raise PortalError(400, "ERROR_METHOD_NOT_FOUND", "Method not found!")  # stock moves by documents only

    # --- what people do --------------------------------------------------------------------------

    def manager_deal(self, title: str, phone: str, *, amount: str = "1500", product: int = 0) -> int:
        """A manager takes a phone order: a contact, a deal with one row, and the ONCRMDEALADD event."""
        with self._state:
            contact = self._item_add({"entityTypeId": CONTACT, "fields": {
                "name": "Гость", "fm": {"n0": {"typeId": "PHONE", "valueType": "MOBILE", "value": phone}}}})
            deal = self._item_add({"entityTypeId": DEAL, "fields": {
                "title": title, "contactId": contact["item"]["id"], "opportunity": amount, "currencyId": "RUB"}})
            deal_id = int(deal["item"]["id"])
            self.rows[deal_id] = [{"PRODUCT_ID": product, "PRODUCT_NAME": title, "PRICE": amount, "QUANTITY": "1"}]
        self.send_event("ONCRMDEALADD", deal_id)
        return deal_id

    def send_event(self, event: str, item_id: int) -> int | None:
        """POST the thin, form-encoded event to the attached handler, once, as the portal does (no retries)."""
        if self.events_to is None:
            return None
        auth = {"domain": "sandbox.bitrix24.ru", "member_id": "sandbox", "application_token": APPLICATION_TOKEN}
        if self._tokens:  # an installed application's events carry its live OAuth token too (fact sheet §2.7)
            auth |= {"access_token": next(reversed(self._tokens)), "expires_in": str(int(self.token_life)),
                     "scope": "crm", "status": "L", "client_endpoint": f"{self.url}/rest/",
                     "server_endpoint": f"{self.url}/oauth/"}
        body = encode_query({"event": event, "event_handler_id": "1", "data": {"FIELDS": {"ID": item_id}},
                             "ts": str(int(utcnow().timestamp())), "auth": auth})
        try:
            return requests.post(self.events_to, data=body, timeout=10,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code
        except requests.RequestException:
            return None  # lost for good: the scheduled poll finds the deal

    def attach(self, partner_url: str) -> None:
        self.events_to = partner_url.rstrip("/") + "/events"

    def expire_tokens(self) -> None:
        with self._state:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def source_settings(self) -> dict[str, Any]:
        # hub's side of the bucket follows the plan whose limits this portal keeps (Enterprise: 5/s, bursts of 250)
        plan = "enterprise" if (self.per_second, self.burst) == ENTERPRISE else "standard"
        return {"url": f"{self.url}/rest/{USER}/{SECRET}/", "application_token": APPLICATION_TOKEN,
                "deals_to_orders": True, "catalog_iblock": CATALOG_IBLOCK, "plan": plan}

    def demo_activity(self) -> list[str]:
        """A manager takes a phone order for a good of the CRM catalog (hub put 1C's goods there)."""
        if not self.products:
            return []
        good = self._random.choice(sorted(self.products.values(), key=lambda p: int(p["id"])))
        price = next((p["price"] for (product, _), p in self.prices.items() if product == good["id"]), "100")
        phone = f"+7926{self._random.randint(1000000, 9999999)}"
        deal = self.manager_deal(str(good["name"]), phone, amount=str(price), product=int(good["id"]))
        return [f"a manager took phone order {deal} ({good['name']}) from {phone[:5]}…"]

    def actions(self) -> list[Action]:
        return [
            Action("manager-deal", "deals", "a manager takes a phone order: a contact and a deal (ONCRMDEALADD)",
                   (Param("title", "what was ordered"), Param("phone", "the guest's phone, +7…")),
                   lambda a: {"deal": self.manager_deal(a["title"], a["phone"])}),
            Action("guest", "guests/{phone}", "what the CRM holds of a guest: the contacts with that phone, each "
                   "with its deals", (Param("phone", "the guest's phone, in any form (8 916…, +7 916…)"),),
                   lambda a: {"contacts": self.guest(a["phone"])}),
            attach_action(self, "http://127.0.0.1:8080/crm"),
        ]

    def guest(self, phone: str) -> list[dict[str, Any]]:
        """The contacts holding ``phone`` (as the portal matches it), each ``{id, deals}``, the deals tied to it."""
        wanted = _same_phone(phone)
        with self._state:
            return [{"id": contact["id"], "deals": [deal["id"] for deal in self.items[DEAL].values()
                                                    if str(deal.get("contactId")) == str(contact["id"])]}
                    for contact in self.items[CONTACT].values()
                    if any(v["typeId"] == "PHONE" and _same_phone(v["value"]) == wanted for v in contact["fm"])]


_WRITES = frozenset({"crm.item.add", "crm.item.update", "crm.deal.productrows.set", "batch",
                     "catalog.product.add", "catalog.product.update"})


def _error(status: int, code: str, description: str) -> Response:
    return json_response({"error": code, "error_description": description}, status)


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "fm": [dict(v) for v in item["fm"]]}


def _same_phone(value: str) -> str:
    """A phone as the portal matches it: its last ten digits (8 916… and +7 916… are one number)."""
    return "".join(ch for ch in value if ch.isdigit())[-10:]


def _matches(item: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    for key, wanted in filters.items():
        name = key.lstrip("><=!@")
        held = item.get(name)
        operator = key[:len(key) - len(name)]
        if operator == ">":
            if held is None or not _above(held, wanted):
                return False
        elif operator == ">=":
            if held is None or str(held) < str(wanted):
                return False
        elif operator == "@":
            options = wanted.values() if isinstance(wanted, dict) else wanted
            if str(held) not in {str(w) for w in options}:
                return False
        elif str(held) != str(wanted):
            return False
    return True


def _above(held: Any, wanted: Any) -> bool:
    """``held > wanted``: as numbers (ids), else as text (ISO times)."""
    try:
        return Decimal(str(held)) > Decimal(str(wanted))
    except ArithmeticError:
        return str(held) > str(wanted)


def _page(found: list[dict[str, Any]], params: Mapping[str, Any], size: int,
          ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One page from ``start``; ``start=-1`` is the fast path: the first page, no total counted."""
    start = int(params.get("start", 0) or 0)
    if start == -1:
        return found[:size], {}
    page = found[start:start + size]
    answer: dict[str, Any] = {"total": len(found)}
    if start + size < len(found):
        answer["next"] = start + size
    return page, answer
