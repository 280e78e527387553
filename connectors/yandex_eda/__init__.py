"""Yandex Eda (and Delivery Club): hub is the partner server Yandex calls. See :mod:`.connector`."""

from connectors.yandex_eda.connector import YandexEdaConnector, YandexEdaSettings
from connectors.yandex_eda.sandbox import YandexEdaSimulator

__all__ = ["YandexEdaConnector", "YandexEdaSettings", "YandexEdaSimulator"]
