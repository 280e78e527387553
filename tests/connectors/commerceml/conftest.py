"""Helpers of the CommerceML tests: the shared samples and schemas, synthetic files built in the tests, and
1C's side of the exchange with hub's ``commerceml_1c`` endpoint."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from werkzeug.test import Client, TestResponse

from connectors.commerceml.exchange import read_answer
from connectors.commerceml.items import Item, ParseReport
from connectors.commerceml.parser import parse
from connectors.commerceml.server import OneCExchangeConnector
from hub.daemon import Daemon
from hub.values import zone
from tests._shared import SAMPLES as SHARED_SAMPLES

SAMPLES = SHARED_SAMPLES / "1c" / "commerceml"
_XSD = SHARED_SAMPLES / "1c" / "xsd"
XSDS = {"2.08": _XSD / "gillbeits_CommerceML2.0.8.xsd",
        "2.09": _XSD / "carono-yii2_commerceML_2.09.xsd",
        "2.10": _XSD / "carono-yii2_commerceML_2.10.xsd"}
MOSCOW = zone("Europe/Moscow")
NS = "urn:1C.ru:commerceml_2"
BOM = b"\xef\xbb\xbf"
PATH = "/1c_exchange"
PASSWORD = "1c-secret"
LIMIT = 1024


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


@dataclass
class Hub:
    """hub daemon's WSGI application with a ``commerceml_1c`` source ``onec`` at :data:`PATH`, called as 1C calls it."""

    client: Client
    daemon: Daemon
    work_dir: Path

    @property
    def connector(self) -> OneCExchangeConnector:
        connector = self.daemon.runtime.connector("onec")
        assert isinstance(connector, OneCExchangeConnector)
        return connector

    def call(self, kind: str, mode: str, *, body: bytes | None = None, auth: tuple[str, str] | None = None,
             **params: str) -> TestResponse:
        query = {"type": kind, "mode": mode, **params}
        if body is None:
            return self.client.get(PATH, query_string=query, auth=auth)
        return self.client.post(PATH, query_string=query, data=body, content_type="application/octet-stream")

    def login(self, kind: str = "catalog") -> list[str]:
        said = read_answer(self.call(kind, "checkauth", auth=("site-exchange", PASSWORD)).get_data())
        assert said.status == "success", said
        self.client.set_cookie(said.lines[0], said.lines[1])
        return [said.status, *said.lines]

    def upload(self, name: str, data: bytes, kind: str = "catalog") -> None:
        for start in range(0, max(len(data), 1), LIMIT):
            assert self.said(self.call(kind, "file", body=data[start:start + LIMIT], filename=name)) == ["success"]

    def import_(self, name: str, kind: str = "catalog") -> list[list[str]]:
        answers = []
        while True:
            answers.append(self.said(self.call(kind, "import", filename=name)))
            if answers[-1][0] != "progress":
                return answers

    @staticmethod
    def said(response: TestResponse) -> list[str]:
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        return response.get_data().decode("cp1251").split("\n")
