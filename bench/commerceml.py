"""CommerceML parsing speed and memory: hub's parser beside a bare lxml loop over the same files.

Two files are generated into a temporary folder, shaped like 1C's exports
(``urn:1C.ru:commerceml_2``, UTF-8 with a byte-order mark):

* an offers file with ``--offers`` offers (1,000,000 by default): every other
  one a ``product#variant``, each with a price, a total quantity and stock in
  two warehouses as ``<Склад ИдСклада КоличествоНаСкладе>``;
* an import file with ``--goods`` goods (100,000 by default) in a classifier of
  groups and properties, each with a barcode, a group, property values, a VAT
  rate and requisites.

Each file is read three times, each time in a child process of its own so the
peak memory is that reading's alone: by a bare ``lxml.etree.iterparse`` loop
that clears every element and unlinks the ones before it (the least any
streaming reader of the file does: the goal's baseline), by the same loop
clearing only (shown for reference: a little faster, but the emptied elements
stay in the tree, so its memory grows with the file), and by
:func:`connectors.commerceml.parser.parse`, every item taken. The child measures the loop's wall time and reads its own
peak RSS (``VmHWM`` in ``/proc/self/status``), which includes the interpreter
and the imports (pydantic, hub's model).

    .venv/bin/python bench/commerceml.py [--offers 1000000] [--goods 100000] [--keep DIR]

Goal: hub's parser at least 0.5x the bare loop's MB/s, and its peak RSS under
150 MB whatever the file size. Exits with 1 if either is missed, or if hub's
parser skipped a record.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from lxml import etree

from connectors.commerceml.parser import parse
from hub.values import zone

GOAL_SPEED = 0.5
"""hub's MB/s as a share of the bare loop's, at least."""
GOAL_RSS_MB = 150.0
HEAD = ('\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" ВерсияСхемы="2.07" ДатаФормирования="2024-03-01T10:00:00">\n')
PRICE_TYPE = "9f591aa6-8ea2-11e3-b0fa-00248cae1f0f"
WAREHOUSES = ("6abdb0b5-18fd-11e7-80c2-0cc47ab29cd1", "d2a52d49-19c9-11e7-80c2-0cc47ab29cd1")
GROUPS = 50
PROPERTIES = 10


def guid(kind: int, number: int) -> str:
    return f"{kind:08x}-0000-4000-8000-{number:012x}"


def write_offers(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEAD)
        out.write(f'<ПакетПредложений СодержитТолькоИзменения="false"><Ид>{guid(1, 0)}#</Ид>'
                  f"<Наименование>Пакет предложений</Наименование><ИдКаталога>{guid(1, 0)}</ИдКаталога>"
                  f"<ИдКлассификатора>{guid(1, 0)}</ИдКлассификатора>"
                  f"<ТипыЦен><ТипЦены><Ид>{PRICE_TYPE}</Ид><Наименование>Розничная</Наименование>"
                  "<Валюта>RUB</Валюта></ТипЦены></ТипыЦен><Склады>")
        out.writelines(f"<Склад><Ид>{warehouse}</Ид><Наименование>Склад {n}</Наименование></Склад>"
                       for n, warehouse in enumerate(WAREHOUSES))
        out.write("</Склады><Предложения>\n")
        for n in range(count):
            offer_id = guid(2, n // 2) + (f"#{guid(3, n)}" if n % 2 else "")
            price = f"{n % 5000}.{n % 100:02d}"
            out.write(
                f"\t<Предложение>\n\t\t<Ид>{offer_id}</Ид>\n\t\t<Артикул>ART-{n}</Артикул>\n"
                f"\t\t<Наименование>Коврик Portable 140x200 см, вариант {n}</Наименование>\n"
                '\t\t<БазоваяЕдиница Код="796" НаименованиеПолное="Штука" МеждународноеСокращение="PCE">шт'
                "</БазоваяЕдиница>\n"
                f"\t\t<Цены>\n\t\t\t<Цена>\n\t\t\t\t<Представление>{price} RUB за шт</Представление>\n"
                f"\t\t\t\t<ИдТипаЦены>{PRICE_TYPE}</ИдТипаЦены>\n\t\t\t\t<ЦенаЗаЕдиницу>{price}</ЦенаЗаЕдиницу>\n"
                "\t\t\t\t<Валюта>RUB</Валюта>\n\t\t\t\t<Единица>шт</Единица>\n\t\t\t\t<Коэффициент>1</Коэффициент>\n"
                f"\t\t\t</Цена>\n\t\t</Цены>\n\t\t<Количество>{n % 37 + n % 11}</Количество>\n"
                f'\t\t<Склад ИдСклада="{WAREHOUSES[0]}" КоличествоНаСкладе="{n % 37}"/>\n'
                f'\t\t<Склад ИдСклада="{WAREHOUSES[1]}" КоличествоНаСкладе="{n % 11}"/>\n\t</Предложение>\n')
        out.write("</Предложения></ПакетПредложений></КоммерческаяИнформация>\n")


def write_import(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEAD)
        out.write(f"<Классификатор><Ид>{guid(1, 0)}</Ид><Наименование>Классификатор</Наименование>"
                  f"<Владелец><Ид>{guid(9, 0)}</Ид><Наименование>ООО Ромашка</Наименование>"
                  "<ОфициальноеНаименование>ООО Ромашка</ОфициальноеНаименование></Владелец><Группы>")
        out.writelines(f"<Группа><Ид>{guid(4, n)}</Ид><Наименование>Группа {n}</Наименование></Группа>"
                       for n in range(GROUPS))
        out.write("</Группы><Свойства>")
        out.writelines(f"<Свойство><Ид>{guid(5, n)}</Ид><Наименование>Свойство {n}</Наименование>"
                       "<ТипЗначений>Строка</ТипЗначений></Свойство>" for n in range(PROPERTIES))
        out.write(f'</Свойства></Классификатор>\n<Каталог СодержитТолькоИзменения="false"><Ид>{guid(1, 0)}</Ид>'
                  f"<ИдКлассификатора>{guid(1, 0)}</ИдКлассификатора><Наименование>Каталог товаров</Наименование>"
                  "<Товары>\n")
        for n in range(count):
            write_good(out, n)
        out.write("</Товары></Каталог></КоммерческаяИнформация>\n")


def write_good(out: TextIO, n: int) -> None:
    values = "".join(f"\t\t\t<ЗначенияСвойства>\n\t\t\t\t<Ид>{guid(5, p)}</Ид>\n"
                     f"\t\t\t\t<Значение>значение {n % (p + 3)}</Значение>\n\t\t\t</ЗначенияСвойства>\n"
                     for p in range(3))
    out.write(
        f"\t<Товар>\n\t\t<Ид>{guid(2, n)}</Ид>\n\t\t<Штрихкод>{4600000000000 + n}</Штрихкод>\n"
        f"\t\t<Артикул>ART-{n}</Артикул>\n\t\t<Наименование>Коврик Portable 140x200 см, модель {n}</Наименование>\n"
        '\t\t<БазоваяЕдиница Код="796" НаименованиеПолное="Штука" МеждународноеСокращение="PCE">шт'
        "</БазоваяЕдиница>\n"
        f"\t\t<Группы>\n\t\t\t<Ид>{guid(4, n % GROUPS)}</Ид>\n\t\t</Группы>\n"
        "\t\t<Описание>Мягкий коврик для дома</Описание>\n"
        f"\t\t<Картинка>import_files/{n % 100:02d}/{guid(2, n)}.jpg</Картинка>\n"
        f"\t\t<ЗначенияСвойств>\n{values}\t\t</ЗначенияСвойств>\n"
        "\t\t<СтавкиНалогов>\n\t\t\t<СтавкаНалога>\n\t\t\t\t<Наименование>НДС</Наименование>\n"
        "\t\t\t\t<Ставка>20</Ставка>\n\t\t\t</СтавкаНалога>\n\t\t</СтавкиНалогов>\n"
        "\t\t<ЗначенияРеквизитов>\n"
        "\t\t\t<ЗначениеРеквизита>\n\t\t\t\t<Наименование>ВидНоменклатуры</Наименование>\n"
        "\t\t\t\t<Значение>Товар</Значение>\n\t\t\t</ЗначениеРеквизита>\n"
        "\t\t\t<ЗначениеРеквизита>\n\t\t\t\t<Наименование>Полное наименование</Наименование>\n"
        f"\t\t\t\t<Значение>Коврик Portable 140x200 см, модель {n}</Значение>\n\t\t\t</ЗначениеРеквизита>\n"
        "\t\t</ЗначенияРеквизитов>\n\t</Товар>\n")


# --- the children -------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory, from the kernel's own count."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (this bench reads Linux's /proc)")


def bare(path: Path) -> str:
    """Every element through iterparse, cleared and unlinked from the ones read before it."""
    elements = 0
    for _, element in etree.iterparse(str(path), events=("end",)):
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
        elements += 1
    return f"{elements} elements"


def clear_only(path: Path) -> str:
    """Every element through iterparse and cleared, but left in the tree: faster, and memory grows with the file."""
    elements = 0
    for _, element in etree.iterparse(str(path), events=("end",)):
        element.clear()
        elements += 1
    return f"{elements} elements"


def hub(path: Path) -> str:
    """hub's parser, every item taken."""
    parsed = parse(path, timezone=zone("Europe/Moscow"))
    kinds = Counter(type(item).__name__ for item in parsed)
    skipped = sum(parsed.report.skipped.values())
    return f"{dict(kinds)} skipped={skipped}"


READERS = {"bare": bare, "clear": clear_only, "hub": hub}


def child(reader: str, path: Path) -> None:
    """Time one reader over one file (the imports are done: the clock measures the reading alone)."""
    started = time.perf_counter()
    said = READERS[reader](path)
    print(f"{time.perf_counter() - started:.3f} {peak_rss_mb():.1f} {said}")


# --- the parent ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One reading of one file in its own process."""

    seconds: float
    peak_mb: float
    said: str


def measure(reader: str, path: Path) -> Run:
    done = subprocess.run([sys.executable, __file__, "--child", reader, str(path)], capture_output=True, text=True,
                          check=False, cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        raise RuntimeError(f"{reader} on {path.name} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    seconds, peak, said = done.stdout.strip().split(" ", 2)
    return Run(float(seconds), float(peak), said)


def compare(path: Path) -> bool:
    """Print both readings of ``path``; True if hub's met the goal."""
    size = path.stat().st_size / 1e6
    base, cleared, ours = measure("bare", path), measure("clear", path), measure("hub", path)
    speed = base.seconds / ours.seconds
    met = speed >= GOAL_SPEED and ours.peak_mb < GOAL_RSS_MB and "skipped=0" in ours.said
    print(f"{path.name}: {size:.0f} MB")
    for name, run in (("bare lxml loop", base), ("  clear only", cleared), ("hub parser", ours)):
        print(f"  {name:<15}{size / run.seconds:7.1f} MB/s  {run.seconds:7.2f} s  peak RSS {run.peak_mb:7.1f} MB  "
              f"({run.said})")
    print(f"  goal: >= {GOAL_SPEED}x the bare loop's speed, peak RSS < {GOAL_RSS_MB:.0f} MB: "
          f"{speed:.2f}x ({cleared.seconds / ours.seconds:.2f}x the clear-only loop), {ours.peak_mb:.0f} MB - "
          f"{'met' if met else 'MISSED'}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offers", type=int, default=1_000_000, help="offers in the offers file (default 1000000)")
    parser.add_argument("--goods", type=int, default=100_000, help="goods in the import file (default 100000)")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep the files")
    parser.add_argument("--child", nargs=2, metavar=("READER", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return 0
    with tempfile.TemporaryDirectory(prefix="hub-bench-cml-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        offers, goods = folder / "offers0_1.xml", folder / "import0_1.xml"
        started = time.perf_counter()
        write_offers(offers, args.offers)
        write_import(goods, args.goods)
        print(f"generated {args.offers} offers and {args.goods} goods in {time.perf_counter() - started:.1f} s")
        results = [compare(offers), compare(goods)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
