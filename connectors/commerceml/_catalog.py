"""Reading the classifier (``Классификатор``) and the goods of the catalog (``Каталог/Товары/Товар``)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from connectors.commerceml._read import (
    LOCAL_NAMES,
    Context,
    Element,
    Unreadable,
    child,
    child_text,
    children,
    currency,
    first,
    flag,
    local,
    number,
    source_line,
    text,
    trusted,
    values,
)
from connectors.commerceml.items import Group, PriceType, Property, RecordKind, Unit, Warehouse
from hub.model import Product

KILOGRAM = "166"
"""OKEI code of the kilogram: goods counted in it are sold by weight."""
_WEIGHT_UNITS = frozenset({KILOGRAM, "кг", "kg"})


def deleted(element: Element, marked: str | None) -> bool:
    """Deleted in 1C: ``Статус="Удален"`` (2.04-2.07) or ``ПометкаУдаления`` true (2.08+)."""
    return element.get("Статус") == "Удален" or flag(marked) is True


def base_unit(element: Element) -> tuple[str | None, str | None]:
    """``БазоваяЕдиница`` as (name, OKEI code): ``<БазоваяЕдиница Код="796">шт</…>`` or 3.1's bare ``796``."""
    code = (element.get("Код") or "").strip() or None
    name = text(element)
    if name is None:
        name = (element.get("НаименованиеКраткое") or "").strip() or code
    return name, code


def read_product(element: Element, context: Context) -> Product:
    """A good of the catalog; CommerceML-only facts go to ``attributes`` (see :mod:`.items`)."""
    fields: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    barcodes: list[str] = []
    marked: str | None = None
    unit_code: str | None = None
    names = LOCAL_NAMES
    for part in element:  # a hot path of big import files: walked inline, without children()
        tag = part.tag
        if not isinstance(tag, str):
            continue
        tag = names.get(tag) or local(tag)
        if tag == "Ид":
            fields["id"] = text(part)
        elif tag == "Наименование":
            fields["name"] = text(part)
        elif tag == "Артикул":
            fields["article"] = text(part)
        elif tag == "Штрихкод":
            if code := text(part):
                barcodes.append(code)
        elif tag == "БазоваяЕдиница":
            unit, unit_code = base_unit(part)
            if unit:
                fields["unit"] = unit
        elif tag == "СтавкиНалогов":
            fields["vat_rate"], fields["vat_free"] = _vat(part, context, element)
        elif tag == "ПолноеНаименование":
            fields.setdefault("full_name", text(part))
        elif tag == "ПометкаУдаления":
            marked = text(part)
        else:
            _extra(tag, part, attributes)
    if not fields.get("id"):
        raise Unreadable("no Ид")
    full_name = fields.pop("full_name", None)
    if not fields.get("name"):
        fields["name"] = full_name or first(attributes.get("requisites", {}), "Полное наименование")
        if not fields["name"]:
            raise Unreadable("no Наименование")
    if unit_code:
        attributes["unit_code"] = unit_code
    groups = attributes.get("groups")
    unit = fields.get("unit", "pcs")
    # Every field is text, a Decimal or a list of text read above, so the model is built without validation.
    return trusted(Product, {
        "id": fields["id"], "article": fields.get("article"), "name": fields["name"], "unit": unit,
        "barcodes": barcodes, "group": groups[0] if groups else None, "vat_rate": fields.get("vat_rate"),
        "vat_free": fields.get("vat_free", False), "weighed": bool({unit_code, unit} & _WEIGHT_UNITS),
        "deleted": deleted(element, marked),
        "attributes": attributes})


def _extra(tag: str, part: Element, attributes: dict[str, Any]) -> None:
    """The facts of a good that go to ``Product.attributes``."""
    if tag == "Группы":
        attributes["groups"] = [group for name, node in children(part) if name == "Ид" and (group := text(node))]
    elif tag == "Описание":
        if description := text(part):
            attributes["description"] = description
    elif tag == "Картинка":
        if image := text(part):
            attributes.setdefault("images", []).append(image)
    elif tag == "ЗначенияСвойств":
        attributes["properties"] = values(part, "ЗначенияСвойства", "Ид")
    elif tag == "ЗначенияРеквизитов":
        attributes["requisites"] = values(part, "ЗначениеРеквизита", "Наименование")
    elif tag == "ХарактеристикиТовара":
        attributes["characteristics"] = characteristics(part)
    elif tag == "Изготовитель":
        if maker := child_text(part, "Наименование"):
            attributes["manufacturer"] = maker
    elif tag == "НомерВерсии":
        attributes["version"] = text(part)


def _vat(element: Element, context: Context, product: Element) -> tuple[Decimal | None, bool]:
    """The VAT rate of ``СтавкиНалогов`` in percent, and whether the good is sold without VAT ("Без НДС"): a rate
    of None and False when the good names none."""
    for tag, rate in children(element):
        if tag != "СтавкаНалога" or "НДС" not in (child_text(rate, "Наименование") or "НДС").upper():
            continue
        raw = child_text(rate, "Ставка")
        if raw is None:
            return None, False
        if "без" in raw.lower():
            return None, True
        try:
            return number(raw.rstrip("%").strip(), "Ставка"), False
        except Unreadable as exc:
            context.warn(RecordKind.PRODUCT, child_text(product, "Ид"), source_line(rate), f"VAT ignored: {exc.reason}")
            return None, False
    return None, False


def characteristics(element: Element) -> dict[str, str]:
    """``ХарактеристикиТовара``: characteristic name → value (size → 43)."""
    found: dict[str, str] = {}
    for tag, item in children(element):
        if tag == "ХарактеристикаТовара" and (name := child_text(item, "Наименование")):
            found[name] = child_text(item, "Значение") or ""
    return found


def read_groups(element: Element, parent: str | None) -> Iterator[Group | Unreadable]:
    """A top-level ``Группа`` and its subgroups, parents first; an :class:`Unreadable` for a group without Ид."""
    group_id = child_text(element, "Ид")
    if group_id is None:
        yield Unreadable("no Ид", source_line(element))
    else:
        yield Group(group_id, child_text(element, "Наименование") or "", parent,
                    deleted(element, child_text(element, "ПометкаУдаления")), source_line(element))
    nested = child(element, "Группы")
    if nested is not None:
        for tag, sub in children(nested):
            if tag == "Группа":
                yield from read_groups(sub, group_id)


def read_property(element: Element) -> Property:
    """A ``Свойство`` of the classifier with its ``Справочник`` values."""
    property_id = child_text(element, "Ид")
    if property_id is None:
        raise Unreadable("no Ид")
    options: dict[str, str] = {}
    variants = child(element, "ВариантыЗначений")
    if variants is not None:
        for tag, item in children(variants):
            if tag == "Справочник" and (value_id := child_text(item, "ИдЗначения")):
                options[value_id] = child_text(item, "Значение") or ""
    return Property(property_id, child_text(element, "Наименование") or "", child_text(element, "ТипЗначений"),
                    options, deleted(element, child_text(element, "ПометкаУдаления")), source_line(element))


def read_price_type(element: Element) -> PriceType:
    """A ``ТипЦены`` of ``ТипыЦен`` (in the offers package, or the 2.08+ classifier)."""
    type_id = child_text(element, "Ид")
    if type_id is None:
        raise Unreadable("no Ид")
    tax = child(element, "Налог")
    raw_currency = child_text(element, "Валюта")
    return PriceType(type_id, child_text(element, "Наименование"), currency(raw_currency) if raw_currency else None,
                     flag(child_text(tax, "УчтеноВСумме")) if tax is not None else None,
                     deleted(element, child_text(element, "ПометкаУдаления")), source_line(element))


def read_warehouse(element: Element) -> Warehouse:
    """A ``Склад`` of ``Склады``."""
    warehouse_id = child_text(element, "Ид")
    if warehouse_id is None:
        raise Unreadable("no Ид")
    return Warehouse(warehouse_id, child_text(element, "Наименование"),
                     deleted(element, child_text(element, "ПометкаУдаления")), source_line(element))


def read_unit(element: Element) -> Unit:
    """A ``ЕдиницаИзмерения`` of the classifier."""
    unit = Unit(child_text(element, "Ид"), child_text(element, "Код"), child_text(element, "НаименованиеКраткое"),
                child_text(element, "НаименованиеПолное"), child_text(element, "МеждународноеСокращение"),
                source_line(element))
    if unit.id is None and unit.code is None:
        raise Unreadable("neither Ид nor Код")
    return unit
