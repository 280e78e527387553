"""End to end over real HTTP with a real state DB: two channels' orders make one profile per guest, the segments
job puts guests in segments with dated events and writes only changes to the Bitrix24 sandbox's contacts, the
mailing export leaves out guests without consent, and forgetting a guest removes their personal data."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from click.testing import CliRunner, Result

import cli
from connectors.bitrix24 import Bitrix24Sandbox
from connectors.bitrix24.sandbox import CONTACT
from connectors.iiko import IikoSandbox
from connectors.onec_odata import OneCSandbox
from connectors.testchannel import TestChannelSandbox
from hub.guests import GuestProfile
from hub.state import open_store
from hub.values import utcnow

pytestmark = pytest.mark.slow
OLEG = "+79257000001"


@dataclass
class Stage:
    onec: OneCSandbox
    site: TestChannelSandbox
    yandex: TestChannelSandbox
    crm: Bitrix24Sandbox
    config: Path
    state_url: str

    def hub(self, *args: str) -> Result:
        result = CliRunner().invoke(cli.main, ["--config", str(self.config), *args])
        assert result.exit_code == 0, result.output
        return result

    def order(self, shop: TestChannelSandbox, phone: str, *, days_ago: int, consent: bool | None = None,
              email: str | None = None) -> dict[str, Any]:
        created = (utcnow() - dt.timedelta(days=days_ago)).replace(microsecond=0).isoformat()
        customer = {"id": f"g{phone[-4:]}", "name": "Олег Новиков", "phone": phone, "email": email,
                    "marketing_consent": consent}
        return shop.place_order(customer=customer, created_at=created, updated_at=created)

    def contact(self, phone: str) -> dict[str, Any]:
        [found] = [c for c in self.crm.items[CONTACT].values() if any(v["value"] == phone for v in c.get("fm", []))]
        return found

    def profiles(self) -> list[dict[str, Any]]:
        store = open_store(self.state_url)
        try:
            with store.reading() as state:
                return state.guests.page()
        finally:
            store.close()


@pytest.fixture
def stage(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    monkeypatch.setenv("ONEC_PASSWORD", "sandbox-secret")
    monkeypatch.setenv("SHOP_TOKEN", "shop-secret")
    with OneCSandbox() as onec, TestChannelSandbox(token="shop-secret", seed=5) as site, \
            TestChannelSandbox(token="shop-secret", seed=6) as yandex, Bitrix24Sandbox(seed=3) as crm:
        monkeypatch.setenv("B24_WEBHOOK", crm.source_settings()["url"])
        channels = {"site": site, "yandex": yandex}
        config = {
            "state": {"url": state_url}, "system_of_record": "onec", "log": {"level": "WARNING"},
            "sources": {
                "onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}"},
                **{name: {"type": "testchannel", "url": shop.url, "token": "${SHOP_TOKEN}"}
                   for name, shop in channels.items()},
                "crm": {"type": "bitrix24", "url": "${B24_WEBHOOK}"},
            },
            "jobs": {
                **{f"{name}-catalog": {"type": "catalog", "from": "onec", "to": name} for name in channels},
                **{f"{name}-orders": {"type": "orders", "from": name, "to": "onec",
                                      "options": {"create_customers": True}} for name in channels},
                "segments": {"type": "segments", "from": "onec", "to": "crm",
                             "options": {"export": "mailing.csv"}},
            },
        }
        path = tmp_path / "hub.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        here = Stage(onec, site, yandex, crm, path, state_url)
        here.hub("sync", "--job", "site-catalog", "--job", "yandex-catalog")
        yield here


def test_orders_from_two_channels_make_one_profile_updated_as_each_lands(stage: Stage) -> None:
    placed = [stage.order(stage.site, "+7 (925) 700-00-01", days_ago=3),
              stage.order(stage.yandex, "89257000001", days_ago=2)]
    stage.hub("sync", "--job", "site-orders", "--job", "yandex-orders")
    [profile] = stage.profiles()
    assert profile["orders"] == 2
    assert Decimal(profile["spend"]) == sum(Decimal(o["total"]) for o in placed)
    stage.hub("sync", "--job", "site-orders", "--job", "yandex-orders")  # nothing new: nothing counted again
    assert stage.profiles()[0]["orders"] == 2

    third = stage.order(stage.site, OLEG, days_ago=1)
    stage.hub("sync", "--job", "site-orders")
    [profile] = stage.profiles()
    assert profile["orders"] == 3
    assert Decimal(profile["spend"]) == sum(Decimal(o["total"]) for o in [*placed, third])
    shown = stage.hub("customers", "show", OLEG).output
    assert "site" in shown and "yandex" in shown and "average check" in shown
    top = stage.hub("customers", "top").output
    assert profile["guest"] in top and "█" * 40 in top, "the one guest spent most: the full bar"

    before = stage.profiles()
    assert "1 profile(s) rebuilt" in stage.hub("customers", "rebuild").output
    assert [GuestProfile.from_row(p) for p in stage.profiles()] == [GuestProfile.from_row(p) for p in before], \
        "counted in one by one = from the history"


def test_a_guest_falls_asleep_and_wakes_with_dated_events_and_the_crm_gets_only_changes(stage: Stage) -> None:
    for days_ago in (60, 50, 40):
        stage.order(stage.site, OLEG, days_ago=days_ago)
    stage.order(stage.yandex, "+79257000002", days_ago=1, consent=True, email="ira@example.ru")
    stage.hub("sync", "--job", "site-orders", "--job", "yandex-orders")

    stage.hub("sync", "--job", "segments")
    assert stage.contact(OLEG)["ufCrmHubSegments"] == "sleeping"
    assert stage.contact(OLEG)["ufCrmHubOrders"] == 3
    assert stage.contact("+79257000002")["ufCrmHubSegments"] == "new"
    segments = stage.hub("customers", "segments").output
    assert "sleeping" in segments and "+1" in segments
    [oleg] = [p["guest"] for p in stage.profiles() if p["orders"] == 3]
    assert stage.hub("customers", "segments", "--members", "sleeping").output.split()[-1] == oleg

    calls = sum(stage.crm.calls.values())
    stage.hub("sync", "--job", "segments")
    assert sum(stage.crm.calls.values()) == calls, "nothing changed, nothing written to the CRM"

    stage.order(stage.yandex, OLEG, days_ago=0)  # Oleg is back, through another channel
    stage.hub("sync", "--job", "yandex-orders", "--job", "segments")
    assert stage.contact(OLEG)["ufCrmHubSegments"] == ""
    assert stage.contact(OLEG)["ufCrmHubOrders"] == 4
    store = open_store(stage.state_url)
    try:
        with store.reading() as state:
            moves = state.guests.movements(utcnow() - dt.timedelta(days=1))
    finally:
        store.close()
    oleg = [(segment, entered) for _, segment, entered, _ in moves if segment == "sleeping"]
    assert oleg == [("sleeping", True), ("sleeping", False)]
    assert all(at.date() == utcnow().date() for *_, at in moves)


def test_the_mailing_export_leaves_out_guests_without_consent(stage: Stage) -> None:
    stage.order(stage.site, OLEG, days_ago=5, consent=False, email="oleg@example.ru")
    stage.order(stage.site, "+79257000002", days_ago=5, consent=True, email="ira@example.ru")
    stage.order(stage.yandex, "+79257000003", days_ago=5)  # the channel does not say: no consent
    stage.hub("sync", "--job", "site-orders", "--job", "yandex-orders", "--job", "segments")
    with (stage.config.parent / "mailing.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["phone"] for row in rows] == ["+79257000002"]
    assert rows[0]["email"] == "ira@example.ru" and rows[0]["orders"] == "1"


def test_the_mailing_export_is_an_xlsx_workbook_when_its_name_says_so_and_rewritten_only_on_change(
        stage: Stage) -> None:
    config = yaml.safe_load(stage.config.read_text(encoding="utf-8"))
    config["jobs"]["segments"]["options"]["export"] = "mailing.xlsx"
    stage.config.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    stage.order(stage.site, "+79257000002", days_ago=5, consent=True, email="ira@example.ru")
    stage.hub("sync", "--job", "site-orders", "--job", "segments")
    workbook = stage.config.parent / "mailing.xlsx"
    written = workbook.stat().st_mtime_ns

    rows = list(openpyxl.load_workbook(workbook, read_only=True).worksheets[0].iter_rows(values_only=True))
    stage.hub("sync", "--job", "segments")

    assert rows[0][:4] == ("first_name", "last_name", "phone", "email")
    assert [row[2] for row in rows[1:]] == ["+79257000002"]
    assert workbook.stat().st_mtime_ns == written   # nothing changed: the mailing service's file is left alone


def test_forget_removes_a_guests_personal_data_and_keeps_the_totals(stage: Stage) -> None:
    placed = stage.order(stage.site, OLEG, days_ago=5, email="oleg@example.ru")
    stage.hub("sync", "--job", "site-orders")
    said = stage.hub("customers", "forget", OLEG).output
    assert "onec: counterparty" in said and "site" in said

    result = CliRunner().invoke(cli.main, ["--config", str(stage.config), "customers", "show", OLEG])
    assert result.exit_code == 2 and "no customer" in result.output
    [profile] = stage.profiles()
    assert profile["guest"].startswith("anon:") and Decimal(profile["spend"]) == Decimal(placed["total"])
    store = open_store(stage.state_url)
    try:
        with store.reading() as state:
            payloads = state.outbox.payloads("orders", f"site:{placed['id']}")
            bodies = [item.body for item in state.inbox.named(placed["id"], "site")]
    finally:
        store.close()
    assert payloads and bodies
    for text in [*payloads, *(b.decode() for b in bodies)]:
        assert "7000001" not in text and "oleg@" not in text and "Олег" not in text


def test_the_segments_job_puts_iiko_loyalty_guests_in_the_categories_of_their_segments(stage: Stage) -> None:
    with IikoSandbox() as iiko:
        config = yaml.safe_load(stage.config.read_text())
        config["sources"]["iiko"] = {"type": "iiko", **iiko.source_settings(),
                                     "segment_categories": {"sleeping": "cat-sleeping", "regular": "cat-regular"}}
        config["jobs"]["iiko-segments"] = {"type": "segments", "from": "onec", "to": "iiko"}
        stage.config.write_text(yaml.safe_dump(config, allow_unicode=True))
        for days_ago in (60, 50, 40):
            stage.order(stage.site, OLEG, days_ago=days_ago)
        stage.hub("sync", "--job", "site-orders", "--job", "iiko-segments")
        assert iiko.guests_by_phone()[OLEG]["categories"] == {"cat-sleeping"}

        stage.order(stage.site, OLEG, days_ago=0)
        stage.hub("sync", "--job", "site-orders", "--job", "iiko-segments")
        assert iiko.guests_by_phone()[OLEG]["categories"] == set(), "awake: out of the sleeping category"
