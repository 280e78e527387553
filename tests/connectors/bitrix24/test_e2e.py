"""End to end over real HTTP with a real state DB: 1C's counterparties and two channels' orders reach the
Bitrix24 sandbox as one contact per guest and a deal per order, within the portal's limits."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import cli
from connectors.bitrix24 import Bitrix24Sandbox
from connectors.bitrix24.sandbox import CONTACT, DEAL
from connectors.onec_odata import OneCSandbox
from connectors.testchannel import TestChannelSandbox
from hub.values import normalize_phone

pytestmark = pytest.mark.slow
COUNTERPARTIES = "Catalog_Контрагенты"


@dataclass
class Stage:
    onec: OneCSandbox
    site: TestChannelSandbox
    yandex: TestChannelSandbox
    crm: Bitrix24Sandbox
    config: Path

    def hub(self, *args: str) -> None:
        result = CliRunner().invoke(cli.main, ["--config", str(self.config), *args])
        assert result.exit_code == 0, result.output

    def deals(self, key: str) -> list[dict[str, Any]]:
        return [d for d in self.crm.items[DEAL].values() if d.get("ufCrmHubOrder") == key]


@pytest.fixture
def stage(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    monkeypatch.setenv("ONEC_PASSWORD", "sandbox-secret")
    monkeypatch.setenv("SHOP_TOKEN", "shop-secret")
    with OneCSandbox() as onec, TestChannelSandbox(token="shop-secret", seed=5) as site, \
            TestChannelSandbox(token="shop-secret", seed=6) as yandex, Bitrix24Sandbox(seed=3) as crm:
        monkeypatch.setenv("B24_WEBHOOK", crm.source_settings()["url"])
        retry = {"attempts": 12, "backoff": 0.05, "max_backoff": 0.2}
        channels = {"site": site, "yandex": yandex}
        config = {
            "state": {"url": state_url}, "system_of_record": "onec", "log": {"level": "WARNING"},
            "sources": {
                "onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}"},
                **{name: {"type": "testchannel", "url": shop.url, "token": "${SHOP_TOKEN}"}
                   for name, shop in channels.items()},
                "crm": {"type": "bitrix24", "url": "${B24_WEBHOOK}", "retry": retry},
            },
            "jobs": {
                "customers": {"type": "customers", "from": "onec", "to": "crm"},
                **{f"{name}-catalog": {"type": "catalog", "from": "onec", "to": name} for name in channels},
                **{f"{name}-orders": {"type": "orders", "from": name, "to": ["onec", "crm"],
                                      "options": {"create_customers": True}} for name in channels},
                "crm-statuses": {"type": "statuses", "from": "onec", "to": "crm"},
            },
        }
        path = tmp_path / "hub.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        yield Stage(onec, site, yandex, crm, path)


def guest(name: str, phone: str, email: str | None = None) -> dict[str, Any]:
    return {"customer": {"id": "g1", "name": name, "phone": phone, "email": email}}


def test_counterparties_and_two_channels_orders_become_one_contact_per_guest_and_a_deal_per_order(
        stage: Stage) -> None:
    stage.hub("sync", "--job", "site-catalog", "--job", "yandex-catalog")  # the channels' goods link to 1C's
    stage.crm.throttle_rate = 0.3  # a busy portal: 30% of answers are 429 or 503
    stage.hub("sync", "--job", "customers")
    with_phones = {normalize_phone(p["НомерТелефона"]) for row in stage.onec.rows(COUNTERPARTIES)
                   for p in row.get("КонтактнаяИнформация", []) if p.get("НомерТелефона")}
    contacts = stage.crm.items[CONTACT].values()
    assert {v["value"] for c in contacts for v in c["fm"] if v["typeId"] == "PHONE"} >= with_phones
    before = len(stage.crm.items[CONTACT])
    assert stage.crm.calls["batch"] == math.ceil(before / 1000) + math.ceil(before / 50), \
        "found 1000 a batch (20 phones a lookup), then written 50 a batch"

    on_site = stage.site.place_order(**guest("Олег Новиков", "+7 (925) 700-00-01", "oleg@example.ru"))
    by_yandex = stage.yandex.place_order(**guest("Олег", "89257000001"))
    again = stage.site.place_order(**guest("Олег", "+79257000001"))
    for job in ("site-orders", "yandex-orders", "site-orders"):
        stage.hub("sync", "--job", job)

    assert len(stage.crm.items[CONTACT]) == before + 1, "one new guest, one contact"
    [oleg] = [c for c in stage.crm.items[CONTACT].values()
              if any(v["value"] == "+79257000001" for v in c["fm"])]
    keys = [f"site:{on_site['id']}", f"yandex:{by_yandex['id']}", f"site:{again['id']}"]
    deals = [stage.deals(key) for key in keys]
    assert [len(d) for d in deals] == [1, 1, 1], "a deal per order"
    assert {d[0]["contactId"] for d in deals} == {oleg["id"]}
    assert stage.crm.over_limit == 0, "hub never ran over the portal's bucket"

    # The orders made Oleg a counterparty in 1C: the next customers run ties his contact to it, doubling nothing.
    stage.hub("sync", "--job", "customers")
    [oleg] = [c for c in stage.crm.items[CONTACT].values() if any(v["value"] == "+79257000001" for v in c["fm"])]
    assert oleg["ufCrmOnecCounterparty"] in {row["Ref_Key"] for row in stage.onec.rows(COUNTERPARTIES)}
    assert len(stage.crm.items[CONTACT]) == before + 1

    calls = sum(stage.crm.calls.values())
    stage.hub("sync", "--job", "customers")
    for job in ("site-orders", "yandex-orders"):
        stage.hub("sync", "--job", job)
    assert [len(stage.deals(key)) for key in keys] == [1, 1, 1], "runs again change nothing"
    assert stage.crm.calls.get("crm.item.add", 0) == len(stage.crm.items[CONTACT]) + len(stage.crm.items[DEAL])
    assert sum(stage.crm.calls.values()) == calls, "nothing changed, nothing sent"
    assert stage.crm.over_limit == 0


def test_1cs_status_of_any_channels_order_moves_its_deal_forward_only(stage: Stage) -> None:
    from tests.connectors.onec_odata.conftest import connect

    stage.hub("sync", "--job", "yandex-catalog")
    placed = stage.yandex.place_order(**guest("Ира", "+79250000042"))
    stage.hub("sync", "--job", "yandex-orders")
    [deal] = stage.deals(f"yandex:{placed['id']}")
    assert deal["stageId"] == "PREPARATION"  # paid: accepted

    def set_1c_status(status: str) -> None:
        [document] = [d for d in stage.onec.rows("Document_ЗаказКлиента")
                      if d["НомерПоДаннымКлиента"] == f"yandex:{placed['id']}"]
        connect(stage.onec).update("Document_ЗаказКлиента", document["Ref_Key"], {"Статус": status},
                                   data_version=document["DataVersion"])

    set_1c_status("КОтгрузке")                                        # the kitchen is done: ready
    stage.hub("sync", "--job", "crm-statuses")
    assert deal["stageId"] == "EXECUTING"
    set_1c_status("КОбеспечению")                                     # 1C went back: the deal does not
    stage.hub("sync", "--job", "crm-statuses")
    assert deal["stageId"] == "EXECUTING"
    set_1c_status("Закрыт")
    stage.hub("sync", "--job", "crm-statuses")
    assert deal["stageId"] == "WON"
