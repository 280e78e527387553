"""Helpers of the CommerceML tests: the shared samples and schemas, and synthetic files built in the tests."""

from __future__ import annotations

import io
from pathlib import Path

from connectors.commerceml.items import Item, ParseReport
from connectors.commerceml.parser import parse
from hub.values import zone

SHARED = Path(__file__).resolve().parents[4] / "shared" / "samples" / "1c"
SAMPLES = SHARED / "commerceml"
XSDS = {"2.08": SHARED / "xsd" / "gillbeits_CommerceML2.0.8.xsd",
        "2.09": SHARED / "xsd" / "carono-yii2_commerceML_2.09.xsd",
        "2.10": SHARED / "xsd" / "carono-yii2_commerceML_2.10.xsd"}
MOSCOW = zone("Europe/Moscow")
NS = "urn:1C.ru:commerceml_2"
BOM = b"\xef\xbb\xbf"


def cml(body: str, *, version: str = "2.10", namespace: str | None = NS, encoding: str = "UTF-8",
        bom: bool = False, declaration: bool = True) -> bytes:
    """A ``КоммерческаяИнформация`` around ``body``, encoded as asked; the body starts on line 3."""
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    text = (f'<КоммерческаяИнформация{xmlns} ВерсияСхемы="{version}" ДатаФормирования="2024-03-01T10:00:00">\n'
            f"{body}\n</КоммерческаяИнформация>\n")
    text = (f'<?xml version="1.0" encoding="{encoding}"?>\n' if declaration else "\n") + text
    data = text.encode(encoding)
    return BOM + data if bom else data


def read(data: bytes, *, channel: str = "commerceml") -> tuple[list[Item], ParseReport]:
    """Every item of a file held in memory, and the parse's report."""
    parsed = parse(io.BytesIO(data), timezone=MOSCOW, channel=channel, name="test.xml")
    return list(parsed), parsed.report


def line_of(data: bytes, marker: str, encoding: str = "utf-8") -> int:
    """The 1-based line of ``data`` where ``marker`` first appears."""
    for number, line in enumerate(data.decode(encoding).splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} is not in the file")
