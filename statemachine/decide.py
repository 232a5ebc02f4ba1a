"""`decide(record, event, policy) -> (record, outputs)`: the whole decision logic for one execution.

Pure: no clock, no I/O, no randomness. Time comes only from the events: `occurred_at`,
`observed_at`, and `Due.now` (a tick reaching the record's deadline).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.fields import State
from schemas.inputs import CommandResult, LifecycleEvent, ProbeResult
from schemas.outputs import Output
from statemachine import texts
from statemachine.policy import Policy
from statemachine.record import ExecutionRecord
from statemachine.rules import believed, is_idle, observed, silent, start_time, timeout_us
from statemachine.seen_ids import admit
from statemachine.step import Step
from statemachine.timestamps import iso, to_micros

Decision = tuple[ExecutionRecord | None, list[Output]]

_FINISH = {
    "execution.completed": ("finish_completed", State.COMPLETED),
    "execution.failed": ("finish_failed", State.FAILED),
    "execution.cancelled": ("finish_cancelled", State.CANCELLED),
}


@dataclass(frozen=True, slots=True)
class Due:
    """A tick at `now` reached this record's deadline."""

    now: int


@dataclass(frozen=True, slots=True)
class Outage:
    """An agent's probe failed: whether its outage was already announced (an earlier probe of one of
    its executions failed and no answer came since), and which of its executions await an answer."""

    announced: bool
    waiting: list[str]


@dataclass(frozen=True, slots=True)
class Released:
    """The mass-failure brake let go at `now`; this record had a kill held."""

    now: int


def decide(
    record: ExecutionRecord | None,
    event: LifecycleEvent | ProbeResult | CommandResult | Due | Released,
    policy: Policy,
    *,
    input_id: str,
    clock: int | None = None,
    braked: bool = False,
    outage: Outage | None = None,
) -> Decision:
    """Apply one input to one execution. `clock` is the latest tick time seen (None before any);
    `braked`: the mass-failure brake holds terminations and failure marks; `outage`: for a failed
    probe, what the engine knows of the agent's other executions (one announcement per outage)."""
    if isinstance(event, LifecycleEvent):
        return _lifecycle(record, event, policy, input_id, clock, braked)
    if record is None:
        return None, []
    if isinstance(event, Due):
        return _due(record, event.now, policy, input_id, braked)
    if record.state.is_terminal:
        return record, []  # terminal states absorb late answers
    if isinstance(event, Released):
        return _released(record, event.now, policy, input_id)
    if isinstance(event, ProbeResult):
        return _probe_result(record, event, policy, input_id, clock, braked, outage)
    return _command_result(record, event, policy, input_id, clock, braked)


def _lifecycle(
    rec: ExecutionRecord | None, ev: LifecycleEvent, policy: Policy, input_id: str, clock: int | None, braked: bool
) -> Decision:
    claimed = to_micros(ev.occurred_at)
    t = observed(claimed, clock, policy)
    own_timeout = None if ev.timeout_seconds is None else policy.micros(ev.timeout_seconds)
    started = ev.type == "execution.started"
    if rec is None:
        new = _first_sight(ev, claimed, own_timeout, policy, clock)
        return (None if new is None else new.but(seen_ids=admit(b"", ev.event_id, started=started))), []
    if rec.state.is_terminal:
        return _after_the_end(rec, ev, claimed, policy, input_id, clock)
    window = admit(rec.seen_ids, ev.event_id, started=started)
    if window is None:
        return rec, []  # a repeated event id: nothing changes, whatever it carries
    # `t` is believed or the clock itself, so judging at the later of the two brings no limit closer
    # than three tick intervals, however far ahead a stamp is.
    step = Step(rec, policy, at=t, now=t if clock is None else max(t, clock), input_id=input_id, braked=braked)
    step.update(seen_ids=window)
    finish = _FINISH.get(ev.type)
    if finish is not None:  # the platform's word on the end, whichever agent it names
        step.fire(finish[0], f"lifecycle {ev.type} ({ev.event_id})")
        return step.result()
    if ev.agent_name != rec.agent_name:  # evidence of nothing; the execution is held, announced once
        if rec.conflict_agent is None:
            step.hold_for_identity(ev.agent_name, ev.event_id)
        return step.result()
    if ev.type == "execution.started":
        own = rec.own_timeout_us if own_timeout is None else own_timeout
        began = start_time(claimed, clock, rec.agent_name, own, policy)
        step.update(started_at=min(rec.started_at, began), own_timeout_us=own)
    news = t > rec.last_seen
    if ev.type == "execution.activity":
        news = news or t > rec.last_activity
        step.update(last_activity=max(rec.last_activity, t), activity_seen=True)
    if not news:
        return step.result()  # a duplicate or an older event: no clock moves backwards
    step.update(last_seen=max(rec.last_seen, t), unreachable=False, probe_attempts=0)
    trigger = "activity" if ev.type == "execution.activity" else "sign_of_life"
    step.fire(trigger, f"{ev.type} at {iso(t)} ({ev.event_id}){_unbelieved(claimed, clock, policy)}")
    return step.result()


def _after_the_end(
    rec: ExecutionRecord, ev: LifecycleEvent, claimed: int, policy: Policy, input_id: str, clock: int | None
) -> Decision:
    """An ended execution ignores lifecycle events but one: the platform recording success for an
    execution the watchdog marked failed. The platform has the last word; it is said once (`overridden`)."""
    if rec.state is not State.FAILED or rec.recovery is None or ev.type != "execution.completed":
        return rec, []  # (once said, the execution is `completed`: a repeat finds nothing to say)
    t = observed(claimed, clock, policy)
    step = Step(rec, policy, at=t, now=t, input_id=input_id)
    step.update(state=State.COMPLETED)
    action = "auto_terminated" if rec.recovery == "timeout" else "orphan_recovered"
    step.recover("overridden", texts.success_over_failed_reason(t, ev.event_id, action))
    return step.result()


def _unbelieved(claimed: int, clock: int | None, policy: Policy) -> str:
    """What the audit says of a claimed time the watchdog did not take as it was."""
    if believed(claimed, clock, policy):
        return ""
    return f"; stamped {iso(claimed)}, beyond MAX_CLOCK_SKEW_S of the watchdog's clock: counted at the watchdog's time"


def _first_sight(
    ev: LifecycleEvent, claimed: int, own_timeout: int | None, policy: Policy, clock: int | None
) -> ExecutionRecord | None:
    t = observed(claimed, clock, policy)
    finish = _FINISH.get(ev.type)
    if finish is not None:
        # Remember the end, so a late `started` or heartbeat cannot resurrect the execution.
        return ExecutionRecord(ev.execution_id, ev.agent_name, finish[1], t, t, t, own_timeout, ended_at=t)
    stale_before = None if clock is None else clock - policy.us.terminal_retention
    if ev.type != "execution.started" and stale_before is not None and claimed <= stale_before:
        return None  # a sign of life older than anything still remembered: evidence of nothing
    began = t
    if ev.type == "execution.started":
        began = start_time(claimed, clock, ev.agent_name, own_timeout, policy)
    record = ExecutionRecord(ev.execution_id, ev.agent_name, State.RUNNING, began, t, t, own_timeout)
    record.activity_seen = ev.type == "execution.activity"
    return record


def _probe_result(
    rec: ExecutionRecord,
    ev: ProbeResult,
    policy: Policy,
    input_id: str,
    clock: int | None,
    braked: bool,
    outage: Outage | None,
) -> Decision:
    t = observed(to_micros(ev.observed_at), clock, policy)
    step = Step(rec, policy, at=t, now=t, input_id=input_id, braked=braked)
    if t <= rec.last_seen:
        return step.result()  # older than what we already know
    # Any answer ends the agent's outage for all its executions: the engine clears their flags.
    if ev.outcome == "running":
        step.update(last_seen=t, probe_attempts=0)
        step.fire("sign_of_life", f"agent {rec.agent_name} reports it running (probe at {iso(t)})")
    elif rec.state is not State.SUSPECTED:
        pass  # only a suspect's probe answers can convict; others are stale
    elif ev.outcome == "not_found":
        step.update(probe_attempts=0)
        if not step.fire("probe_not_found", texts.orphan_reason(rec.agent_name, t)):
            # Too young to call an orphan (MIN_AGE_S): ask again once it is old enough.
            step.update(next_probe_at=rec.started_at + policy.us.min_age)
    else:
        backoff = policy.backoff_micros(policy.probe_retry_s, policy.probe_retry_max_s, rec.probe_attempts)
        step.update(next_probe_at=t + backoff)
        if not rec.unreachable:
            step.update(unreachable=True)
            if outage is None or not outage.announced:
                waiting = [rec.execution_id] if outage is None else outage.waiting
                reason = texts.unreachable_reason(rec.agent_name, t, waiting, policy.incident_list_limit)
                step.recover("agent_unreachable", reason)
    return step.result()


def _command_result(
    rec: ExecutionRecord, ev: CommandResult, policy: Policy, input_id: str, clock: int | None, braked: bool
) -> Decision:
    if ev.command_id != rec.action_id:
        return rec, []  # a duplicate, or an answer to a command no longer in flight
    t = observed(to_micros(ev.observed_at), clock, policy)
    step = Step(rec, policy, at=t, now=t, input_id=input_id, braked=braked)
    if ev.outcome in ("failed", "still_running"):
        backoff = policy.backoff_micros(policy.command_retry_s, policy.command_retry_max_s, rec.action_attempts)
        step.update(action_attempts=rec.action_attempts + 1, retry_at=t + backoff)
        belied = ev.outcome == "still_running" and rec.action_kind == "terminate"
        if belied and not rec.kill_unconfirmed:  # the agent acknowledged a kill that did not happen: said once
            step.update(kill_unconfirmed=True)
            step.recover("incident", texts.still_running_reason(rec.agent_name, rec.execution_id, ev.command_id, t))
    elif rec.action_kind == "terminate" and ev.outcome in ("not_found", "already_finished"):
        # Not a termination: the task ended by itself or was never there. Probed again; the orphan path
        # (with its own text) or the platform's end decides, and it is never terminated again.
        step.update(action_kind=None, action_id=None, action_attempts=0, retry_at=None, terminate_missed=True)
        step.fire("terminate_missed", texts.terminate_missed_cause(rec.agent_name, ev.outcome, ev.command_id))
    elif rec.action_kind == "terminate":
        limit = timeout_us(rec, policy)
        step.update(evidence_at=t)
        step.start_mark_failed("timeout", texts.auto_terminate_error(t - rec.started_at, limit))
    elif ev.outcome == "already_finished":
        step.fire("already_finished", f"the platform had already ended it (command {ev.command_id})")
        if rec.recovery == "timeout":  # the watchdog did terminate it: said, and so is the platform's end
            step.announce_recovery()
            step.recover("overridden", texts.ended_before_mark_reason(rec.agent_name, ev.command_id, t))
    else:
        step.fire("marked_failed", f"marked failed on the platform (command {ev.command_id}: {ev.outcome})")
    return step.result()


def _due(rec: ExecutionRecord, now: int, policy: Policy, input_id: str, braked: bool) -> Decision:
    if rec.state.is_terminal:
        expired = rec.ended_at is not None and now >= rec.ended_at + policy.us.terminal_retention
        return (None if expired else rec), []
    step = Step(rec, policy, at=now, now=now, input_id=input_id, braked=braked)
    if rec.retry_at is not None and rec.retry_at <= now and rec.action_kind is not None:
        if rec.conflict_agent is not None:  # held for its identity: no retry either
            step.update(retry_at=None)
        elif braked:  # a retried kill waits for the brake like a new one
            step.update(retry_at=now + policy.micros(policy.command_retry_s))
        else:
            step.update(retry_at=None)
            step.command(rec.action_kind, reuse_id=rec.action_id)
    limit = policy.us.heartbeat_timeout
    if rec.state in (State.RUNNING, State.IDLE) and silent(rec, now, policy):
        step.fire("silence", texts.silence_cause(now - rec.last_seen, limit))
    elif rec.state is State.RUNNING and is_idle(rec, now, policy):
        step.fire(
            "idle_due",
            texts.idle_cause(  # as of the latest sign of life, as `is_idle` judged it
                rec.last_seen - rec.started_at,
                timeout_us(rec, policy),
                rec.last_seen - rec.last_activity,
                policy.us.idle_after,
            ),
        )
    elif rec.state is State.IDLE:
        step.maybe_terminate()
    elif rec.state is State.SUSPECTED and rec.next_probe_at is not None and rec.next_probe_at <= now:
        step.update(probe_attempts=rec.probe_attempts + 1)
        step.probe()
    return step.result()


def _released(rec: ExecutionRecord, now: int, policy: Policy, input_id: str) -> Decision:
    """The brake let go: a held orphan is probed again; a held kill of a live execution proceeds."""
    step = Step(rec, policy, at=now, now=now, input_id=input_id)
    step.update(held=False)
    if rec.state is State.CONFIRMED_ORPHAN:
        step.fire("brake_released", "the mass-failure brake released: probing again before any failure mark")
    elif rec.state is State.IDLE and rec.action_kind == "terminate" and rec.error is not None:
        step.start_mark_failed("timeout", rec.error)  # terminated before the brake; the mark was held
    elif rec.state is State.IDLE:
        step.maybe_terminate()
    return step.result()
