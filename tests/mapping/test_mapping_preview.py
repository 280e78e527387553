"""``hub mappings preview``: input, result and every failed field with its reason, for JSON and XML."""

from __future__ import annotations

from pathlib import Path

from hub.mapping import preview

from .conftest import write_mapping

OUT = """
system: onec
skip_when: comment == 'skip me'
fields:
  Склад_Key: {config: venues.main.warehouse}
  Сумма: {from: total, transform: money}
  Телефон: {from: customer.phones.0, transform: phone, required: true}
  Товары:
    each: lines
    fields:
      Номенклатура_Key: {from: product, transform: {lookup: {entity: catalog, system: shop, on_missing: drop}}}
      Количество: {from: quantity, transform: integer}
"""


def test_json_preview_shows_input_result_and_every_failure(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, OUT, "orders.out.yaml")
    payload = tmp_path / "order.json"
    payload.write_text('{"total": "99.5", "customer": {"phones": []}, "lines": ['
                       '{"product": "p1", "quantity": 2}, {"product": "p2", "quantity": "1.5"}, '
                       '{"product": "p3", "quantity": 1}]}', encoding="utf-8")
    text, ok = preview(mapping, payload, links={"shop:catalog:p1": "ref-1", "p2": "ref-2"})
    assert not ok
    assert text.startswith(f"Mapping {mapping} (onec orders out)\n\nInput ({payload}):\n{{\n")
    assert text.endswith(
        'Result:\n{\n  "Склад_Key": "<config:venues.main.warehouse>",\n  "Сумма": 99.50,\n'
        '  "Товары": [\n    {\n      "Количество": 2,\n      "Номенклатура_Key": "ref-1"\n    },\n'
        '    {\n      "Номенклатура_Key": "ref-2"\n    }\n  ]\n}\n\n'
        "Left out (on_missing: drop):\n"
        "  Товары[2]: no id link for catalog 'p3' from shop\n\n"
        "Failed fields (2):\n"
        "  Телефон: required, but the input has no 'customer.phones.0'\n"
        "  Товары[1].Количество: integer: not a whole number: '1.5'")


def test_a_clean_preview_is_ok_and_says_so(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, OUT, "orders.out.yaml")
    payload = tmp_path / "orders.json"
    payload.write_text('[{"total": 1, "customer": {"phones": ["89991234567"]}, "lines": []},'
                       ' {"comment": "skip me"}]', encoding="utf-8")
    text, ok = preview(mapping, payload)
    assert ok
    assert f"Input ({payload}, record 1 of 2):" in text
    assert '"Телефон": "+79991234567"' in text
    assert "Every field mapped." in text
    assert text.endswith("Skipped: skip_when \"comment == 'skip me'\" is true for this record.")


def test_xml_preview(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, """
        system: site
        fields:
          id: "@Ид"
          name: {from: Наименование, transform: trim}
          unit: {from: БазоваяЕдиница.@НаименованиеПолное, transform: lower}
          deleted: {from: ПометкаУдаления, transform: boolean, default: false}
        """, "catalog.in.yaml")
    payload = tmp_path / "product.xml"
    payload.write_text('<Товар Ид="g-1"><Наименование> Чай </Наименование>'
                       '<БазоваяЕдиница НаименованиеПолное="Штука">796</БазоваяЕдиница>'
                       '<ПометкаУдаления>может быть</ПометкаУдаления></Товар>', encoding="utf-8")
    text, ok = preview(mapping, payload)
    assert not ok
    assert '<Наименование> Чай </Наименование>' in text
    assert '"name": "Чай"' in text and '"unit": "штука"' in text
    assert text.endswith("Failed fields (1):\n  deleted: boolean: not a yes/no value: 'может быть' "
                         "(expected true/false, 1/0 or yes/no)")


def test_preview_of_a_broken_mapping_lists_its_problems(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, "system: a\nfields: {X: {from: total, transform: kopeks}}\n", "orders.out.yaml")
    text, ok = preview(mapping, tmp_path / "absent.json")
    assert not ok
    assert text == (f"{mapping} has problems:\n  {mapping}:2:38: fields.X.transform: unknown transform 'kopeks' "
                    "(did you mean 'kopecks'?)")


def test_preview_of_unreadable_input(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, "system: a\nfields: {X: total}\n", "orders.out.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert preview(mapping, tmp_path / "absent.json") == (f"{tmp_path / 'absent.json'}: cannot read: "
                                                          "No such file or directory", False)
    text, ok = preview(mapping, bad)
    assert not ok and text.startswith(f"{bad}: invalid JSON: ")
