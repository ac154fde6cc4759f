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


def _environment_writes(path: Path) -> list[int]:
    """Lines of ``path`` that change this process's environment: an assignment or deletion
    of ``os.environ[...]``, a mutating method of ``os.environ``, or ``os.putenv``."""
    mutators = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__"}

    def is_environ(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "environ"
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        )

    lines = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        targets = (
            node.targets
            if isinstance(node, ast.Assign | ast.Delete)
            else [node.target]
            if isinstance(node, ast.AugAssign)
            else []
        )
        if any(isinstance(t, ast.Subscript) and is_environ(t.value) for t in targets):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            called = node.func
            if (called.attr in mutators and is_environ(called.value)) or (
                called.attr == "putenv" and isinstance(called.value, ast.Name)
            ):
                lines.append(node.lineno)
    return sorted(lines)


def test_nothing_in_the_package_writes_the_process_environment(tmp_path: Path):
    # Settings are read from the environment; dbt gets its own as a dict
    # (pipelines/lib/dbt_invocation.py dbt_environment), so no module writes os.environ.
    writes = {
        str(path.relative_to(PROJECT_ROOT)): _environment_writes(path)
        for path in (PROJECT_ROOT / "pipelines").rglob("*.py")
    }
    assert {path: lines for path, lines in writes.items() if lines} == {}
    # ... and the probe finds writes where there are some
    sample = tmp_path / "writes.py"
    sample.write_text(
        "import os\nos.environ['A'] = '1'\nos.environ.update(B='2')\ndel os.environ['A']\n"
        "print(os.environ.get('A'))\n"
    )
    assert _environment_writes(sample) == [2, 3, 4]


def test_loading_the_code_location_leaves_the_environment_as_it_was():
    # Polars' allocator sets its own tuning variable when it loads: a library's, not ours.
    allocator = "_RJEM_MALLOC_CONF"
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; before = dict(os.environ); import pipelines.definitions; "
            "[d.pop(sys.argv[1], None) for d in (os.environ, before)]; "
            "print(sorted(set(os.environ.items()) ^ set(before.items())))",
            allocator,
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
