"""What the effect runner makes of each agent answer: no answer is never "gone", and a terminate
counts only once the execution has left the agent's live list."""

from __future__ import annotations

import pytest

from exec_watchdog.adapters.agent_api import Known, Unreachable
from exec_watchdog.service.effect_outcomes import (
    probe_outcome,
    seen_after_terminate,
    settled_before_resend,
    unconfirmed,
)

LISTS = Known(running=frozenset({"run-1"}), recently_completed=frozenset({"done-1"}), pending=frozenset({"queued-1"}))


@pytest.mark.parametrize(
    ("execution_id", "probed", "after_terminate"),
    [
        ("run-1", "running", "alive"),
        ("queued-1", "running", "alive"),
        ("done-1", "running", "gone"),
        ("x", "not_found", "gone"),
    ],
)
def test_a_known_list_answers_for_each_execution(execution_id: str, probed: str, after_terminate: str) -> None:
    assert probe_outcome(LISTS, execution_id) == probed  # recently completed: the agent knows it, not an orphan
    assert seen_after_terminate(LISTS, execution_id) == after_terminate


def test_no_answer_is_never_gone() -> None:
    assert probe_outcome(Unreachable("HTTP 503"), "run-1") == "unreachable"
    assert seen_after_terminate(Unreachable("HTTP 503"), "run-1") == "no_answer"
    assert settled_before_resend(Unreachable("HTTP 503")) == "failed"


@pytest.mark.parametrize(
    ("status", "settled"),
    [("killed", "ok"), ("finished", "already_finished"), ("not_found", "not_found"), ("running", None)],
)
def test_a_terminate_sent_again_is_settled_by_the_status_first(status: str, settled: str | None) -> None:
    assert settled_before_resend(status) == settled  # type: ignore[arg-type]


def test_a_terminate_unconfirmed_at_the_end_of_the_grace_says_whether_it_was_seen_alive() -> None:
    assert (unconfirmed(seen_alive=True), unconfirmed(seen_alive=False)) == ("still_running", "failed")
