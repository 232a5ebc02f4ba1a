"""What the wheel installs, and what the command does when another package took one of our names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.paths import ROOT

CARD = {"schemas", "statemachine", "consumers", "producers"}


def test_the_wheel_installs_the_four_card_packages_and_exec_watchdog_only(tmp_path: Path) -> None:
    source = tmp_path / "source"  # the tracked files only: no build/ left over from an earlier layout
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in tracked.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    subprocess.run([*pip, "-w", str(tmp_path), str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("exec_watchdog-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == CARD | {"exec_watchdog"}
    assert "exec_watchdog/adapters/migrations/versions/0001_initial.py" in names  # data the store needs


def fake_distribution(site: Path, name: str, package: str) -> None:
    """A package of another distribution, installed as pip would (with its metadata)."""
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text('"""Not exec-watchdog\'s."""\n')
    info = site / f"{name.replace('-', '_')}-2.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 2.0.0\n")
    (info / "top_level.txt").write_text(f"{package}\n")
    (info / "RECORD").write_text(f"{package}/__init__.py,,\n")


def test_a_command_refuses_to_run_on_another_distributions_package_and_names_it(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_distribution(site, "python-statemachine", "statemachine")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])  # the other package shadows ours
    run = subprocess.run(
        [sys.executable, "-m", "exec_watchdog", "config"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 2
    assert "'statemachine'" in run.stderr and "python-statemachine" in run.stderr
    assert "pipx" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_with_our_own_packages_the_command_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run(
        [sys.executable, "-m", "exec_watchdog", "config"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
