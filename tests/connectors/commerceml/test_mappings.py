"""What 1C uploads to ``commerceml_1c`` goes through mappings/commerceml: the bundled files keep goods, prices and
stock as the parser reads them, and an integrator's files change what the jobs push."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.test import Client

from connectors.commerceml._views import Classifier, good_view, offer_view, price_views, stock_views, variant_view
from connectors.commerceml.items import Group, Offer, PriceType, Property, Warehouse
from connectors.commerceml.parser import parse
from connectors.testchannel import TestChannelSandbox
from hub.config import bundled_mappings, load_config
from hub.daemon import Daemon
from hub.errors import ConfigError
from hub.jobrun import run_job
from hub.mapping import CompiledMapping, load_mapping
from hub.model import Entity, PriceEntry, Product, Record, StockLevel
from hub.values import utcnow
from tests._shared import sample_files
from tests.connectors.commerceml.conftest import LIMIT, MOSCOW, PASSWORD, PATH, SAMPLES, Hub, cml, line_of

BUNDLED = bundled_mappings() / "commerceml"


class DictState:
    """Channel state in a dictionary, for the views alone."""

    def __init__(self) -> None:
        self.kinds: dict[str, dict[str, str]] = {}

    def put_many(self, kind: str, payloads: Any) -> None:
        self.kinds.setdefault(kind, {}).update(payloads)

    def get(self, kind: str, key: str) -> str | None:
        return self.kinds.get(kind, {}).get(key)

    def all(self, kind: str) -> list[tuple[str, str]]:
        return sorted(self.kinds.get(kind, {}).items())

    def delete(self, kind: str, keys: Any) -> None:
        for key in keys:
            self.kinds.get(kind, {}).pop(key, None)


def bundled(entity: Entity) -> CompiledMapping:
    return load_mapping(BUNDLED / f"{entity.value}.in.yaml", timezone=MOSCOW, config={"warehouse": "main"})


# --- the bundled mappings ----------------------------------------------------------------------------------------


@pytest.mark.samples
@pytest.mark.parametrize("sample", sample_files(SAMPLES, "*.xml"))
def test_the_bundled_mappings_keep_goods_prices_and_stock_as_the_parser_reads_them(sample: Path) -> None:
    catalog, prices, stock = (bundled(entity) for entity in (Entity.CATALOG, Entity.PRICES, Entity.STOCK))
    classifier = Classifier(DictState())
    as_of = utcnow()
    mapped: list[Record] = []
    parsed: list[Record] = []
    for item in parse(sample, timezone=MOSCOW):
        if isinstance(item, Group | Property | PriceType | Warehouse):
            classifier.add(item)
        elif isinstance(item, Product):
            mapped.append(catalog.apply(good_view(item, classifier)))
            parsed.append(item)
        elif isinstance(item, Offer):
            shared = offer_view(item, classifier)
            mapped += [prices.apply(view) for _, view in price_views(item, shared, classifier)]
            mapped += [stock.apply(view) for _, view in stock_views(item, shared, classifier, warehouse="main",
                                                                     as_of=as_of)]
            total = [StockLevel(product=item.id, warehouse="main", quantity=item.quantity, as_of=as_of)
                     ] if item.quantity is not None else []
            parsed += [*item.prices, *(item.stock or total)]
            if item.variant is not None and item.name:
                mapped.append(catalog.apply(variant_view(item)))
                parsed.append(Product(id=item.id, name=item.name, article=item.article, barcodes=item.barcodes,
                                      unit=item.unit or "pcs", deleted=item.deleted,
                                      weighed=item.unit in ("кг", "kg", "166"),
                                      attributes={"product": item.product, "characteristics": item.characteristics}
                                      if item.characteristics else {"product": item.product}))

    assert mapped == parsed
    assert all(type(record) in (Product, PriceEntry, StockLevel) for record in mapped)


# --- an integrator's mappings ------------------------------------------------------------------------------------

CLASSIFIER = """<Классификатор><Ид>cl</Ид><Наименование>Классификатор</Наименование>
<Группы>
  <Группа><Ид>g-food</Ид><Наименование>Еда</Наименование></Группа>
  <Группа><Ид>g-services</Ид><Наименование>Услуги</Наименование>
    <Группы><Группа><Ид>g-delivery</Ид><Наименование>Доставка</Наименование></Группа></Группы>
  </Группа>
</Группы>
<Свойства>
  <Свойство><Ид>p-brand</Ид><Наименование>Бренд</Наименование><ТипЗначений>Справочник</ТипЗначений>
    <ВариантыЗначений><Справочник><ИдЗначения>b-1</ИдЗначения><Значение>Lavazza</Значение></Справочник>
    </ВариантыЗначений></Свойство>
</Свойства>
</Классификатор>"""


def good(good_id: str, name: str, group: str, *, code: str | None = None, article: str | None = None,
         brand: str | None = None) -> str:
    parts = [f"<Ид>{good_id}</Ид>", f"<Наименование>{name}</Наименование>",
             f"<Артикул>{article}</Артикул>" if article else "", '<БазоваяЕдиница Код="796">шт</БазоваяЕдиница>',
             f"<Группы><Ид>{group}</Ид></Группы>"]
    if brand:
        parts.append(f"<ЗначенияСвойств><ЗначенияСвойства><Ид>p-brand</Ид><Значение>{brand}</Значение>"
                     "</ЗначенияСвойства></ЗначенияСвойств>")
    if code:
        parts.append("<ЗначенияРеквизитов><ЗначениеРеквизита><Наименование>Код</Наименование>"
                     f"<Значение>{code}</Значение></ЗначениеРеквизита></ЗначенияРеквизитов>")
    return f"<Товар>{''.join(parts)}</Товар>\n"


CATALOG = ('<Каталог СодержитТолькоИзменения="false"><Ид>cat</Ид><ИдКлассификатора>cl</ИдКлассификатора>'
           "<Наименование>Каталог</Наименование><Товары>\n"
           + good("beans", "Зёрна", "g-food", code="00001", brand="b-1")
           + good("coffee", "Кофе", "g-food", article="ART-2")
           + good("courier", "Доставка курьером", "g-delivery", code="00003")
           + "</Товары></Каталог>")
GOODS = cml(CATALOG)
"""The goods alone: 2.08+ sends the classifier in a file of its own, which hub keeps for the goods that follow."""

OFFERS = cml("""<ПакетПредложений><Ид>cat#</Ид><ИдКаталога>cat</ИдКаталога><ИдКлассификатора>cl</ИдКлассификатора>
<ТипыЦен>
  <ТипЦены><Ид>pt-retail</Ид><Наименование>Розничная</Наименование><Валюта>RUB</Валюта></ТипЦены>
  <ТипЦены><Ид>pt-wholesale</Ид><Наименование>Оптовая</Наименование><Валюта>RUB</Валюта></ТипЦены>
</ТипыЦен>
<Предложения>
<Предложение><Ид>beans</Ид><Наименование>Зёрна</Наименование><Цены>
  <Цена><ИдТипаЦены>pt-retail</ИдТипаЦены><ЦенаЗаЕдиницу>990.5</ЦенаЗаЕдиницу></Цена>
  <Цена><ИдТипаЦены>pt-wholesale</ИдТипаЦены><ЦенаЗаЕдиницу>800</ЦенаЗаЕдиницу></Цена>
</Цены><Количество>12</Количество></Предложение>
</Предложения></ПакетПредложений>""")

INTEGRATOR_CATALOG = """# yaml-language-server: $schema=../schema.json
system: commerceml_1c
skip_when: "'Услуги' in all_group_names"     # services are not sold in the channels
fields:
  id: {from: id, required: true}
  name: {from: name, required: true}
  article: {expr: "coalesce(requisites.Код[0], article)"}
  unit: {from: unit, default: pcs}
  group: group
  deleted: deleted
  attributes.brand: properties_by_name.Бренд.0
"""

INTEGRATOR_PRICES = """system: commerceml_1c
skip_when: "price_type_name == 'Оптовая'"
tables:
  price_types: {values: {pt-retail: retail}, on_missing: keep}
fields:
  product: {from: id, required: true}
  price_type: {from: price_type, transform: {table: price_types}, required: true}
  amount: {from: amount, transform: money, required: true}
"""


def mappings_folder(root: Path, **files: str) -> Path:
    """A hub.yaml ``mappings:`` folder: the bundled one, with ``files`` (entity → text) in commerceml/ instead."""
    folder = root / "mappings"
    shutil.copytree(bundled_mappings(), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    for entity, text in files.items():
        (folder / "commerceml" / f"{entity}.in.yaml").write_text(text)
    return folder


def write_config(root: Path, *, shop_url: str = "http://127.0.0.1:9", folder: Path | None = None,
                 **onec: Any) -> Path:
    """hub.yaml with the source ``onec`` (``onec`` adds to its settings), a testchannel shop and a catalog job."""
    config: dict[str, Any] = {
        "state": {"url": f"sqlite:///{root / 'state.db'}"}, "system_of_record": "onec", "timezone": "Europe/Moscow",
        "sources": {
            "onec": {"type": "commerceml_1c", "username": "site-exchange", "password": PASSWORD,
                     "work_dir": str(root / "uploads"), "inbound": {"path": PATH, "max_body": 4 * LIMIT},
                     "file_limit": LIMIT, **onec},
            "shop": {"type": "testchannel", "url": shop_url, "token": "t"},
        },
        "jobs": {"catalog": {"type": "catalog", "from": "onec", "to": "shop"}},
    }
    if folder is not None:
        config["mappings"] = folder.name
    path = root / "hub.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


@contextmanager
def started(config: Path) -> Iterator[Hub]:
    daemon = Daemon(load_config(config), background=False)
    try:
        yield Hub(Client(daemon.app), daemon, config.parent / "uploads")
    finally:
        daemon.runtime.close()


def exchange(hub: Hub, files: dict[str, bytes]) -> None:
    """One catalog exchange of 1C's: every file uploaded, then each imported to the end."""
    hub.login()
    for name, data in files.items():
        hub.upload(name, data)
    for name in files:
        assert hub.import_(name)[-1] == ["success"]


def held(hub: Hub, entity: Entity) -> dict[str, Record]:
    connector = hub.connector
    return {raw.external_id: connector.decode(entity, raw) for page in connector.read(entity, cursor=None)
            for raw in page.records}


@pytest.mark.parametrize(("integrator", "pushed"), [
    (False, {"beans": "Зёрна", "ART-2": "Кофе", "courier": "Доставка курьером"}),
    (True, {"00001": "Зёрна", "ART-2": "Кофе"}),
], ids=["bundled", "integrator"])
def test_an_integrator_s_mapping_takes_the_article_from_a_requisite_and_leaves_a_folder_out(
        tmp_path: Path, integrator: bool, pushed: dict[str, str]) -> None:
    folder = mappings_folder(tmp_path, catalog=INTEGRATOR_CATALOG) if integrator else None
    with TestChannelSandbox(token="t") as shop, \
            started(write_config(tmp_path, shop_url=shop.url, folder=folder)) as hub:
        exchange(hub, {"classifier.xml": cml(CLASSIFIER), "goods.xml": GOODS})

        info, ctx = run_job(hub.daemon.runtime, "catalog")

        assert info.status == "succeeded", ctx.errors
        assert {sku: product["title"] for sku, product in shop.products.items()} == pushed
        assert not any(product["hidden"] for product in shop.products.values())
        beans = held(hub, Entity.CATALOG)["beans"]
        assert isinstance(beans, Product)
        if integrator:  # the Справочник value of the classifier sent in the file before
            assert beans.attributes == {"brand": "Lavazza"}
        else:
            assert beans.attributes["properties"] == {"p-brand": ["b-1"]}


def test_what_a_mapping_now_skips_is_withdrawn_a_good_hidden_a_price_forgotten(tmp_path: Path) -> None:
    folder = mappings_folder(tmp_path, catalog=INTEGRATOR_CATALOG, prices=INTEGRATOR_PRICES)
    with started(write_config(tmp_path, folder=folder)) as hub:
        state = hub.connector.state
        state.put_many("catalog", {"courier": Product(id="courier", name="Доставка курьером").model_dump_json()})
        state.put_many("prices", {"pt-wholesale:beans": PriceEntry(product="beans", price_type="pt-wholesale",
                                                                   amount=Decimal(700)).model_dump_json()})

        exchange(hub, {"import.xml": cml(CLASSIFIER + CATALOG), "offers.xml": OFFERS})

        goods = held(hub, Entity.CATALOG)
        assert {key: good.deleted for key, good in goods.items() if isinstance(good, Product)} == {
            "beans": False, "coffee": False, "courier": True}
        assert held(hub, Entity.PRICES) == {
            "pt-retail:beans": PriceEntry(product="beans", price_type="retail", amount=Decimal("990.50"))}
        reports = {key.rpartition(":")[2]: yaml.safe_load(payload) for key, payload in state.all("import")}
        assert (reports["import.xml"]["left_out"], reports["offers.xml"]["left_out"]) == (1, 1)


def test_a_record_a_mapping_cannot_map_is_reported_with_file_and_line_and_the_rest_is_taken(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    strict = INTEGRATOR_CATALOG.replace('article: {expr: "coalesce(requisites.Код[0], article)"}',
                                        "article: {from: article, required: true}")
    with started(write_config(tmp_path, folder=mappings_folder(tmp_path, catalog=strict))) as hub:
        with caplog.at_level(logging.WARNING, logger="hub.commerceml.server"):
            exchange(hub, {"goods.xml": GOODS})

        line = line_of(GOODS, "<Ид>beans</Ид>")
        expected = (f"goods.xml:{line}: product beans: catalog.in.yaml: article: required, "
                    "but the input has no 'article'")
        assert any(expected in record.getMessage() for record in caplog.records)
        assert set(held(hub, Entity.CATALOG)) == {"coffee"}


@pytest.mark.parametrize(("files", "expected"), [
    ({"catalog": INTEGRATOR_CATALOG.replace("name: {from: name, required: true}", "nmae: name")},
     [r"commerceml/catalog\.in\.yaml:\d+:\d+: fields\.nmae: unknown canonical field 'nmae' of Product "
      r"\(did you mean 'name'\?\)",
      r"commerceml/catalog\.in\.yaml:\d+:\d+: fields: required canonical field 'name' of Product is not mapped"]),
    ({"stock": (BUNDLED / "stock.in.yaml").read_text().replace("{config: warehouse}", "{config: store}")},
     [r"commerceml/stock\.in\.yaml:\d+:\d+: fields\.warehouse\.default\.config: config value 'store' is not set "
      r"\(known: warehouse\)"]),
], ids=["grammar", "configuration"])
def test_a_broken_mapping_stops_hub_at_start_with_file_line_and_what_was_expected(
        tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    config = write_config(tmp_path, folder=mappings_folder(tmp_path, **files))

    with pytest.raises(ConfigError) as raised:
        Daemon(load_config(config), background=False)

    for pattern in expected:
        assert any(re.search(pattern, problem) for problem in raised.value.problems), raised.value.problems


def test_a_source_names_its_own_mappings_folder_and_the_values_they_read(tmp_path: Path) -> None:
    folder = mappings_folder(tmp_path)
    shutil.copytree(BUNDLED, folder / "hall")  # a second 1C base, say, with rules of its own
    stock = folder / "hall" / "stock.in.yaml"
    stock.write_text(stock.read_text().replace("{config: warehouse}", "{config: hall_warehouse}"))
    config = write_config(tmp_path, folder=folder, mappings="hall", values={"hall_warehouse": "hall"})

    with started(config) as hub:
        exchange(hub, {"offers.xml": OFFERS})

        level = held(hub, Entity.STOCK)["main:beans"]  # kept under 1C's side of it: no warehouse, the setting's
        assert isinstance(level, StockLevel) and (level.warehouse, level.quantity) == ("hall", Decimal(12))
