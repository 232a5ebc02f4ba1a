"""Arrows only downward: no module imports a layer above its own, and only the command line imports the demo.

The layers, lowest first: the contract's models, the pure core, the adapters and telemetry, the
Kafka producers, the Kafka consumers, the running service (with its settings and the bridge), audit
and replay, the demo, and the command line. Every import counts, also one inside a function.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

from tests.paths import ROOT

LAYERS: list[tuple[str, ...]] = [
    ("schemas",),
    ("statemachine",),
    ("exec_watchdog.adapters", "exec_watchdog.telemetry", "exec_watchdog.install_check"),
    ("producers",),
    ("consumers",),
    ("exec_watchdog.settings", "exec_watchdog.wiring", "exec_watchdog.service", "exec_watchdog.bridge"),
    ("exec_watchdog.audit",),
    ("exec_watchdog.demo",),
    ("exec_watchdog.cli", "exec_watchdog.settings_doc", "exec_watchdog.entry", "exec_watchdog.__main__"),
]
PACKAGES = ("schemas", "statemachine", "consumers", "producers", "exec_watchdog")


def layer(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(f"{p}.") for p in prefixes):
            return rank
    return None


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path}: the project imports absolutely"
            base = node.module or ""
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}  # `from pkg import module`
    return {n for n in names if n.split(".")[0] in PACKAGES}


def test_every_module_of_ours_has_a_layer() -> None:
    found = modules()
    assert len(found) > 60
    assert [m for m in found if m != "exec_watchdog" and layer(m) is None] == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = []
    for module, path in modules().items():
        own = layer(module)
        for name in imports(path):
            target = layer(name)
            if own is not None and target is not None and target > own:
                upward.append(f"{module} (layer {own}) imports {name} (layer {target})")
    assert upward == []


def test_only_the_command_line_imports_the_demo() -> None:
    users = {
        module
        for module, path in modules().items()
        if not module.startswith("exec_watchdog.demo")
        and any(n.startswith("exec_watchdog.demo") for n in imports(path))
    }
    assert {module.partition(".cli")[0] + ".cli" for module in users} == {"exec_watchdog.cli"}


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: an import inside a function, from the core to the service, is seen."""
    path = tmp_path / "engine.py"
    path.write_text("def f():\n    from exec_watchdog.service.service import Service\n")
    found = imports(path)
    assert "exec_watchdog.service.service" in found and layer("exec_watchdog.service.service") > layer("statemachine")


def test_the_readme_layout_table_matches_the_tree() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| folder | role |", 1)[1].split("\n\n", 1)[0]
    listed = {cell.strip("`/") for row in table.splitlines()[2:] for cell in row.split("|")[1].split(", ")}
    listed = {name.strip().strip("`").rstrip("/") for name in listed}
    rooms = {f"exec_watchdog/{p.name}" for p in (ROOT / "exec_watchdog").iterdir() if (p / "__init__.py").exists()}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    folders = {path.split("/")[0] for path in tracked.splitlines() if "/" in path and not path.startswith(".")}
    assert listed == folders | rooms
