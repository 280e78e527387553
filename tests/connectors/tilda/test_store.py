"""What hub reads from and writes for Tilda Store, on the samples: the public feed, the importer CSV, and the
CommerceML exchange transcript replayed against hub's client."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
import responses

from connectors.commerceml.exchange import ExchangeClient
from connectors.tilda.csv import COLUMNS, write_csv
from connectors.tilda.feed import FeedClient, Row
from hub.errors import RequestRejected
from hub.http import HttpClient
from hub.model import PriceEntry, Product, StockLevel
from hub.values import json_loads, utcnow
from tests._shared import SAMPLES as SHARED_SAMPLES
from tests._shared import require_samples

SAMPLES = SHARED_SAMPLES / "tilda"
FEED = "https://store.tildaapi.com/api/getproductslist/"


@pytest.mark.samples
@responses.activate
def test_the_feed_page_is_read_editions_first() -> None:
    require_samples()
    page = json_loads((SAMPLES / "tilda-store-getproductslist-page.json").read_bytes())
    second = {"total": 2, "slice": 2, "nextslice": None, "products": [
        {"uid": "p2", "title": "Unlimited", "externalid": "ext-2", "quantity": "", "price": "150.50"}]}
    responses.get(FEED, json=page, match=[responses.matchers.query_param_matcher(
        {"storepartuid": "part", "slice": "1", "size": "1"})])
    responses.get(FEED, json=second, match=[responses.matchers.query_param_matcher(
        {"storepartuid": "part", "slice": "2", "size": "1"})])

    rows = list(FeedClient(HttpClient(base_url=FEED, source="tilda"), "part", size=1).rows())

    assert rows == [Row(id="old-1", uid="uid-1", title="Title", quantity=Decimal(0), price=None),
                    Row(id="ext-2", uid="p2", title="Unlimited", quantity=None, price=Decimal("150.50"))]


@responses.activate
def test_a_feed_whose_nextslice_does_not_move_on_is_read_once() -> None:
    page = {"slice": 1, "nextslice": 1, "products": [{"uid": "p1", "externalid": "ext-1", "quantity": "3"}]}
    responses.get(FEED, json=page)  # no total, and the same page named as the next one: a loop if followed

    rows = list(FeedClient(HttpClient(base_url=FEED, source="tilda"), "part", size=1).rows())

    assert [row.id for row in rows] == ["ext-1"] and len(responses.calls) == 1


@responses.activate
def test_a_feed_whose_nextslice_is_no_number_ends_without_a_traceback() -> None:
    responses.get(FEED, json={"nextslice": "next", "products": [{"uid": "p1", "externalid": "ext-1"}]})

    assert [row.id for row in FeedClient(HttpClient(base_url=FEED, source="tilda"), "part").rows()] == ["ext-1"]


@pytest.mark.samples
def test_the_csv_header_is_tildas_22_columns() -> None:
    require_samples()
    out = io.StringIO()
    write_csv(out, [Product(id="g1", name="Чай", article="TEA")], prices=[], stock=[])

    assert out.getvalue().splitlines()[0] == (SAMPLES / "tilda-store-csv-header-22-columns.csv").read_text().strip()
    assert len(COLUMNS) == 22


@pytest.mark.samples
def test_an_edition_is_tied_to_its_parent_as_the_fixture_shows() -> None:
    require_samples()
    fixture = list(csv.DictReader(io.StringIO((SAMPLES / "tilda-store-csv-parent-edition-fixture.csv").read_text()),
                                  delimiter=";"))
    parent = Product(id="bv215", name="Parent",
                     attributes={"tilda_uid": "uid-parent", "url": "https://hoocon.ru/sharovoy-kran-bv215"})
    edition = Product(id="ext-1", name="Edition", article="8100-bv215a",
                      attributes={"tilda_uid": "uid-edition", "url": "https://hoocon.ru/edition-only",
                                  "parent": "bv215"})
    out = io.StringIO()

    count = write_csv(out, [parent, edition], prices=[PriceEntry(product="ext-1", price_type="r", amount=Decimal(99))],
                      stock=[StockLevel(product="ext-1", warehouse="w", quantity=Decimal("0.305"), as_of=utcnow())])

    written = list(csv.DictReader(io.StringIO(out.getvalue()), delimiter=";"))
    assert count == 2
    assert [{key: row[key] for key in fixture[0]} for row in written] == fixture
    assert written[1]["Parent UID"] == "uid-parent" and written[0]["Price"] == written[0]["Quantity"] == ""
    assert (written[1]["Price"], written[1]["Quantity"]) == ("99.00", "0.305")


def test_a_good_the_warehouses_do_not_hold_is_exported_at_zero_not_unlimited() -> None:
    goods = [Product(id="held", name="Чай"), Product(id="sold-out", name="Кофе")]
    level = StockLevel(product="held", warehouse="w", quantity=Decimal(3), as_of=utcnow())

    def quantities(stock: list[StockLevel]) -> list[str]:
        out = io.StringIO()
        write_csv(out, goods, prices=[], stock=stock)
        return [row["Quantity"] for row in csv.DictReader(io.StringIO(out.getvalue()), delimiter=";")]

    assert quantities([level]) == ["3", "0"]  # "" would be unlimited stock to Tilda
    assert quantities([]) == ["", ""]  # no stock at all: not tracked, left to Tilda


@pytest.mark.samples
@responses.activate
def test_the_exchange_transcript_replays_against_hubs_client() -> None:
    require_samples()
    text = (SAMPLES / "tilda-commerceml-exchange-transcript.txt").read_text()
    base = re.search(r"Base URL \(placeholder from the tests\): (\S+)", text)
    assert base is not None
    steps = re.findall(r"(?m)^(GET|POST)\s+\?(\S+).*\n((?:<- .*\n)+)", text)
    for method, query, said in steps:
        params = dict(pair.split("=") for pair in query.split("&"))
        body = "\n".join(line[3:] for line in said.splitlines())
        responses.add(method, base.group(1), body=body, match=[responses.matchers.query_param_matcher(params)])
    client = ExchangeClient(HttpClient(base_url=base.group(1), source="tilda", auth=("login", "password")),
                            use_zip=True)

    with client.session("catalog") as session:
        assert (session.cookie, session.zip, session.file_limit) == ("PHPSESSID=session-value", False, 1024)
        client.upload(session, {"import0_1.xml": b"<a/>", "offers0_1.xml": b"<b/>"})
        assert client.import_file(session, "import0_1.xml") == 0
        assert client.import_file(session, "offers0_1.xml") == 1  # one progress, then success
    assert len(steps) == len(responses.calls) == 7  # every line of the transcript, in its order

    failure = next(line[3:] for line in text.splitlines() if line.startswith("<- failure |"))
    responses.replace(responses.GET, base.group(1), body=failure.replace(" | ", "\n"))
    with pytest.raises(RequestRejected, match="Import file is empty"):
        client.call(None, "catalog", "import")
