"""The one `incident` recovery event the brake publishes when it engages, instead of hundreds."""

from __future__ import annotations

from collections import Counter

from schemas.fields import State
from schemas.outputs import RecoveryEvent
from statemachine.ids import recovery_event_id
from statemachine.policy import Policy
from statemachine.timestamps import from_micros, seconds_text


def incident_event(
    spike: tuple[str, list[str]], at: int, tracked: int, by_agent: Counter[str], policy: Policy, input_id: str
) -> RecoveryEvent:
    scope, affected = spike
    shown = ", ".join(affected[: policy.incident_list_limit])
    more = len(affected) - policy.incident_list_limit
    where = f"of {tracked} tracked" if scope == "fleet" else f"of {by_agent[scope]} tracked on agent {scope}"
    reason = (
        f"incident: {len(affected)} executions {where} became suspected or confirmed orphans within "
        f"{seconds_text(policy.micros(policy.brake_window_s))}s; terminations and failure marks are held while "
        f"probing continues; affected: {shown}" + (f" (+{more} more)" if more > 0 else "")
    )
    incident_id = f"incident.{at}"
    return RecoveryEvent(
        event_id=recovery_event_id(incident_id, 0, "incident"),
        action="incident",
        execution_id=incident_id,
        agent_name=scope,
        state=State.SUSPECTED,
        reason=reason,
        decided_at=from_micros(at),
        caused_by=(input_id,),
    )


def incident_over(engaged_at: int, at: int, held: int, input_id: str) -> RecoveryEvent:
    incident_id = f"incident.{engaged_at}"
    return RecoveryEvent(
        event_id=recovery_event_id(incident_id, 1, "incident"),
        action="incident",
        execution_id=incident_id,
        agent_name="fleet",
        state=State.RUNNING,
        reason=f"incident over: the spike left the window; {held} held executions are probed again before any action",
        decided_at=from_micros(at),
        caused_by=(input_id,),
    )
