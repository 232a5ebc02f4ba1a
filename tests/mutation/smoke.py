"""A quick mutation run for CI: every mutant of one small module must be killed by its tests.

`python -m tests.mutation.smoke` copies the tracked tree to a temporary folder, narrows mutmut's
configuration to `exec_watchdog/service/effect_outcomes.py` and its own tests, runs mutmut there and
fails naming each surviving mutant. The full run is `PROPERTY_SCALE=0.1 mutmut run` (docs/RELIABILITY.md).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE = "exec_watchdog/service/effect_outcomes.py"
TESTS = "tests/service/test_effect_outcomes.py"


def narrowed(pyproject: str) -> str:
    """The project's pyproject.toml with its [tool.mutmut] table narrowed to MODULE and TESTS (the rest
    of the table, the paths copied and pytest's arguments, kept as the project has them)."""
    table = tomllib.loads(pyproject)["tool"]["mutmut"] | {
        "only_mutate": [MODULE],
        "pytest_add_cli_args_test_selection": [TESTS],
    }
    config = "[tool.mutmut]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())
    without = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[)", "", pyproject)
    return without + "\n" + config


def main() -> int:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        for name in filter(None, tracked.decode().split("\0")):
            target = tree / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
        (tree / "pyproject.toml").write_text(narrowed((ROOT / "pyproject.toml").read_text()))
        subprocess.run(["mutmut", "run", "--max-children", "2"], cwd=tree, capture_output=True, check=False)
        results = subprocess.run(["mutmut", "results", "--all", "true"], cwd=tree, capture_output=True, text=True)
    lines = [line.strip() for line in results.stdout.splitlines() if ": " in line]
    killed = [line for line in lines if line.endswith(": killed")]
    others = [line for line in lines if not line.endswith(": killed")]
    print(f"mutation smoke ({MODULE}): {len(killed)} of {len(lines)} mutants killed")
    for line in others:
        print(f"  not killed: {line}")
    return 0 if lines and not others else 1


if __name__ == "__main__":
    sys.exit(main())
