"""The café-and-shop the 1C sandbox starts with: goods in groups, customers, warehouses, prices, barcodes, stock.

Plain data, independent of any 1C configuration's names: the sandbox's presets
(УТ 11, УНФ, Розница) lay it out under their own entity sets. Deterministic for a
given seed, so tests can rely on counts and on particular goods.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

# group, weighed, where it is kept ("cafe", "shop" or "both"), items as (name, SKU stem, price per unit or kg)
_CATALOGUE: list[tuple[str, bool, str, list[tuple[str, str, str]]]] = [
    ("Кофе", False, "cafe", [(f"{drink} {size} мл", f"{stem}-{size}", str(price + extra))
                             for drink, stem, price in [("Эспрессо", "ESP", 120), ("Американо", "AME", 140),
                                                        ("Капучино", "CAP", 180), ("Латте", "LAT", 190),
                                                        ("Раф", "RAF", 230), ("Флэт уайт", "FLW", 210),
                                                        ("Мокко", "MOK", 220), ("Какао", "KAK", 170)]
                             for size, extra in [(200, 0), (300, 30), (400, 60)]]),
    ("Чай", False, "cafe", [(f"Чай {kind} {size} мл", f"TEA{n}-{size}", str(price))
                            for n, (kind, base) in enumerate([("чёрный", 150), ("зелёный", 150), ("улун", 190),
                                                              ("травяной", 170), ("облепиховый", 220),
                                                              ("имбирный", 230)])
                            for size, price in [(300, base), (500, base + 70)]]),
    ("Выпечка", False, "both", [(name, f"BAK-{n:02d}", price) for n, (name, price) in enumerate([
        ("Круассан классический", "120"), ("Круассан миндальный", "145"), ("Круассан с ветчиной и сыром", "210"),
        ("Синнабон", "190"), ("Пирожок с капустой", "75"), ("Пирожок с вишней", "85"), ("Слойка с яблоком", "95"),
        ("Багет", "110"), ("Чиабатта", "130"), ("Хлеб бородинский", "90"), ("Булочка с маком", "70"),
        ("Маффин шоколадный", "125"), ("Кекс лимонный", "115"), ("Печенье овсяное", "60"), ("Ватрушка", "85")])]),
    ("Десерты", False, "cafe", [(name, f"DES-{n:02d}", price) for n, (name, price) in enumerate([
        ("Чизкейк Нью-Йорк", "320"), ("Тирамису", "340"), ("Медовик", "280"), ("Наполеон", "290"),
        ("Эклер ванильный", "150"), ("Макарон ассорти, 6 шт", "390"), ("Брауни", "210"), ("Морковный торт", "310"),
        ("Панна-котта", "260"), ("Штрудель яблочный", "270")])]),
    ("Кухня", False, "cafe", [(name, f"KIT-{n:02d}", price) for n, (name, price) in enumerate([
        ("Салат Цезарь с курицей", "420"), ("Салат Греческий", "360"), ("Салат Оливье", "310"), ("Винегрет", "240"),
        ("Борщ", "350"), ("Суп-пюре грибной", "330"), ("Паста карбонара", "480"), ("Паста болоньезе", "460"),
        ("Сырники со сметаной", "320"), ("Омлет с сыром", "290"), ("Блины с творогом", "280"),
        ("Каша овсяная", "220")])]),
    ("Сэндвичи", False, "both", [(name, f"SND-{n:02d}", price) for n, (name, price) in enumerate([
        ("Сэндвич с ветчиной и сыром", "260"), ("Сэндвич с курицей", "280"), ("Сэндвич с тунцом", "310"),
        ("Сэндвич с лососем", "390"), ("Сэндвич овощной", "230"), ("Панини с моцареллой", "290"),
        ("Бейгл с лососем", "420"), ("Ролл с курицей", "330"), ("Киш лорен", "300"), ("Тост с авокадо", "350")])]),
    ("Соусы и специи", False, "shop", [(name, f"SAU-{n:02d}", price) for n, (name, price) in enumerate([
        ("Кетчуп томатный 350 г", "140"), ("Майонез 67% 400 г", "150"), ("Горчица русская 170 г", "70"),
        ("Соус соевый 250 мл", "160"), ("Соль поваренная 1 кг", "35"), ("Перец чёрный молотый 50 г", "90"),
        ("Корица молотая 30 г", "110"), ("Ванильный сахар 10 г", "25"), ("Лавровый лист 10 г", "45"),
        ("Масло оливковое 500 мл", "690")])]),
    ("Напитки", False, "shop", [(name, f"DRK-{n:02d}", price) for n, (name, price) in enumerate([
        ("Вода питьевая негазированная 0,5 л", "60"), ("Вода минеральная газированная 0,5 л", "75"),
        ("Сок яблочный 0,2 л", "70"), ("Сок яблочный 1 л", "160"), ("Сок апельсиновый 1 л", "180"),
        ("Морс клюквенный 0,3 л", "140"), ("Лимонад тархун 0,33 л", "110"), ("Лимонад дюшес 0,33 л", "110"),
        ("Квас 1 л", "120"), ("Кола 0,33 л", "95"), ("Холодный чай персик 0,5 л", "105"),
        ("Кефир 1 л", "115")])]),
    ("Бакалея", False, "shop", [
        *[(f"Кофе в зёрнах {origin} {weight}", f"BEAN-{origin[:3].upper()}-{weight.split()[0]}", price)
          for origin, base in [("Бразилия", 690), ("Колумбия", 790), ("Эфиопия", 890), ("Кения", 950),
                               ("Гватемала", 850)]
          for weight, price in [("250 г", str(base)), ("1 кг", str(base * 3 + 90))]],
        *[(f"Чай листовой {kind} 100 г", f"LEAF-{n}", str(price)) for n, (kind, price) in enumerate([
            ("Ассам", 390), ("Сенча", 420), ("Молочный улун", 560), ("Эрл грей", 380), ("Пуэр", 610)])],
        ("Сахар белый 1 кг", "SUG-1", "95"), ("Сахар тростниковый 500 г", "SUG-2", "180"),
        ("Мёд цветочный 250 г", "HON-1", "420"), ("Шоколад тёмный 70% 100 г", "CHO-1", "210"),
        ("Шоколад молочный 100 г", "CHO-2", "180"), ("Шоколад с фундуком 100 г", "CHO-3", "230"),
        ("Сироп ванильный 1 л", "SYR-1", "650"), ("Сироп карамельный 1 л", "SYR-2", "650"),
        ("Овсяное молоко 1 л", "OAT-1", "260"), ("Сливки 10% 500 мл", "CRM-1", "190")]),
    ("Молочные продукты", False, "shop", [(name, f"MLK-{n:02d}", price) for n, (name, price) in enumerate([
        ("Молоко 2,5% 1 л", "95"), ("Молоко 3,2% 1 л", "105"), ("Йогурт клубничный 150 г", "65"),
        ("Йогурт натуральный 150 г", "60"), ("Сметана 20% 300 г", "130"), ("Творог 9% 200 г", "140"),
        ("Ряженка 4% 0,5 л", "90"), ("Масло сливочное 82,5% 180 г", "230")])]),
    ("Заморозка", False, "shop", [(name, f"FRZ-{n:02d}", price) for n, (name, price) in enumerate([
        ("Пельмени домашние 800 г", "520"), ("Вареники с картофелем 800 г", "360"), ("Мороженое пломбир 80 г", "90"),
        ("Мороженое эскимо 70 г", "85"), ("Сырники замороженные 400 г", "310"), ("Ягоды лесные 300 г", "280")])]),
    ("Сыры", True, "shop", [(f"Сыр {name}, вес", f"CHE-{n:02d}", price) for n, (name, price) in enumerate([
        ("Российский", "899.90"), ("Гауда", "1049.00"), ("Маасдам", "1190.00"), ("Пармезан", "2490.00"),
        ("Бри", "1890.00"), ("Камамбер", "1790.00"), ("Моцарелла", "1290.00"), ("Дор блю", "2190.00"),
        ("Сулугуни", "990.00"), ("Адыгейский", "790.00"), ("Чеддер", "1390.00"), ("Эдам", "1090.00")])]),
    ("Мясная гастрономия", True, "shop", [(f"{name}, вес", f"MEA-{n:02d}", price) for n, (name, price) in enumerate([
        ("Колбаса докторская", "899.00"), ("Сервелат", "1190.00"), ("Салями", "1490.00"), ("Буженина", "1390.00"),
        ("Карбонад", "1290.00"), ("Ветчина", "990.00"), ("Бекон", "1190.00"), ("Хамон", "3990.00")])]),
    ("Фрукты и овощи", True, "shop", [(f"{name}, вес", f"VEG-{n:02d}", price) for n, (name, price) in enumerate([
        ("Яблоки зелёные", "149.50"), ("Яблоки красные", "159.90"), ("Груши", "229.00"), ("Бананы", "139.90"),
        ("Апельсины", "169.00"), ("Мандарины", "199.00"), ("Лимоны", "249.00"), ("Киви", "299.00"),
        ("Виноград", "389.00"), ("Помидоры", "299.00"), ("Огурцы", "219.00"), ("Картофель", "59.90"),
        ("Морковь", "49.90"), ("Лук репчатый", "44.90"), ("Капуста белокочанная", "39.90"),
        ("Перец болгарский", "349.00"), ("Кабачки", "129.00"), ("Баклажаны", "199.00"), ("Чеснок", "399.00"),
        ("Имбирь", "459.00")])]),
    ("Орехи и сухофрукты", True, "shop", [(f"{name}, вес", f"NUT-{n:02d}", price) for n, (name, price) in enumerate([
        ("Миндаль", "1290.00"), ("Фундук", "1390.00"), ("Кешью", "1490.00"), ("Грецкий орех", "990.00"),
        ("Изюм", "490.00"), ("Курага", "690.00"), ("Чернослив", "590.00"), ("Финики", "450.00")])]),
]

# Groceries that the tax code puts under the reduced 10 % VAT (bread, milk, meat, vegetables…); the rest is 20 %.
# The words are УТ 11's enumeration СтавкиНДС as OData gives it.
_REDUCED_VAT = {"Выпечка", "Бакалея", "Молочные продукты", "Сыры", "Мясная гастрономия", "Фрукты и овощи",
                "Орехи и сухофрукты"}

_WITHOUT_VAT = {"Мёд цветочный 250 г"}
"""Goods 1C sells without VAT (БезНДС): a beekeeper's honey, taken on commission from a seller without VAT."""

_CUSTOMERS: list[tuple[str, str, str]] = [
    # name, phone as a person types it, email
    ("Смирнова Анна Сергеевна", "8 (916) 555-12-34", "anna.smirnova@example.ru"),
    ("Иванов Пётр Алексеевич", "+7 903 111-22-33", "p.ivanov@example.ru"),
    ("Кузнецова Мария Игоревна", "89161234567", "maria.k@example.ru"),
    ("Попов Дмитрий Олегович", "+7 (926) 700-80-90", ""),
    ("Соколова Елена Викторовна", "8-985-444-55-66", "elena.sokolova@example.ru"),
    ("Лебедев Артём Сергеевич", "+79057778899", "artem.lebedev@example.ru"),
    ("Новикова Ольга Павловна", "8 (499) 123-45-67 доб. 12", "olga.n@example.ru"),
    ("Морозов Игорь Николаевич", "", "igor.morozov@example.ru"),
    ("Волкова Татьяна Андреевна", "+7 915 222 33 44", "t.volkova@example.ru"),
    ("Фёдоров Константин Юрьевич", "8 (917) 010-20-30", ""),
    ("ООО \"Ромашка\"", "+7 (495) 640-00-01", "zakaz@romashka.example.ru"),
    ("ИП Орлова Наталья Владимировна", "8 (903) 900-10-20", "orlova.ip@example.ru"),
    ("ООО \"Офис-Сервис\"", "+7 (495) 777-12-12", "buh@office-service.example.ru"),
    ("Зайцев Михаил Ильич", "+7 964 555 00 11", "m.zaitsev@example.ru"),
    ("Белова Ксения Романовна", "8 926 321 65 87", "ksenia.belova@example.ru"),
    ("Гусев Алексей Петрович", "+7 (916) 808-08-08", "a.gusev@example.ru"),
    ("Никитина Дарья Евгеньевна", "89031112233", "daria.nikitina@example.ru"),
    ("Тарасов Виктор Семёнович", "+7 (905) 404-40-40", ""),
    ("ООО \"Кофе Партнёр\"", "+7 (812) 300-30-30", "order@coffee-partner.example.ru"),
    ("Розничный покупатель", "", ""),
]

OPENED = dt.datetime(2026, 1, 10, 9, 0)  # noqa: DTZ001 - 1C's wall-clock time
"""When the shop opened: the first price list and the first receipt of goods (local time)."""
REPRICED = dt.datetime(2026, 9, 1, 0, 0)  # noqa: DTZ001 - 1C's wall-clock time
"""When every fifth good got a new price."""
SOLD = dt.datetime(2026, 11, 1, 18, 0)  # noqa: DTZ001 - 1C's wall-clock time
"""An evening's sales taken off the shop's stock."""


@dataclass(frozen=True)
class Good:
    ref: str
    code: str
    name: str
    sku: str
    group: str
    weighed: bool
    where: str
    price: Decimal
    barcode: str
    vat: str


@dataclass(frozen=True)
class Customer:
    ref: str
    code: str
    name: str
    phone: str
    email: str


@dataclass(frozen=True)
class Named:
    """A catalog item known by reference, code and name only: a group of goods, a warehouse, a price type."""

    ref: str
    code: str
    name: str


@dataclass(frozen=True)
class PriceRecord:
    period: dt.datetime
    good: str
    price_type: str
    price: Decimal


@dataclass(frozen=True)
class StockMove:
    period: dt.datetime
    receipt: bool
    good: str
    warehouse: str
    quantity: Decimal


@dataclass
class Cafe:
    """Everything the sandbox is seeded with, in plain terms."""

    groups: list[Named] = field(default_factory=list)
    goods: list[Good] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    warehouses: list[Named] = field(default_factory=list)
    units: dict[bool, Named] = field(default_factory=dict)
    """The unit of a good by whether it is weighed."""
    price_types: list[Named] = field(default_factory=list)
    prices: list[PriceRecord] = field(default_factory=list)
    stock: list[StockMove] = field(default_factory=list)


class Refs:
    """GUIDs that look like 1C's (time-based, one server node), deterministic for a seed."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def __call__(self) -> str:
        bits = self._rng.getrandbits
        return f"{bits(32):08x}-{bits(16):04x}-11f0-{0x8000 | bits(14):04x}-00155d01c80a"


def ean13(body: str) -> str:
    """``body`` (12 digits) with its EAN-13 check digit."""
    total = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _vat(name: str, group: str) -> str:
    """A good's СтавкаНДС, as УТ 11's enumeration СтавкиНДС words it in OData."""
    return "БезНДС" if name in _WITHOUT_VAT else "НДС10" if group in _REDUCED_VAT else "НДС20"


def cafe(seed: int = 7) -> Cafe:
    """The seeded café-and-shop."""
    rng = random.Random(seed)
    ref = Refs(rng)
    data = Cafe()
    data.warehouses = [Named(ref(), "00-000001", "Кухня кафе"), Named(ref(), "00-000002", "Торговый зал магазина")]
    kitchen, hall = (w.ref for w in data.warehouses)
    # Codes from the all-Russian classifier of units (ОКЕИ), as 1C fills them in.
    data.units = {False: Named(ref(), "796", "шт"), True: Named(ref(), "166", "кг")}
    data.price_types = [Named(ref(), "00-000001", "Розничная"), Named(ref(), "00-000002", "Доставка")]
    retail, delivery = (p.ref for p in data.price_types)
    for number, (group_name, weighed, where, items) in enumerate(_CATALOGUE, start=1):
        group = Named(ref(), f"00-{number:08d}", group_name)
        data.groups.append(group)
        for name, sku, price in items:
            code = len(data.goods) + 1
            # Weighed goods carry an in-store code (prefix 2) that the scales complete with the weight.
            barcode = ean13(f"22{code:05d}00000") if weighed else ean13(f"46{rng.randrange(10**10):010d}")
            data.goods.append(Good(ref(), f"00-{100 + code:08d}", name, sku, group.ref, weighed, where,
                                   Decimal(price), barcode, _vat(name, group_name)))
    for good in data.goods:
        markup = (good.price * Decimal("1.10")).quantize(Decimal("0.01"))
        data.prices += [PriceRecord(OPENED, good.ref, retail, good.price),
                        PriceRecord(OPENED, good.ref, delivery, markup)]
    for good in data.goods[::5]:
        data.prices.append(PriceRecord(REPRICED, good.ref, retail, (good.price * Decimal("1.08")).quantize(
            Decimal("0.01"))))
    for good in data.goods:
        for warehouse in ([kitchen] if good.where == "cafe" else [hall] if good.where == "shop" else [kitchen, hall]):
            quantity = (Decimal(rng.randrange(2000, 60000)) / 1000 if good.weighed
                        else Decimal(rng.randrange(5, 120)))
            data.stock.append(StockMove(OPENED, True, good.ref, warehouse, quantity))
            if warehouse == hall and rng.random() < 0.3:
                sold = (quantity * Decimal("0.25")).quantize(Decimal("0.001")) if good.weighed else Decimal(
                    min(3, int(quantity)))
                data.stock.append(StockMove(SOLD, False, good.ref, warehouse, sold))
    for number, (name, phone, email) in enumerate(_CUSTOMERS, start=1):
        data.customers.append(Customer(ref(), f"00-{number:06d}", name, phone, email))
    return data
