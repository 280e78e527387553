"""``hub init`` against a 1C sandbox on an ephemeral port: the hub.yaml it writes passes ``hub check``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

import cli
from connectors.onec_odata import OneCSandbox
from hub.connector import Choice
from hub.errors import ConfigError
from hub.init import pick

PASSWORD = "sandbox-secret"


@pytest.fixture(scope="module")
def base() -> Iterator[OneCSandbox]:
    with OneCSandbox(password=PASSWORD) as sandbox:
        yield sandbox


def url(base: OneCSandbox) -> str:
    return str(base.source_settings()["url"])


def init(*args: str, user_input: str | None = None, password: str | None = PASSWORD) -> Result:
    return CliRunner(env={"ONEC_PASSWORD": password}).invoke(cli.main, ["init", *args], input=user_input)


def written_values(path: Path) -> dict[str, object]:
    return dict(yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]["onec"]["values"])


def test_with_flags_it_writes_the_references_by_name_and_hub_check_passes(base: OneCSandbox, tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    result = init("--url", url(base), "--user", "hub", "--output", str(config), "--yes",
                  "--organization", "ООО «Тверская»", "--warehouse", "Кухня кафе", "--price-type", "розничная",
                  "--partner", "Розничный покупатель", "--agreement", "Розничные продажи",
                  "--retail-customer", "Розничный покупатель", "--value", "contact_kinds.phone=Телефон контрагента")
    assert result.exit_code == 0, result.output
    expected = base.preset_values()
    del expected["contact_kinds"]["email"]  # the shipped presets write phones only
    assert written_values(config) == expected
    text = config.read_text(encoding="utf-8")
    assert "password: ${ONEC_PASSWORD}" in text and PASSWORD not in text
    assert "# Кухня кафе" in text, "each GUID has its name beside it"
    check = CliRunner(env={"ONEC_PASSWORD": PASSWORD}).invoke(cli.main, ["--config", str(config), "check"])
    assert check.exit_code == 0, check.output
    assert "1 of 1 source(s) ok" in check.output, "every reference is looked up in the base and found"


def test_it_asks_from_numbered_lists_and_takes_a_name_typed_instead(base: OneCSandbox, tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    answers = [url(base), "hub",
               "2",                     # organization: 1 ИП Смирнова…, 2 ООО «Тверская»
               "",                      # partner: the first, Розничный покупатель
               "Розничный покупатель",  # retail customer, typed among twenty counterparties
               "Оптовые продажи", "2",  # agreement: no such one, asked again
               "",                      # currency: RUB, the only one
               "2",                     # warehouse: Торговый зал магазина
               "2",                     # price type: Розничная
               "Телефон контрагента"]
    result = init("--output", str(config), user_input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "  2. ООО «Тверская»" in result.output
    assert "no item of Catalog_СоглашенияСКлиентами is named 'Оптовые продажи'" in result.output
    values = written_values(config)
    expected = base.preset_values()
    hall = next(row for row in base.rows("Catalog_Склады") if row["Description"] == "Торговый зал магазина")
    assert values["organization"] == expected["organization"]
    assert values["retail_customer"] == expected["retail_customer"]
    assert values["agreement"] == expected["agreement"]
    assert values["venues"] == {"main": {"warehouse": hall["Ref_Key"]}}
    assert values["price_type"] == expected["price_type"]
    assert values["contact_kinds"] == {"phone": expected["contact_kinds"]["phone"]}


def test_with_yes_it_names_every_reference_left_open_and_writes_nothing(base: OneCSandbox, tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    result = init("--url", url(base), "--user", "hub", "--output", str(config), "--yes")
    assert result.exit_code == 2
    assert "values.organization: pass --organization with one of 'ИП Смирнова Анна Сергеевна', 'ООО «Тверская»'" \
        in result.output
    assert "values.contact_kinds.phone: pass --value contact_kinds.phone=…" in result.output
    assert "values.currency" not in result.output, "the base's only currency is taken"
    assert not config.exists()


def test_a_misspelt_name_is_refused_with_the_nearest_one(base: OneCSandbox, tmp_path: Path) -> None:
    result = init("--url", url(base), "--user", "hub", "--output", str(tmp_path / "hub.yaml"), "--yes",
                  "--organization", "ООО Тверская")
    assert result.exit_code == 2
    assert "no item of Catalog_Организации is named 'ООО Тверская'; did you mean 'ООО «Тверская»'?" in result.output


def test_an_existing_file_is_kept_without_force(base: OneCSandbox, tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("version: 1\n", encoding="utf-8")
    refused = init("--url", url(base), "--user", "hub", "--output", str(config), "--yes")
    assert refused.exit_code == 2
    assert "already exists; hub init does not overwrite it" in refused.output
    assert config.read_text(encoding="utf-8") == "version: 1\n"
    forced = init("--url", url(base), "--user", "hub", "--output", str(config), "--yes", "--force",
                  "--organization", "ООО «Тверская»", "--partner", "Розничный покупатель",
                  "--agreement", "Розничные продажи", "--retail-customer", "Розничный покупатель",
                  "--warehouse", "Кухня кафе", "--price-type", "Розничная", "--value", "phone=Телефон контрагента")
    assert forced.exit_code == 0, forced.output
    assert written_values(config)["organization"] == base.preset_values()["organization"]


def test_without_the_password_in_its_variable_yes_stops_before_connecting(tmp_path: Path) -> None:
    result = init("--url", "http://127.0.0.1:1/trade", "--user", "hub", "--output", str(tmp_path / "hub.yaml"),
                  "--yes", password=None)
    assert result.exit_code == 2
    assert "environment variable ONEC_PASSWORD is not set" in result.output


def test_a_ref_key_beyond_a_long_list_is_taken_but_a_name_there_is_not() -> None:
    listed = Choice(("retail_customer",), "Catalog_Контрагенты", {"0b0c0d0e-0000-11f0-8000-00155d01c80a": "Белова"},
                    complete=False)
    beyond = "5a3c0e1e-0a1d-4c1e-8f00-0000000000ff"
    assert pick(listed, beyond.upper()) == beyond
    with pytest.raises(ConfigError, match="of the first 1 listed; give the Ref_Key of another"):
        pick(listed, "Розничный покупатель")
