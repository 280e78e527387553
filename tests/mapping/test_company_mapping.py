"""The shipped presets' company mappings: 1C's organization card → the company on a receipt; and ``pick``, the
expression function that finds a tabular section's row by its kind."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.mapping import CompiledMapping, load_mapping
from hub.mapping._expr import FUNCTIONS
from hub.model import Company

from .conftest import REPO

PRESETS = ("ut11", "unf", "retail")
KINDS = ("Адрес", "Телефон", "АдресЭлектроннойПочты", "ВебСтраница", "Другое")


def company_mapping(preset: str) -> CompiledMapping:
    return load_mapping(REPO / "mappings" / "onec" / preset / "company.in.yaml")


def card(**more: Any) -> dict[str, Any]:
    """An organization as 1C's OData gives it (strings padded, empty attributes as "")."""
    return {"Ref_Key": "5a3c0e1e-0a1d-4c1e-8f00-000000000001", "Description": "ООО «Тверская»  ",
            "НаименованиеПолное": "Общество с ограниченной ответственностью «Тверская»", "ИНН": "7701234567 ",
            "КПП": "770101001", "СистемаНалогообложения": "УСНДоход",
            "КонтактнаяИнформация": [
                {"LineNumber": 1, "Тип": "Телефон", "Представление": "+7 495 000-00-00"},
                {"LineNumber": 2, "Тип": "ВебСтраница", "Представление": " https://tverskaya.example.ru"},
                {"LineNumber": 3, "Тип": "АдресЭлектроннойПочты", "Представление": "cheki@tverskaya.example.ru"}],
            **more}


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_reads_the_organization_card_into_the_company(preset: str) -> None:
    company = company_mapping(preset).apply(card())
    assert company == Company(inn="7701234567", kpp="770101001",
                              name="Общество с ограниченной ответственностью «Тверская»", tax_system="usn_income",
                              payment_address="https://tverskaya.example.ru", email="cheki@tverskaya.example.ru")


@pytest.mark.parametrize("preset", PRESETS)
def test_what_the_card_leaves_empty_or_cannot_tell_stays_empty_for_the_file_to_fill(preset: str) -> None:
    # A bare «Упрощенная» says neither income nor income less expenses: the company file must say which.
    company = company_mapping(preset).apply(card(НаименованиеПолное="", КПП="", СистемаНалогообложения="Упрощенная",
                                                 КонтактнаяИнформация=[]))
    assert company == Company(inn="7701234567", name="ООО «Тверская»")


@pytest.mark.parametrize(("word", "expected"), [("ОСН", "osn"), ("ОбщаяСистемаНалогообложения", "osn"),
                                                ("УСНДоходРасход", "usn_income_outcome"), ("Патент", "patent"),
                                                ("", None)])
def test_1cs_tax_system_words_become_the_cash_registers(word: str, expected: str | None) -> None:
    assert company_mapping("ut11").apply(card(СистемаНалогообложения=word)).tax_system == expected


rows = st.lists(st.fixed_dictionaries({"Тип": st.sampled_from(KINDS), "Представление": st.text(max_size=8)}),
                max_size=6)


@given(contacts=rows, kind=st.sampled_from(KINDS))
def test_pick_is_the_first_row_of_the_kind(contacts: list[dict[str, str]], kind: str) -> None:
    pick = FUNCTIONS["pick"].call
    expected = next((row["Представление"] for row in contacts if row["Тип"] == kind), None)
    assert pick(contacts, "Тип", kind, "Представление") == expected


@given(contacts=rows)
def test_the_mapped_email_is_the_first_email_row_trimmed(contacts: list[dict[str, str]]) -> None:
    company = company_mapping("unf").apply(card(КонтактнаяИнформация=contacts))
    first = next((row["Представление"].strip() for row in contacts if row["Тип"] == "АдресЭлектроннойПочты"), "")
    assert company.email == (first or None)


def test_pick_reads_nothing_from_no_list_and_refuses_a_scalar() -> None:
    pick = FUNCTIONS["pick"].call
    assert pick(None, "Тип", "ВебСтраница", "Представление") is None
    with pytest.raises(TypeError, match="pick needs a list"):
        pick("text", "Тип", "ВебСтраница", "Представление")
