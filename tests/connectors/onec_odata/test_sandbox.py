"""The client end to end against the 1C sandbox over real HTTP: reads, virtual tables, writes, faults."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from connectors._onec_seed import OPENED, REPRICED, SOLD
from connectors.onec_odata import OneCClient, OneCSandbox, odata
from hub.errors import AuthError, NetworkError, RequestRejected, RetriableError
from hub.http import HttpClient
from hub.settings import RetryPolicy
from hub.testing.acceptance import RecordingClock
from hub.values import json_loads

from .conftest import MOSCOW, connect

GOODS = "Catalog_Номенклатура"
CUSTOMERS = "Catalog_Контрагенты"
ORDERS = "Document_ЗаказКлиента"
PRICES = "InformationRegister_ЦеныНоменклатуры"
STOCK = "AccumulationRegister_ТоварыНаСкладах"
BARCODES = "InformationRegister_ШтрихкодыНоменклатуры"


def local(moment: dt.datetime) -> dt.datetime:
    """A naive seed time as the aware datetime the client returns."""
    return moment.replace(tzinfo=MOSCOW)


def raw(onec: OneCSandbox, path: str, **params: str) -> Any:
    """A JSON answer exactly as the sandbox wrote it, before the client cleans it."""
    response = requests.get(onec.service_root + path, params={"$format": "json", **params},
                            auth=(onec.username, onec.password), timeout=5)
    return json_loads(response.content)


def first_good(client: OneCClient, *, weighed: bool) -> dict[str, Any]:
    condition = f"Весовой eq {'true' if weighed else 'false'} and IsFolder eq false"
    return next(client.iter_rows(GOODS, filter=condition))


def an_order(client: OneCClient, number: str) -> dict[str, Any]:
    cheese, latte = first_good(client, weighed=True), first_good(client, weighed=False)
    customer = next(client.iter_rows(CUSTOMERS))
    return {"Date": dt.datetime(2026, 11, 20, 9, 15, tzinfo=dt.UTC), "Контрагент_Key": customer["Ref_Key"],
            "НомерПоДаннымКлиента": number, "СуммаДокумента": Decimal("361.50"),
            "Товары": [{"Номенклатура_Key": cheese["Ref_Key"], "Количество": Decimal("0.305"),
                        "Цена": Decimal("899.90"), "Сумма": Decimal("274.47")},
                       {"Номенклатура_Key": latte["Ref_Key"], "Количество": Decimal(1), "Цена": Decimal("87.03"),
                        "Сумма": Decimal("87.03")}]}


# --- what is published --------------------------------------------------------------------------------


@pytest.mark.parametrize(("presets", "present", "absent"), [
    (("ut11",), {ORDERS, "Catalog_Склады", "Catalog_ВидыЦен", STOCK, PRICES, BARCODES,
                 "Catalog_Контрагенты_КонтактнаяИнформация", f"{STOCK}_RecordType"},
     {"Document_ЗаказПокупателя", "Catalog_СтруктурныеЕдиницы"}),
    (("unf",), {"Document_ЗаказПокупателя", "Catalog_СтруктурныеЕдиницы", "AccumulationRegister_ЗапасыНаСкладах"},
     {ORDERS, "Catalog_Склады", STOCK}),
    (("retail",), {"Document_ЧекККМ", "Catalog_Магазины", "Catalog_Склады", STOCK}, {ORDERS}),
    (("ut11", "unf"), {ORDERS, "Document_ЗаказПокупателя", STOCK, "AccumulationRegister_ЗапасыНаСкладах"}, set()),
])
def test_each_preset_publishes_its_configuration(presets: tuple[str, ...],
                                                 present: set[str], absent: set[str]) -> None:
    with OneCSandbox(presets) as onec:
        names = set(connect(onec).service_document())
    assert present <= names
    assert not absent & names


def test_a_set_left_out_of_the_composition_is_1c_error_8() -> None:
    with OneCSandbox(unpublished={PRICES}) as onec:
        client = connect(onec)
        assert PRICES not in client.service_document()
        with pytest.raises(RequestRejected, match="1C error 8") as missing:
            list(client.slice_last(PRICES, orderby="Номенклатура_Key"))
    assert missing.value.code == "8" and "composition" in (missing.value.hint or "")


def test_metadata_describes_the_published_sets(cafe: OneCSandbox) -> None:
    response = requests.get(cafe.service_root + "$metadata", auth=(cafe.username, cafe.password), timeout=5)
    root = etree.fromstring(response.content)
    assert _xpath(root, "//edm:Schema/@Namespace") == ["StandardODATA"]
    sets = set(_xpath(root, "//edm:EntitySet/@Name"))
    assert {GOODS, ORDERS, PRICES, f"{STOCK}_RecordType"} <= sets
    types = _xpath(root, f"//edm:EntityType[@Name='{GOODS}']/edm:Property[@Name='Артикул']/@Type")
    assert types == ["Edm.String"]
    lines = _xpath(root, f"//edm:EntityType[@Name='{ORDERS}']/edm:Property[@Name='Товары']/@Type")
    assert lines == [f"Collection(StandardODATA.{ORDERS}_Товары_RowType)"]


def _xpath(root: etree._Element, path: str) -> list[str]:
    found = root.xpath(path, namespaces={"edm": "http://schemas.microsoft.com/ado/2009/11/edm"})
    assert isinstance(found, list)
    return [str(item) for item in found]


def test_answers_carry_1c_quirks_on_the_wire(cafe: OneCSandbox) -> None:
    goods = raw(cafe, GOODS, **{"$filter": "IsFolder eq false", "$top": "1"})
    item = goods["value"][0]
    assert "odata.nextLink" not in goods
    assert len(item["Артикул"]) == 25 and item["Артикул"].endswith(" ")
    assert "Parent@navigationLinkUrl" in item
    groups = raw(cafe, GOODS, **{"$filter": "IsFolder eq true", "$top": "1"})
    assert groups["value"][0]["Parent_Key"] == odata.EMPTY_GUID
    customer = raw(cafe, CUSTOMERS, **{"$filter": "Code eq '00-000001'"})["value"][0]
    assert customer["КонтактнаяИнформация"][0]["LineNumber"] == "1"
    prices = raw(cafe, PRICES, **{"$top": "1"})
    assert prices["value"][0]["Period"] == OPENED.isoformat()  # naive local time, no offset


def test_the_seeded_cafe_is_realistic(reader: OneCClient, cafe: OneCSandbox) -> None:
    goods = list(reader.iter_rows(GOODS, filter="IsFolder eq false"))
    groups = list(reader.iter_rows(GOODS, filter="IsFolder eq true"))
    assert 180 <= len(goods) <= 220 and len(groups) >= 10
    assert all(good["Parent_Key"] in {g["Ref_Key"] for g in groups} for good in goods)
    weighed = {g["Ref_Key"] for g in goods if g["Весовой"]}
    assert weighed
    barcodes = list(reader.iter_rows(BARCODES, orderby="Штрихкод"))
    assert {b["Номенклатура_Key"] for b in barcodes} == {g["Ref_Key"] for g in goods}
    assert all(b["Штрихкод"].startswith("22") for b in barcodes if b["Номенклатура_Key"] in weighed)
    assert len(list(reader.iter_rows("Catalog_Склады"))) == 2 and len(list(reader.iter_rows("Catalog_ВидыЦен"))) == 2
    contacts = [c["КонтактнаяИнформация"] for c in reader.iter_rows(CUSTOMERS)]
    assert sum(1 for rows in contacts if any(row["Тип"] == "Телефон" for row in rows)) >= 10


# --- reading -----------------------------------------------------------------------------------------------


def test_paging_is_stable_and_complete(reader: OneCClient, cafe: OneCSandbox) -> None:
    before = cafe.count("GET")
    small_pages = [row["Ref_Key"] for row in reader.iter_rows(GOODS, page_size=7)]
    pages_read = cafe.count("GET") - before
    one_page = [row["Ref_Key"] for row in reader.iter_rows(GOODS, page_size=10_000)]
    assert small_pages == one_page == sorted(one_page)
    assert len(set(small_pages)) == len(cafe.rows(GOODS))
    assert pages_read == len(one_page) // 7 + 1  # the last page is short (or empty) and ends the read


def test_filters_select_and_expand(reader: OneCClient) -> None:
    cheese = next(reader.iter_rows(GOODS, filter="substringof('Гауда', Description)", select=["Ref_Key", "Description"],
                                   expand=None))
    assert cheese == {"Ref_Key": cheese["Ref_Key"], "Description": "Сыр Гауда, вес"}
    expanded = reader.get(GOODS, cheese["Ref_Key"], expand=["Parent"])
    assert expanded is not None and expanded["Parent"]["Description"] == "Сыры"
    weighed = list(reader.iter_rows(GOODS, filter="Весовой eq true and not (IsFolder eq true)"))
    assert weighed and all(good["Весовой"] for good in weighed)
    raised = list(reader.iter_rows(PRICES, filter=f"Period ge {odata.datetime_literal(local(REPRICED), MOSCOW)}",
                                   orderby="Номенклатура_Key"))
    assert raised and all(price["Period"] == local(REPRICED) for price in raised)
    assert list(reader.iter_rows(GOODS, filter="startswith(Артикул, 'CHE-') and length(Артикул) eq 6"))


def test_get_of_a_missing_object_is_none(reader: OneCClient) -> None:
    assert reader.get(GOODS, "00000000-0000-0000-0000-000000000001") is None


def test_many_keys_are_read_in_chunks(reader: OneCClient, cafe: OneCSandbox) -> None:
    refs = [row["Ref_Key"] for row in cafe.rows(GOODS)][:95]
    before = cafe.count("GET")
    rows = list(connect(cafe, keys_per_request=40).iter_rows_in(GOODS, "Ref_Key", refs))
    assert sorted(r["Ref_Key"] for r in rows) == sorted(refs)
    assert cafe.count("GET") - before == 4  # 27 references make a URL as long as IIS takes


def test_slice_last_takes_the_latest_price_as_of_the_period(reader: OneCClient, cafe: OneCSandbox) -> None:
    retail = next(reader.iter_rows("Catalog_ВидыЦен", filter="Description eq 'Розничная'"))["Ref_Key"]
    condition = f"ВидЦены_Key eq {odata.guid(retail)}"

    def prices(period: dt.datetime) -> dict[str, Decimal]:
        rows = reader.slice_last(PRICES, orderby="Номенклатура_Key", period=period, condition=condition)
        return {row["Номенклатура_Key"]: row["Цена"] for row in rows}

    before, after = prices(local(REPRICED) - dt.timedelta(days=1)), prices(local(REPRICED))
    goods = [g for g in cafe.rows(GOODS) if not g["IsFolder"]]
    assert set(before) == set(after) == {g["Ref_Key"] for g in goods}
    changed = {ref for ref in after if after[ref] != before[ref]}
    assert len(changed) == len(goods[::5])
    assert all(after[ref] > before[ref] for ref in changed)


def test_balance_sums_receipts_and_expenses_as_of_the_period(reader: OneCClient, cafe: OneCSandbox) -> None:
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for move in cafe.rows(STOCK):
        sign = 1 if move["RecordType"] == "Receipt" else -1
        expected[move["Номенклатура_Key"], move["Склад_Key"]] += sign * move["ВНаличии"]
    now = {(r["Номенклатура_Key"], r["Склад_Key"]): r["ВНаличииBalance"]
           for r in reader.balance(STOCK, orderby="Номенклатура_Key,Склад_Key", page_size=50)}
    assert now == {key: value for key, value in expected.items() if value}
    before_sales = {(r["Номенклатура_Key"], r["Склад_Key"]): r["ВНаличииBalance"]
                    for r in reader.balance(STOCK, orderby="Номенклатура_Key,Склад_Key", period=local(SOLD))}
    assert sum(before_sales.values()) > sum(now.values())
    by_warehouse = list(reader.balance(STOCK, orderby="Склад_Key", dimensions=["Склад"]))
    assert len(by_warehouse) == 2 and set(by_warehouse[0]) == {"Склад_Key", "ВНаличииBalance"}
    assert sum(r["ВНаличииBalance"] for r in by_warehouse) == sum(now.values())
    hall = by_warehouse[0]["Склад_Key"]
    in_hall = list(reader.balance(STOCK, orderby="Номенклатура_Key", condition=f"Склад_Key eq {odata.guid(hall)}"))
    assert sum(r["ВНаличииBalance"] for r in in_hall) == by_warehouse[0]["ВНаличииBalance"]


def test_unf_names_its_registers_its_own_way() -> None:
    with OneCSandbox(("unf",)) as onec:
        client = connect(onec)
        stock = list(client.balance("AccumulationRegister_ЗапасыНаСкладах",
                                    orderby="Номенклатура_Key,СтруктурнаяЕдиница_Key"))
        prices = list(client.slice_last(PRICES, orderby="Номенклатура_Key,ВидЦен_Key"))
    assert stock and set(stock[0]) == {"Номенклатура_Key", "СтруктурнаяЕдиница_Key", "КоличествоBalance"}
    assert prices and "ВидЦен_Key" in prices[0]


def test_demo_activity_moves_stock_and_prices(client: OneCClient, onec: OneCSandbox) -> None:
    def totals() -> tuple[Decimal, Decimal]:
        stock = sum(r["ВНаличииBalance"] for r in client.balance(STOCK, orderby="Склад_Key", dimensions=["Склад"]))
        prices = sum(r["Цена"] for r in client.slice_last(PRICES, orderby="Номенклатура_Key,ВидЦены_Key"))
        return stock, prices

    stock, prices = totals()
    said = onec.demo_activity()
    assert len(said) == 2 and "arrived" in said[0]
    new_stock, new_prices = totals()
    assert new_stock > stock and new_prices > prices


# --- writing -----------------------------------------------------------------------------------------------


def test_create_update_conflict_post_unpost(client: OneCClient) -> None:
    created = client.create(ORDERS, an_order(client, "A-1001"))
    ref, first_version = created["Ref_Key"], created["DataVersion"]
    assert created["Posted"] is False and created["Number"]
    assert created["Date"] == dt.datetime(2026, 11, 20, 12, 15, tzinfo=MOSCOW)
    assert [line["LineNumber"] for line in created["Товары"]] == [1, 2]
    assert created["Товары"][0]["Количество"] == Decimal("0.305")

    updated = client.update(ORDERS, ref, {"Комментарий": "без сахара", "Товары": [created["Товары"][1]]},
                            data_version=first_version)
    assert updated["DataVersion"] != first_version
    assert updated["Комментарий"] == "без сахара" and len(updated["Товары"]) == 1  # the section is replaced whole

    with pytest.raises(RequestRejected, match="Версия не совпадает") as stale:
        client.update(ORDERS, ref, {"Комментарий": "late"}, data_version=first_version)
    assert stale.value.status == 412

    client.post(ORDERS, ref)
    posted = client.get(ORDERS, ref)
    assert posted is not None and posted["Posted"] is True and posted["DataVersion"] != updated["DataVersion"]
    client.unpost(ORDERS, ref)
    unposted = client.get(ORDERS, ref)
    assert unposted is not None and unposted["Posted"] is False
    assert unposted["DataVersion"] != posted["DataVersion"]


def test_a_lost_create_answer_is_retriable_and_the_document_is_found_once(client: OneCClient,
                                                                          onec: OneCSandbox) -> None:
    order = an_order(client, "TG-77")
    onec.faults.drop_after_commit(1)
    with pytest.raises(NetworkError) as lost:
        client.create(ORDERS, order)
    assert isinstance(lost.value, RetriableError)
    assert onec.count("POST") == 1  # the HTTP layer did not repeat the write
    found = client.find(ORDERS, "НомерПоДаннымКлиента", "TG-77")
    assert len(found) == 1 and found[0]["СуммаДокумента"] == Decimal("361.50")


def test_1c_refusals_of_bad_writes(client: OneCClient, onec: OneCSandbox) -> None:
    with pytest.raises(RequestRejected, match="Posted") as posted:
        client.create(ORDERS, {"Posted": True})
    assert posted.value.code == "16"
    with pytest.raises(RequestRejected, match="табличной части напрямую"):
        client.create(f"{ORDERS}_Товары", {"Количество": Decimal(1)})
    with pytest.raises(RequestRejected, match="Не найдено свойство: Несуществующее"):
        client.create(ORDERS, {"Несуществующее": 1})
    response = requests.post(onec.service_root + ORDERS + "?$format=json", auth=(onec.username, onec.password),
                             data='{"Товары": [{"Количество": 1}]}'.encode(), timeout=5)
    assert response.status_code == 500 and odata.parse_error(response.content) == odata.ODataError(
        "-1", "Произошла внутренняя ошибка OData сервиса. Дополнительные сведения можно найти "
              "в технологическом журнале.")


def test_posting_a_document_marked_for_deletion_fails_in_1c(client: OneCClient) -> None:
    ref = client.create(ORDERS, {"DeletionMark": True})["Ref_Key"]
    with pytest.raises(RequestRejected, match="Помеченный на удаление"):
        client.post(ORDERS, ref)


# --- failures ----------------------------------------------------------------------------------------------


def test_wrong_password_is_an_auth_error(cafe: OneCSandbox) -> None:
    with pytest.raises(AuthError, match="401"):
        connect(cafe, password="wrong").service_document()


def test_missing_rights_are_an_auth_error_with_1c_message() -> None:
    with OneCSandbox(forbidden={ORDERS}) as onec, pytest.raises(AuthError, match="Нарушение прав доступа"):
        list(connect(onec).iter_rows(ORDERS))


@pytest.mark.parametrize(("condition", "code", "text"), [
    ("Code add 1 eq 2", "0", "арифметика"),
    ("Owner/Code eq 'x'", "0", "навигационное"),
    ("Товары/any(t: t/Количество gt 1)", "21", "Лямбда"),
    ("Code eq", "14", "Ошибка разбора"),
    ("Parent_Key eq '00000000-0000-0000-0000-000000000000'", "14", "несовместимые типы"),
    ("isof('StandardODATA.Catalog_Номенклатура')", "21", "Функция не реализована"),
])
def test_unsupported_queries_are_refused_with_1c_message(reader: OneCClient, condition: str, code: str,
                                                         text: str) -> None:
    with pytest.raises(RequestRejected, match=text) as refused:
        list(reader.iter_rows(GOODS, filter=condition))
    assert refused.value.code == code


def test_a_path_outside_the_publication_is_the_web_servers_404(cafe: OneCSandbox) -> None:
    astray = connect(cafe)
    astray.http.base_url = astray.http.base_url.replace("/trade/", "/shop/")
    with pytest.raises(RequestRejected, match="web server answered, not 1C"):
        astray.service_document()


def test_reads_survive_503s(client: OneCClient, onec: OneCSandbox) -> None:
    onec.faults.fail_next(2, status=503)
    assert len(client.service_document()) > 5
    assert onec.count("GET") == 3


@pytest.fixture(scope="module")
def shared() -> Iterator[OneCClient]:
    """One sandbox for every example hypothesis generates (function fixtures would not be reset between them)."""
    with OneCSandbox() as onec:
        http = HttpClient(base_url=onec.service_root, source="onec-roundtrip", retry=RetryPolicy(attempts=1),
                          clock=RecordingClock(), auth=(onec.username, onec.password))
        yield OneCClient(http, timezone=MOSCOW)


@given(text=st.text(alphabet=st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=30))
@settings(max_examples=25, deadline=None)
def test_any_name_written_is_found_again_through_the_filter(shared: OneCClient, text: str) -> None:
    created = shared.create(GOODS, {"Description": text})
    assert created["Description"] == text.rstrip(" ")
    assert created["Ref_Key"] in [row["Ref_Key"] for row in shared.find(GOODS, "Description", text)]
