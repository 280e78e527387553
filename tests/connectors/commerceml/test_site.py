"""hub as 1C for a CommerceML site (``commerceml_site``), against the Bitrix-like site sandbox on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.commerceml.items import OrderDocument
from connectors.commerceml.parser import parse
from connectors.commerceml.sandbox import EXCHANGE_PATH, SiteSandbox
from connectors.commerceml.site import CommerceMLSiteConnector
from hub.config import load_config
from hub.errors import AuthError, RequestRejected, RetriableError
from hub.model import Entity, Order, OrderStatus, PriceEntry, Product, StockLevel
from hub.runtime import Runtime
from hub.sandbox import SeenRequest
from hub.values import utcnow
from tests.connectors.commerceml.conftest import MOSCOW, XSDS
from tests.connectors.commerceml.test_writer import assert_valid

Make = Callable[..., CommerceMLSiteConnector]


@pytest.fixture
def site() -> Iterator[SiteSandbox]:
    with SiteSandbox(file_limit=2048, progress_steps=2) as sandbox:
        yield sandbox


@pytest.fixture
def connect(site: SiteSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    """``connect(**settings)``: a commerceml_site connector towards the sandbox, on a fresh state DB."""
    monkeypatch.setenv("SITE_PASSWORD", site.password)
    runtimes: list[Runtime] = []

    def make(**settings: Any) -> CommerceMLSiteConnector:
        source = {"type": "commerceml_site", **site.source_settings(), "password": "${SITE_PASSWORD}",
                  "retry": {"attempts": 2, "backoff": 0.01}, **settings}
        path = tmp_path / f"hub{len(runtimes)}.yaml"
        path.write_text(yaml.safe_dump({"state": {"url": f"sqlite:///{tmp_path / f's{len(runtimes)}.db'}"},
                                        "timezone": "Europe/Moscow", "sources": {"site": source}},
                                       allow_unicode=True))
        runtime = Runtime(load_config(path))
        runtimes.append(runtime)
        connector = runtime.connector("site")
        assert isinstance(connector, CommerceMLSiteConnector)
        return connector

    yield make
    for runtime in runtimes:
        runtime.close()


GOODS = [Product(id=f"guid-{n}", name=f"Товар {n}", article=f"ART-{n}", unit="pcs") for n in range(40)]


def test_goods_go_up_in_file_limit_pieces_of_one_zip_and_import_is_asked_again_on_progress(
        site: SiteSandbox, connect: Make) -> None:
    site.file_limit = 512
    connector = connect()

    ids = connector.write_batch(Entity.CATALOG, GOODS)

    assert ids == [good.id for good in GOODS]
    assert {good.id: good.name for good in site.goods.values()} == {good.id: good.name for good in GOODS}
    posts = [r for r in site.requests if r.method == "POST"]
    assert len(posts) > 1 and all(len(r.body) <= 512 for r in posts)
    assert len({r.query for r in posts}) == 1 and "filename=hub_" in posts[0].query
    assert zipfile.is_zipfile(io.BytesIO(b"".join(r.body for r in posts)))
    imports = [r for r in site.requests if "mode=import" in r.query]
    assert len(imports) == 3 and connector.client.progress_answers == 2  # progress, progress, success
    assert all("sessid=" in r.query and r.headers["Cookie"].startswith("PHPSESSID=") for r in imports)
    assert site.imported == ["import.xml"] and not site.problems


def test_the_files_say_they_hold_only_changes(site: SiteSandbox, connect: Make) -> None:
    site.zip = False
    connect().write_batch(Entity.CATALOG, GOODS[:1])

    body = b"".join(r.body for r in site.requests if r.method == "POST")
    sections = [item for item in parse(io.BytesIO(body), timezone=MOSCOW) if type(item).__name__ == "Section"]
    assert [getattr(s, "only_changes", None) for s in sections] == [False, True]  # the classifier has no flag


def test_without_zip_each_file_is_posted_under_its_own_name(site: SiteSandbox, connect: Make) -> None:
    site.zip = False

    connect().write_batch(Entity.CATALOG, GOODS)

    assert {r.query.split("filename=")[1] for r in site.requests if r.method == "POST"} == {"import.xml"}


def test_prices_and_stock_reach_the_site_with_the_goods_names(site: SiteSandbox, connect: Make) -> None:
    connector = connect()
    connector.write_batch(Entity.CATALOG, GOODS[:3])
    now = utcnow()

    connector.write_batch(Entity.PRICES, [PriceEntry(product=g.id, price_type="retail", amount=Decimal("99.90"))
                                          for g in GOODS[:3]])
    connector.write_batch(Entity.STOCK, [StockLevel(product=g.id, warehouse="main", quantity=Decimal(n), as_of=now)
                                         for n, g in enumerate(GOODS[:3])])

    assert site.prices == {(g.id, "retail"): Decimal("99.90") for g in GOODS[:3]}
    assert site.stock == {g.id: Decimal(n) for n, g in enumerate(GOODS[:3])}
    assert site.imported == ["import.xml", "offers.xml", "offers.xml"]


def posted_since(site: SiteSandbox, start: int) -> bytes:
    """What hub uploaded from request ``start`` on: one file, when the site takes no zip."""
    return b"".join(r.body for r in site.requests[start:] if r.method == "POST")


@pytest.mark.samples
@pytest.mark.parametrize("version", sorted(XSDS))
def test_a_stock_push_carries_the_prices_the_site_has_so_the_schema_takes_it(site: SiteSandbox, connect: Make,
                                                                              version: str) -> None:
    site.zip = False
    connector = connect(version=version)
    connector.write_batch(Entity.CATALOG, GOODS[:2])
    connector.write_batch(Entity.PRICES, [PriceEntry(product=GOODS[0].id, price_type="retail", amount=Decimal(99))])
    connector.write_batch(Entity.PRICES, [PriceEntry(product=GOODS[0].id, price_type="delivery", amount=Decimal(120))])
    start = len(site.requests)

    connector.write_batch(Entity.STOCK, [StockLevel(product=GOODS[0].id, warehouse="main", quantity=Decimal(5),
                                                    as_of=utcnow())])

    assert_valid(posted_since(site, start), version)
    assert site.stock == {GOODS[0].id: Decimal(5)}
    assert site.prices == {(GOODS[0].id, "retail"): Decimal(99), (GOODS[0].id, "delivery"): Decimal(120)}


def test_a_stock_push_for_goods_never_priced_has_no_empty_price_elements(site: SiteSandbox, connect: Make) -> None:
    site.zip = False
    connector = connect()
    connector.write_batch(Entity.CATALOG, GOODS[:1])
    start = len(site.requests)

    connector.write_batch(Entity.STOCK, [StockLevel(product=GOODS[0].id, warehouse="main", quantity=Decimal(3),
                                                    as_of=utcnow())])

    offers_file = posted_since(site, start)
    assert "ТипыЦен".encode() not in offers_file and "Цены".encode() not in offers_file
    assert site.stock == {GOODS[0].id: Decimal(3)} and site.prices == {}


def test_tilda_s_quirks_are_settings(site: SiteSandbox, connect: Make) -> None:
    site.zip = False
    connector = connect(import_file="import0_{n}.xml", offers_file="offers0_{n}.xml", offers_with_import=True,
                        exchanges_per_window=2, window=300)
    connector.write_batch(Entity.CATALOG, GOODS[:2])

    connector.write_batch(Entity.STOCK, [StockLevel(product=GOODS[0].id, warehouse="main", quantity=Decimal(5),
                                                    as_of=utcnow())])

    assert site.imported == ["import0_1.xml", "import0_2.xml", "offers0_2.xml"]
    assert site.stock == {GOODS[0].id: Decimal(5)}
    assert site.goods[GOODS[0].id].name == GOODS[0].name  # the import sent with the offers names the good
    with pytest.raises(RetriableError, match="2 catalog exchanges per 300 s"):
        connector.write_batch(Entity.CATALOG, GOODS[:1])
    assert next(connector.read(Entity.ORDERS, cursor=None)).records == []  # order requests are counted apart


def test_a_failure_fails_the_batch_with_the_site_s_reason_in_windows_1251(site: SiteSandbox, connect: Make) -> None:
    site.refuse_imports.append("Ошибка импорта метаданных.")

    with pytest.raises(RequestRejected, match="Ошибка импорта метаданных"):
        connect().write_batch(Entity.CATALOG, GOODS[:1])


def test_a_php_error_page_is_a_protocol_error_not_a_success(site: SiteSandbox, connect: Make) -> None:
    site.faults.fail_next(1, status=200, body=b"<html><body>Fatal error</body></html>")

    with pytest.raises(Exception, match="not a protocol answer"):
        connect().write_batch(Entity.CATALOG, GOODS[:1])


def test_wrong_credentials_are_an_auth_error(site: SiteSandbox, connect: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    site.password = "changed"

    with pytest.raises(AuthError, match="Неверный логин или пароль"):
        connect().check()


def test_check_reports_what_init_allows(connect: Make) -> None:
    assert connect().check() == "site answers checkauth and init: zip=yes, file_limit=2048"


def test_a_lost_import_answer_is_asked_again_and_the_file_read_once(site: SiteSandbox, connect: Make) -> None:
    site.progress_steps = 0

    def lose_the_import_answer(seen: SeenRequest) -> None:
        if "mode=import" in seen.query and site.faults.on_request is not None:
            site.faults.on_request = None
            site.faults.drop_after_commit(1)  # the import is done, its answer lost: hub asks again, as 1C does

    site.faults.on_request = lose_the_import_answer

    connect().write_batch(Entity.CATALOG, GOODS[:2])

    assert site.imported == ["import.xml"] and len(site.goods) == 2


# --- orders ----------------------------------------------------------------------------------------------------


def test_orders_are_confirmed_in_their_query_s_session_once_a_read_shows_they_were_stored(
        site: SiteSandbox, connect: Make) -> None:
    first = site.add_order([("guid-1", "Товар 1", Decimal(2), Decimal("150.00"))])
    connector = connect()

    page = next(connector.read(Entity.ORDERS, cursor=None))

    assert [r.external_id for r in page.records] == [first] and page.cursor
    assert not site.orders[first].exported  # nothing is confirmed before the pipeline stored the page
    second = site.add_order([("guid-2", "Товар 2", Decimal(1), Decimal("10.00"))])
    later = next(connector.read(Entity.ORDERS, cursor=page.cursor))  # the next run, with the stored cursor
    assert site.orders[first].exported and not site.orders[second].exported
    assert [r.external_id for r in later.records] == [second]
    successes = [r for r in site.requests if "mode=success" in r.query]
    queries = [r for r in site.requests if "mode=query" in r.query]
    assert successes[0].headers["Cookie"] == queries[0].headers["Cookie"]  # the first query's session


@pytest.mark.parametrize("cursor", [None, "not-a-query-hub-stored"])
def test_a_read_whose_page_was_not_stored_confirms_nothing(site: SiteSandbox, connect: Make,
                                                           cursor: str | None) -> None:
    order_id = site.add_order([("guid-1", "Товар 1", Decimal(1), Decimal("10"))])
    connector = connect()
    next(connector.read(Entity.ORDERS, cursor=None))  # hub reconcile, or a dry run: the page is not kept

    page = next(connector.read(Entity.ORDERS, cursor=cursor))

    assert not site.orders[order_id].exported
    assert [r.external_id for r in page.records] == [order_id]  # offered again
    assert not [r for r in site.requests if "mode=success" in r.query]


def test_a_confirmation_the_site_refuses_is_logged_and_the_orders_come_again(site: SiteSandbox,
                                                                            connect: Make) -> None:
    order_id = site.add_order([("guid-1", "Товар 1", Decimal(1), Decimal("10"))])
    connector = connect()
    page = next(connector.read(Entity.ORDERS, cursor=None))
    site.forget_sessions()

    again = next(connector.read(Entity.ORDERS, cursor=page.cursor))

    assert [r.external_id for r in again.records] == [order_id] and not site.orders[order_id].exported
    assert again.records[0].body == page.records[0].body  # byte for byte: the inbox drops the repeat


def test_a_site_order_decodes_to_a_canonical_order(site: SiteSandbox, connect: Make) -> None:
    order_id = site.add_order([("guid-1", "Товар 1", Decimal(2), Decimal("150.00"))], phone="+79165550123")
    connector = connect()
    record = next(connector.read(Entity.ORDERS, cursor=None)).records[0]

    order = connector.decode(Entity.ORDERS, record)

    assert isinstance(order, Order)
    assert (order.channel, order.external_id, order.total, order.status) == ("site", order_id, Decimal("300.00"),
                                                                              OrderStatus.NEW)
    assert order.lines[0].product == "guid-1" and order.customer and order.customer.phones == ["+79165550123"]
    assert order.created_at.tzinfo is not None and order.created_at <= utcnow() + dt.timedelta(seconds=1)


def test_1c_s_status_goes_back_as_an_order_change_upload(site: SiteSandbox, connect: Make) -> None:
    order_id = site.add_order([("guid-1", "Товар 1", Decimal(1), Decimal("10"))])
    connector = connect(statuses={"N": "new", "P": "accepted", "F": "delivered"})
    next(connector.read(Entity.ORDERS, cursor=None))

    connector.set_status(order_id, OrderStatus.CANCELLED)
    connector.set_status(order_id, OrderStatus.DELIVERED)

    changes: list[OrderDocument] = site.status_changes
    assert [(c.order.external_id, c.cancelled) for c in changes] == [(order_id, True), (order_id, False)]
    assert changes[1].status_id == "F" and changes[1].requisites["Финальный статус"] == ["true"]
    assert all(name.startswith("documents_") for name in site.imported)


def test_the_site_sandbox_answers_html_outside_its_script(site: SiteSandbox) -> None:
    import requests

    response = requests.get(site.url + "/index.php", timeout=5)

    assert response.status_code == 404 and response.headers["Content-Type"].startswith("text/html")
    assert site.source_settings()["url"].endswith(EXCHANGE_PATH)
