"""The policy: thresholds in microseconds, copies that convert them anew, and durations said to people."""

from __future__ import annotations

import pytest

from statemachine import Policy
from statemachine.timestamps import seconds_text


@pytest.mark.parametrize("read_before", [False, True])
def test_a_copy_converts_its_thresholds_anew_whether_or_not_the_original_had(read_before: bool) -> None:
    policy = Policy(heartbeat_timeout_s=10)
    if read_before:
        assert policy.us.heartbeat_timeout == 10_000_000
    copy = policy.model_copy(update={"heartbeat_timeout_s": 20})
    assert copy.us.heartbeat_timeout == 20_000_000 and policy.us.heartbeat_timeout == 10_000_000


@pytest.mark.parametrize(
    ("micros", "text"),
    [(0, "0"), (600_000_000, "600"), (500_000, "0.5"), (15_579_000, "15.579"), (1_000_100, "1"), (1_000, "0.001")],
)
def test_a_duration_is_said_in_seconds_to_the_millisecond_without_trailing_zeros(micros: int, text: str) -> None:
    assert seconds_text(micros) == text
