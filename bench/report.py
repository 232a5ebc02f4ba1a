"""How every benchmark reports: medians of repeated runs with min-max, as a table and a JSON line."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "median": round(self.median, 3),
            "min": round(min(self.runs), 3),
            "max": round(max(self.runs), 3),
            "runs": len(self.runs),
        }


def column(outcomes: list[dict[str, float]], name: str, unit: str, key: str) -> Figure:
    """One figure from the same key of every run's outcome."""
    return Figure(name, unit, [o[key] for o in outcomes])


def measure(name: str, unit: str, runs: int, once: Callable[[], float]) -> Figure:
    return Figure(name, unit, [once() for _ in range(runs)])


def report(title: str, figures: list[Figure], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    print(f"\n{title}")
    print(f"{'figure':<48} {'median':>12} {'min':>12} {'max':>12}  unit")
    for f in figures:
        print(f"{f.name:<48} {f.median:>12.3f} {min(f.runs):>12.3f} {max(f.runs):>12.3f}  {f.unit}")
    body = {"benchmark": title, "figures": [f.as_dict() for f in figures], **(extra or {})}
    print(json.dumps(body))
    return body
