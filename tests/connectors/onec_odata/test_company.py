"""The organization's card over real HTTP: the 1C sandbox serves it like 1C, and each preset reads it as the company
on receipts; the goods' VAT and units as the receipts take them."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from connectors.onec_odata import OneCSandbox
from connectors.onec_odata._schema import GOODS, ORGANIZATIONS
from connectors.onec_odata.connector import OneCConnector, OneCSettings
from hub.config import bundled_mappings
from hub.connector import ConnectorContext
from hub.errors import ConfigError
from hub.model import Company, Entity, Product
from hub.testing.acceptance import RecordingClock
from hub.values import zone

from .conftest import connect as client_of
from .test_connector import connect, read_all, settings_for

TVERSKAYA = Company(inn="5544332219", kpp="770101001", name="Общество с ограниченной ответственностью «Тверская»",
                    tax_system="osn", payment_address="https://tverskaya.example.ru",
                    email="cheki@tverskaya.example.ru")


@pytest.mark.parametrize("preset", ["ut11", "unf", "retail"])
def test_each_preset_reads_the_organization_it_writes_orders_under(preset: str) -> None:
    with OneCSandbox(presets=(preset,)) as onec:
        assert read_all(connect(settings_for(onec, preset=preset)), Entity.COMPANY) == [TVERSKAYA]


def test_the_organization_named_in_values_is_the_one_read(onec: OneCSandbox) -> None:
    values = onec.preset_values()
    smirnova = onec.rows(ORGANIZATIONS)[1]["Ref_Key"]
    company, = read_all(connect(settings_for(onec, values={**values, "organization": smirnova})), Entity.COMPANY)
    assert (company.inn, company.tax_system, company.email, company.payment_address) == (
        "771234567890", "patent", "smirnova.ip@example.ru", None)


def test_without_an_organization_in_values_no_company_is_read() -> None:
    # Розница's receipts name no organization, so its values may leave it out: the company file gives it all.
    with OneCSandbox(presets=("retail",)) as onec:
        values = {key: value for key, value in onec.preset_values().items() if key != "organization"}
        assert read_all(connect(settings_for(onec, preset="retail", values=values)), Entity.COMPANY) == []


def test_an_organization_not_in_the_base_is_one_line_with_the_way_out(onec: OneCSandbox) -> None:
    unknown = "5a3c0e1e-0a1d-4c1e-8f00-0000000000ff"
    settings = settings_for(onec, values={**onec.preset_values(), "organization": unknown})
    with pytest.raises(ConfigError) as raised:
        read_all(connect(settings), Entity.COMPANY)
    assert raised.value.problems == [
        f"values.organization of source 'onec': {unknown} is not in Catalog_Организации of this base"]
    assert raised.value.hint is not None and "Ref_Key" in raised.value.hint


def test_the_sandbox_serves_the_card_by_key_with_select_and_1cs_404(onec: OneCSandbox) -> None:
    client = client_of(onec)
    ref = onec.preset_values()["organization"]
    assert client.get(ORGANIZATIONS, ref, select=["ИНН", "КПП"]) == {"ИНН": "5544332219", "КПП": "770101001"}
    row = client.get(ORGANIZATIONS, ref)
    assert row is not None and [line["Тип"] for line in row["КонтактнаяИнформация"]] == [
        "Адрес", "ВебСтраница", "АдресЭлектроннойПочты"]
    assert client.get(ORGANIZATIONS, "5a3c0e1e-0a1d-4c1e-8f00-0000000000ff") is None  # 1C's error 9, a 404


def test_goods_say_without_vat_and_weighed_ones_are_in_kilograms(onec: OneCSandbox) -> None:
    goods = [good for good in read_all(connect(settings_for(onec)), Entity.CATALOG) if isinstance(good, Product)]
    free = [good.name for good in goods if good.vat_free]
    assert free == [row["Description"] for row in onec.rows(GOODS) if row.get("СтавкаНДС") == "БезНДС"] != []
    assert all(good.vat_rate is None for good in goods if good.vat_free)
    assert {good.unit for good in goods if good.weighed} == {"kg"}


def test_a_preset_copied_before_the_company_mapping_reads_none_and_still_loads(onec: OneCSandbox,
                                                                              tmp_path: Path) -> None:
    # An integrator's own preset, copied from ut11 before company.in.yaml shipped: hub starts and reads no company,
    # and the cash register's company file or settings give it.
    shutil.copytree(bundled_mappings(), tmp_path, dirs_exist_ok=True)
    (tmp_path / "onec" / "ut11" / "company.in.yaml").unlink()
    context = ConnectorContext(source="onec", timezone=zone("Europe/Moscow"), log=logging.getLogger("test"),
                               mappings=tmp_path, clock=RecordingClock())
    connector = OneCConnector(OneCSettings.model_validate(settings_for(onec)), context)
    assert ORGANIZATIONS not in connector.required_objects()
    assert read_all(connector, Entity.COMPANY) == []
    assert read_all(connector, Entity.CATALOG), "the rest of the preset works as before"
