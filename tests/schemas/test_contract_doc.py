"""`docs/CONTRACT.md` keeps up with the JSON Schemas: every field, event type, state, outcome, command
kind and recovery action they name is in it, in backticks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from schemas.export import write_schemas
from tests.paths import README, ROOT

CONTRACT = ROOT / "docs" / "CONTRACT.md"


def named(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        found.update(node.get("properties", {}))
        found.update(v for v in node.get("enum", []) if isinstance(v, str))
        if isinstance(node.get("const"), str):
            found.add(node["const"])
        for value in node.values():
            named(value, found)
    elif isinstance(node, list):
        for value in node:
            named(value, found)
    return found


def test_every_name_in_the_json_schemas_is_in_the_contract(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    names: set[str] = set()
    for schema in sorted(tmp_path.glob("*.json")):
        named(json.loads(schema.read_text()), names)
    text = CONTRACT.read_text()
    quoted = set(re.findall(r"`([^`]+)`", text)) | set(re.findall(r'"([a-z_.]+)"', text))
    assert len(names) > 40
    assert sorted(n for n in names if n not in quoted) == []


def test_the_readme_links_the_contract_in_the_repository() -> None:
    text = README.read_text()
    assert "docs/CONTRACT.md" in text and "shared design folder" not in text
