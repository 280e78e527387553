"""The exchange's shared pieces: answers both ways, upload names and archives, and a query answer cut per order."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from connectors.commerceml.exchange import answer, chunks, pack, read_answer, safe_name, unpack
from connectors.commerceml.items import OrderDocument
from connectors.commerceml.parser import parse
from connectors.commerceml.site import split_documents
from hub.errors import ProtocolError
from tests.connectors.commerceml.conftest import MOSCOW, SAMPLES

BITRIX_QUERY = SAMPLES / "dobromyslov_bitrix-query-response-full_2.05_cp1251.xml"


def test_an_answer_is_text_lines_in_windows_1251_with_status_200() -> None:
    response = answer("failure", "Неверный логин", "или пароль")

    assert response.status_code == 200
    assert response.mimetype == "text/plain" and response.mimetype_params["charset"] == "windows-1251"
    assert response.get_data() == "failure\nНеверный логин\nили пароль".encode("cp1251")


def test_a_line_break_inside_a_message_cannot_forge_a_status_line() -> None:
    assert answer("failure", "bad\nsuccess").get_data() == b"failure\nbad success"


@pytest.mark.parametrize("body", [
    "success\nPHPSESSID\nabc\nsessid=5a56".encode("cp1251"),
    b"\xef\xbb\xbfsuccess\r\nPHPSESSID\r\nabc\r\nsessid=5a56\r\n",
])
def test_answers_are_read_in_utf8_or_windows_1251_with_any_line_ends(body: bytes) -> None:
    said = read_answer(body)

    assert said.status == "success"
    assert said.lines == ["PHPSESSID", "abc", "sessid=5a56"]


def test_a_bitrix_failure_reads_as_its_reason() -> None:
    body = "failure\nОшибка импорта метаданных.Ошибка добавления новой единицы измерения (код единицы: ).".encode(
        "cp1251")

    said = read_answer(body)

    assert said.status == "failure"
    assert said.message.startswith("Ошибка импорта метаданных")


@pytest.mark.parametrize(("sent", "kept"), [
    ("import.xml", "import.xml"),
    ("C:\\v8_8789_c.xml", "v8_8789_c.xml"),
    ("import_files/ab/ab12.jpg", "import_files/ab/ab12.jpg"),
    ("./offers0_1.xml", "offers0_1.xml"),
    ("/abs/import.xml", "abs/import.xml"),
])
def test_upload_names_stay_inside_the_folder(sent: str, kept: str) -> None:
    assert safe_name(sent) == PurePosixPath(kept)


@pytest.mark.parametrize("sent", ["../../etc/passwd", "a/../../b.xml", "..\\..\\hub.yaml", "", "/", "a\x00b.xml"])
def test_names_that_leave_the_folder_are_refused(sent: str) -> None:
    assert safe_name(sent) is None


@given(st.text(alphabet="ab./\\:C\x00", max_size=20))
def test_no_name_ever_resolves_outside_the_folder(sent: str) -> None:
    relative = safe_name(sent)
    if relative is not None:
        root = Path("/srv/uploads")
        assert (root / relative).resolve().is_relative_to(root)


def test_an_archive_is_unpacked_and_a_member_that_climbs_out_is_skipped(tmp_path: Path) -> None:
    archive = tmp_path / "up" / "v8_3B8F_3e.zip"
    archive.parent.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as packed:
        packed.writestr("import.xml", b"<a/>")
        packed.writestr("import_files/ab/ab12.jpg", b"jpg")
        packed.writestr("../escape.txt", b"no")
    archive.write_bytes(buffer.getvalue())

    names = unpack(archive, archive.parent, max_entries=3, max_file=4, max_total=7)

    assert names == ["import.xml", "import_files/ab/ab12.jpg"]
    assert (archive.parent / "import_files/ab/ab12.jpg").read_bytes() == b"jpg"
    assert not (tmp_path / "escape.txt").exists()


def test_pack_and_chunks_rebuild_the_same_files() -> None:
    data = pack({"import.xml": b"x" * 5000, "offers.xml": b"y"})
    pieces = list(chunks(data, 1000))

    assert all(len(piece) <= 1000 for piece in pieces)
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as packed:
        assert packed.read("import.xml") == b"x" * 5000
    assert list(chunks(b"", 10)) == [b""]


@pytest.mark.samples
def test_bitrix_query_answer_is_cut_into_one_document_per_order_nothing_dropped() -> None:
    answer_bytes = BITRIX_QUERY.read_bytes()
    expected = [element.findtext("{*}Ид") or element.findtext("Ид")
                for element in etree.fromstring(answer_bytes).iter("{*}Документ", "Документ")]

    records = split_documents(answer_bytes)

    assert [record.external_id for record in records] == expected and expected
    for record in records:
        documents = [item for item in parse(io.BytesIO(record.body), timezone=MOSCOW, channel="site", name="x")
                     if isinstance(item, OrderDocument)]
        assert [document.order.external_id for document in documents] == [record.external_id]


@pytest.mark.samples
def test_the_same_order_queried_twice_is_byte_identical() -> None:
    first = split_documents(BITRIX_QUERY.read_bytes())
    later = BITRIX_QUERY.read_bytes().replace('ДатаФормирования="2021-02-12T17:03:19"'.encode("cp1251"),
                                              'ДатаФормирования="2026-11-22T10:00:00"'.encode("cp1251"), 1)
    assert later != BITRIX_QUERY.read_bytes()

    assert [r.body for r in split_documents(later)] == [r.body for r in first]


def test_an_answer_that_is_not_xml_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not well-formed"):
        split_documents(b"<html><body>Fatal error: PHP")
