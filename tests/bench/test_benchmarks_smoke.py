"""Each benchmark runs at a tiny size (the figures themselves come from `python -m bench.NAME`)."""

from __future__ import annotations

import pytest

from bench import (
    audit_latency,
    detection_latency,
    failover,
    memory,
    recovery_under_burst,
    replay_speed,
    restore,
    scale,
    throughput,
    timers,
)


def test_timers_runs() -> None:
    result = timers.main(["--executions", "2000", "--due", "10", "--runs", "2"])
    assert result["figures"]


def test_memory_runs() -> None:
    assert memory.main(["--executions", "2000", "--runs", "1"])["figures"]


def test_replay_speed_runs() -> None:
    assert replay_speed.main(["--executions", "200", "--runs", "1"])["figures"]


def test_audit_latency_runs(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["audit_latency", "--executions", "2000", "--samples", "5"])
    audit_latency.main()


@pytest.mark.kafka
def test_throughput_runs() -> None:
    assert throughput.main(["--executions", "200", "--runs", "1"])["figures"]


@pytest.mark.kafka
def test_detection_latency_runs() -> None:
    argv = ["--rate", "400", "--victims", "4", "--runs", "1", "--heartbeat-timeout", "2", "--tick", "0.5"]
    result = detection_latency.main([*argv, "--warm-up", "3", "--spread", "1"])
    assert result["figures"]


@pytest.mark.kafka
def test_scale_runs(kafka_bootstrap: str) -> None:
    argv = ["--executions", "1500", "--first", "500", "--beats", "500", "--rate", "200", "--flow-s", "3"]
    result = scale.main([*argv, "--bootstrap", kafka_bootstrap])
    assert result["figures"] and result["met"]["stop"]  # type: ignore[index]


@pytest.mark.kafka
def test_recovery_under_burst_runs(kafka_bootstrap: str) -> None:
    result = recovery_under_burst.main(["--burst", "300", "--victims", "3", "--bootstrap", kafka_bootstrap])
    assert result["met"], result


def test_restore_runs() -> None:
    assert restore.main(["--executions", "3000", "--changed", "100", "--runs", "1"])["figures"]


@pytest.mark.kafka
@pytest.mark.postgres
def test_failover_runs(kafka_bootstrap: str) -> None:
    result = failover.main(["--executions", "600", "--rate", "100", "--flow-s", "12", "--bootstrap", kafka_bootstrap])
    assert result["figures"]
