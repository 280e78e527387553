"""The stream seam: a connector's capabilities and batch limits follow from its streams, and each call of the
engine reaches the stream of its entity."""

from __future__ import annotations

import logging

import pytest

from connectors.commerceml.server import OneCExchangeConnector
from connectors.commerceml.site import BATCH as SITE_BATCH
from connectors.commerceml.site import CommerceMLSiteConnector
from connectors.commerceml.site import OrdersStream as SiteOrders
from connectors.iiko.connector import BATCH as IIKO_BATCH
from connectors.iiko.connector import CustomersStream as IikoCustomers
from connectors.iiko.connector import IikoConnector
from connectors.iiko.connector import OrdersStream as IikoOrders
from connectors.iiko.connector import StockStream as IikoStock
from connectors.onec_odata.connector import OneCConnector
from connectors.testchannel.client import MAX_BATCH, MAX_PRICE_BATCH, MAX_STOCK_BATCH
from connectors.testchannel.connector import (
    CatalogStream,
    OrdersStream,
    PricesStream,
    StockStream,
    TestChannelConnector,
    TestChannelSettings,
)
from connectors.yandex_eda.connector import BATCH, YandexEdaConnector
from connectors.yandex_eda.connector import OrdersStream as YandexOrders
from hub.connector import Connector, ConnectorContext, Mode
from hub.errors import RequestRejected
from hub.model import Entity
from hub.streams import (
    BatchWrite,
    ChangedOutside,
    CustomerDetails,
    DailySales,
    Listed,
    Pull,
    Push,
    Statuses,
    Write,
    stream_of,
)
from hub.values import zone


def test_a_streams_modes_are_those_of_the_kinds_it_is_made_of() -> None:
    assert OrdersStream.modes() == {Mode.PULL, Mode.PUSH, Mode.WRITE, Mode.STATUS}
    assert CatalogStream.modes() == {Mode.WRITE}
    assert StockStream.modes() == PricesStream.modes() == {Mode.PULL, Mode.WRITE}
    assert all(issubclass(OrdersStream, kind) for kind in (Pull, Push, Write, Statuses))


def test_capabilities_and_batch_limits_follow_from_the_streams() -> None:
    assert TestChannelConnector.capabilities == {
        Entity.ORDERS: {Mode.PULL, Mode.PUSH, Mode.WRITE, Mode.STATUS}, Entity.CATALOG: {Mode.WRITE},
        Entity.STOCK: {Mode.WRITE, Mode.PULL}, Entity.PRICES: {Mode.WRITE, Mode.PULL}}
    assert TestChannelConnector.batch_limits == {Entity.CATALOG: MAX_BATCH, Entity.STOCK: MAX_STOCK_BATCH,
                                                 Entity.PRICES: MAX_PRICE_BATCH}
    assert TestChannelConnector.can(Entity.STOCK, Mode.PULL) and not TestChannelConnector.can(Entity.CUSTOMERS,
                                                                                             Mode.WRITE)
    assert not issubclass(OrdersStream, BatchWrite)


def test_an_entity_without_a_stream_of_that_kind_is_refused_with_the_mode_it_lacks() -> None:
    settings = TestChannelSettings(type="testchannel", url="http://127.0.0.1:9", token="t")
    context = ConnectorContext(source="shop", timezone=zone("Europe/Moscow"), log=logging.getLogger("test"))
    connector = TestChannelConnector(settings, context)
    try:
        with pytest.raises(RequestRejected, match="cannot pull customers"):
            next(iter(connector.read(Entity.CUSTOMERS, cursor=None)))
        with pytest.raises(RequestRejected, match="cannot write catalog"):
            connector.find(Entity.CATALOG, "shop:1")  # goods are set in batches, never found one by one
        with pytest.raises(RequestRejected, match="cannot write orders"):
            connector.write_batch(Entity.ORDERS, [])
        assert connector.endpoints() == []  # no webhook secret: the orders stream serves nothing
    finally:
        connector.close()


def test_1c_s_capabilities_follow_from_its_streams_as_its_table_said() -> None:
    assert OneCConnector.capabilities == {
        Entity.CATALOG: {Mode.PULL}, Entity.PRICES: {Mode.PULL}, Entity.STOCK: {Mode.PULL},
        Entity.CUSTOMERS: {Mode.PULL, Mode.WRITE}, Entity.ORDERS: {Mode.PULL, Mode.WRITE},
        Entity.COMPANY: {Mode.PULL}}  # the organization's card, for the company on receipts
    assert OneCConnector.batch_limits == {}


def test_yandex_s_capabilities_follow_from_its_streams_as_its_table_said() -> None:
    assert YandexEdaConnector.capabilities == {
        Entity.ORDERS: {Mode.PUSH, Mode.STATUS}, Entity.CATALOG: {Mode.WRITE}, Entity.STOCK: {Mode.WRITE},
        Entity.PRICES: {Mode.WRITE}}
    assert YandexEdaConnector.batch_limits == dict.fromkeys((Entity.CATALOG, Entity.STOCK, Entity.PRICES), BATCH)


def test_iiko_s_capabilities_follow_from_its_streams_as_its_table_said() -> None:
    assert IikoConnector.capabilities == {
        Entity.ORDERS: {Mode.PULL, Mode.PUSH, Mode.WRITE}, Entity.CATALOG: {Mode.WRITE},
        Entity.STOCK: {Mode.WRITE, Mode.PULL}, Entity.PRICES: {Mode.PULL}, Entity.CUSTOMERS: {Mode.WRITE}}
    assert IikoConnector.batch_limits == {Entity.CATALOG: IIKO_BATCH, Entity.STOCK: IIKO_BATCH}


def test_commerceml_s_capabilities_follow_from_their_streams_as_their_tables_said() -> None:
    assert OneCExchangeConnector.capabilities == {
        Entity.CATALOG: {Mode.PULL}, Entity.PRICES: {Mode.PULL}, Entity.STOCK: {Mode.PULL},
        Entity.ORDERS: {Mode.WRITE, Mode.PULL}}
    assert CommerceMLSiteConnector.capabilities == {
        Entity.CATALOG: {Mode.WRITE}, Entity.PRICES: {Mode.WRITE}, Entity.STOCK: {Mode.WRITE},
        Entity.ORDERS: {Mode.PULL, Mode.STATUS}}
    assert CommerceMLSiteConnector.batch_limits == dict.fromkeys((Entity.CATALOG, Entity.PRICES, Entity.STOCK),
                                                                 SITE_BATCH)


def test_what_one_system_alone_can_do_is_a_kind_of_its_stream_not_a_hook_of_every_connector() -> None:
    for hook in ("listed", "daily_sales", "about_customer", "changed_outside", "orders_shown_again"):
        assert not hasattr(Connector, hook), hook
    assert issubclass(YandexOrders, Listed) and issubclass(IikoOrders, DailySales)
    assert issubclass(IikoCustomers, CustomerDetails) and issubclass(IikoStock, ChangedOutside)
    assert not SiteOrders.shown_again and IikoOrders.shown_again  # the sale query hands an order out once
    # The optional kinds add no capability: iiko's orders do what they did.
    assert IikoOrders.modes() == {Mode.PULL, Mode.PUSH, Mode.WRITE}
    assert not any(issubclass(stream, (Listed, DailySales, CustomerDetails, ChangedOutside))
                   for stream in TestChannelConnector.streams)


def test_the_engine_finds_the_stream_of_an_entity_and_none_where_the_connector_has_none() -> None:
    settings = TestChannelSettings(type="testchannel", url="http://127.0.0.1:9", token="t")
    context = ConnectorContext(source="shop", timezone=zone("Europe/Moscow"), log=logging.getLogger("test"))
    connector = TestChannelConnector(settings, context)
    try:
        assert isinstance(stream_of(connector, Entity.STOCK), StockStream)
        assert stream_of(connector, Entity.CUSTOMERS) is None
    finally:
        connector.close()
