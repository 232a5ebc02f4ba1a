"""The JSON Schemas of every event, as `exec-watchdog schemas` writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.inputs import CommandResult, LifecycleEvent, ProbeResult, Tick
from schemas.outputs import Command, RecoveryEvent, Transition

SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "lifecycle-event.schema.json": LifecycleEvent,
    "tick.schema.json": Tick,
    "probe-result.schema.json": ProbeResult,
    "command-result.schema.json": CommandResult,
    "transition.schema.json": Transition,
    "command.schema.json": Command,
    "recovery-event.schema.json": RecoveryEvent,
}


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMA_FILES.items():
        path = directory / name
        path.write_text(json.dumps(json_schema(model), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
