"""What the sandbox publishes: entity sets, their properties, and the configurations (presets) behind them.

This is a description, not behaviour: :class:`SetSpec` says which properties a
catalog, document or register row has, and :func:`published_sets` lists the sets one
configuration (УТ 11, УНФ, Розница) publishes under its own names. It lives apart
from :mod:`.sandbox` so that the shape of the data can be read (and changed) without
wading through the HTTP side, and so that :mod:`._filter` can type-check
expressions against :class:`Prop` without importing the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    CATALOG = "Catalog"
    DOCUMENT = "Document"
    INFORMATION_REGISTER = "InformationRegister"
    ACCUMULATION_REGISTER = "AccumulationRegister"


@dataclass(frozen=True)
class Prop:
    """One property: ``type`` is guid, string, date, number, bool or int64."""

    name: str
    type: str
    length: int = 0
    """Fixed-length strings: 1C pads them with spaces to this length."""
    ref: str | None = None
    """For a ``…_Key`` property, the entity set it points to (``$expand``)."""


EDM = {"guid": "Edm.Guid", "string": "Edm.String", "date": "Edm.DateTime", "number": "Edm.Double",
       "bool": "Edm.Boolean", "int64": "Edm.Int64"}
DEFAULTS: dict[str, Any] = {"guid": None, "string": "", "date": None, "number": Decimal(0), "bool": False,
                            "int64": 0}


def by_name(props: Iterable[Prop]) -> dict[str, Prop]:
    return {p.name: p for p in props}


@dataclass(frozen=True)
class SetSpec:
    """An entity set as a configuration publishes it."""

    name: str
    kind: Kind
    props: tuple[Prop, ...] = ()
    tables: Mapping[str, tuple[Prop, ...]] = field(default_factory=dict)
    dimensions: tuple[Prop, ...] = ()
    resources: tuple[Prop, ...] = ()

    @property
    def all_props(self) -> dict[str, Prop]:
        """Every property of a row, the standard ones of the kind first."""
        standard = {
            Kind.CATALOG: (Prop("Ref_Key", "guid"), Prop("DataVersion", "string"), Prop("DeletionMark", "bool"),
                           Prop("Code", "string"), Prop("Description", "string"),
                           Prop("Parent_Key", "guid", ref=self.name), Prop("IsFolder", "bool"),
                           Prop("Predefined", "bool"), Prop("PredefinedDataName", "string")),
            Kind.DOCUMENT: (Prop("Ref_Key", "guid"), Prop("DataVersion", "string"), Prop("DeletionMark", "bool"),
                            Prop("Number", "string"), Prop("Date", "date"), Prop("Posted", "bool")),
            Kind.INFORMATION_REGISTER: (Prop("Period", "date"),),
            Kind.ACCUMULATION_REGISTER: (Prop("Recorder", "string"), Prop("Recorder_Type", "string"),
                                         Prop("Period", "date"), Prop("LineNumber", "int64"), Prop("Active", "bool"),
                                         Prop("RecordType", "string")),
        }[self.kind]
        return by_name((*standard, *self.dimensions, *self.resources, *self.props))

    @property
    def is_object(self) -> bool:
        return self.kind in (Kind.CATALOG, Kind.DOCUMENT)

    def table_props(self, table: str) -> dict[str, Prop]:
        """A tabular section's properties as its own entity set shows them: the owner's key first."""
        return {"Ref_Key": Prop("Ref_Key", "guid"), **by_name(self.tables[table])}


def complete(props: Mapping[str, Prop], row: dict[str, Any]) -> dict[str, Any]:
    """Fill the properties a row lacks with 1C's defaults, in place."""
    for name, prop in props.items():
        if name not in row:
            row[name] = DEFAULTS[prop.type]
    return row


def _ref(name: str, target: str) -> Prop:
    return Prop(f"{name}_Key", "guid", ref=target)


@dataclass(frozen=True)
class Preset:
    """Where one configuration keeps the café's data; names from the 1C fact sheet, §1.8."""

    warehouses: str
    order: str
    order_lines: str
    order_warehouse: str
    order_external_number: str
    """The order attribute hub writes the channel's order number to (the sandbox's choice; UNCERTAIN)."""
    stock: str
    stock_warehouse: str
    stock_resource: str
    price_type: str
    extra: tuple[str, ...] = ()
    catalogs: tuple[str, ...] = ()
    """Catalogs of this configuration alone that an order refers to, published with their names only."""
    order_props: tuple[Prop, ...] = ()
    """The configuration's own order attributes beyond the ones every preset has."""
    line_props: tuple[Prop, ...] = ()
    """Likewise for the order's lines."""


GOODS = "Catalog_Номенклатура"
CUSTOMERS = "Catalog_Контрагенты"
PRICE_TYPES = "Catalog_ВидыЦен"
PRICES = "InformationRegister_ЦеныНоменклатуры"
BARCODES = "InformationRegister_ШтрихкодыНоменклатуры"
SHOPS = "Catalog_Магазины"
UNITS = "Catalog_УпаковкиЕдиницыИзмерения"
ORGANIZATIONS = "Catalog_Организации"
CURRENCIES = "Catalog_Валюты"
CONTACT_KINDS = "Catalog_ВидыКонтактнойИнформации"
PARTNERS = "Catalog_Партнеры"
AGREEMENTS = "Catalog_СоглашенияСКлиентами"
RECEIPT_DOCUMENT = "Document_ПоступлениеТоваровУслуг"
"""The recorder of seeded stock receipts; not published, only named in ``Recorder_Type``."""

# The attributes of УТ 11's ЗаказКлиента a channel order fills (from the configuration's metadata as
# published; enum values travel as their names).
_UT11_ORDER = (_ref("Организация", ORGANIZATIONS), _ref("Партнер", PARTNERS), _ref("Соглашение", AGREEMENTS),
               _ref("Валюта", CURRENCIES), Prop("ХозяйственнаяОперация", "string"), Prop("Статус", "string"),
               Prop("ЦенаВключаетНДС", "bool"), Prop("ФормаОплаты", "string"), Prop("ДатаПоДаннымКлиента", "date"),
               Prop("ЖелаемаяДатаОтгрузки", "date"), Prop("АдресДоставки", "string"),
               # Attributes a base adds (an extension) to keep the receipts' fiscal attributes on the order.
               *(Prop(f"Чек{kind}{what}", kind_of) for kind in ("Предоплаты", "Расчета", "Возврата")
                 for what, kind_of in (("Номер", "string"), ("ФП", "string"), ("Дата", "date"))))
_UT11_LINE = (Prop("КоличествоУпаковок", "number"), Prop("СуммаРучнойСкидки", "number"),
              Prop("Склад_Key", "guid", ref="Catalog_Склады"), Prop("ВидЦены_Key", "guid", ref=PRICE_TYPES),
              Prop("Отменено", "bool"))
_UNF_ORDER = (_ref("Организация", ORGANIZATIONS), _ref("ВалютаДокумента", CURRENCIES),
              Prop("ДатаВходящегоДокумента", "date"), Prop("АдресДоставки", "string"))
_UNF_LINE = (Prop("СуммаСкидкиНаценки", "number"),)

PRESETS: dict[str, Preset] = {
    "ut11": Preset(warehouses="Catalog_Склады", order="Document_ЗаказКлиента", order_lines="Товары",
                   order_warehouse="Склад", order_external_number="НомерПоДаннымКлиента",
                   stock="AccumulationRegister_ТоварыНаСкладах", stock_warehouse="Склад", stock_resource="ВНаличии",
                   price_type="ВидЦены", order_props=_UT11_ORDER, line_props=_UT11_LINE,
                   catalogs=(PARTNERS, AGREEMENTS)),
    "unf": Preset(warehouses="Catalog_СтруктурныеЕдиницы", order="Document_ЗаказПокупателя", order_lines="Запасы",
                  order_warehouse="СтруктурнаяЕдиницаРезерв", order_external_number="НомерВходящегоДокумента",
                  stock="AccumulationRegister_ЗапасыНаСкладах", stock_warehouse="СтруктурнаяЕдиница",
                  stock_resource="Количество", price_type="ВидЦен", order_props=_UNF_ORDER, line_props=_UNF_LINE),
    # Розница's names are UNCERTAIN in the fact sheet; these follow УТ, its sibling on the same libraries.
    "retail": Preset(warehouses="Catalog_Склады", order="Document_ЧекККМ", order_lines="Товары",
                     order_warehouse="Склад", order_external_number="НомерЧекаККМ",
                     stock="AccumulationRegister_ТоварыНаСкладах", stock_warehouse="Склад", stock_resource="ВНаличии",
                     price_type="ВидЦены", extra=(SHOPS,)),
}


def published_sets(preset: Preset) -> list[SetSpec]:
    """The sets one configuration publishes, under its names."""
    warehouse_ref = _ref(preset.order_warehouse, preset.warehouses)
    return [
        SetSpec(GOODS, Kind.CATALOG, (Prop("Артикул", "string", length=25), Prop("Весовой", "bool"),
                                      Prop("СтавкаНДС", "string"), _ref("ЕдиницаИзмерения", UNITS),
                                      Prop("Комментарий", "string"))),
        SetSpec(UNITS, Kind.CATALOG),
        SetSpec(CUSTOMERS, Kind.CATALOG, (Prop("НаименованиеПолное", "string"), Prop("ИНН", "string", length=12),
                                          Prop("Комментарий", "string")),
                tables={"КонтактнаяИнформация": (Prop("LineNumber", "int64"), Prop("Тип", "string"),
                                                 _ref("Вид", CONTACT_KINDS), Prop("Представление", "string"),
                                                 Prop("НомерТелефона", "string"), Prop("АдресЭП", "string"))}),
        SetSpec(preset.warehouses, Kind.CATALOG, (Prop("ТипСклада", "string"),)),
        SetSpec(PRICE_TYPES, Kind.CATALOG, (Prop("ЦенаВключаетНДС", "bool"),)),
        *[SetSpec(name, Kind.CATALOG, (_ref("Склад", preset.warehouses),)) for name in preset.extra],
        # СистемаНалогообложения: where a base keeps its tax system is UNCERTAIN (see the company mappings); this
        # base has it on the card, so that the company on a receipt comes from 1C whole.
        SetSpec(ORGANIZATIONS, Kind.CATALOG, (Prop("НаименованиеПолное", "string"),
                                              Prop("ИНН", "string", length=12), Prop("КПП", "string", length=9),
                                              Prop("СистемаНалогообложения", "string")),
                tables={"КонтактнаяИнформация": (Prop("LineNumber", "int64"), Prop("Тип", "string"),
                                                 Prop("Представление", "string"))}),
        *[SetSpec(name, Kind.CATALOG) for name in (CURRENCIES, CONTACT_KINDS, *preset.catalogs)],
        SetSpec(preset.order, Kind.DOCUMENT,
                (_ref("Контрагент", CUSTOMERS), warehouse_ref, Prop(preset.order_external_number, "string"),
                 Prop("СуммаДокумента", "number"), Prop("Комментарий", "string"), *preset.order_props),
                tables={preset.order_lines: (Prop("Ref_Key", "guid"), Prop("LineNumber", "int64"),
                                             _ref("Номенклатура", GOODS), Prop("Количество", "number"),
                                             Prop("Цена", "number"), Prop("Сумма", "number"), *preset.line_props)}),
        SetSpec(PRICES, Kind.INFORMATION_REGISTER,
                dimensions=(_ref("Номенклатура", GOODS), _ref(preset.price_type, PRICE_TYPES)),
                resources=(Prop("Цена", "number"),)),
        SetSpec(BARCODES, Kind.INFORMATION_REGISTER, dimensions=(Prop("Штрихкод", "string"),),
                resources=(_ref("Номенклатура", GOODS),)),
        SetSpec(preset.stock, Kind.ACCUMULATION_REGISTER,
                dimensions=(_ref("Номенклатура", GOODS), _ref(preset.stock_warehouse, preset.warehouses)),
                resources=(Prop(preset.stock_resource, "number"),)),
    ]
