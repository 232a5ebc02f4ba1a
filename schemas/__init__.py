"""Every event exec-watchdog reads or writes, as frozen pydantic models (the contract, in code)."""

from schemas.fields import SCHEMA_VERSION, TERMINAL_STATES, State
from schemas.inputs import CommandResult, ControlEvent, InputEvent, LifecycleEvent, ProbeResult, Tick
from schemas.outputs import Command, CommandKind, Output, RecoveryAction, RecoveryEvent, Transition
from schemas.parsing import InvalidInput, parse_input, parse_lifecycle

__all__ = [
    "SCHEMA_VERSION",
    "TERMINAL_STATES",
    "Command",
    "CommandKind",
    "CommandResult",
    "ControlEvent",
    "InputEvent",
    "InvalidInput",
    "LifecycleEvent",
    "Output",
    "ProbeResult",
    "RecoveryAction",
    "RecoveryEvent",
    "State",
    "Tick",
    "Transition",
    "parse_input",
    "parse_lifecycle",
]
__distribution__ = "exec-watchdog"  # read by exec_watchdog.install_check
