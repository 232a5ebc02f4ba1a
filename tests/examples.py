"""How many examples a property draws. `PROPERTY_SCALE=0.1` for mutation runs, where every mutant
re-runs the properties that cover it (a mutant the smaller draw misses is re-checked at full scale)."""

from __future__ import annotations

import os

SCALE = float(os.environ.get("PROPERTY_SCALE", "1"))


def examples(count: int) -> int:
    return max(10, round(count * SCALE))
