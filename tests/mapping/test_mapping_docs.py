"""The published grammar (mappings/schema.json) and the documentation keep up with the language."""

from __future__ import annotations

import re
from pathlib import Path

from hub.mapping import check_paths
from hub.mapping._expr import FUNCTIONS
from hub.mapping._grammar import FIELD_KEYS, TOP_KEYS
from hub.mapping._schema import schema_text
from hub.mapping._transforms import TRANSFORMS
from hub.values import json_loads

from .conftest import REPO

DOCS = (REPO / "docs" / "mappings.md").read_text(encoding="utf-8")


def test_schema_json_is_generated_from_the_grammar() -> None:
    published = (REPO / "mappings" / "schema.json").read_text(encoding="utf-8")
    assert published == schema_text(), "regenerate: python -m hub.mapping._schema > mappings/schema.json"


def test_schema_offers_every_transform_and_key() -> None:
    schema = json_loads(schema_text())
    plain, with_options = schema["definitions"]["transform"]["anyOf"]
    assert set(plain["enum"]) | set(with_options["properties"]) == set(TRANSFORMS)
    assert set(schema["properties"]) == set(TOP_KEYS)
    assert set(schema["definitions"]["field"]["properties"]) == set(FIELD_KEYS)


def test_docs_describe_every_transform_function_and_key() -> None:
    for word in [*TRANSFORMS, *FUNCTIONS, *FIELD_KEYS, *TOP_KEYS]:
        assert f"`{word}" in DOCS, f"docs/mappings.md does not mention {word}"


def test_full_mapping_examples_in_the_docs_pass_check(tmp_path: Path) -> None:
    examples = re.findall(r"```yaml\n# (\w+\.(?:in|out)\.yaml)\n(.*?)```", DOCS, re.DOTALL)
    assert examples
    for index, (name, text) in enumerate(examples):
        path = tmp_path / str(index) / name
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        assert check_paths([path]) == []
