"""iiko's published OpenAPI document as a validator of request and response bodies.

The document is OpenAPI 3.0 with iiko's own habits, so its schemas are turned
into JSON Schema (draft 7) once, when loaded:

* ``nullable: true`` becomes "or null"; ``$ref`` points into ``definitions``;
* inheritance is ``allOf: [{$ref: Base}]`` plus the subclass's own properties, and
  both declare ``additionalProperties: false``. Read literally, no subclass
  could ever validate (the base forbids the subclass's fields), so a subclass is
  flattened: the base's properties and required fields are merged into it;
* a base with a ``discriminator`` validates as the subclass its mapping names for
  the discriminator's value, and refuses a value the mapping does not list;
* the webhook schemas write types as ``"constant string 'StopListUpdate'"``,
  ``bool``, ``float``, ``int`` and ``uuid``: read as the JSON types they mean.

Formats (``uuid``, iiko's ``yyyy-MM-dd HH:mm:ss.fff``) are not checked.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match

from hub.values import json_loads
from tests._shared import SAMPLES

SPEC = SAMPLES / "iiko" / "iikocloud-openapi.json"
"""iiko's OpenAPI document, read where it lies (never copied into the repository)."""

_PREFIX = "#/components/schemas/"
_ODD_TYPES = {"float": "number", "double": "number", "bool": "boolean", "int": "integer", "uuid": "string",
              "enum": "string"}
_CONSTANT = re.compile(r"^constant string '(?P<value>[^']*)'$")
_KEPT = ("enum", "minLength", "maxLength", "minimum", "maximum", "required", "const")


class OpenApi:
    """Request and response validators for the operations of one OpenAPI document."""

    def __init__(self, path: Path = SPEC) -> None:
        self.document: dict[str, Any] = json_loads(path.read_bytes())
        self.components: dict[str, Any] = self.document["components"]["schemas"]

    @cached_property
    def definitions(self) -> dict[str, Any]:
        keys = {_key(name) for name in self.components}
        assert len(keys) == len(self.components), "two schema names read as one definition key"
        return {_key(name): self._definition(name) for name in self.components}

    def request_errors(self, path: str, body: Any) -> list[str]:
        """Why ``body`` is not a valid request body of ``POST path`` (empty when it is)."""
        operation = self.document["paths"][path]["post"]
        return self._errors(operation["requestBody"]["content"]["application/json"]["schema"], body)

    def response_errors(self, path: str, status: int, body: Any) -> list[str]:
        """Why ``body`` is not a valid ``status`` answer of ``POST path`` (empty when it is)."""
        responses = self.document["paths"][path]["post"]["responses"]
        answer = responses.get(str(status))
        if answer is None:
            return [f"POST {path} does not declare a {status} answer"]
        content = answer.get("content", {}).get("application/json")
        return [] if content is None else self._errors(content["schema"], body)

    def webhook_errors(self, body: Any) -> list[str]:
        """Why ``body`` (an array of events) is not what iiko's ``x-webhooks`` describe for each event type."""
        if not isinstance(body, list):
            return ["a webhook body is an array of events"]
        problems: list[str] = []
        for index, event in enumerate(body):
            name = f"iikoTransport.PublicApi.Contracts.WebHooks.{event.get('eventType')}WebHookEventInfo"
            if name not in self.components:
                problems.append(f"[{index}]: no webhook schema for eventType {event.get('eventType')!r}")
                continue
            problems += [f"[{index}]{problem}" for problem in self._errors({"$ref": _PREFIX + name}, event)]
        return problems

    def _errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        root = {**self._convert(schema), "definitions": self.definitions}
        validator = Draft7Validator(root)
        return [_describe(error) for error in sorted(validator.iter_errors(instance), key=lambda e: str(e.path))]

    # --- OpenAPI 3.0 → JSON Schema -------------------------------------------------------------

    def _definition(self, name: str) -> dict[str, Any]:
        schema = self.components[name]
        discriminator = schema.get("discriminator")
        if discriminator and discriminator.get("mapping"):
            prop, mapping = discriminator["propertyName"], discriminator["mapping"]
            return {"type": "object", "required": [prop],
                    "properties": {prop: {"enum": list(mapping)}},
                    "allOf": [{"if": {"properties": {prop: {"const": value}}},
                               "then": {"$ref": "#/definitions/" + _key(_name(ref))}}
                              for value, ref in mapping.items()]}
        return self._flat(name)

    def _flat(self, name: str) -> dict[str, Any]:
        """``name`` with its bases' properties merged in and no discriminator of its own."""
        schema = self.components[name]
        properties: dict[str, Any] = {}
        required: list[str] = []
        for part in schema.get("allOf", []):
            if "$ref" in part:
                base = self._flat(_name(part["$ref"]))
                properties.update(base.get("properties", {}))
                required += base.get("required", [])
        converted: dict[str, Any] = self._convert({key: value for key, value in schema.items()
                                                   if key not in ("allOf", "discriminator")})
        if not properties and not required:
            return converted
        converted["properties"] = {**properties, **converted.get("properties", {})}
        converted["required"] = sorted(set(required) | set(converted.get("required", [])))
        converted.setdefault("type", "object")
        return converted

    def _convert(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = {"$ref": "#/definitions/" + _key(_name(node["$ref"]))}
            return {"anyOf": [{"type": "null"}, target]} if node.get("nullable") else target
        result: dict[str, Any] = {key: node[key] for key in _KEPT if key in node}
        kind = node.get("type")
        if isinstance(kind, str):
            constant = _CONSTANT.match(kind)
            if constant:
                result["const"] = constant["value"]
            else:
                result["type"] = _ODD_TYPES.get(kind, kind)
        if "properties" in node:
            result["properties"] = {key: self._convert(value) for key, value in node["properties"].items()}
        if "items" in node:
            result["items"] = self._convert(node["items"])
        if isinstance(node.get("additionalProperties"), bool):
            result["additionalProperties"] = node["additionalProperties"]
        elif isinstance(node.get("additionalProperties"), dict):
            result["additionalProperties"] = self._convert(node["additionalProperties"])
        for combinator in ("allOf", "oneOf", "anyOf"):
            if combinator in node:
                result[combinator] = [self._convert(part) for part in node[combinator]]
        if node.get("nullable"):
            if "type" in result:
                result["type"] = [result["type"], "null"]
            if "enum" in result:
                result["enum"] = [*result["enum"], None]
            if "type" not in result:
                result = {"anyOf": [{"type": "null"}, result]}
        return result


def _name(ref: str) -> str:
    if not ref.startswith(_PREFIX):
        raise ValueError(f"unexpected reference {ref}")
    return ref[len(_PREFIX):]


def _describe(error: Any) -> str:
    """Where and why; for "null or an object" failures, the deepest reason inside the object branch."""
    while error.context:
        beyond_null = [e for e in error.context if not (e.validator == "type" and e.validator_value == "null")]
        error = best_match(beyond_null or error.context)
    return f"{'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message[:300]}"


def _key(name: str) -> str:
    """A definition key safe inside a JSON pointer (iiko's names hold backticks, brackets and spaces)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


_SHARED: OpenApi | None = None


def spec() -> OpenApi:
    """The document, loaded once per test session (it is 1.5 MB)."""
    global _SHARED  # noqa: PLW0603 - a cache of an immutable document
    if _SHARED is None:
        _SHARED = OpenApi()
    return _SHARED
