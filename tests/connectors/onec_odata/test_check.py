"""hub check against 1C's own description of itself: mapped fields and values: references, over real HTTP."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.onec_odata import OneCSandbox
from connectors.onec_odata.connector import EXAMPLE_REF, OneCConnector, OneCSettings
from connectors.onec_odata.metadata import record_types
from hub.config import bundled_mappings
from hub.connector import ConnectorContext
from hub.errors import ConfigError
from hub.model import Entity
from hub.values import zone

PRICE_TYPE_ELSEWHERE = "128b2f33-d23f-11f0-a24b-00155d01c80a"


@pytest.fixture(scope="module")
def onec() -> Iterator[OneCSandbox]:
    with OneCSandbox() as sandbox:
        yield sandbox


def connect(sandbox: OneCSandbox, mappings: Path | None = None, **values: Any) -> OneCConnector:
    settings = sandbox.source_settings()
    settings["values"] = {**settings["values"], **values}
    context = ConnectorContext(source="onec", timezone=zone("Europe/Moscow"), log=logging.getLogger("test"),
                               mappings=mappings)
    return OneCConnector(OneCSettings.model_validate({"type": "onec_odata", **settings}), context)


def misspelt(tmp_path: Path, file: str, old: str, new: str) -> tuple[Path, int]:
    """A copy of the bundled mappings with ``old`` replaced by ``new`` in ut11's ``file``; and its line."""
    shutil.copytree(bundled_mappings(), tmp_path / "mappings")
    path = tmp_path / "mappings" / "onec" / "ut11" / file
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(n for n, line in enumerate(lines, start=1) if old in line)
    lines[number - 1] = lines[number - 1].replace(old, new)
    path.write_text("".join(lines), encoding="utf-8")
    return tmp_path / "mappings", number


def problems_of(connector: OneCConnector) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        connector.check()
    return raised.value.problems


def test_the_shipped_preset_and_the_sandbox_agree(onec: OneCSandbox) -> None:
    detail = connect(onec).check()
    assert "with every field its mappings name" in detail
    assert "8 reference(s) in values found" in detail, "every reference the preset's mappings write is looked up"


def test_a_misspelt_field_read_is_named_with_its_line(onec: OneCSandbox, tmp_path: Path) -> None:
    mappings, line = misspelt(tmp_path, "catalog.in.yaml", "from: Артикул,", "from: Артикулл,")
    [problem] = problems_of(connect(onec, mappings))
    assert f"catalog.in.yaml:{line}:" in problem
    assert problem.endswith("mapping names Артикулл, which Catalog_Номенклатура lacks in this publication; "
                            "did you mean 'Артикул'?")


def test_a_field_written_that_1c_lacks_is_named_before_any_order(onec: OneCSandbox, tmp_path: Path) -> None:
    mappings, line = misspelt(tmp_path, "orders.out.yaml", "  СуммаДокумента:", "  СуммаДокументаИтого:")
    [problem] = problems_of(connect(onec, mappings))
    assert f"orders.out.yaml:{line}:" in problem
    assert "mapping names СуммаДокументаИтого, which Document_ЗаказКлиента lacks in this publication" in problem
    assert "did you mean 'СуммаДокумента'?" in problem


def test_a_misspelt_line_column_and_virtual_table_field_are_named(onec: OneCSandbox, tmp_path: Path) -> None:
    mappings, line = misspelt(tmp_path, "orders.out.yaml", "      Количество:", "      Колличество:")
    stock = mappings / "onec" / "ut11" / "stock.in.yaml"
    stock.write_text(stock.read_text(encoding="utf-8").replace("ВНаличииBalance", "ВНаличииОстаток"), "utf-8")
    problems = problems_of(connect(onec, mappings))
    assert len(problems) == 2
    assert any(f"orders.out.yaml:{line}:" in p and "mapping names Товары.Колличество, which "
               "Document_ЗаказКлиента_Товары lacks" in p for p in problems)
    assert any("mapping names ВНаличииОстаток, which AccumulationRegister_ТоварыНаСкладах lacks" in p
               for p in problems)


def test_a_misspelt_column_read_through_values_is_named(onec: OneCSandbox, tmp_path: Path) -> None:
    mappings, line = misspelt(tmp_path, "customers.in.yaml", "'НомерТелефона'", "'НомерТелефон'")
    [problem] = problems_of(connect(onec, mappings))
    assert f"customers.in.yaml:{line}:" in problem
    assert ("mapping names КонтактнаяИнформация.НомерТелефон, which Catalog_Контрагенты_КонтактнаяИнформация "
            "lacks in this publication; did you mean 'НомерТелефона'?") in problem


def test_a_values_reference_missing_in_the_base_is_named(onec: OneCSandbox) -> None:
    [problem] = problems_of(connect(onec, price_type=PRICE_TYPE_ELSEWHERE))
    assert "orders.out.yaml:" in problem
    assert (f"values.price_type: {PRICE_TYPE_ELSEWHERE} is not in Catalog_ВидыЦен of this base "
            "(the mapping writes it to Товары.ВидЦены_Key)") in problem


def test_a_values_reference_that_is_no_guid_is_named(onec: OneCSandbox) -> None:
    problems = problems_of(connect(onec, venues={"main": {"warehouse": "Кухня"}}))
    assert len(problems) == 2, "the order's warehouse and its lines' warehouse"
    assert all("values.venues.main.warehouse: Кухня is not a Ref_Key" in p and "of Catalog_Склады" in p
               for p in problems)


def test_what_job_options_name_is_looked_up_where_the_preset_reads_it(onec: OneCSandbox) -> None:
    connector = connect(onec)
    values = onec.preset_values()
    price_types = {values["price_type"], PRICE_TYPE_ELSEWHERE, "Розничная"}
    assert connector.unknown_references(Entity.PRICES, "price_type", price_types) == {
        PRICE_TYPE_ELSEWHERE: "is not in Catalog_ВидыЦен of this base",
        "Розничная": f"is not a Ref_Key (a GUID such as {EXAMPLE_REF}) of Catalog_ВидыЦен"}
    warehouse = values["venues"]["main"]["warehouse"]
    assert connector.unknown_references(Entity.STOCK, "warehouse", {warehouse, PRICE_TYPE_ELSEWHERE}) == {
        PRICE_TYPE_ELSEWHERE: "is not in Catalog_Склады of this base"}
    assert connector.unknown_references(Entity.CATALOG, "name", {"x"}) == {}, "not a reference: nothing to say"


def test_metadata_names_each_sets_fields_lines_and_references(onec: OneCSandbox) -> None:
    response = requests.get(onec.service_root + "$metadata", auth=(onec.username, onec.password), timeout=5)
    types = record_types(response.content)
    order = types["Document_ЗаказКлиента"]
    assert order.references["Контрагент_Key"] == "Catalog_Контрагенты"
    lines = order.fields["Товары"]
    assert lines is not None and lines.references["ВидЦены_Key"] == "Catalog_ВидыЦен"
    assert "Цена" in lines.fields
    assert "ВНаличии" in types["AccumulationRegister_ТоварыНаСкладах_RecordType"].fields


def test_a_company_field_the_base_lacks_is_said_not_refused(onec: OneCSandbox, tmp_path: Path) -> None:
    # A stock base may keep its tax system elsewhere than the shipped mapping reads it: hub check still passes,
    # saying what the company file or settings must give; the same misspelling in a goods mapping is refused.
    mappings, line = misspelt(tmp_path, "company.in.yaml", "from: СистемаНалогообложения", "from: СистемаНалогов")
    detail = connect(onec, mappings).check()
    assert f"company.in.yaml:{line}:" in detail and "СистемаНалогов" in detail and "company file" in detail
