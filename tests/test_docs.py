"""The connector docs say what the code does: the README's table lists every connector that ships, docs/onec.md
lists exactly the objects each preset needs, and each connector's page names every one of its settings."""

from __future__ import annotations

import logging
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from connectors.onec_odata import OneCSandbox
from connectors.onec_odata.connector import OneCConnector, OneCSettings
from hub.config import bundled_mappings
from hub.connector import ConnectorContext
from hub.plugins import CONNECTOR_GROUP
from hub.registry import connector_types
from hub.settings import SourceSettings
from hub.values import zone

ROOT = Path(__file__).resolve().parent.parent
PRESETS = sorted(p.name for p in (bundled_mappings() / "onec").iterdir() if p.is_dir() and not p.name.startswith("_"))


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The cells of each body row of the first table under ``heading``."""
    section = text.split(heading, 1)[1]
    rows: list[list[str]] = []
    for line in section.splitlines()[1:]:
        if rows and not line.startswith("|"):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows[1:]  # the header


def preset_connector(preset: str) -> OneCConnector:
    """The 1C connector of ``preset`` as hub builds it (nothing is connected to)."""
    settings = OneCSettings(type="onec_odata", url="http://127.0.0.1:1/trade", username="hub", password="-",
                            preset=preset, values=OneCSandbox(presets=(preset,)).preset_values())
    return OneCConnector(settings, ConnectorContext("onec", zone("Europe/Moscow"), logging.getLogger("test")))


def test_the_readme_lists_every_connector_that_ships() -> None:
    listed = [row[0].strip("`") for row in table_rows((ROOT / "README.md").read_text(encoding="utf-8"),
                                                      "## Connectors")]
    assert sorted(listed) == sorted(point.name for point in entry_points(group=CONNECTOR_GROUP))


@pytest.mark.parametrize("preset", PRESETS)
def test_the_1c_page_lists_exactly_the_objects_and_values_each_preset_needs(preset: str) -> None:
    text = (ROOT / "docs" / "onec.md").read_text(encoding="utf-8")
    connector = preset_connector(preset)
    objects = next(row for row in table_rows(text, "What each preset needs") if row[0] == f"`{preset}`")
    assert re.findall(r"`([^`]+)`", objects[1]) == connector.required_objects()
    values = next(row for row in table_rows(text, "Publish also the catalogs") if row[0] == f"`{preset}`")
    needed = {"values." + ".".join(map(str, use.config)) for m in connector.mappings.values() for use in m.config_uses}
    assert set(re.findall(r"`([^`]+)`", values[1])) == needed


@pytest.mark.parametrize(("page", "types"), [("onec.md", ["onec_odata"]), ("iiko.md", ["iiko"]),
                                             ("commerceml.md", ["commerceml_1c", "commerceml_site"]),
                                             ("tilda.md", ["tilda"]),
                                             ("onec_soap.md", ["onec_soap"]),
                                             ("fiscal.md", ["atol", "orangedata"]),
                                             ("bitrix24.md", ["bitrix24"])])
def test_each_connector_page_names_every_setting(page: str, types: list[str]) -> None:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    common = set(SourceSettings.model_fields)
    for type_name in types:
        own = set(connector_types()[type_name].settings_model.model_fields) - common
        assert {name for name in own if f"`{name}`" not in text} == set(), f"{page} misses settings of {type_name}"
