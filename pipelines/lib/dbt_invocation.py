"""One ``dbt build`` of the warehouse, without Dagster: its environment, its arguments, its
artefact folder and the parse it reuses, and the figures its log lines carry.

The dbt asset (``pipelines/defs/dbt/assets.py``) starts dbt through dagster-dbt and turns
what is read here into Dagster events; everything here is plain values, unit-tested in
milliseconds (tests/unit/test_dbt_invocation.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.lib import retention
from pipelines.settings import Settings

# The dbt installed beside this interpreter (uv.lock), whatever PATH holds.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"

# dbt's parse state; reused by the next invocation against the same data directory.
PARTIAL_PARSE = "partial_parse.msgpack"

# The line each model's post-hook logs (macros/observability/report_table_figures.sql).
FIGURES_PREFIX = "crm_table_figures "
# The line a Python model logs its figures on (the CLV fit, pipelines/lib/clv_scoring.py);
# the dbt asset adds them to the model's materialisation.
FIT_LOG_PREFIX = "crm_model_metadata "


def dbt_environment(settings: Settings, base: Mapping[str, str], **values: str) -> dict[str, str]:
    """The environment of one dbt process, built where dbt starts (the dbt asset, the parse
    of the manifest, ``crm-warehouse dbt``) instead of written into this process's: ``base``
    (the caller's environment: credentials, DBT_* options), then the settings profiles.yml
    and the macros read, then this invocation's ``values``. This interpreter's bin directory
    comes first on PATH, so whatever dbt starts by name is the locked one too."""
    path = base.get("PATH", "")
    bin_dir = str(DBT_EXECUTABLE.parent)
    if bin_dir not in path.split(os.pathsep):
        path = os.pathsep.join(filter(None, [bin_dir, path]))
    return {**base, **settings.env(), **values, "PATH": path}


def build_args(full_refresh: bool = False) -> list[str]:
    """`dbt build` of the models, data tests and seeds. dbt unit tests test our SQL, not
    the night's data: `make test` runs them (tests/integration/test_dbt_unit_tests.py)."""
    args = ["build", "--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    return args


def new_invocation_dir(artifacts_dir: Path, op_name: str, run_id: str) -> Path:
    """A new artefact folder for one dbt invocation, under the warehouse's data directory
    (not dbt_project/target: one checkout can serve several data directories), holding
    the parse of the previous invocation. The profile (warehouse path) and vars are part of
    dbt's parse state, so a parse is reusable only by invocations against the same data
    directory: it is kept there."""
    target = artifacts_dir / retention.invocation_name(op_name, run_id)
    target.mkdir(parents=True)
    kept = artifacts_dir / PARTIAL_PARSE
    if kept.exists():
        shutil.copyfile(kept, target / PARTIAL_PARSE)
    return target


def keep_invocation(target: Path, keep_runs: int) -> None:
    """Make this invocation's parse the one the next reuses (replaced atomically: a
    concurrent reader sees the old file or the new one); prune the artefact folders of all
    but the newest ``keep_runs`` runs. Here as well as after a successful night: failed
    nights must not fill the disk either."""
    root = target.parent
    parsed = target / PARTIAL_PARSE
    if parsed.exists():
        staged = root / f".{PARTIAL_PARSE}.{target.name}"
        shutil.copyfile(parsed, staged)
        staged.replace(root / PARTIAL_PARSE)
    retention.prune_dbt_invocations(root, keep_runs)


@dataclass(frozen=True)
class TableFigures:
    """What a model's post-hook logged of the table it wrote."""

    unique_id: str
    row_count: int
    columns: list[str]
    rows: list[list[Any]]


def table_figures(message: str) -> TableFigures | None:
    """The figures of a post-hook log line, else None."""
    if not message.startswith(FIGURES_PREFIX):
        return None
    logged = json.loads(message.removeprefix(FIGURES_PREFIX))
    return TableFigures(
        unique_id=logged["unique_id"],
        row_count=logged["row_count"],
        columns=logged["columns"],
        rows=logged["rows"],
    )


def model_metadata(raw_event: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(unique_id, metadata) of a line a Python model logged for its materialisation
    (the CLV fit's parameters: pipelines/lib/clv_scoring.py), else None."""
    data = raw_event.get("data") or {}
    message = data.get("base_msg")
    if not isinstance(message, str) or not message.startswith(FIT_LOG_PREFIX):
        return None
    logged = json.loads(message.removeprefix(FIT_LOG_PREFIX))["metadata"]
    return data["node_info"]["unique_id"], logged
