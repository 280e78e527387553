"""The Tilda sandbox's CommerceML connector behaves as Tilda's is reported to, on the reconstructed stock-only
offers file: offers alone fail, offers for goods the session's import file lacks are left with a success, rows
under ИзмененияПакетаПредложений are ignored; and hub's own offers file is the shape Tilda applied."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from lxml import etree

from connectors.commerceml.exchange import ExchangeClient
from connectors.commerceml.items import Owner, Section, SectionKind
from connectors.commerceml.writer import write_import
from connectors.tilda import TildaConnector, TildaSandbox, TildaSettings
from connectors.tilda.sandbox import CONNECTOR_PATH, FEED_PATH, STOREPART
from hub.connector import ConnectorContext
from hub.errors import RecordError, RequestRejected, RetriableError
from hub.http import HttpClient
from hub.model import Entity, Product, StockLevel
from hub.runtime import StoreChannelState
from hub.state import open_store
from hub.values import utcnow, zone
from tests._shared import SAMPLES as SHARED_SAMPLES
from tests._shared import require_samples

OFFERS = SHARED_SAMPLES / "tilda" / "tilda-commerceml-offers-stock-only.reconstructed.xml"
GOOD = "a86C3Xdfs0l5Ud7GHXUT"


@pytest.fixture
def tilda() -> Iterator[TildaSandbox]:
    with TildaSandbox() as sandbox:
        yield sandbox


def client(tilda: TildaSandbox) -> ExchangeClient:
    http = HttpClient(base_url=tilda.url + CONNECTOR_PATH, source="tilda", auth=(tilda.site.username,
                                                                                 tilda.site.password))
    return ExchangeClient(http, use_zip=True)


def import_file(*goods: str) -> bytes:
    out = io.BytesIO()
    write_import(out, [Product(id=good, name=f"Товар {good}") for good in goods],
                 catalog=Section(SectionKind.CATALOG, id="c", name="Каталог", classifier_id="c", only_changes=True),
                 owner=Owner("hub", "hub"), timezone=zone("Europe/Moscow"), version="2.07")
    return out.getvalue()


def exchange(tilda: TildaSandbox, files: dict[str, bytes]) -> None:
    exchange_client = client(tilda)
    with exchange_client.session("catalog") as session:
        assert not session.zip  # Tilda takes no zip, whatever the client would like
        exchange_client.upload(session, files)
        for name in files:
            exchange_client.import_file(session, name)


@pytest.mark.samples
def test_offers_alone_are_refused_as_tilda_refuses_them(tilda: TildaSandbox) -> None:
    require_samples()
    with pytest.raises(RequestRejected, match="Import file is empty"):
        exchange(tilda, {"offers0_1.xml": OFFERS.read_bytes()})
    assert tilda.site.stock == {}


@pytest.mark.samples
def test_offers_with_the_import_file_listing_the_good_are_applied_and_shown_in_the_feed(tilda: TildaSandbox) -> None:
    require_samples()
    exchange(tilda, {"import0_1.xml": import_file(GOOD), "offers0_1.xml": OFFERS.read_bytes()})

    assert tilda.site.stock == {GOOD: Decimal(18)}
    page = requests.get(tilda.url + FEED_PATH, params={"storepartuid": STOREPART, "slice": "1", "size": "10"},
                        timeout=5).json()
    assert [(p["externalid"], p["quantity"]) for p in page["products"]] == [(GOOD, "18")]
    assert tilda.site.history[-1] == "offers0_1.xml: found products: 0, offers: 1"


@pytest.mark.samples
def test_an_import_file_without_the_good_gets_success_and_nothing_applied(tilda: TildaSandbox) -> None:
    require_samples()
    exchange(tilda, {"import0_2.xml": import_file("another-good"), "offers0_2.xml": OFFERS.read_bytes()})

    assert tilda.site.stock == {}  # no error was raised: only the feed tells
    assert tilda.site.history[-1] == "offers0_2.xml: found products: 0, offers: 0"


@pytest.mark.samples
def test_rows_under_the_changes_package_are_ignored(tilda: TildaSandbox) -> None:
    require_samples()
    changes = OFFERS.read_bytes().replace("ПакетПредложений".encode(), "ИзмененияПакетаПредложений".encode())

    exchange(tilda, {"import0_3.xml": import_file(GOOD), "offers0_3.xml": changes})

    assert tilda.site.stock == {}


@pytest.mark.samples
def test_hubs_offers_file_for_tilda_has_the_shape_tilda_applied() -> None:
    require_samples()
    from connectors.commerceml.items import Offer
    from connectors.commerceml.writer import write_offers

    out = io.BytesIO()
    write_offers(out, [Offer(id=GOOD, quantity=Decimal(18))], price_types=[], owner=Owner("hub", "hub"),
                 package=Section(SectionKind.OFFERS, id="p", name="Пакет", catalog_id="c", only_changes=True),
                 timezone=zone("Europe/Moscow"), version="2.07")

    def shape(data: bytes) -> list[str]:
        root = etree.fromstring(data)
        return [root.nsmap[None], *(etree.QName(e).localname for e in root.iter() if etree.QName(e).localname in
                                    ("ПакетПредложений", "Предложения", "Предложение", "Ид", "Количество"))]

    ours = shape(out.getvalue())
    assert ours[:2] == shape(OFFERS.read_bytes())[:2] == ["urn:1C.ru:commerceml_2", "ПакетПредложений"]
    assert {"Предложение", "Количество"} <= set(ours)


def test_the_feed_refuses_another_catalog_part(tilda: TildaSandbox) -> None:
    answer = requests.get(tilda.url + FEED_PATH, params={"storepartuid": "other"}, timeout=5)
    assert answer.status_code == 404


def test_uploads_beyond_the_window_are_refused_and_hub_waits_for_the_window_itself(tmp_path: Path) -> None:
    with TildaSandbox(uploads_per_window=2) as tilda:
        for n in range(2):
            exchange(tilda, {f"import0_{n}.xml": import_file(GOOD)})
        with pytest.raises(RequestRejected, match="Many requests"):
            exchange(tilda, {"import0_9.xml": import_file(GOOD)})

    with TildaSandbox(uploads_per_window=2) as tilda:
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        settings = {"type": "tilda", **tilda.source_settings()}
        settings["exchange"].pop("exchanges_per_window")  # Tilda's default: 2 per 300 s
        connector = TildaConnector(TildaSettings.model_validate(settings), ConnectorContext(
            "tilda", zone("Europe/Moscow"), logging.getLogger("test"), state=StoreChannelState(store, "tilda")))
        try:
            for n in range(2):
                connector.write_batch(Entity.CATALOG, [Product(id=f"g{n}", name="Чай")])
            asked = tilda.count()
            with pytest.raises(RetriableError, match="2 catalog exchanges per 300 s"):
                connector.write_batch(Entity.CATALOG, [Product(id="g9", name="Чай")])
        finally:
            connector.close()
            store.close()
        assert tilda.count() == asked and set(tilda.site.goods) == {"g0", "g1"}  # refused before it was sent


def test_a_goods_stock_at_two_venues_is_read_back_as_the_sum_the_offers_file_carries(tmp_path: Path) -> None:
    with TildaSandbox() as tilda:
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        connector = TildaConnector(TildaSettings.model_validate({"type": "tilda", **tilda.source_settings()}),
                                   ConnectorContext("tilda", zone("Europe/Moscow"), logging.getLogger("test"),
                                                    state=StoreChannelState(store, "tilda")))
        try:
            connector.write_batch(Entity.CATALOG, [Product(id=GOOD, name="Чай")])
            as_of = utcnow()
            written = connector.write_batch(Entity.STOCK, [
                StockLevel(product=GOOD, warehouse="main", quantity=Decimal(2), as_of=as_of),
                StockLevel(product=GOOD, warehouse="hall", quantity=Decimal("0.305"), as_of=as_of)])
        finally:
            connector.close()
            store.close()
        assert tilda.site.stock == {GOOD: Decimal("2.305")}
        assert [w for w in written if isinstance(w, RecordError)] == [], written


def test_a_feed_without_external_ids_is_read_back_by_the_sku_hub_pushed(tmp_path: Path) -> None:
    with TildaSandbox() as tilda:
        tilda.feed_external_ids = False  # the captured feed page names its goods by uid and sku only
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        connector = TildaConnector(TildaSettings.model_validate({"type": "tilda", **tilda.source_settings()}),
                                   ConnectorContext("tilda", zone("Europe/Moscow"), logging.getLogger("test"),
                                                    state=StoreChannelState(store, "tilda")))
        try:
            connector.write_batch(Entity.CATALOG, [Product(id=GOOD, name="Чай", article="TEA-1")])
            written = connector.write_batch(Entity.STOCK, [
                StockLevel(product=GOOD, warehouse="main", quantity=Decimal(7), as_of=utcnow())])
            [page] = connector.read(Entity.STOCK, cursor=None)  # what hub reconcile compares with 1C
            shown = [connector.decode(Entity.STOCK, record) for record in page.records]
        finally:
            connector.close()
            store.close()
        assert "externalid" not in tilda.feed()["products"][0] and tilda.site.stock == {GOOD: Decimal(7)}
        assert [w for w in written if isinstance(w, RecordError)] == [], written
        assert [(level.product, level.quantity) for level in shown if isinstance(level, StockLevel)] == [
            (GOOD, Decimal(7))]
