"""The code location holds only what Dagster loads, and nothing in it loops back to the
place where Definitions is assembled (issue 20: a newcomer's map of the package must be
true)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from pipelines.settings import PROJECT_ROOT


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at top level or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_asset_module_imports_the_code_location():
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): sorted(
            m for m in _imported_modules(path) if m.startswith("pipelines.definitions")
        )
        for path in (PROJECT_ROOT / "pipelines" / "defs").rglob("*.py")
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_the_generator_and_the_bench_live_outside_the_code_location():
    # Only the command line reaches the tools, on demand; nothing Dagster loads does.
    importers = sorted(
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "pipelines").rglob("*.py")
        if any(m.split(".")[0] == "crm_tools" for m in _imported_modules(path))
    )
    assert importers == ["pipelines/cli.py"]
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pipelines.definitions; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'crm_tools'))",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
    assert not (PROJECT_ROOT / "pipelines" / "generator").exists()
    assert not (PROJECT_ROOT / "pipelines" / "bench.py").exists()
