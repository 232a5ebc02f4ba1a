"""Every `overridden` the core decides is counted in watchdog_false_positives_total, by its reason."""

from __future__ import annotations

from pydantic import TypeAdapter

from exec_watchdog.telemetry.metrics import Metrics
from schemas.outputs import Output
from tests.paths import GOLDEN


def test_the_golden_overrides_are_counted_one_of_each_reason() -> None:
    lines = (GOLDEN / "platform_overrides.out.jsonl").read_text().splitlines()
    outputs = [TypeAdapter(Output).validate_json(line) for line in lines]
    metrics = Metrics()
    metrics.count_outputs(outputs)
    text = metrics.exposition().decode()
    assert 'watchdog_false_positives_total{reason="success_over_failed"} 1.0' in text
    assert 'watchdog_false_positives_total{reason="ended_before_mark"} 1.0' in text
    assert 'watchdog_recoveries_total{action="overridden"} 2.0' in text
