"""The pure decision core: `(state, event, policy) -> (state, outputs)`, with time only from events."""

from statemachine.decide import Due, decide
from statemachine.engine import Engine
from statemachine.ids import input_id
from statemachine.policy import Policy
from statemachine.record import ExecutionRecord

__all__ = ["Due", "Engine", "ExecutionRecord", "Policy", "decide", "input_id"]
__distribution__ = "exec-watchdog"  # read by exec_watchdog.install_check
