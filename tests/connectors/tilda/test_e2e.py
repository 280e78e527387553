"""Tilda end to end over real HTTP: the sandbox store posts its carts to hub daemon, with the 1C sandbox behind
it, and takes 1C's goods, stock and prices through its CommerceML connector, read back from its public feed."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner
from sqlalchemy import update

import cli
from connectors.onec_odata import OneCSandbox
from connectors.tilda import TildaSandbox
from connectors.tilda.sandbox import PROJECT, SHAPES, Shape
from hub import operations
from hub.config import load_config
from hub.daemon import Daemon
from hub.jobrun import run_job
from hub.model import Entity
from hub.reconcile import reconcile
from hub.runtime import Runtime
from hub.state import InboxStatus
from hub.state import schema as t
from hub.values import to_decimal, utcnow
from tests.daemon.conftest import wait_for

pytestmark = pytest.mark.slow
DOCUMENTS = "Document_ЗаказКлиента"
API_KEY = "tilda-e2e-api-key-5c1f"  # posted with every cart as a field of its body


@dataclass
class Stage:
    onec: OneCSandbox
    tilda: TildaSandbox
    config: Path

    def run(self, job: str) -> tuple[str, int, list[str]]:
        with Runtime(load_config(self.config)) as runtime:
            info, ctx = run_job(runtime, job)
        return info.status, ctx.counts.failed, ctx.errors

    def documents(self, orderid: str) -> list[dict[str, Any]]:
        return [d for d in self.onec.rows(DOCUMENTS) if orderid in str(d.get("НомерПоДаннымКлиента"))]


@pytest.fixture
def stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state_url: str) -> Iterator[Stage]:
    """hub daemon taking the sandbox store's carts, with the 1C sandbox behind it, on SQLite and PostgreSQL."""
    monkeypatch.setenv("ONEC_PASSWORD", "sandbox-secret")
    with OneCSandbox() as onec, TildaSandbox(retry_pause=0.05, api_key=API_KEY) as tilda:
        settings = tilda.source_settings()
        monkeypatch.setenv("TILDA_SECRET", settings["projects"][PROJECT]["secret"])
        monkeypatch.setenv("TILDA_API_KEY", API_KEY)
        monkeypatch.setenv("TILDA_1C_PASSWORD", settings["exchange"]["password"])
        settings["projects"][PROJECT].update(secret="${TILDA_SECRET}", api_key="${TILDA_API_KEY}")
        settings["exchange"]["password"] = "${TILDA_1C_PASSWORD}"
        warehouse = onec.job_options("stock")["venues"]["main"]  # type: ignore[index]
        config = {
            "state": {"url": state_url}, "system_of_record": "onec",
            "log": {"level": "INFO"}, "daemon": {"listen": "127.0.0.1:0", "poll": "1s"},
            "sources": {"onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}"},
                        "tilda": {"type": "tilda", **settings, "inbound": {"path": "/tilda"}}},
            "jobs": {
                "customers": {"type": "customers", "from": "onec"},
                "tilda-catalog": {"type": "catalog", "from": "onec", "to": "tilda"},
                "tilda-stock": {"type": "stock", "from": "onec", "to": "tilda",
                                "options": {"venues": {"main": warehouse}}},
                "tilda-prices": {"type": "prices", "from": "onec", "to": "tilda",
                                 "options": onec.job_options("prices")},
                "tilda-orders": {"type": "orders", "from": "tilda", "to": "onec", "schedule": {"every": "1h"}},
            },
        }
        path = tmp_path / "hub.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        stage = Stage(onec, tilda, path)
        for job in ("customers", "tilda-catalog"):
            assert stage.run(job)[0] == "succeeded"
        daemon = Daemon(load_config(path))
        tilda.attach(daemon.start() + "/tilda")
        try:
            yield stage
        finally:
            daemon.stop()


@pytest.mark.parametrize("shape", SHAPES)
def test_an_order_in_each_shape_lands_in_1c_once_despite_tildas_retries(stage: Stage, shape: Shape) -> None:
    stage.tilda.lose_answers = 2  # Tilda took hub's first two answers for too late: it posts three times

    cart = stage.tilda.place_order(shape)

    orderid = cart["payment"]["orderid"]
    assert [d.status for d in stage.tilda.deliveries] == [None, None, 200]
    [document] = wait_for(lambda: [d for d in stage.documents(orderid) if d["Posted"]], what="the posted 1C order")
    assert to_decimal(document["СуммаДокумента"]) == cart["payment"]["amount"]
    assert sorted(to_decimal(line["Количество"]) for line in document["Товары"]) == sorted(
        p["quantity"] for p in cart["payment"]["products"])
    assert stage.run("tilda-orders")[0] in ("succeeded", "partial")
    assert len(stage.documents(orderid)) == 1


def test_the_state_db_keeps_no_api_key_of_the_orders_it_took_nor_of_a_dead_letter(stage: Stage) -> None:
    carts = [stage.tilda.place_order(shape) for shape in SHAPES]
    unpriced = stage.tilda.cart([(sorted(stage.tilda.site.goods)[0], Decimal(1))])
    del unpriced["payment"]["amount"]  # its envelope holds; 1C's order needs the total, so decoding refuses it
    stage.tilda.post(unpriced, "form")

    orderids = [str(cart["payment"]["orderid"]) for cart in carts]
    wait_for(lambda: all(any(d["Posted"] for d in stage.documents(orderid)) for orderid in orderids),
             what="the posted 1C orders")
    with Runtime(load_config(stage.config)) as runtime:
        [letter] = wait_for(lambda: operations.dead_letters(runtime.store), what="the dead letter")
        with runtime.store.reading() as state:
            kept = [state.inbox.get(n) for n in range(1, state.inbox.count() + 1)]
        retried = operations.retry_dead_letters(runtime, [letter.id])
        with runtime.store.reading() as state:
            again = state.dead_letters.get(letter.id)
    shown = CliRunner().invoke(cli.main, ["--config", str(stage.config), "deadletters", "show", str(letter.id)])

    assert [item.status for item in kept if item is not None].count(InboxStatus.DONE) == len(SHAPES)
    assert all(API_KEY.encode() not in item.body + item.headers.encode() for item in kept if item is not None)
    assert API_KEY.encode() not in letter.payload and b"X-API-Key" in letter.payload
    assert shown.exit_code == 0 and "X-API-Key" in shown.output and API_KEY not in shown.output, shown.output
    assert retried and again is not None and again.attempts == 2 and "total" in again.reason, \
        "the replayed letter's kept body decodes again, to the same reason"


def test_received_times_are_forgotten_after_received_days_and_a_repeat_within_them_is_still_taken_once(
        stage: Stage) -> None:
    old, new = (stage.tilda.cart([(sorted(stage.tilda.site.goods)[0], Decimal(1))]) for _ in range(2))
    keys = [f"{PROJECT}:{cart['payment']['orderid']}" for cart in (old, new)]
    stage.tilda.post(old, "json")
    with Runtime(load_config(stage.config)) as runtime:
        with runtime.store.transaction() as state:  # the old order came 31 days ago (received_days is 30)
            state.conn.execute(update(t.channel_state).where(t.channel_state.c.key == keys[0]).values(
                updated_at=utcnow() - dt.timedelta(days=31)))
        stage.tilda.lose_answers = 1  # Tilda takes hub's first answer for lost: it posts the new order again
        stage.tilda.post(new, "json")
        with runtime.store.reading() as state:
            received = dict(state.channel_state.all("tilda", "received"))

    assert list(received) == [keys[1]], "the old order's time is forgotten with the new order's arrival"
    wait_for(lambda: [d for d in stage.documents(new["payment"]["orderid"]) if d["Posted"]],
             what="the posted 1C order")
    assert [d.status for d in stage.tilda.deliveries[-2:]] == [None, 200]
    assert stage.run("tilda-orders")[0] in ("succeeded", "partial")
    assert len(stage.documents(new["payment"]["orderid"])) == 1
    assert dt.datetime.fromisoformat(received[keys[1]]) <= utcnow()


def test_a_good_tilda_knows_only_by_its_sku_is_the_1c_good_of_that_article(stage: Stage) -> None:
    goods = [good for good in sorted(stage.tilda.site.goods.values(), key=lambda g: g.id) if good.article][:2]
    cart = stage.tilda.cart([(good.id, Decimal(1)) for good in goods])
    for product in cart["payment"]["products"]:
        product["externalid"] = ""   # made in Tilda by hand, its SKU 1C's article

    stage.tilda.post(cart, "json")

    [document] = wait_for(lambda: [d for d in stage.documents(cart["payment"]["orderid"]) if d["Posted"]],
                          what="the posted 1C order")
    assert len(goods) == 2
    assert sorted(line["Номенклатура_Key"] for line in document["Товары"]) == sorted(good.id for good in goods)


def test_the_connect_test_and_a_wrong_secret_store_nothing(stage: Stage) -> None:
    answer = stage.tilda.connect()
    wrong = requests.post(stage.tilda.webhook_url.rsplit("/", 1)[0] + "/not-the-secret-at-all",
                          json=stage.tilda.cart([]), timeout=5)

    assert (answer.status_code, answer.text) == (200, "ok")
    assert wrong.status_code == 401
    with Runtime(load_config(stage.config)) as runtime, runtime.store.reading() as state:
        assert state.inbox.count() == 0


def test_1c_stock_and_prices_reach_the_storefront_and_are_read_back(stage: Stage) -> None:
    for job in ("tilda-stock", "tilda-prices"):
        status, failed, errors = stage.run(job)
        assert (status, failed) == ("succeeded", 0), errors

    feed = stage.tilda.feed(size=1000)["products"]
    assert feed and all(p["price"] != "" for p in feed)
    assert {p["externalid"] for p in feed} == set(stage.tilda.site.stock)
    assert stage.tilda.site.history[-1].startswith("offers0_") and "offers: 0" not in stage.tilda.site.history[-1]
    with Runtime(load_config(stage.config)) as runtime:
        report = reconcile(runtime, source="tilda", entity=Entity.STOCK)
    assert report.findings == [] and sum(report.compared.values()) == len(feed)


def test_a_stock_push_tilda_says_success_to_but_does_not_apply_is_reported_not_applied(stage: Stage) -> None:
    stage.tilda.site.quirks = dataclass_replace(stage.tilda.site.quirks, update_stock=False)
    stage.tilda.site.stock.update((good, Decimal(999)) for good in stage.tilda.site.goods)  # set by hand once

    status, failed, errors = stage.run("tilda-stock")

    assert status != "succeeded" and failed > 0
    assert any("not applied" in error for error in errors)
    with Runtime(load_config(stage.config)) as runtime:
        report = reconcile(runtime, source="tilda", entity=Entity.STOCK)
    assert report.findings and {f.kind for f in report.findings} == {"stock_mismatch"}


def dataclass_replace(quirks: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(quirks, **changes)



def test_hub_export_writes_tildas_csv_from_1c_goods_prices_and_stock(stage: Stage, tmp_path: Path) -> None:
    from click.testing import CliRunner

    import cli

    target = tmp_path / "tilda.csv"
    result = CliRunner().invoke(cli.main, ["--config", str(stage.config), "export", "--source", "tilda",
                                           "--out", str(target)])
    refused = CliRunner().invoke(cli.main, ["--config", str(stage.config), "export", "--source", "onec"])

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8")), delimiter=";"))
    assert rows and f"{len(rows)} row(s) written" in result.output
    assert {row["External ID"] for row in rows} >= set(stage.tilda.site.goods)
    assert any(row["Price"] for row in rows) and any(row["Quantity"] for row in rows)
    assert refused.exit_code != 0 and "no import file" in refused.output and "Traceback" not in refused.output
