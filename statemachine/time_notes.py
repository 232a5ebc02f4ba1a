"""What the audit says of an input whose claimed time the watchdog did not take as it was.

Pure, like the rules it explains (`statemachine.rules`): the same input at the same clock always
gets the same note, so replays and the live service record the same words.
"""

from __future__ import annotations

from schemas.inputs import CommandResult, LifecycleEvent, ProbeResult, Tick
from statemachine.policy import Policy
from statemachine.rules import believed, observed, start_time
from statemachine.timestamps import iso, seconds_text, to_micros


def time_note(
    event: LifecycleEvent | ProbeResult | CommandResult | Tick, clock: int | None, policy: Policy
) -> str | None:
    """None when the claimed time counted as claimed (or there is no clock yet to judge it by)."""
    if clock is None or isinstance(event, Tick):
        return None
    if isinstance(event, LifecycleEvent):
        claimed, field = to_micros(event.occurred_at), "occurred_at"
    else:
        claimed, field = to_micros(event.observed_at), "observed_at"
    if isinstance(event, LifecycleEvent) and event.type == "execution.started":
        own = None if event.timeout_seconds is None else policy.micros(event.timeout_seconds)
        began = start_time(claimed, clock, event.agent_name, own, policy)
        if began == claimed:
            return None
        if claimed < began:
            return (
                f"{field} {iso(claimed)} would make it overdue before one HEARTBEAT_TIMEOUT_S of watching: "
                f"counted as started at {iso(began)}"
            )
        return f"{field} {iso(claimed)} is {_apart(claimed, clock)}: counted as started at {iso(began)}"
    if believed(claimed, clock, policy):
        return None
    return f"{field} {iso(claimed)} is {_apart(claimed, clock)}: counted at {iso(observed(claimed, clock, policy))}"


def _apart(claimed: int, clock: int) -> str:
    side = "ahead of" if claimed > clock else "behind"
    return (
        f"{seconds_text(abs(claimed - clock))}s {side} the watchdog's clock ({iso(clock)}), "
        "beyond what MAX_CLOCK_SKEW_S and the tick interval allow"
    )
