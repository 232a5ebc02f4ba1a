"""The file `replay --export` writes and `simulate` reads: recorded inputs, partition by partition,
each partition opened by a header line that carries its policy.

    {"schema_version":1,"type":"watchdog.export","partition":3,"policy":{...}}
    ... the partition's inputs as JSON lines (contract §2 and §7) ...
    {"schema_version":1,"type":"watchdog.policy","policy":{...}}   where the service restarted with other settings
    ...

`simulate` starts a fresh engine at each header, under the header's policy (it wins over the
settings `simulate` runs with), and switches policy where a policy line says so, keeping what the
engine holds: the same steps the service and `replay` take, so the same decisions and ids come out.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from statemachine.policy import Policy


class ExportHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    type: Literal["watchdog.export"] = "watchdog.export"
    partition: int
    policy: Policy


class PolicyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    type: Literal["watchdog.policy"] = "watchdog.policy"
    policy: Policy


def read_marker(line: str) -> ExportHeader | PolicyChange | None:
    """The header or policy line this is, or None for any other line (an input, or not one)."""
    if '"watchdog.export"' not in line and '"watchdog.policy"' not in line:
        return None
    for model in (ExportHeader, PolicyChange):
        try:
            return model.model_validate_json(line)
        except ValidationError:
            continue
    return None
