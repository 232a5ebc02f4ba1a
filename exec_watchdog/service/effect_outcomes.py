"""What the effect runner makes of an agent's answers: pure, one function per decision point.

- A probe: the agent's known list (running, recently completed, pending) names the execution, or it
  does not; no answer is `unreachable`, never "not known".
- A terminate sent again (a retry, or one interrupted by a crash) first reads the execution's status:
  a kill sent earlier may already have ended it.
- An acknowledged terminate counts once the execution has left the agent's list of live ones.
"""

from __future__ import annotations

from typing import Literal

from exec_watchdog.adapters.agent_api import Known, StatusOutcome, Unreachable

ProbeOutcome = Literal["running", "not_found", "unreachable"]
Seen = Literal["gone", "alive", "no_answer"]


def probe_outcome(answer: Known | Unreachable, execution_id: str) -> ProbeOutcome:
    if isinstance(answer, Unreachable):
        return "unreachable"
    return "running" if execution_id in answer.ids else "not_found"


def settled_before_resend(status: StatusOutcome | Unreachable) -> str | None:
    """The outcome of a terminate about to be sent again, if its status already settles it; None: send it.
    `failed` when the agent does not answer: the core retries later with the same command id."""
    if isinstance(status, Unreachable):
        return "failed"
    if status == "killed":
        return "ok"  # the terminate sent before ended it: the agent saw it end by a signal
    if status == "finished":
        return "already_finished"  # it ended by itself: no termination (examined again)
    if status == "not_found":
        return "not_found"
    return None  # still running: terminate it


def seen_after_terminate(answer: Known | Unreachable, execution_id: str) -> Seen:
    if isinstance(answer, Unreachable):
        return "no_answer"
    return "alive" if execution_id in answer.alive else "gone"


def unconfirmed(seen_alive: bool) -> str:
    """The grace ran out: `still_running` if the agent listed it alive, else `failed` (never answered)."""
    return "still_running" if seen_alive else "failed"
