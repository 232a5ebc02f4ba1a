"""The README's first lines and its self-contained examples work as written."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT

README = (ROOT / "README.md").read_text()


def test_the_first_lines_are_the_two_commands_a_newcomer_needs() -> None:
    block = README.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert block[0].endswith('pip install -e ".[dev]" && exec-watchdog demo')
    assert block[1] == "bash tests/services/start.sh && python -m pytest -q"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash tests/services/start.sh" in ci and ci.rstrip().endswith("python -m pytest -q")


def test_the_offline_examples_run_as_written(tmp_path: Path) -> None:
    """Each `simulate` example on a golden history prints that history's recorded decisions."""
    examples = [line.strip() for line in README.splitlines() if "exec-watchdog simulate tests/golden/" in line]
    assert examples
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    for example in examples:
        run = subprocess.run(["bash", "-c", example], cwd=ROOT, env=env, capture_output=True, text=True)
        golden = ROOT / shlex.split(example)[-1].replace(".in.jsonl", ".out.jsonl")
        assert run.returncode == 0 and run.stdout == golden.read_text(), example
