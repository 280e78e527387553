"""1C's error answers, as the sandbox gives them: ``{"odata.error": {"code": …, "message": …}}``.

A :class:`Refusal` is raised anywhere below the HTTP handler (the ``$filter``
parser included) and turned into 1C's error body in one place. It has its own
module because both :mod:`._filter` and :mod:`.sandbox` raise it and neither
should import the other for it.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from hub.inbound import json_response


class Refusal(Exception):
    """An answer 1C would give instead of data."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> Response:
        return json_response({"odata.error": {"code": self.code, "message": {"lang": "ru", "value": self.message}}},
                             self.status)


# Verbatim from real answers (fact sheet §1.7 and the samples); the rest are paraphrases.
NOT_FOUND = "Экземпляр сущности не найден"
INTERNAL = ("Произошла внутренняя ошибка OData сервиса. Дополнительные сведения можно найти "
            "в технологическом журнале.")
NO_ROWS_DIRECTLY = "Cоздание строк табличной части напрямую не поддерживается"
NO_RIGHTS = "Нарушение прав доступа!"
VERSION_MISMATCH = "Версия не совпадает"


def bad_query(message: str) -> Refusal:
    return Refusal(400, "14", f"Ошибка разбора параметров запроса: {message}")


def unsupported(message: str) -> Refusal:
    return Refusal(400, "0", f"Функциональность не поддерживается: {message}")


def bad_value(name: str, value: Any) -> Refusal:
    return Refusal(400, "4", f"Неверное значение свойства '{name}': {value!r}")


def no_property(name: str) -> Refusal:
    return Refusal(400, "10", f"Не найдено свойство: {name}")


def no_entity_type(name: str) -> Refusal:
    return Refusal(404, "8", f"Не найден тип сущности: {name}")


def bad_url(path: str) -> Refusal:
    return Refusal(400, "6", f"Неверный URL: {path}")


def method_not_allowed(method: str, note: str = "") -> Refusal:
    return Refusal(405, "19", f"Метод HTTP {method} не допускается{note}")
