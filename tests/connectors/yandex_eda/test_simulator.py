"""YandexEdaSimulator: its Vendor Management server, and its client role against a small fake partner.

The fake partner below stands in for hub's endpoints so the simulator is tested
on its own; the connector's tests point the simulator at the real thing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.wrappers import Request, Response

from connectors.yandex_eda import sandbox as simulator_module
from connectors.yandex_eda.sandbox import ORDER_MEDIA_TYPE, UnexpectedAnswer, YandexEdaSimulator
from connectors.yandex_eda.vendor import VendorClient
from hub.http import HttpClient
from hub.inbound import json_response
from hub.sandbox import Sandbox
from hub.settings import RetryPolicy
from hub.testing.acceptance import RecordingClock
from hub.values import json_dumps, json_loads, money, utcnow
from tests._shared import SAMPLES as SHARED_SAMPLES

SAMPLES = SHARED_SAMPLES / "yandex-eda"
VENUE = "937c57f6-4508-4858-be7f-20691a16fbb0"
RFC3339_MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$")
FORM = "application/x-www-form-urlencoded"


def sample(name: str) -> Any:
    return json_loads((SAMPLES / name).read_bytes())


def pull_client() -> Any:
    """The client id and secret of Yandex's documented token request: the partner's one client."""
    return sample("restaurant/auth-token-request.form-fields.json")


# --- the server side: the Vendor Management API ---------------------------------------------


@pytest.fixture(scope="module")
def yandex() -> Iterator[YandexEdaSimulator]:
    with YandexEdaSimulator() as simulator:
        yield simulator


def vendor_token(yandex: YandexEdaSimulator) -> str:
    answer = requests.post(f"{yandex.url}/oauth2/token", timeout=5,
                           data={"client_id": yandex.client_id, "client_secret": yandex.client_secret})
    assert answer.status_code == 200
    return str(answer.json()["access_token"])


def initiate(yandex: YandexEdaSimulator, body: Any, **headers: str) -> requests.Response:
    return requests.post(f"{yandex.url}/menu/import/initiation", data=json_dumps(body).encode(), timeout=5,
                         headers={"Content-Type": "application/json", **headers})


def test_source_settings_are_a_valid_yandex_eda_source_with_this_vendor_api(yandex: YandexEdaSimulator) -> None:
    from connectors.yandex_eda import YandexEdaSettings

    settings = YandexEdaSettings.model_validate({"type": "yandex_eda", **yandex.source_settings()})
    assert settings.vendor is not None
    assert (settings.vendor.url, settings.vendor.client_id, settings.vendor.partner_name) == (
        yandex.url, yandex.client_id, yandex.partner_name)
    assert list(settings.venues) == ["main"]
    assert (YandexEdaSimulator.name, YandexEdaSimulator.port) == ("yandex_eda", 8102)


@pytest.mark.samples
def test_the_vendor_token_has_the_sample_shape(yandex: YandexEdaSimulator) -> None:
    answer = requests.post(f"{yandex.url}/oauth2/token", timeout=5,
                           data={"client_id": yandex.client_id, "client_secret": yandex.client_secret})
    body = answer.json()
    assert answer.status_code == 200
    assert set(body) == set(sample("vendor-management-push/oauth2-token-response.json"))
    assert (body["expires_in"], body["scope"], body["token_type"]) == (120, "vendor_management", "bearer")
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 32


@pytest.mark.samples
@pytest.mark.parametrize(("form", "status"), [
    ({"client_id": "hub-vendor", "client_secret": "wrong"}, 401),
    ({"client_id": "someone-else", "client_secret": "sandbox-vendor-secret"}, 401),
    ({"client_id": "hub-vendor"}, 400),
])
def test_refused_token_requests_answer_yandex_error_shape(yandex: YandexEdaSimulator, form: dict[str, str],
                                                          status: int) -> None:
    answer = requests.post(f"{yandex.url}/oauth2/token", data=form, timeout=5)
    body = answer.json()
    shape = sample("retail/push-auth-401-error.json")
    assert answer.status_code == status
    assert {key: type(value) for key, value in body.items()} == {key: type(value) for key, value in shape.items()}
    assert "access_token" not in answer.text


@pytest.mark.samples
def test_an_initiation_is_recorded(yandex: YandexEdaSimulator) -> None:
    body = sample("vendor-management-push/menu-import-initiation-request.json") | {"restaurantId": VENUE}
    before = len(yandex.import_requests)
    answer = initiate(yandex, body, Authorization=f"Bearer {vendor_token(yandex)}", **{
        "Partner-Name": yandex.partner_name})
    assert (answer.status_code, answer.json()) == (200, {})
    assert yandex.import_requests[before:] == [{"restaurantId": VENUE, "operationType": "menu"}]


@pytest.mark.parametrize(("authorization", "partner", "body", "status"), [
    (None, "hub-sandbox", {"restaurantId": VENUE, "operationType": "menu"}, 401),
    ("Bearer not-a-token-we-issued", "hub-sandbox", {"restaurantId": VENUE, "operationType": "menu"}, 401),
    ("valid", None, {"restaurantId": VENUE, "operationType": "menu"}, 400),
    ("valid", "hub-sandbox", {"restaurantId": VENUE}, 400),
    ("valid", "hub-sandbox", ["not", "an", "object"], 400),
])
def test_a_bad_initiation_is_refused_and_not_recorded(yandex: YandexEdaSimulator, authorization: str | None,
                                                      partner: str | None, body: Any, status: int) -> None:
    headers = {}
    if authorization is not None:
        headers["Authorization"] = f"Bearer {vendor_token(yandex)}" if authorization == "valid" else authorization
    if partner is not None:
        headers["Partner-Name"] = partner
    before = len(yandex.import_requests)
    answer = initiate(yandex, body, **headers)
    assert answer.status_code == status
    assert set(answer.json()) == {"message", "code", "details"}
    assert len(yandex.import_requests) == before


def test_unknown_routes_are_404(yandex: YandexEdaSimulator) -> None:
    assert requests.get(f"{yandex.url}/oauth2/token", timeout=5).status_code == 404
    assert requests.post(f"{yandex.url}/v1/get-orders-details", json={}, timeout=5).status_code == 404


def history(yandex: YandexEdaSimulator, body: Any) -> requests.Response:
    return requests.post(f"{yandex.url}/v1/orders-history", data=json_dumps(body).encode(), timeout=5, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {vendor_token(yandex)}",
        "Partner-Name": yandex.partner_name})


@pytest.mark.samples
def test_the_order_history_lists_orders_by_venue_time_and_status_page_by_page() -> None:
    with YandexEdaSimulator(seed=3) as yandex:
        orders = [yandex.make_order([("CAP-300", "Капучино", Decimal(1), Decimal(180))], restaurant_id=venue)
                  for venue in (VENUE, VENUE, VENUE, "other")]
        for order in orders:
            yandex.keep_unsent(order)
        yandex.history[orders[1]["eatsId"]].status = "CANCELLED"
        yandex.history[orders[2]["eatsId"]].placed_at -= dt.timedelta(days=2)
        now = utcnow()
        query = sample("vendor-management-push/orders-history-request.json") | {
            "origin_ids": [{"origin_id": VENUE, "delivery_type": "native"}],
            "from": (now - dt.timedelta(days=1)).isoformat(timespec="milliseconds"),
            "to": (now + dt.timedelta(minutes=1)).isoformat(timespec="milliseconds"),
            "pagination": {"offset": 0, "limit": 1000}}  # the documented example asks for none (limit 0)

        def listed(**changes: Any) -> list[str]:
            answer = history(yandex, query | changes)
            assert answer.status_code == 200, answer.text
            return [order["eats_id"] for order in answer.json()["orders"]]

        assert listed(status=["NEW"]) == [orders[0]["eatsId"]]
        assert listed(status=["NEW", "CANCELLED"]) == [orders[0]["eatsId"], orders[1]["eatsId"]]
        assert listed(status=["NEW", "CANCELLED"], pagination={"offset": 1, "limit": 1}) == [orders[1]["eatsId"]]
        assert listed(status=["NEW"], **{"from": (now - dt.timedelta(days=3)).isoformat()}) == [
            orders[2]["eatsId"], orders[0]["eatsId"]]


@pytest.mark.parametrize(("body", "says"), [
    ({"from": "2025-01-01T00:00:00+03:00", "to": "2025-01-02T00:00:00+03:00", "pagination": {"offset": 0}},
     "origin_ids"),
    ({"origin_ids": [{"origin_id": VENUE}], "from": "2025-01-01", "to": "yesterday", "pagination": {"offset": 0}},
     "from and to"),
    ({"origin_ids": [{"origin_id": VENUE}], "from": "2025-01-01T00:00:00+03:00", "to": "2025-01-02T00:00:00+03:00",
      "status": ["LOST"], "pagination": {"offset": 0}}, "status"),
    ({"origin_ids": [{"origin_id": VENUE}], "from": "2025-01-01T00:00:00+03:00", "to": "2025-01-02T00:00:00+03:00",
      "pagination": {"offset": 0, "limit": 5000}}, "pagination"),
])
def test_a_bad_history_query_is_refused_with_the_reason(yandex: YandexEdaSimulator, body: Any, says: str) -> None:
    answer = history(yandex, body)
    assert answer.status_code == 400 and says in answer.json()["message"]


def test_vendor_client_works_against_it_and_renews_a_revoked_token() -> None:
    with YandexEdaSimulator(partner_name="my-cafe") as yandex:
        settings = yandex.source_settings()["vendor"]
        http = HttpClient(base_url=settings["url"], source="yandex-vendor-sim", timeout=5,
                          retry=RetryPolicy(attempts=2, backoff=0.01), clock=RecordingClock())
        vendor = VendorClient(http, settings["client_id"], settings["client_secret"], settings["partner_name"])
        vendor.initiate_menu_import(VENUE)
        yandex.revoke_tokens()
        vendor.initiate_menu_import("second-venue")
        assert yandex.import_requests == [{"restaurantId": VENUE, "operationType": "menu"},
                                          {"restaurantId": "second-venue", "operationType": "menu"}]
        assert yandex.count("POST", "/oauth2/token") == 2
        assert yandex.count("POST", "/menu/import/initiation") == 3


# --- the client side, against a fake partner ----------------------------------------------------


class FakePartner(Sandbox):
    """Just enough of a partner server: tokens, bearer checks, vendor media types, orders kept by eatsId."""

    name = "fake-partner"
    composition_type = "application/vnd.eats.menu.composition.v2+json"

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()
        """Tokens it still accepts; a test clears them to play a hub that forgot (or expired) them."""
        self.issued = 0
        self.refuse_all = False
        """Answer 401 to every authorized call, whatever token comes (a broken token store)."""
        self.orders: dict[str, Any] = {}
        self.bodies: list[tuple[str, str, str, Any]] = []
        """(method, path, Content-Type, JSON body) of every authorized write."""

    def source_settings(self) -> dict[str, Any]:
        return {}

    def handle(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/yandex/security/oauth/token":
            fields = {key: values[0] for key, values in parse_qs(request.get_data().decode()).items()}
            if fields != pull_client():
                return json_response([{"code": 100, "description": "bad credentials"}], 400)
            self.issued += 1
            token = f"token-{self.issued}"
            self.tokens.add(token)
            return json_response({"access_token": token})
        if self.refuse_all or request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return json_response({"reason": "Access token has been expired. You should request a new one"}, 401)
        if method != "GET":
            self.bodies.append((method, path, request.mimetype, json_loads(request.get_data())))
        parts = path.split("/")[2:]
        if method == "GET" and parts[:1] == ["menu"] and parts[2] == "composition":
            return Response(json_dumps({"categories": [], "items": []}), content_type=self.composition_type)
        if method == "GET" and parts[:1] in (["menu"], ["nomenclature"]):
            return json_response({"items": [], "part": parts[-1]})
        if method == "POST" and parts == ["order"]:
            order = json_loads(request.get_data())
            self.orders[f"hub-{order['eatsId']}"] = order
            return json_response({"result": "OK", "orderId": f"hub-{order['eatsId']}"})
        if method == "GET" and len(parts) == 3 and parts[2] == "status":
            return json_response({"status": "NEW", "comment": "", "updatedAt": "2025-03-01T09:00:00.000000+00:00"})
        if method == "GET" and len(parts) == 2 and parts[1] in self.orders:
            return json_response(self.orders[parts[1]])
        if method == "PUT" and len(parts) == 3 and parts[2] == "status":
            return Response(status=204)
        if method == "DELETE" and len(parts) == 2:
            return json_response({})
        return json_response([{"code": 100, "description": f"no {method} {path}"}], 404)


@pytest.fixture
def partner() -> Iterator[FakePartner]:
    with FakePartner() as fake:
        yield fake


@pytest.fixture
def connected(partner: FakePartner) -> Iterator[YandexEdaSimulator]:
    simulator = YandexEdaSimulator(seed=3)
    client = pull_client()
    simulator.connect(f"{partner.url}/yandex/", client["client_id"], client["client_secret"])
    yield simulator
    simulator.stop()


@pytest.mark.samples
def test_the_token_request_is_one_form_line_with_scope_read_write(connected: YandexEdaSimulator,
                                                                  partner: FakePartner) -> None:
    assert connected.get_token() == "token-1" == connected.access_token
    seen = partner.requests[0]
    assert (seen.method, seen.path, seen.headers["Content-Type"]) == ("POST", "/yandex/security/oauth/token", FORM)
    assert seen.body == (b"client_id=123123123&client_secret=ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         b"&grant_type=client_credentials&scope=read%20write")


@pytest.mark.samples
def test_a_401_gets_one_new_token_and_one_retry(connected: YandexEdaSimulator, partner: FakePartner) -> None:
    connected.get_token()
    partner.tokens.clear()  # hub forgot every token it issued
    assert connected.order_status("hub-1")["status"] == "NEW"
    assert connected.access_token == "token-2"
    assert partner.count("POST", "/yandex/security/oauth/token") == 2
    assert [seen.headers["Authorization"] for seen in partner.requests if seen.path.endswith("/status")] == [
        "Bearer token-1", "Bearer token-2"]


@pytest.mark.samples
def test_a_401_that_persists_is_returned_after_one_retry(connected: YandexEdaSimulator,
                                                        partner: FakePartner) -> None:
    partner.refuse_all = True
    answer = connected.authorized("GET", "/order/hub-1/status")
    assert (answer.status_code, set(answer.json())) == (401, {"reason"})
    assert partner.count("GET", "/yandex/order") == 2
    assert partner.count("POST", "/yandex/security/oauth/token") == 2  # the first token, then one more
    with pytest.raises(UnexpectedAnswer, match="401") as caught:
        connected.order_status("hub-1")
    assert caught.value.response.status_code == 401
    assert partner.count("GET", "/yandex/order") == 4


@pytest.mark.samples
def test_menus_and_nomenclature_are_pulled_with_their_media_types(connected: YandexEdaSimulator,
                                                                  partner: FakePartner) -> None:
    menu = connected.pull_menu(VENUE)
    nomenclature = connected.pull_nomenclature("shop-1")
    assert menu == {"composition": {"categories": [], "items": []},
                    "availability": {"items": [], "part": "availability"},
                    "promos": {"items": [], "part": "promos"}}
    assert [part["part"] for name, part in nomenclature.items() if name != "composition"] == ["availability",
                                                                                             "prices"]
    assert connected.media_types[f"GET /menu/{VENUE}/composition"] == FakePartner.composition_type
    assert connected.media_types["GET /nomenclature/shop-1/prices"] == "application/json"
    paths = [seen.path for seen in partner.requests if seen.method == "GET"]
    assert paths == [f"/yandex/menu/{VENUE}/composition", f"/yandex/menu/{VENUE}/availability",
                     f"/yandex/menu/{VENUE}/promos", "/yandex/nomenclature/composition",
                     "/yandex/nomenclature/shop-1/availability", "/yandex/nomenclature/shop-1/prices"]


@pytest.mark.samples
def test_answers_yandex_cannot_read_are_raised(connected: YandexEdaSimulator, partner: FakePartner) -> None:
    with pytest.raises(UnexpectedAnswer, match="404") as caught:
        connected.get_order("hub-unknown")
    assert caught.value.response.json() == [{"code": 100, "description": "no GET /yandex/order/hub-unknown"}]
    partner.faults.fail_next(1, status=200, body=b"<html>hello</html>")
    with pytest.raises(UnexpectedAnswer, match="not JSON"):
        connected.order_status("hub-1")


@pytest.mark.samples
def test_an_order_is_placed_remembered_and_repeated_byte_for_byte(connected: YandexEdaSimulator,
                                                                  partner: FakePartner) -> None:
    order = connected.make_order([("CAP-300", "Капучино 300 мл", Decimal(2), Decimal("180.00"))],
                                 restaurant_id=VENUE)
    answer = connected.place_order(order)
    assert answer.json() == {"result": "OK", "orderId": f"hub-{order['eatsId']}"}
    assert connected.order_ids == {order["eatsId"]: f"hub-{order['eatsId']}"}
    assert connected.repeat_last_post().status_code == 200
    posts = [seen for seen in partner.requests if seen.method == "POST" and seen.path == "/yandex/order"]
    assert len(posts) == 2 and posts[0].body == posts[1].body
    assert {seen.headers["Content-Type"] for seen in posts} == {ORDER_MEDIA_TYPE}
    assert json_loads(posts[0].body) == order
    assert connected.get_order(connected.order_ids[order["eatsId"]]) == order


def test_repeating_before_any_post_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no order"):
        YandexEdaSimulator().repeat_last_post()


@pytest.mark.samples
def test_statuses_are_pushed_and_orders_cancelled_as_yandex_does(connected: YandexEdaSimulator,
                                                                partner: FakePartner) -> None:
    assert connected.set_status("hub-1", "CANCELLED", "place.unable_to_call", "test",
                                attributes=["paid"]).status_code == 204
    assert connected.set_status("hub-1", "DELIVERED", media_type="application/vnd.eats.order.status.v1+json"
                                ).status_code == 204
    assert connected.cancel("hub-1", "190330-12345678", "Отказ клиента").status_code == 200
    (put1, put2, delete) = partner.bodies
    assert put1[:3] == ("PUT", "/yandex/order/hub-1/status", "application/json")
    assert set(put1[3]) == set(sample("restaurant/order-status-put-request.json"))
    assert (put1[3]["status"], put1[3]["reason"], put1[3]["attributes"]) == ("CANCELLED", "place.unable_to_call",
                                                                             ["paid"])
    assert RFC3339_MICRO.match(put1[3]["updatedAt"])
    assert put2[2] == "application/vnd.eats.order.status.v1+json"
    assert "reason" not in put2[3] and put2[3]["comment"] == ""
    assert delete == ("DELETE", "/yandex/order/hub-1", "application/json",
                      sample("restaurant/order-cancel-request.DELETE-body.json"))


def test_calls_before_connect_say_what_is_missing() -> None:
    with pytest.raises(RuntimeError, match="connect"):
        YandexEdaSimulator().get_token()


# --- orders to place --------------------------------------------------------------------------


@pytest.mark.samples
def test_make_order_writes_decimal_money_and_the_yandex_shape() -> None:
    order = YandexEdaSimulator(seed=1).make_order(
        [("PIZ-1", "Пицца Пепперони", Decimal("1"), Decimal("550")),
         ("CHE-RUS", "Сыр Российский, вес", Decimal("0.455"), Decimal("899.90"))],
        restaurant_id=VENUE, platform="DC",
        modifications={"PIZ-1": [{"id": "m1", "group_id": "g1", "name": "Сырный борт", "quantity": 1,
                                  "price": Decimal("100")}]})
    assert (order["platform"], order["discriminator"], order["restaurantId"]) == ("DC", "yandex", VENUE)
    assert re.fullmatch(r"\d{6}-\d{7}", order["eatsId"])
    assert order["paymentInfo"] == {"itemsCost": Decimal("1059.45"), "paymentType": "CARD"}  # 550 + 100 + 409.45
    first, second = order["items"]
    assert (second["quantity"], second["price"]) == (Decimal("0.455"), Decimal("899.90"))
    assert first["modifications"] == [{"id": "m1", "group_id": "g1", "name": "Сырный борт",
                                       "quantity": Decimal(1), "price": Decimal("100.00")}]
    delivery = order["deliveryInfo"]
    assert delivery["clientName"] and delivery["phoneNumber"] == "+" + delivery["realPhoneNumber"]
    assert RFC3339_MICRO.match(delivery["courierArrivementDate"])
    assert set(order) <= set(sample("restaurant/order-create-request.yandex.v2.json"))


@pytest.mark.samples
def test_a_brand_makes_a_shop_order_with_a_courier_code() -> None:
    order = YandexEdaSimulator(seed=1).make_order([("milk", "Молоко", Decimal("3.4"), Decimal(84))],
                                                  restaurant_id=VENUE, brand="Лавка у дома", comment="Позвонить")
    assert re.fullmatch(r"Courier code: \d{4}\. Позвонить", order["comment"])
    assert order["deliveryInfo"]["isSlotDelivery"] is False
    assert set(order) <= set(sample("retail/order-create-request.yandex.v2.json"))


@pytest.mark.samples
def test_a_shops_order_status_without_packages_count_is_refused(connected: YandexEdaSimulator) -> None:
    lines = [("milk", "Молоко", Decimal(1), Decimal(84))]
    connected.place_order(connected.make_order(lines, restaurant_id=VENUE))
    connected.place_order(connected.make_order(lines, restaurant_id=VENUE, brand="Лавка у дома"))
    restaurants, shops = connected.order_ids.values()

    assert connected.order_status(restaurants)["status"] == "NEW"
    with pytest.raises(UnexpectedAnswer, match="packagesCount"):
        connected.order_status(shops)


def test_eats_ids_are_unique_and_follow_the_seed() -> None:
    def eats_ids(seed: int | None) -> list[str]:
        simulator = YandexEdaSimulator(seed=seed)
        return [simulator.make_order([("A", "a", Decimal(1), Decimal(1))], restaurant_id=VENUE)["eatsId"]
                for _ in range(50)]

    assert len(set(eats_ids(5))) == 50
    assert eats_ids(5) == eats_ids(5)
    assert eats_ids(5) != eats_ids(6)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.decimals(min_value=Decimal("0.001"), max_value=Decimal(50), places=3),
                          st.decimals(min_value=Decimal(0), max_value=Decimal(10_000), places=2)),
                min_size=1, max_size=6))
def test_items_cost_adds_up_and_survives_json(lines: list[tuple[Decimal, Decimal]]) -> None:
    order = YandexEdaSimulator(seed=0).make_order([(f"i{n}", f"item {n}", q, p) for n, (q, p) in enumerate(lines)],
                                                  restaurant_id=VENUE)
    assert order["paymentInfo"]["itemsCost"] == sum((money(p * q) for q, p in lines), Decimal(0))
    assert json_loads(json_dumps(order)) == order


@pytest.mark.samples
def test_sample_orders_are_yandex_published_bodies() -> None:
    restaurant, retail = YandexEdaSimulator.sample_orders()
    assert (restaurant["eatsId"], restaurant["items"][0]["quantity"]) == ("190330-12345678", Decimal("3.5"))
    assert (retail["eatsId"], retail["items"][0]["quantity"]) == ("230130-1234567", Decimal("3.4"))
    assert restaurant == sample("restaurant/order-create-request.yandex.v2.json")


def test_without_the_shared_folder_there_are_no_sample_orders(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.setattr(simulator_module, "SAMPLES", tmp_path / "absent")
    assert YandexEdaSimulator.sample_orders() == []
