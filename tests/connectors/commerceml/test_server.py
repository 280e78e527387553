"""hub as the site for 1C (``commerceml_1c``): the protocol answers, uploads, imports and the sale exchange,
through the daemon's own WSGI application."""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.test import Client

from connectors.commerceml.items import OrderDocument
from connectors.commerceml.parser import parse
from connectors.commerceml.sandbox import OneCDriver
from connectors.commerceml.server import OneCExchangeSettings
from connectors.commerceml.writer import write_orders
from hub.config import load_config
from hub.daemon import Daemon
from hub.errors import UnresolvedReference
from hub.model import Entity, Order, OrderLine, OrderStatus, PriceEntry, Product, StockLevel
from hub.values import json_dumps, utcnow
from tests.connectors.commerceml.conftest import LIMIT, MOSCOW, PASSWORD, PATH, Hub, cml


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("ONEC_EXCHANGE_PASSWORD", PASSWORD)
    config = {
        "state": {"url": f"sqlite:///{tmp_path / 'state.db'}"}, "system_of_record": "onec",
        "timezone": "Europe/Moscow",
        "sources": {
            "onec": {"type": "commerceml_1c", "username": "site-exchange", "password": "${ONEC_EXCHANGE_PASSWORD}",
                     "work_dir": str(tmp_path / "uploads"), "import_batch": 2,
                     "inbound": {"path": PATH, "max_body": 4 * LIMIT}, "file_limit": LIMIT},
            "shop": {"type": "testchannel", "url": "http://127.0.0.1:9", "token": "t"},
        },
        "jobs": {"orders": {"type": "orders", "from": "shop", "to": "onec"}},
    }
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    daemon = Daemon(load_config(path), background=False)
    try:
        yield Hub(Client(daemon.app), daemon, tmp_path / "uploads")
    finally:
        daemon.runtime.close()


def folder_of(hub: Hub) -> Path:
    folders = [f for f in hub.work_dir.iterdir() if f.is_dir()]
    assert len(folders) == 1
    return folders[0]


# --- authentication ---------------------------------------------------------------------------------------------


def test_checkauth_answers_the_cookie_and_the_sessid_line(hub: Hub) -> None:
    response = hub.call("catalog", "checkauth", auth=("site-exchange", PASSWORD))

    lines = hub.said(response)
    assert lines[:2] == ["success", "HUBSESSID"]
    assert len(lines[2]) >= 24 and lines[3].startswith("sessid=") and len(lines[3]) == len("sessid=") + 32
    assert f"HUBSESSID={lines[2]}" in response.headers["Set-Cookie"]


@pytest.mark.parametrize("auth", [None, ("site-exchange", "wrong"), ("someone", PASSWORD)])
def test_wrong_credentials_answer_failure_with_the_reason(hub: Hub, auth: tuple[str, str] | None) -> None:
    assert hub.said(hub.call("catalog", "checkauth", auth=auth)) == ["failure", "wrong login or password"]


def test_every_later_call_needs_the_cookie_and_the_same_sessid(hub: Hub) -> None:
    assert hub.said(hub.call("catalog", "init"))[0] == "failure"

    lines = hub.login()

    assert hub.said(hub.call("catalog", "init")) == ["zip=yes", f"file_limit={LIMIT}"]
    assert hub.said(hub.call("catalog", "init", sessid=lines[3].removeprefix("sessid=")))[0] == "zip=yes"
    assert hub.said(hub.call("catalog", "init", sessid="0" * 32)) == ["failure", "wrong sessid"]
    assert hub.said(hub.call("catalog", "init", sessid="сессия")) == ["failure", "wrong sessid"]
    hub.client.set_cookie("HUBSESSID", "forged")
    assert hub.said(hub.call("catalog", "init")) == ["failure", "unknown session: call checkauth again"]


def test_an_expired_session_is_refused(hub: Hub) -> None:
    lines = hub.login()
    connector = hub.connector
    key, payload = connector.state.all("session")[0]
    kept = yaml.safe_load(payload)
    kept["expires"] = (utcnow() - dt.timedelta(seconds=1)).isoformat()
    connector.state.put_many("session", {key: json_dumps(kept)})

    assert hub.said(hub.call("catalog", "init")) == ["failure", "session expired: call checkauth again"]
    assert lines[0] == "success"
    hub.login()  # a new checkauth forgets the expired session
    assert [k for k, _ in connector.state.all("session")] != [key] and len(connector.state.all("session")) == 1


def test_failure_reasons_in_russian_are_windows_1251(hub: Hub) -> None:
    hub.login()

    said = hub.call("catalog", "import", filename="импорт.xml")

    assert said.get_data() == "failure\nимпорт.xml was not uploaded in this exchange".encode("cp1251")


def test_file_limit_above_max_body_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"exceeds inbound\.max_body"):
        OneCExchangeSettings(type="commerceml_1c", username="u", password="p", work_dir=tmp_path, file_limit=2048,
                             inbound={"max_body": 1024})
    assert OneCExchangeSettings(type="commerceml_1c", username="u", password="p", work_dir=tmp_path,
                                inbound={"max_body": 1024}).file_limit is None


# --- uploads ---------------------------------------------------------------------------------------------------


def test_pieces_are_appended_on_disk_before_success(hub: Hub) -> None:
    hub.login()
    data = OneCDriver().import_xml()
    assert len(data) > 2 * LIMIT

    hub.upload("import.xml", data)

    assert (folder_of(hub) / "import.xml").read_bytes() == data


def test_two_identical_pieces_in_a_row_are_both_kept(hub: Hub) -> None:
    hub.login()
    first, second = b"a" * LIMIT, b"b" * 10

    for piece in (first, first, second, second):
        assert hub.said(hub.call("catalog", "file", body=piece, filename="import.xml")) == ["success"]

    assert (folder_of(hub) / "import.xml").read_bytes() == first + first + second + second


def test_a_file_whose_pieces_repeat_is_imported_whole(hub: Hub) -> None:
    driver = OneCDriver(seed=1)
    data = driver.import_xml()
    goods = "<Товары>".encode()
    head, tail = data.split(goods, 1)
    # A comment longer than three pieces, every byte the same: pieces in a row repeat, as in long runs of 1C's.
    padded = head + b"<!--" + b" " * (4 * LIMIT) + b"-->" + goods + tail
    hub.login()

    hub.upload("import.xml", padded)

    assert (folder_of(hub) / "import.xml").read_bytes() == padded
    assert hub.import_("import.xml")[-1] == ["success"]
    assert len(hub.connector.state.all("catalog")) == len(driver.goods)


def test_a_file_sent_again_after_its_import_is_imported_again(hub: Hub) -> None:
    hub.login()
    hub.upload("import.xml", OneCDriver(seed=1).import_xml())
    assert hub.import_("import.xml")[-1] == ["success"]
    again = OneCDriver(seed=2)
    sent = again.import_xml()  # once: the file is dated to the second it is made

    hub.upload("import.xml", sent)

    assert (folder_of(hub) / "import.xml").read_bytes() == sent
    assert hub.import_("import.xml")[-1] == ["success"]
    assert set(again.goods) <= set(dict(hub.connector.state.all("catalog")))


def limit(hub: Hub, **settings: int) -> None:
    connector = hub.connector
    connector.config = connector.exchange.settings = connector.config.model_copy(update=settings)


def test_a_file_is_not_grown_beyond_max_file(hub: Hub) -> None:
    hub.login()
    limit(hub, max_file=2 * LIMIT)
    hub.upload("import.xml", b"x" * 2 * LIMIT)

    said = hub.said(hub.call("catalog", "file", body=b"x", filename="import.xml"))

    assert said == ["failure", f"import.xml would grow beyond max_file ({2 * LIMIT} bytes)"]
    assert (folder_of(hub) / "import.xml").stat().st_size == 2 * LIMIT


def test_an_exchange_is_not_grown_beyond_max_exchange(hub: Hub) -> None:
    hub.login()
    limit(hub, max_exchange=3 * LIMIT)
    hub.upload("import.xml", b"x" * 2 * LIMIT)

    said = hub.said(hub.call("catalog", "file", body=b"x" * (LIMIT + 1), filename="offers.xml"))

    assert said[0] == "failure" and "max_exchange" in said[1]
    assert not (folder_of(hub) / "offers.xml").exists()


def zipped(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as packed:
        for name, data in members:
            packed.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(("members", "settings", "reason"), [
    ([("import.xml", b"\0" * (1 << 20))], {"max_file": 1 << 19}, "unpacks to more than max_file"),
    ([(f"m{n}.xml", b"\0" * (1 << 18)) for n in range(4)], {"max_exchange": 1 << 19}, "max_exchange"),
    ([(f"m{n}.xml", b"") for n in range(5)], {"max_entries": 4}, "5 entries, more than max_entries (4)"),
])
def test_an_archive_beyond_the_limits_is_refused_and_leaves_nothing_unpacked(
        hub: Hub, members: list[tuple[str, bytes]], settings: dict[str, int], reason: str) -> None:
    archive = zipped(members)
    assert len(archive) < 4 * LIMIT  # one piece, though it unpacks to far more
    hub.login()
    limit(hub, **settings)

    said = hub.said(hub.call("catalog", "file", body=archive, filename="v8_bomb.zip"))

    assert said[0] == "failure" and said[1].startswith("v8_bomb.zip refused: ") and reason in said[1]
    assert [p.name for p in folder_of(hub).iterdir()] == ["v8_bomb.zip"]


def test_an_archive_sent_again_is_unpacked_again_and_its_files_imported_again(hub: Hub) -> None:
    hub.login()
    hub.upload("v8_1.zip", zipped([("import.xml", OneCDriver(seed=1).import_xml())]))
    assert hub.import_("import.xml")[-1] == ["success"]
    again = OneCDriver(seed=2)
    sent = again.import_xml()  # once: the file is dated to the second it is made

    hub.upload("v8_1.zip", zipped([("import.xml", sent)]))

    assert (folder_of(hub) / "import.xml").read_bytes() == sent
    assert hub.import_("import.xml")[-1] == ["success"]
    assert set(again.goods) <= set(dict(hub.connector.state.all("catalog")))


@pytest.mark.parametrize("name", ["../../hub.yaml", "..\\state.db", "a/../../x.xml"])
def test_a_name_that_leaves_the_upload_folder_is_refused_and_nothing_is_written(hub: Hub, tmp_path: Path,
                                                                                  name: str) -> None:
    hub.login()

    said = hub.said(hub.call("catalog", "file", body=b"evil", filename=name))

    assert said[0] == "failure" and "upload folder" in said[1]
    assert not list(tmp_path.glob("*.xml")) and not list(hub.work_dir.glob("**/*.xml"))
    with hub.daemon.runtime.store.reading() as state:
        kept = state.inbox.get(1)
    assert kept is not None and kept.status == "rejected" and kept.body == b"evil"


def test_a_windows_path_is_kept_under_its_own_name(hub: Hub) -> None:
    hub.login()

    hub.upload("C:\\v8_8789_c.xml", b"<x/>")

    assert (folder_of(hub) / "v8_8789_c.xml").read_bytes() == b"<x/>"


def test_a_zip_archive_is_unpacked_once_its_last_piece_arrived(hub: Hub) -> None:
    driver = OneCDriver()
    offers = driver.offers_xml()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as packed:
        packed.writestr("import.xml", driver.import_xml())
        packed.writestr("offers.xml", offers)
        packed.writestr("import_files/ab/ab12.jpg", b"\xff\xd8" * 400)
    hub.login()

    hub.upload("v8_3B8F_3e.zip", buffer.getvalue())

    folder = folder_of(hub)
    assert (folder / "offers.xml").read_bytes() == offers
    assert (folder / "import_files/ab/ab12.jpg").stat().st_size == 800
    assert hub.import_("import.xml")[-1] == ["success"]


def test_a_body_over_max_body_is_refused_in_the_protocol_s_words(hub: Hub) -> None:
    hub.login()

    response = hub.call("catalog", "file", body=b"x" * (4 * LIMIT + 1), filename="import.xml")

    assert response.status_code == 200  # 1C reads the body, and would show an HTTP error without the reason
    assert response.get_data().decode("cp1251").startswith("failure\nbody larger than")
    assert response.headers["Connection"] == "close"


# --- imports ---------------------------------------------------------------------------------------------------


def test_import_answers_progress_then_success_and_the_goods_prices_stock_are_held(hub: Hub) -> None:
    driver = OneCDriver(seed=1)
    hub.login()
    hub.upload("import.xml", driver.import_xml())
    hub.upload("offers.xml", driver.offers_xml())

    goods_steps = hub.import_("import.xml")
    offers_steps = hub.import_("offers.xml")

    assert [s[0] for s in goods_steps] == ["progress", "progress", "progress", "success"]  # 6 goods, 2 a call
    assert goods_steps[0][1] == "import.xml: 2 records read"
    assert offers_steps[-1] == ["success"] and len(offers_steps) > 2
    connector = hub.connector
    goods = [connector.decode(Entity.CATALOG, r) for p in connector.read(Entity.CATALOG, cursor=None)
             for r in p.records]
    assert {g.id for g in goods if isinstance(g, Product)} == set(driver.goods)
    prices = [connector.decode(Entity.PRICES, r) for p in connector.read(Entity.PRICES, cursor=None)
              for r in p.records]
    assert {(p.product, p.amount) for p in prices if isinstance(p, PriceEntry)} == {
        (g.id, g.price) for g in driver.goods.values()}
    stock = [connector.decode(Entity.STOCK, r) for p in connector.read(Entity.STOCK, cursor=None)
             for r in p.records]
    assert {(s.product, s.warehouse, s.quantity) for s in stock if isinstance(s, StockLevel)} == {
        (g.id, OneCDriver.WAREHOUSE, g.quantity) for g in driver.goods.values()}


def test_an_import_asked_again_after_success_answers_success_without_reading_again(hub: Hub) -> None:
    hub.login()
    hub.upload("import.xml", OneCDriver().import_xml())
    hub.import_("import.xml")

    assert hub.said(hub.call("catalog", "import", filename="import.xml")) == ["success"]


def test_the_import_position_survives_a_restart(hub: Hub, tmp_path: Path) -> None:
    hub.login()
    hub.upload("import.xml", OneCDriver().import_xml())
    assert hub.said(hub.call("catalog", "import", filename="import.xml"))[0] == "progress"

    again = Daemon(load_config(tmp_path / "hub.yaml"), background=False)  # another process on the same state
    try:
        client = Client(again.app)
        client.set_cookie("HUBSESSID", hub.client.get_cookie("HUBSESSID").value)  # type: ignore[union-attr]
        steps: list[str] = []
        while not steps or steps[-1] == "progress":
            steps.append(client.get(PATH, query_string={"type": "catalog", "mode": "import",
                                                         "filename": "import.xml"}).get_data().decode().split("\n")[0])
    finally:
        again.runtime.close()

    assert steps == ["progress", "progress", "success"]
    assert len(hub.connector.state.all("catalog")) == 6


def test_records_the_parser_cannot_read_are_reported_with_file_and_line(hub: Hub,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    offers = cml("<ПакетПредложений><Ид>p</Ид><Предложения>\n"
                 "<Предложение><Ид>a</Ид><Наименование>A</Наименование><Количество>2</Количество></Предложение>\n"
                 "<Предложение><Наименование>no id</Наименование></Предложение>\n"
                 "</Предложения></ПакетПредложений>")
    hub.login()
    hub.upload("offers.xml", offers)

    with caplog.at_level(logging.WARNING, logger="hub.commerceml.server"):
        assert hub.import_("offers.xml")[-1] == ["success"]

    assert any("offers.xml:5: offer" in record.getMessage() for record in caplog.records)
    report = yaml.safe_load(hub.connector.state.all("import")[0][1])
    assert report["done"] and report["problems"] and report["problems"][0].startswith("offers.xml:5")
    assert hub.connector.state.get("stock", "main:a") is not None


def test_missing_goods_hide_applies_to_a_full_import_only(hub: Hub) -> None:
    connector = hub.connector
    connector.config.missing_goods = "hide"
    connector.state.put_many("catalog", {"gone": Product(id="gone", name="Gone").model_dump_json()})
    hub.login()
    hub.upload("import.xml", OneCDriver().import_xml())

    hub.import_("import.xml")

    assert Product.model_validate_json(connector.state.get("catalog", "gone") or "").deleted


# --- orders ----------------------------------------------------------------------------------------------------


def order(number: str = "1001", product: str = "CAP-300") -> Order:
    return Order(channel="shop", external_id=number, number=f"A-{number}", total=Decimal("360.00"),
                 created_at=dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC),
                 lines=[OrderLine(product=product, name="Капучино", quantity=Decimal(2), unit_price=Decimal(180),
                                  sum=Decimal(360))])


def link(hub: Hub, channel_id: str, good: str) -> None:
    with hub.daemon.runtime.store.transaction() as state:
        state.links.put("shop", "catalog", channel_id, good)


def test_written_orders_are_answered_to_the_query_in_1c_s_goods_until_success(hub: Hub) -> None:
    link(hub, "CAP-300", "good-guid-1")
    connector = hub.connector
    assert connector.write(Entity.ORDERS, order(), key="shop:1001", ref=None).action == "created"
    assert connector.write(Entity.ORDERS, order(), key="shop:1001", ref="shop:1001").action == "unchanged"
    assert connector.find(Entity.ORDERS, "shop:1001") == "shop:1001"
    hub.login("sale")

    response = hub.call("sale", "query")

    assert response.mimetype_params["charset"] == "windows-1251"
    assert response.get_data().startswith(b'<?xml version=\'1.0\' encoding=\'windows-1251\'?>')
    documents = [i for i in parse(io.BytesIO(response.get_data()), timezone=MOSCOW) if isinstance(i, OrderDocument)]
    assert [(d.order.external_id, d.order.number, d.order.lines[0].product) for d in documents] == [
        ("shop:1001", "A-1001", "good-guid-1")]
    assert hub.said(hub.call("sale", "success")) == ["success"]
    again = parse(io.BytesIO(hub.call("sale", "query").get_data()), timezone=MOSCOW)
    assert not [i for i in again if isinstance(i, OrderDocument)]


def test_confirmed_orders_older_than_keep_orders_are_forgotten_at_checkauth(hub: Hub) -> None:
    link(hub, "CAP-300", "good-guid-1")
    connector = hub.connector
    old = order("1").model_copy(update={"created_at": utcnow() - dt.timedelta(days=31)})
    connector.write(Entity.ORDERS, old, key="shop:1", ref=None)
    connector.write(Entity.ORDERS, order("2").model_copy(update={"created_at": old.created_at}), key="shop:2",
                    ref=None)
    hub.login("sale")
    hub.call("sale", "query")
    hub.call("sale", "success")
    connector.write(Entity.ORDERS, order("3").model_copy(update={"created_at": old.created_at}), key="shop:3",
                    ref=None)

    hub.login("sale")

    assert [key for key, _ in connector.state.all("order")] == ["shop:3"]  # not confirmed yet: kept


def test_an_order_changed_after_the_query_is_offered_again(hub: Hub) -> None:
    link(hub, "CAP-300", "good-guid-1")
    connector = hub.connector
    connector.write(Entity.ORDERS, order(), key="shop:1001", ref=None)
    hub.login("sale")
    hub.call("sale", "query")
    connector.write(Entity.ORDERS, order().model_copy(update={"comment": "без сахара"}), key="shop:1001",
                    ref="shop:1001")

    hub.call("sale", "success")

    again = [i for i in parse(io.BytesIO(hub.call("sale", "query").get_data()), timezone=MOSCOW)
             if isinstance(i, OrderDocument)]
    assert [d.order.comment for d in again] == ["без сахара"]


def test_an_order_with_a_good_1c_does_not_know_is_refused(hub: Hub) -> None:
    with pytest.raises(UnresolvedReference, match="CAP-300"):
        hub.connector.write(Entity.ORDERS, order(), key="shop:1001", ref=None)


def test_1c_s_changes_to_orders_are_applied_forward_only_and_read_back(hub: Hub) -> None:
    link(hub, "CAP-300", "good-guid-1")
    connector = hub.connector
    for number in ("1001", "1002"):
        connector.write(Entity.ORDERS, order(number), key=f"shop:{number}", ref=None)
    changes = io.BytesIO()
    posted = OrderDocument(order("shop:1001").model_copy(update={"channel": "hub"}), posted=True,
                           requisites={"Проведен": ["true"], "Номер по 1С": ["ЗК-00001"]})
    cancelled = OrderDocument(order("shop:1002").model_copy(update={"channel": "hub"}),
                              requisites={"Отменен": ["true"]})
    unknown = OrderDocument(order("elsewhere:1").model_copy(update={"channel": "hub"}))
    write_orders(changes, [posted, cancelled, unknown], timezone=MOSCOW, version="2.08")
    hub.login("sale")
    assert len(changes.getvalue()) > LIMIT  # it comes in pieces: applied once whole, with no mode=import needed

    hub.upload("documents___1.xml", changes.getvalue(), kind="sale")

    held = {o.key: o for p in connector.read(Entity.ORDERS, cursor=None) for r in p.records
            if isinstance(o := connector.decode(Entity.ORDERS, r), Order)}
    assert hub.import_("documents___1.xml", kind="sale") == [["success"]]  # newer 1C asks to import it too
    assert held["shop:1001"].status is OrderStatus.ACCEPTED
    assert held["shop:1002"].status is OrderStatus.CANCELLED
    kept: dict[str, Any] = yaml.safe_load(connector.state.get("order", "shop:1001") or "")
    assert kept["facts"]["number_1c"] == "ЗК-00001"
    since = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    assert not [r for p in connector.read(Entity.ORDERS, cursor=None, since=since) for r in p.records]


def test_unknown_type_or_mode_is_a_failure(hub: Hub) -> None:
    hub.login()
    assert hub.said(hub.call("stock", "init"))[0] == "failure"
    assert hub.said(hub.call("catalog", "query"))[0] == "failure"
    assert hub.said(hub.call("catalog", "complete")) == ["success"]


def test_a_damaged_archive_is_answered_failure_and_kept(hub: Hub) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as packed:
        packed.writestr("import.xml", OneCDriver().import_xml())
    damaged = bytearray(buffer.getvalue())
    damaged[60:80] = b"\x00" * 20  # inside the packed data: the directory at the end still reads
    hub.login()

    answer = hub.said(hub.call("catalog", "file", body=bytes(damaged), filename="v8_bad.zip"))

    assert answer[0] == "failure" and "damaged archive" in answer[1]
    assert (folder_of(hub) / "v8_bad.zip").read_bytes() == bytes(damaged)
