"""The words of decisions: error texts the contract fixes (§3), reasons and causes for people."""

from __future__ import annotations

from statemachine.timestamps import MICROS_PER_SECOND, iso, seconds_text

ORPHAN_ERROR = "Execution completed on agent but status not reported — recovered by watchdog"


def auto_terminate_error(ran_us: int, timeout_us: int) -> str:
    minutes = ran_us // (60 * MICROS_PER_SECOND)
    return (
        f"Execution auto-terminated after {minutes} minutes by watchdog "
        f"(exceeded timeout of {seconds_text(timeout_us)}s)"
    )


def orphan_reason(agent_name: str, probed_at: int) -> str:
    return f"agent {agent_name} does not know the execution (probe at {iso(probed_at)})"


def terminated_reason(agent_name: str, ran_us: int, timeout_us: int, terminated_at: int) -> str:
    return (
        f"ran {seconds_text(ran_us)}s, over its timeout of {seconds_text(timeout_us)}s; "
        f"terminated on agent {agent_name} at {iso(terminated_at)}"
    )


def idle_reason(*, quiet_us: int, idle_after_us: int, ran_us: int, timeout_us: int, auto: bool) -> str:
    if ran_us >= timeout_us:
        what = f"running {seconds_text(ran_us)}s, over its timeout of {seconds_text(timeout_us)}s"
        return what + ("; terminating" if auto else "; AUTO_TERMINATE is off")
    return (
        f"alive but no activity for {seconds_text(quiet_us)}s (IDLE_AFTER_S={seconds_text(idle_after_us)}); "
        f"timeout of {seconds_text(timeout_us)}s not reached"
    )


def unreachable_reason(agent_name: str, probed_at: int, waiting: list[str], limit: int) -> str:
    listed = ", ".join(waiting[:limit]) + (f" and {len(waiting) - limit} more" if len(waiting) > limit else "")
    return (
        f"agent {agent_name} did not answer the probe at {iso(probed_at)}; nothing was changed; "
        f"{len(waiting)} execution(s) await its answer: {listed}"
    )


def silence_cause(quiet_us: int, limit_us: int) -> str:
    return (
        f"no lifecycle event or successful probe for {seconds_text(quiet_us)}s "
        f"(HEARTBEAT_TIMEOUT_S={seconds_text(limit_us)})"
    )


def idle_cause(ran_us: int, timeout_us: int, quiet_us: int, idle_after_us: int) -> str:
    if ran_us >= timeout_us:
        return f"runtime {seconds_text(ran_us)}s reached its timeout of {seconds_text(timeout_us)}s"
    return f"no activity for {seconds_text(quiet_us)}s (IDLE_AFTER_S={seconds_text(idle_after_us)})"


def terminate_missed_cause(agent_name: str, outcome: str, command_id: str) -> str:
    return (
        f"agent {agent_name} had nothing to terminate ({outcome}, command {command_id}): "
        "examined again before anything is marked"
    )


def identity_conflict_reason(execution_id: str, tracked: str, other: str, event_id: str) -> str:
    return (
        f"execution {execution_id} is tracked under agent {tracked} but event {event_id} names agent {other}: "
        "held; no probe, terminate or failure mark on either agent until the platform ends it"
    )


def still_running_reason(agent_name: str, execution_id: str, command_id: str, observed_at: int) -> str:
    return (
        f"agent {agent_name} acknowledged terminate {command_id} but execution {execution_id} was still in its "
        f"running list at {iso(observed_at)}: nothing is marked and its capacity slot stays held; "
        "the terminate is retried with the same command id"
    )


OVERRIDDEN_BY_SUCCESS = "the platform recorded success at"
OVERRIDDEN_BEFORE_MARK = "the platform recorded its own end before the watchdog's failure mark"
"""How the two kinds of `overridden` reasons begin (the metric's `reason` label tells them apart by it)."""


def success_over_failed_reason(recorded_at: int, event_id: str, recovery: str) -> str:
    return (
        f"{OVERRIDDEN_BY_SUCCESS} {iso(recorded_at)} ({event_id}) over the watchdog's failure mark "
        f"({recovery}): counted as a false positive"
    )


def ended_before_mark_reason(agent_name: str, command_id: str, at: int) -> str:
    return (
        f"{OVERRIDDEN_BEFORE_MARK} (command {command_id} at {iso(at)}), after the watchdog terminated it "
        f"on agent {agent_name}: the end it recorded stands"
    )
