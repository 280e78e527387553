"""The parser on synthetic files: every feature, every encoding, and how it reports what it cannot read."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.commerceml.items import (
    Counterparty,
    FileHeader,
    Group,
    Item,
    Offer,
    OrderDocument,
    PriceType,
    Problem,
    Property,
    RecordKind,
    Section,
    SectionKind,
    Unit,
    Warehouse,
)
from connectors.commerceml.parser import parse
from hub.errors import ProtocolError
from hub.model import OrderStatus, Payment, Product

from .conftest import MOSCOW, cml, line_of, read

T = TypeVar("T")

CLASSIFIER = """<Классификатор>
  <Ид>cls</Ид><Наименование>Классификатор</Наименование>
  <Группы>
    <Группа><Ид>g1</Ид><Наименование>Напитки</Наименование>
      <Группы>
        <Группа><Ид>g2</Ид><Наименование>Кофе</Наименование><ПометкаУдаления>true</ПометкаУдаления></Группа>
        <Группа><Ид>g3</Ид><Наименование>Чай</Наименование>
          <Группы><Группа><Ид>g4</Ид><Наименование>Зелёный</Наименование></Группа></Группы>
        </Группа>
      </Группы>
    </Группа>
    <Группа><Ид>g5</Ид><Наименование>Еда</Наименование></Группа>
  </Группы>
  <Свойства>
    <Свойство><Ид>p1</Ид><Наименование>Страна</Наименование><ТипЗначений>Справочник</ТипЗначений>
      <ВариантыЗначений>
        <Справочник><ИдЗначения>v1</ИдЗначения><Значение>Бразилия</Значение></Справочник>
        <Справочник><ИдЗначения>v2</ИдЗначения><Значение>Кения</Значение></Справочник>
      </ВариантыЗначений>
    </Свойство>
    <Свойство><Ид>p2</Ид><Наименование>Вес</Наименование><ТипЗначений>Число</ТипЗначений></Свойство>
  </Свойства>
  <ТипыЦен><ТипЦены><Ид>retail</Ид><Наименование>Розничная</Наименование><Валюта>руб</Валюта>
    <Налог><Наименование>НДС</Наименование><УчтеноВСумме>true</УчтеноВСумме></Налог></ТипЦены></ТипыЦен>
  <Склады><Склад><Ид>w1</Ид><Наименование>Главный</Наименование></Склад></Склады>
  <ЕдиницыИзмерения><ЕдиницаИзмерения><Ид>u1</Ид><НаименованиеКраткое>шт</НаименованиеКраткое><Код>796</Код>
    <НаименованиеПолное>Штука</НаименованиеПолное><МеждународноеСокращение>PCE</МеждународноеСокращение>
  </ЕдиницаИзмерения></ЕдиницыИзмерения>
</Классификатор>"""

GOOD = """<Товар>
      <Ид>{id}</Ид>
      <Штрихкод>4600000000001</Штрихкод>
      <Артикул>ESP-1</Артикул>
      <Наименование>{name}</Наименование>
      <БазоваяЕдиница Код="{code}" НаименованиеПолное="Штука" МеждународноеСокращение="PCE">{unit}</БазоваяЕдиница>
      <Группы><Ид>g2</Ид><Ид>g5</Ид></Группы>
      <Описание>Крепкий</Описание>
      <Картинка>import_files/a.jpg</Картинка>
      <Картинка>import_files/b.jpg</Картинка>
      <ЗначенияСвойств><ЗначенияСвойства><Ид>p1</Ид><Значение>v1</Значение></ЗначенияСвойства></ЗначенияСвойств>
      <СтавкиНалогов><СтавкаНалога><Наименование>НДС</Наименование><Ставка>{vat}</Ставка></СтавкаНалога>
      </СтавкиНалогов>
      <ЗначенияРеквизитов>
        <ЗначениеРеквизита><Наименование>ВидНоменклатуры</Наименование><Значение>Товар</Значение></ЗначениеРеквизита>
        <ЗначениеРеквизита><Наименование>ОписаниеФайла</Наименование><Значение>a</Значение></ЗначениеРеквизита>
        <ЗначениеРеквизита><Наименование>ОписаниеФайла</Наименование><Значение>b</Значение></ЗначениеРеквизита>
      </ЗначенияРеквизитов>
    </Товар>"""


def good(id: str = "espresso", name: str = "Эспрессо", unit: str = "шт", code: str = "796",
         vat: str = "20") -> str:
    return GOOD.format(id=id, name=name, unit=unit, code=code, vat=vat)


def catalog(*goods: str, only_changes: str = "false") -> str:
    return (f'<Каталог СодержитТолькоИзменения="{only_changes}"><Ид>cat</Ид><ИдКлассификатора>cls</ИдКлассификатора>'
            f"<Наименование>Каталог</Наименование>\n<Товары>\n{''.join(goods)}\n</Товары></Каталог>")


def offers(*offers: str, price_types: str = "", only_changes: str = "true", tag: str = "ПакетПредложений") -> str:
    return (f'<{tag} СодержитТолькоИзменения="{only_changes}"><Ид>pkg</Ид><Наименование>Пакет</Наименование>'
            f"<ИдКаталога>cat</ИдКаталога>{price_types}\n<Предложения>\n{''.join(offers)}\n</Предложения></{tag}>")


def offer(id: str = "p#v", price: str = "150.50", currency: str = "<Валюта>RUB</Валюта>",
          extra: str = "") -> str:
    return (f"<Предложение>\n<Ид>{id}</Ид>\n<Наименование>Латте</Наименование>\n"
            f"<Цены><Цена>\n<ИдТипаЦены>retail</ИдТипаЦены>\n<ЦенаЗаЕдиницу>{price}</ЦенаЗаЕдиницу>\n{currency}\n"
            f"</Цена></Цены>\n{extra}</Предложение>\n")


def of_type(found: Sequence[object], kind: type[T]) -> list[T]:
    return [item for item in found if isinstance(item, kind)]


# --- import files ---------------------------------------------------------------------------------------------


def test_classifier_groups_tree_properties_price_types_warehouses_units() -> None:
    found, report = read(cml(CLASSIFIER))
    assert isinstance(found[0], FileHeader) and found[0].schema_version == "2.10"
    assert found[1] == Section(SectionKind.CLASSIFIER, "cls", "Классификатор")
    assert of_type(found, Group) == [Group("g1", "Напитки"), Group("g2", "Кофе", "g1", deleted=True),
                                     Group("g3", "Чай", "g1"), Group("g4", "Зелёный", "g3"), Group("g5", "Еда")]
    assert of_type(found, Property) == [
        Property("p1", "Страна", "Справочник", {"v1": "Бразилия", "v2": "Кения"}),
        Property("p2", "Вес", "Число")]
    assert of_type(found, PriceType) == [PriceType("retail", "Розничная", "RUB", tax_included=True)]
    assert of_type(found, Warehouse) == [Warehouse("w1", "Главный")]
    assert of_type(found, Unit) == [Unit("u1", "796", "шт", "Штука", "PCE")]
    assert report.clean and report.records[RecordKind.GROUP] == 5


def test_goods_with_every_field() -> None:
    data = cml(CLASSIFIER + catalog(good(), good("tea", "Чай", "кг", "166", "Без НДС"), only_changes="true"))
    found, report = read(data)
    sections = of_type(found, Section)
    assert sections[1] == Section(SectionKind.CATALOG, "cat", "Каталог", "cls", only_changes=True)
    espresso, tea = of_type(found, Product)
    assert espresso == Product(
        id="espresso", article="ESP-1", name="Эспрессо", unit="шт", barcodes=["4600000000001"], group="g2",
        vat_rate=Decimal(20), attributes={
            "groups": ["g2", "g5"], "description": "Крепкий", "images": ["import_files/a.jpg", "import_files/b.jpg"],
            "properties": {"p1": ["v1"]}, "unit_code": "796",
            "requisites": {"ВидНоменклатуры": ["Товар"], "ОписаниеФайла": ["a", "b"]}})
    assert (tea.vat_rate, tea.vat_free, tea.weighed, tea.unit) == (None, True, True, "кг")
    assert not espresso.vat_free
    assert found.index(sections[1]) < found.index(espresso)  # a block's header comes before its records
    assert report.clean


@pytest.mark.parametrize("mark", ['<Товар Статус="Удален">', "<Товар><ПометкаУдаления>true</ПометкаУдаления>"])
def test_deletion_marks(mark: str) -> None:
    found, _ = read(cml(catalog(good().replace("<Товар>", mark, 1))))
    assert of_type(found, Product)[0].deleted


def test_a_good_without_a_name_takes_its_full_name_or_is_reported() -> None:
    body = good(name="").replace("<Наименование></Наименование>", "") + good("x", name="")
    body = body.replace("<ЗначенияРеквизитов>", "<ЗначенияРеквизитов><ЗначениеРеквизита><Наименование>"
                        "Полное наименование</Наименование><Значение>Эспрессо 30 мл</Значение></ЗначениеРеквизита>", 1)
    found, report = read(cml(catalog(body)))
    assert [product.name for product in of_type(found, Product)] == ["Эспрессо 30 мл"]
    assert report.skipped == {RecordKind.PRODUCT: 1} and report.problems[0].reason == "no Наименование"


# --- offers ---------------------------------------------------------------------------------------------------


PRICE_TYPES = ("<ТипыЦен><ТипЦены><Ид>retail</Ид><Наименование>Розничная</Наименование><Валюта>USD</Валюта>"
               "</ТипЦены></ТипыЦен><Склады><Склад><Ид>w1</Ид><Наименование>Главный</Наименование></Склад></Склады>")


def test_offers_prices_quantity_and_both_stock_shapes() -> None:
    attributes = ('<Количество>7</Количество><Склад ИдСклада="w1" КоличествоНаСкладе="4"/>'
                  '<Склад ИдСклада="w2" КоличествоНаСкладе="-3"/>')
    rests = ("<Остатки><Остаток><Склад><Ид>w1</Ид><Количество>2.5</Количество></Склад></Остаток>"
             "<Остаток><Склад><Ид>w2</Ид><Количество>0</Количество></Склад></Остаток></Остатки>")
    data = cml(offers(offer(extra=attributes), offer("p2", "99", currency="", extra=rests), price_types=PRICE_TYPES))
    found, report = read(data)
    assert of_type(found, Section)[0] == Section(SectionKind.OFFERS, "pkg", "Пакет", catalog_id="cat",
                                                  only_changes=True)
    variant, plain = of_type(found, Offer)
    assert (variant.product, variant.variant, variant.name) == ("p", "v", "Латте")
    assert [(p.price_type, p.amount, p.currency) for p in variant.prices] == [("retail", Decimal("150.50"), "RUB")]
    assert variant.quantity == 7
    assert [(s.product, s.warehouse, s.quantity) for s in variant.stock] == [("p#v", "w1", Decimal(4)),
                                                                                    ("p#v", "w2", Decimal(-3))]
    assert variant.stock[0].as_of == dt.datetime(2024, 3, 1, 10, tzinfo=MOSCOW)
    assert plain.variant is None
    assert plain.prices[0].currency == "USD"  # from the price type, as the offer leaves Валюта out
    assert [(s.warehouse, s.quantity) for s in plain.stock] == [("w1", Decimal("2.5")), ("w2", Decimal(0))]
    assert report.clean


def test_offer_changes_and_deletion() -> None:
    found, _ = read(cml(offers(offer(extra="<ПометкаУдаления>true</ПометкаУдаления>"),
                               tag="ИзмененияПакетаПредложений")))
    assert of_type(found, Offer)[0].deleted


def test_a_price_per_pack_is_kept_with_a_warning() -> None:
    data = cml(offers(offer(currency="<Валюта>RUB</Валюта><Коэффициент>10</Коэффициент>")))
    found, report = read(data)
    assert of_type(found, Offer)[0].prices[0].amount == Decimal("150.50")
    assert report.warning_count == 1 and "Коэффициент" in report.warnings[0].reason
    assert report.warnings[0].line == line_of(data, "Коэффициент")


# --- problems -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("broken", "marker", "reason"), [
    (offer("bad").replace("<Ид>bad</Ид>", ""), "<Предложение>", "no Ид"),
    (offer("bad", price="сто"), "<Предложение>", "ЦенаЗаЕдиницу is not a number: 'сто'"),
    (offer("bad", price="NaN"), "<Предложение>", "ЦенаЗаЕдиницу is not a finite number: 'NaN'"),
    (offer("bad").replace("<ИдТипаЦены>retail</ИдТипаЦены>", ""), "<Цены><Цена>", "a price without ИдТипаЦены"),
    (offer("bad", extra="<Количество>много</Количество>"), "<Предложение>", "Количество is not a number: 'много'"),
    (offer("bad", extra='<Склад КоличествоНаСкладе="1"/>'), "<Склад", "a Склад without ИдСклада"),
])
def test_an_offer_that_cannot_be_read_is_reported_and_the_rest_goes_on(broken: str, marker: str, reason: str) -> None:
    data = cml(offers(offer("first", extra="<Количество>1</Количество>"), broken, offer("last")))
    found, report = read(data)
    assert [item.id for item in of_type(found, Offer)] == ["first", "last"]
    problem = of_type(found, Problem)[0]
    assert problem == report.problems[0]
    assert (problem.kind, problem.reason, problem.file) == (RecordKind.OFFER, reason, "test.xml")
    assert problem.record == (None if reason == "no Ид" else "bad")
    lines = [number for number, text in enumerate(data.decode().splitlines(), start=1) if marker in text]
    broken_first_line = line_of(data, "</Предложение>") + 1
    assert problem.line == next(number for number in lines if number >= broken_first_line)
    assert report.skipped == {RecordKind.OFFER: 1} and report.records[RecordKind.OFFER] == 2
    assert str(problem).startswith(f"test.xml:{problem.line}: offer")


def test_goods_and_groups_without_id_are_reported() -> None:
    body = CLASSIFIER.replace("<Ид>g3</Ид>", "") + catalog(good(), good().replace("<Ид>espresso</Ид>", ""))
    data = cml(body)
    found, report = read(data)
    assert report.skipped == {RecordKind.GROUP: 1, RecordKind.PRODUCT: 1}
    group_problem, product_problem = of_type(found, Problem)
    assert group_problem.line == line_of(data, "<Наименование>Чай")
    assert of_type(found, Group)[2] == Group("g4", "Зелёный", None)  # the orphan keeps its place, not its parent
    assert product_problem.line == line_of(data, "</Товар>")  # where the second good begins
    assert product_problem.reason == "no Ид"


def test_xml_that_is_not_well_formed_stops_with_the_line() -> None:
    # The break sits a megabyte after the first offer, far past any read-ahead of lxml's (6.x reads a small
    # buffer whole before reporting anything), so what came before the break is taken on every lxml version.
    padding = " " * (1 << 20)
    data = cml(offers(offer("first"), padding, "<Предложение><Ид>x</Ид>\n</Предложения>"))
    parsed = parse(io.BytesIO(data), timezone=MOSCOW, name="offers.xml")
    taken: list[Item] = []
    with pytest.raises(ProtocolError, match=r"offers\.xml:\d+: not well-formed XML"):
        taken.extend(parsed)
    assert [item.id for item in of_type(taken, Offer)] == ["first"]


def test_a_parse_is_read_once() -> None:
    parsed = parse(io.BytesIO(cml("")), timezone=MOSCOW)
    list(parsed)
    with pytest.raises(RuntimeError, match="once"):
        iter(parsed)


# --- encodings, versions, namespaces --------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "bom", "declaration"), [
    ("UTF-8", False, True), ("UTF-8", True, True), ("UTF-8", True, False), ("UTF-8", False, False),
    ("windows-1251", False, True),
])
def test_encodings(encoding: str, bom: bool, declaration: bool) -> None:
    found, report = read(cml(catalog(good(name="Чай «Зелёный» №1")), encoding=encoding, bom=bom,
                             declaration=declaration))
    assert of_type(found, Product)[0].name == "Чай «Зелёный» №1"
    assert report.clean


@pytest.mark.parametrize(("version", "namespace"), [
    ("2.03", None), ("2.04", None), ("2.05", None), ("2.07", "urn:1C.ru:commerceml_2"),
    ("2.08", "urn:1C.ru:commerceml_210"), ("2.10", "urn:1C.ru:commerceml_2"), ("3.1", "urn:1C.ru:commerceml_3"),
])
def test_versions_and_namespaces_read_alike(version: str, namespace: str | None) -> None:
    found, _ = read(cml(catalog(good()), version=version, namespace=namespace))
    header = found[0]
    assert isinstance(header, FileHeader) and (header.schema_version, header.namespace) == (version, namespace)
    assert of_type(found, Product)[0].id == "espresso"


def test_a_bare_classifier_fragment() -> None:
    found, _ = read(CLASSIFIER.encode())
    assert isinstance(found[0], FileHeader) and found[0].schema_version is None
    assert len(of_type(found, Group)) == 5


# --- orders ---------------------------------------------------------------------------------------------------

DOCUMENT = """<Документ>
  <Ид>{id}</Ид><Номер>{id}</Номер><Дата>2024-03-01</Дата><ХозОперация>{operation}</ХозОперация>
  <Роль>Продавец</Роль><Валюта>руб</Валюта><Курс>1</Курс><Сумма>530.00</Сумма>
  <Контрагенты><Контрагент>
    <Ид>7#anna#</Ид><Наименование>Анна Смирнова</Наименование><Роль>Покупатель</Роль>
    <ПолноеНаименование>Анна Смирнова</ПолноеНаименование><Фамилия>Смирнова</Фамилия><Имя>Анна</Имя>
    <АдресРегистрации><Представление>Москва, Тверская 1</Представление></АдресРегистрации>
    <Контакты>
      <Контакт><Тип>Телефон мобильный</Тип><Значение>8 (916) 123-45-67</Значение></Контакт>
      <Контакт><Тип>Электронная почта</Тип><Значение>Anna@Example.ru</Значение></Контакт>
      <Контакт><Тип>Телефон рабочий</Тип><Значение>нет</Значение></Контакт>
    </Контакты>
  </Контрагент></Контрагенты>
  <Время>18:45:21</Время><Комментарий>Без сахара</Комментарий>
  <Товары>
    <Товар><Ид>latte</Ид><Наименование>Латте</Наименование><ЦенаЗаЕдиницу>180</ЦенаЗаЕдиницу>
      <Количество>2</Количество><Сумма>360.00</Сумма>
      <ЗначенияРеквизитов><ЗначениеРеквизита><Наименование>ТипНоменклатуры</Наименование><Значение>Товар</Значение>
      </ЗначениеРеквизита></ЗначенияРеквизитов></Товар>
    <Товар><Ид>cake</Ид><Наименование>Торт</Наименование><Цена>0.305</Цена><Количество>{quantity}</Количество>
      <Скидки><Скидка><Наименование>Скидка</Наименование><Сумма>0.02</Сумма></Скидка></Скидки></Товар>
  </Товары>
  <ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Метод оплаты</Наименование><Значение>Картой онлайн</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Заказ оплачен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Отменен</Наименование><Значение>{cancelled}</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Статус заказа</Наименование><Значение>[N] Принят</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Дата изменения статуса</Наименование><Значение>01.03.2024 19:00:05</Значение>
    </ЗначениеРеквизита>
  </ЗначенияРеквизитов>
</Документ>"""


def document(id: str = "101", operation: str = "Заказ товара", quantity: str = "<Количество>1.5</Количество>",
             cancelled: str = "false") -> str:
    body = DOCUMENT.format(id=id, operation=operation, quantity="{quantity}", cancelled=cancelled)
    return body.replace("<Количество>{quantity}</Количество>", quantity)


def test_an_order_document() -> None:
    found, report = read(cml(document(), version="2.05", namespace=None, encoding="windows-1251"), channel="site")
    (order_document,) = of_type(found, OrderDocument)
    order = order_document.order
    assert (order.channel, order.external_id, order.number) == ("site", "101", "101")
    assert order.created_at == dt.datetime(2024, 3, 1, 18, 45, 21, tzinfo=MOSCOW)
    assert order.updated_at == dt.datetime(2024, 3, 1, 19, 0, 5, tzinfo=MOSCOW)
    assert order.total == Decimal("530.00") and order.comment == "Без сахара"
    latte, cake = order.lines
    assert (latte.quantity, latte.unit_price, latte.sum) == (Decimal(2), Decimal(180), Decimal("360.00"))
    assert (cake.quantity, cake.unit_price, cake.discount, cake.sum) == (Decimal("1.5"), Decimal("0.305"),
                                                                         Decimal("0.02"), Decimal("0.44"))
    assert order.payments == [Payment(method="Картой онлайн", amount=Decimal("530.00"), paid=True)]
    assert order.status is OrderStatus.NEW
    customer = order.customer
    assert customer is not None
    assert (customer.first_name, customer.last_name) == ("Анна", "Смирнова")
    assert (customer.phones, customer.emails, customer.ids) == (["+79161234567"], ["anna@example.ru"],
                                                                {"site": "7#anna#"})
    (buyer,) = order_document.counterparties
    assert isinstance(buyer, Counterparty) and buyer.address == "Москва, Тверская 1" and buyer.role == "Покупатель"
    assert "Смирнова" not in repr(order_document)  # personal data stays out of logs
    assert order_document.line_requisites == [{"ТипНоменклатуры": ["Товар"]}, {}]
    assert report.warning_count == 1 and "Телефон рабочий" in report.warnings[0].reason


def test_a_cancelled_order() -> None:
    found, _ = read(cml(document(cancelled="true")))
    (order_document,) = of_type(found, OrderDocument)
    assert order_document.cancelled is True and order_document.order.status is OrderStatus.CANCELLED


@pytest.mark.parametrize(("quantity", "reason"), [
    ("", "order line cake: no Количество"),
    ("<Количество>полтора</Количество>", "order line cake: Количество is not a number: 'полтора'"),
])
def test_an_order_with_an_unreadable_line_is_reported_whole(quantity: str, reason: str) -> None:
    data = cml(document("1") + document("2", quantity=quantity) + document("3"))
    found, report = read(data)
    assert report.skipped == {RecordKind.DOCUMENT: 1}
    assert [d.order.external_id for d in of_type(found, OrderDocument)] == ["1", "3"]
    (problem,) = of_type(found, Problem)
    assert (problem.kind, problem.record, problem.reason) == (RecordKind.DOCUMENT, "2", reason)
    cake_lines = [n for n, text in enumerate(data.decode().splitlines(), start=1) if "<Ид>cake</Ид>" in text]
    assert problem.line == cake_lines[1]


def test_a_document_that_is_not_an_order_is_reported() -> None:
    found, report = read(cml(document(operation="Отпуск товара")))
    assert not of_type(found, OrderDocument)
    assert report.skipped == {RecordKind.DOCUMENT: 1}
    assert "Отпуск товара" in report.problems[0].reason


def test_the_xsd_spelling_of_the_operation() -> None:
    found, _ = read(cml(document(operation="ЗаказТовара")))
    assert len(of_type(found, OrderDocument)) == 1


def test_counterparties_file() -> None:
    body = """<Контрагенты СодержитТолькоИзменения="true"><Контрагент><Ид>c1</Ид>
      <Наименование>Ромашка</Наименование><ОфициальноеНаименование>ООО Ромашка</ОфициальноеНаименование>
      <ИНН>7700000000</ИНН><КПП>770001001</КПП><ПометкаУдаления>false</ПометкаУдаления></Контрагент></Контрагенты>"""
    found, report = read(cml(body, version="2.09"))
    assert of_type(found, Section) == [Section(SectionKind.COUNTERPARTIES, only_changes=True)]
    (party,) = of_type(found, Counterparty)
    assert (party.id, party.name, party.inn, party.kpp, party.deleted) == ("c1", "ООО Ромашка", "7700000000",
                                                                          "770001001", False)
    assert report.records[RecordKind.COUNTERPARTY] == 1


@given(st.decimals(min_value=-10**12, max_value=10**12, places=4, allow_nan=False, allow_infinity=False),
       st.sampled_from([".", ","]))
def test_prices_are_exact_decimals_in_either_decimal_mark(value: Decimal, mark: str) -> None:
    found, report = read(cml(offers(offer(price=format(value, "f").replace(".", mark)))))
    assert report.clean
    assert of_type(found, Offer)[0].prices[0].amount == value


def test_problems_cite_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "offers___1.xml"
    path.write_bytes(cml(offers(offer(price="x"))))
    parsed = parse(path, timezone=MOSCOW)
    list(parsed)
    with path.open("rb") as stream:
        opened = parse(stream, timezone=MOSCOW)
        list(opened)
    assert [str(problem).split(":")[0] for problem in parsed.report.problems + opened.report.problems] == \
        ["offers___1.xml", "offers___1.xml"]
