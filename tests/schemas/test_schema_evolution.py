"""Inputs recorded under an older schema version still replay: a test-only version 2 proves it."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field, TypeAdapter

from schemas import CommandResult, InvalidInput, LifecycleEvent, ProbeResult, Tick
from schemas.parsing import InputParser
from statemachine import Engine, Policy
from tests.paths import GOLDEN


class LifecycleEventV2(LifecycleEvent):
    """Version 2 (for this test only): every lifecycle event says who emitted it."""

    schema_version: Literal[2]  # type: ignore[assignment]
    source: Literal["platform", "bridge"]


def v1_to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    if str(obj.get("type", "")).startswith("execution."):
        return {**obj, "schema_version": 2, "source": "platform"}
    return obj


V2 = InputParser(
    TypeAdapter(Annotated[LifecycleEventV2 | Tick | ProbeResult | CommandResult, Field(discriminator="type")]),
    current_version=2,
    upcasters={1: v1_to_v2},
)


def test_a_version_1_record_is_upcast_and_a_version_2_record_read_as_is() -> None:
    v1 = {
        "schema_version": 1,
        "event_id": "e",
        "type": "execution.started",
        "execution_id": "x",
        "agent_name": "bot",
        "occurred_at": "2026-11-28T21:00:00Z",
    }
    upcast = V2.parse(json.dumps(v1))
    assert isinstance(upcast, LifecycleEventV2) and upcast.source == "platform"
    assert V2.parse(json.dumps({**v1, "schema_version": 2, "source": "bridge"})).source == "bridge"
    with pytest.raises(InvalidInput, match="schema_version: 3 is not supported; this build reads schema_version 2"):
        V2.parse(json.dumps({**v1, "schema_version": 3}))


@pytest.mark.parametrize("case", sorted(p.name.removesuffix(".in.jsonl") for p in GOLDEN.glob("*.in.jsonl")))
def test_recorded_version_1_histories_replay_to_the_same_decisions_under_version_2(case: str) -> None:
    settings = json.loads((GOLDEN / f"{case}.env.json").read_text())
    policy = Policy(
        **{k.removeprefix("WATCHDOG_").lower(): json.loads(v) if v.startswith("{") else v for k, v in settings.items()}
    )
    engine = Engine(policy)
    outputs = []
    for line in (GOLDEN / f"{case}.in.jsonl").read_text().splitlines():
        try:
            event = V2.parse(line)
        except InvalidInput:
            continue
        outputs += [o.model_dump_json(by_alias=True) for o in engine.apply(event)]
    assert outputs == (GOLDEN / f"{case}.out.jsonl").read_text().splitlines()
