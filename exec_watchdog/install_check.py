"""Are the top-level packages this command imports the ones exec-watchdog installed?

The design fixes four generic top-level names (`schemas`, `statemachine`, `consumers`, `producers`).
Another distribution that installs a package of the same name into the same environment overwrites
our files without a warning (pip does not check), and the command would then die on an import deep
inside. So every command looks first: each of our packages marks its `__init__.py` with
`__distribution__ = "exec-watchdog"`; the check reads those files without importing them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

DISTRIBUTION = "exec-watchdog"
CARD_PACKAGES = ("schemas", "statemachine", "consumers", "producers")
MARKER = f'__distribution__ = "{DISTRIBUTION}"'


def _others(package: str) -> list[str]:
    """Other installed distributions that claim this top-level name."""
    try:
        claimed = importlib.metadata.packages_distributions().get(package, [])
    except Exception:  # a broken metadata entry must not hide the real answer
        claimed = []
    return sorted({name for name in claimed if name.lower().replace("_", "-") != DISTRIBUTION})


def foreign_package() -> str | None:
    """None when all is ours; else one line naming the package, who else installs it, and the fix."""
    for package in CARD_PACKAGES:
        spec = importlib.util.find_spec(package)
        origin = None if spec is None else spec.origin
        if origin is not None and MARKER in Path(origin).read_text(encoding="utf-8", errors="replace"):
            continue
        others = _others(package)
        who = f"{' and '.join(others)} also installs a package named '{package}'" if others else "replaced by another"
        where = "is missing" if origin is None else f"at {origin} is not exec-watchdog's"
        return (
            f"exec-watchdog: the package '{package}' {where} ({who}); install exec-watchdog in an environment "
            "of its own: `python -m venv`, `pipx install exec-watchdog`, or the container image"
        )
    return None
