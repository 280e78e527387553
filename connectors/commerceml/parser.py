"""Streaming CommerceML parser: any exchange file in, a stream of items out.

::

    from connectors.commerceml.parser import parse
    from hub.values import zone

    parsed = parse("offers0_1.xml", timezone=zone("Europe/Moscow"))
    for item in parsed:
        match item:
            case Offer(): ...          # prices and stock of one product or variant
            case Product(): ...        # a good of the catalog
            case OrderDocument(): ...  # an order with its 1C-side facts
            case Problem(): ...        # a record that was skipped, with file:line and why
    print(parsed.report.skipped)

One function reads every kind of file - ``import``, ``offers``, the 2.08+ split
``import___*``, ``offers___*``, ``prices___*`` and ``rests___*``, order documents,
``Контрагенты`` files and bare ``Классификатор`` fragments - because the content,
not the name, says what a file holds. Schema versions 2.03 to 2.10 and 3.1 are
read alike: elements are matched on their local names, whatever namespace the
file declares (none, ``urn:1C.ru:commerceml_2``, ``…_210`` or ``…_3``). The XML
declaration decides the encoding (UTF-8 with or without a byte-order mark,
windows-1251).

Memory stays flat: lxml's ``iterparse`` reports only the elements that make a
record (``Товар``, ``Предложение``, ``Документ``, …), each is read, then cleared
and unlinked with its already-read siblings, so one record at a time is held
whatever the size of the file. The items are those of :mod:`.items`, in file
order, :class:`~.items.FileHeader` first and a :class:`~.items.Section` before
the records of each block.

Nothing is dropped silently: a record that cannot be understood (an offer
without ``Ид``, a price that is not a number, an order line without a quantity,
a document that is not an order) is yielded as a :class:`~.items.Problem` with
the file, line and reason, counted in :attr:`Parse.report`, and the parse goes on.
XML that is not well-formed ends the parse with :class:`~hub.errors.ProtocolError`.
Datetimes are 1C local time without an offset; the caller names the zone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from lxml import etree

from connectors.commerceml._catalog import (
    read_groups,
    read_price_type,
    read_product,
    read_property,
    read_unit,
    read_warehouse,
)
from connectors.commerceml._documents import read_counterparty, read_document
from connectors.commerceml._offers import read_offer
from connectors.commerceml._read import (
    Context,
    Element,
    Unreadable,
    child_text,
    children,
    local,
    local_datetime,
    source_line,
)
from connectors.commerceml.items import (
    FileHeader,
    Item,
    ParseReport,
    PriceType,
    Problem,
    RecordKind,
    Section,
    SectionKind,
)
from hub.errors import ProtocolError
from hub.values import utcnow

ROOT = "КоммерческаяИнформация"
SECTIONS = {
    "Классификатор": SectionKind.CLASSIFIER,
    "Каталог": SectionKind.CATALOG,
    "ПакетПредложений": SectionKind.OFFERS,
    "ИзмененияПакетаПредложений": SectionKind.OFFERS,
    "Контрагенты": SectionKind.COUNTERPARTIES,
}
# The elements iterparse reports: records, the lists of small records, and the blocks.
_TAGS = [ROOT, *SECTIONS, "Документ", "Товар", "Предложение", "Группа", "Свойство", "Контрагент", "ТипыЦен",
         "Склады", "ЕдиницыИзмерения"]

Source = str | os.PathLike[str] | IO[bytes]
"""A file name, or a binary stream (the XML declaration decides the encoding)."""


def parse(source: Source, *, timezone: ZoneInfo, channel: str = "commerceml", name: str | None = None) -> Parse:
    """A parse of ``source``; iterate it (once) for the items, read :attr:`Parse.report` as it goes.

    ``timezone`` is the zone of the 1C base, for the local datetimes of the file;
    ``channel`` is the source name orders and customers are attributed to;
    ``name`` is the file name problems cite (a path's own name by default).
    """
    return Parse(source, timezone=timezone, channel=channel, name=name)


class Parse:
    """One parse of one file: an iterator of :data:`~.items.Item` and its :class:`~.items.ParseReport`."""

    def __init__(self, source: Source, *, timezone: ZoneInfo, channel: str, name: str | None) -> None:
        if name is None:
            where = source if isinstance(source, str | os.PathLike) else getattr(source, "name", "<stream>")
            name = Path(where).name
        self._source = source
        self.report = ParseReport(file=str(name))
        self._context = Context(self.report, timezone, channel, utcnow())
        self._section: Element | None = None
        self._started = False
        self.line: int | None = None
        """The line the good yielded last starts on: a canonical Product carries none of its own."""
        self._read_offer = partial(read_offer, context=self._context)
        self._read_product = partial(read_product, context=self._context)
        self._handlers: dict[str, Callable[[Element], Iterable[Item]]] = {
            "Предложение": self._offer, "Товар": self._product, "Документ": self._document,
            "Контрагент": self._counterparty, "Группа": self._group, "Свойство": self._property,
            "ТипыЦен": self._price_types, "Склады": self._warehouses, "ЕдиницыИзмерения": self._units,
            **dict.fromkeys(SECTIONS, self._section_end), ROOT: self._root_end,
        }

    def __iter__(self) -> Iterator[Item]:
        if self._started:
            raise RuntimeError("a parse reads its source once; call parse() again")
        self._started = True
        return self._items()

    def _items(self) -> Iterator[Item]:
        events = etree.iterparse(self._source, events=("end",), tag=[f"{{*}}{tag}" for tag in _TAGS],
                                 resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True)
        header: FileHeader | None = None
        handlers = self._handlers
        try:
            for _, element in events:
                if header is None:
                    header = self._header(element)
                    yield header
                yield from handlers[local(element.tag)](element)
        except etree.XMLSyntaxError as exc:
            raise ProtocolError(f"{self.report.file}:{exc.lineno}: not well-formed XML: {exc.msg}") from exc

    # --- the header and the blocks ------------------------------------------------------------------------

    def _header(self, element: Element) -> FileHeader:
        root = element.getroottree().getroot()
        namespace = etree.QName(root).namespace
        generated = None
        if local(root.tag) != ROOT:
            version = None
        else:
            version = root.get("ВерсияСхемы")
            if raw := root.get("ДатаФормирования"):
                try:
                    generated = local_datetime(raw, self._context.timezone)
                    self._context.as_of = generated
                except ValueError as exc:
                    self._context.warn(RecordKind.FILE, None, source_line(root), f"ДатаФормирования ignored: {exc}")
        return FileHeader(self.report.file, version, generated, namespace)

    def _open(self, block: Element) -> Section:
        """The :class:`Section` of ``block``, whose records begin now."""
        self._section = block
        parts = {tag: child_text(block, tag) for tag in ("Ид", "Наименование", "ИдКлассификатора", "ИдКаталога")}
        return Section(SECTIONS[local(block.tag)], parts["Ид"], parts["Наименование"], parts["ИдКлассификатора"],
                       parts["ИдКаталога"], (block.get("СодержитТолькоИзменения") or "").strip() == "true",
                       source_line(block))

    def _enter(self, block: Element) -> Iterator[Section]:
        """The :class:`Section` of ``block`` if its records have not begun yet."""
        if block is not self._section:
            yield self._open(block)

    def _section_end(self, element: Element) -> Iterator[Item]:
        if local(element.tag) == "Контрагенты" and not _top_level(element):
            return  # a document's buyers, read with the document
        yield from self._enter(element)
        _free(element)

    def _root_end(self, element: Element) -> Iterator[Item]:
        return iter(())

    # --- records ------------------------------------------------------------------------------------------

    def _record(self, kind: RecordKind, element: Element, read: Callable[[Element], Item]) -> Item:
        """The record ``read`` makes of ``element``, or its :class:`Problem`; the element is freed."""
        try:
            item = read(element)
        except Unreadable as exc:
            item = Problem(self.report.file, exc.line or source_line(element), kind, child_text(element, "Ид"),
                           exc.reason)
            self.report.note_problem(item)
        else:
            self.report.records[kind] += 1
        _free(element)
        return item

    # Offers and goods are the hot paths of big files: tuples, not generators, carry their items.

    def _offer(self, element: Element) -> tuple[Item, ...]:
        block = element.getparent()
        if block is not None and (block := block.getparent()) is not None and block is not self._section:
            return self._open(block), self._record(RecordKind.OFFER, element, self._read_offer)
        return (self._record(RecordKind.OFFER, element, self._read_offer),)

    def _product(self, element: Element) -> tuple[Item, ...]:
        block = _grandparent(element, "Товары", "Каталог")
        if block is None:
            return ()  # a line of an order document, read with the document
        self.line = source_line(element)
        if block is not self._section:
            return self._open(block), self._record(RecordKind.PRODUCT, element, self._read_product)
        return (self._record(RecordKind.PRODUCT, element, self._read_product),)

    def _document(self, element: Element) -> Iterator[Item]:
        yield self._record(RecordKind.DOCUMENT, element, partial(read_document, context=self._context))

    def _counterparty(self, element: Element) -> Iterator[Item]:
        parent = element.getparent()
        if parent is None or local(parent.tag) != "Контрагенты" or not _top_level(parent):
            return  # a document's buyer or a group's owner, read with it
        yield from self._enter(parent)
        yield self._record(RecordKind.COUNTERPARTY, element, partial(read_counterparty, context=self._context))

    def _group(self, element: Element) -> Iterator[Item]:
        block = _grandparent(element, "Группы", "Классификатор")
        if block is None:
            return  # a subgroup, read with its top-level group
        yield from self._enter(block)
        for group in read_groups(element, None):
            if isinstance(group, Unreadable):
                problem = Problem(self.report.file, group.line, RecordKind.GROUP, None, group.reason)
                self.report.note_problem(problem)
                yield problem
            else:
                self.report.records[RecordKind.GROUP] += 1
                yield group
        _free(element)

    def _property(self, element: Element) -> Iterator[Item]:
        block = _grandparent(element, "Свойства", "Классификатор")
        if block is None:
            return
        yield from self._enter(block)
        yield self._record(RecordKind.PROPERTY, element, read_property)

    def _price_types(self, element: Element) -> Iterator[Item]:
        for item in self._list(element, "ТипЦены", RecordKind.PRICE_TYPE, read_price_type):
            if isinstance(item, PriceType) and item.currency:
                self._context.currencies[item.id] = item.currency
            yield item

    def _warehouses(self, element: Element) -> Iterator[Item]:
        yield from self._list(element, "Склад", RecordKind.WAREHOUSE, read_warehouse)

    def _units(self, element: Element) -> Iterator[Item]:
        yield from self._list(element, "ЕдиницаИзмерения", RecordKind.UNIT, read_unit)

    def _list(self, element: Element, entry: str, kind: RecordKind, read: Callable[[Element], Item]) -> Iterator[Item]:
        """The entries of a short list of the classifier or the offers package (``ТипыЦен``, ``Склады``)."""
        block = element.getparent()
        if block is None or local(block.tag) not in ("Классификатор", "ПакетПредложений"):
            return  # a document's warehouses, read with the document
        yield from self._enter(block)
        for tag, item in list(children(element)):
            if tag == entry:
                yield self._record(kind, item, read)
        _free(element)


def _grandparent(element: Element, parent: str, grandparent: str) -> Element | None:
    """The element's grandparent when the two are called ``parent`` and ``grandparent``."""
    up = element.getparent()
    if up is None or local(up.tag) != parent:
        return None
    up = up.getparent()
    return up if up is not None and local(up.tag) == grandparent else None


def _top_level(element: Element) -> bool:
    parent = element.getparent()
    return parent is None or local(parent.tag) == ROOT


def _free(element: Element) -> None:
    """Drop a read element and the siblings read before it, so memory holds one record at a time."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
