"""Turning raw bytes into validated inputs, with one clear reason when that is not possible.

Older schema versions are upcast to the current one before validation: register a function
`UPCASTERS[n]` that turns a version-n object into a version-(n+1) object, and readers keep
accepting version n forever.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError

from schemas.fields import SCHEMA_VERSION
from schemas.inputs import InputEvent, LifecycleEvent, LifecycleType

MAX_RECORD_BYTES = 16 * 1024
"""An input record larger than this is rejected before it is parsed."""

JsonObject = dict[str, Any]
UPCASTERS: dict[int, Callable[[JsonObject], JsonObject]] = {}
"""`UPCASTERS[n]` turns a schema-version-n object into version n+1. None exist yet: v1 is the first."""

_INPUT = TypeAdapter[InputEvent](InputEvent)
_LIFECYCLE_TYPES: frozenset[str] = frozenset(get_args(LifecycleType))


class InvalidInput(ValueError):
    """The record is not a valid input; `reason` says which field and why, for the DLQ and stderr."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InputParser:
    """Validates records against one schema version, upcasting older versions first.

    `upcasters[n]` turns a version-n object into version n+1; a record is upcast only when it does
    not validate as it is and says it is older than `current_version`.
    """

    def __init__(
        self,
        adapter: TypeAdapter[Any],
        current_version: int,
        upcasters: dict[int, Callable[[JsonObject], JsonObject]],
    ) -> None:
        self.adapter = adapter
        self.current_version = current_version
        self.upcasters = upcasters

    def parse(self, data: bytes | str) -> Any:
        if len(data) > MAX_RECORD_BYTES:
            raise InvalidInput(f"record is {len(data)} bytes; at most {MAX_RECORD_BYTES} are allowed")
        try:
            return self._parse(data)
        except RecursionError:
            raise InvalidInput("record: nested too deeply") from None

    def _parse(self, data: bytes | str) -> Any:
        try:
            return self.adapter.validate_json(data)
        except ValidationError as first_error:
            upcast = self._upcast_if_older(data)
            if upcast is None:
                raise InvalidInput(describe(first_error, self.current_version)) from None
            try:
                return self.adapter.validate_json(json.dumps(upcast))
            except ValidationError as error:
                raise InvalidInput(describe(error, self.current_version)) from None

    def _upcast_if_older(self, data: bytes | str) -> JsonObject | None:
        try:
            loaded = json.loads(data)
        except ValueError:
            return None
        if not isinstance(loaded, dict):
            return None
        obj: JsonObject = loaded
        version = obj.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version >= self.current_version:
            return None
        while version < self.current_version:
            step = self.upcasters.get(version)
            if step is None:
                return None
            obj = step(obj)
            version += 1
        return obj


DEFAULT_PARSER = InputParser(_INPUT, SCHEMA_VERSION, UPCASTERS)


def parse_input(data: bytes | str) -> InputEvent:
    """Validate one JSON record as a lifecycle or control event (current or upcastable version)."""
    event: InputEvent = DEFAULT_PARSER.parse(data)
    return event


def parse_lifecycle(data: bytes | str) -> LifecycleEvent:
    """Validate a record from the lifecycle topic: only lifecycle types are accepted there."""
    event = parse_input(data)
    if not isinstance(event, LifecycleEvent):
        raise InvalidInput(f"type: '{event.type}' is not a lifecycle event type")
    return event


def describe(error: ValidationError, current_version: int = SCHEMA_VERSION) -> str:
    """One line naming each bad field: `agent_name: String should match pattern ...`."""
    parts = []
    for item in error.errors(include_url=False):
        loc = [str(p) for p in item["loc"]]
        # A discriminated union puts the tag first (`execution.started.agent_name`): drop it.
        if loc and (loc[0] in _LIFECYCLE_TYPES or loc[0].startswith("watchdog.")):
            loc = loc[1:]
        field = ".".join(loc) or _whole_record(item["type"])
        message = item["msg"]
        if item["type"] == "literal_error" and field == "schema_version":
            message = f"{item['input']!r} is not supported; this build reads schema_version {current_version}"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def _whole_record(error_type: str) -> str:
    if error_type == "json_invalid":
        return "record"
    if error_type in ("union_tag_invalid", "union_tag_not_found"):
        return "type"
    return "record"
