"""`exec-watchdog simulate`: JSON lines in, decisions as JSON lines out, offline and pure."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from exec_watchdog.audit.export_file import ExportHeader, PolicyChange, read_marker
from schemas.outputs import Output
from schemas.parsing import InvalidInput, parse_input
from statemachine.engine import Engine
from statemachine.policy import Policy


def dump_output(output: Output) -> str:
    """The one spelling of an output as a JSON line (contract §7): same decision, same bytes."""
    return output.model_dump_json(by_alias=True)


def simulate(lines: Iterable[str], policy: Policy, out: TextIO, err: TextIO) -> int:
    """Apply every valid line in order; report bad lines on `err`. Returns how many were rejected.

    A file from `replay --export` carries its own policy: at each partition's header the engine
    starts afresh under it, and a policy line switches it (`exec_watchdog.audit.export_file`)."""
    engine = Engine(policy)
    rejected = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        marker = read_marker(line)
        if isinstance(marker, ExportHeader):
            engine = Engine(marker.policy)
            continue
        if isinstance(marker, PolicyChange):
            engine = Engine(marker.policy, engine.records.values(), engine.clock)
            continue
        try:
            event = parse_input(line)
        except InvalidInput as error:
            rejected += 1
            err.write(f"line {number}: {error.reason}\n")
            continue
        for output in engine.apply(event):
            out.write(dump_output(output) + "\n")
    return rejected
