"""Every input is validated strictly, with a reason that names the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import InvalidInput, LifecycleEvent, Tick, parse_input, parse_lifecycle, parsing
from schemas.export import SCHEMA_FILES, write_schemas
from tests.events import lifecycle_json


def valid(**changes: object) -> str:
    body = json.loads(lifecycle_json("started", "exec-1", 0, timeout_seconds=900, attributes={"schedule_id": "n"}))
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not None})


def test_the_contract_example_is_accepted() -> None:
    event = parse_input(valid())
    assert isinstance(event, LifecycleEvent) and event.timeout_seconds == 900


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"execution_id": "has space"}, "execution_id"),
        ({"execution_id": "x" * 129}, "execution_id"),
        ({"agent_name": "Research_Bot"}, "agent_name"),
        ({"agent_name": "-bot"}, "agent_name"),
        ({"event_id": "e" * 129}, "event_id"),
        ({"occurred_at": "2026-11-28T21:00:00"}, "occurred_at"),
        ({"occurred_at": "2026-11-28"}, "occurred_at"),
        ({"occurred_at": 1796000000}, "occurred_at"),
        ({"timeout_seconds": "900"}, "timeout_seconds"),
        ({"timeout_seconds": -1}, "timeout_seconds"),
        ({"attributes": {"blob": "x" * 9000}}, "attributes"),
        ({"attributes": ["not", "an", "object"]}, "attributes"),
        ({"type": "execution.exploded"}, "type"),
        ({"schema_version": 2}, "schema_version"),
        ({"schema_version": "1"}, "schema_version"),
    ],
)
def test_invalid_fields_are_rejected_with_the_field_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_input(valid(**changes))
    assert caught.value.reason.startswith(f"{field}:") or f"; {field}:" in caught.value.reason


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1,2]", b"null", b"{" * 20000])
def test_garbage_is_rejected_not_raised(raw: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_input(raw)


def test_unknown_fields_are_ignored_so_producers_can_add_fields() -> None:
    assert isinstance(parse_input(valid(new_field="x")), LifecycleEvent)


def test_control_events_are_not_lifecycle_events() -> None:
    tick = json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": "2026-11-28T21:00:00Z"})
    assert isinstance(parse_input(tick), Tick)
    with pytest.raises(InvalidInput, match="not a lifecycle event type"):
        parse_lifecycle(tick)


def test_an_older_schema_version_is_upcast_before_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    def v0_to_v1(obj: dict[str, object]) -> dict[str, object]:
        return {**obj, "schema_version": 1, "execution_id": obj.pop("exec_id")}

    monkeypatch.setitem(parsing.UPCASTERS, 0, v0_to_v1)
    old = json.loads(valid(schema_version=0))
    old["exec_id"] = old.pop("execution_id")
    event = parse_input(json.dumps(old))
    assert isinstance(event, LifecycleEvent) and event.execution_id == "exec-1"


def test_json_schemas_are_written_for_every_event(tmp_path: Path) -> None:
    written = write_schemas(tmp_path / "a" / "b")  # the folder is made, with its parents
    assert sorted(p.name for p in written) == sorted(SCHEMA_FILES)
    for path in written:  # stable text: two-space indents, sorted keys, one newline at the end
        text = path.read_text()
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
        assert json.loads(text)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    tmp_path = tmp_path / "a" / "b"
    lifecycle = json.loads((tmp_path / "lifecycle-event.schema.json").read_text())
    assert lifecycle["properties"]["agent_name"]["pattern"] == "^[a-z0-9][a-z0-9-]{0,62}$"
    transition = json.loads((tmp_path / "transition.schema.json").read_text())
    assert {"from", "to"} <= set(transition["properties"])
    command = json.loads((tmp_path / "command.schema.json").read_text())
    assert "error" not in command["properties"]
