"""What a night leaves on disk besides the warehouse, and how much of it is kept.

Every run adds dbt artefact folders (``data/dbt/<op>-<run>-<id>/``: manifest, run results,
logs) and Great Expectations validation results with their data-docs pages. Both are for
reading a recent night; the newest ``keep_runs`` runs' worth is kept (``CRM_KEEP_RUNS``).
Dagster's run history is pruned by ``pipelines/retention.py`` (it needs the instance),
serving versions by :func:`pipelines.lib.serving.prune`. Published segment exports and
contact lists keep their newest ``exports_keep`` as-of dates (``CRM_EXPORTS_KEEP``). Raw
loads and quarantine rows are the warehouse's record and are never pruned.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from pipelines.lib.exports import published_folders

# Where GE keeps results and their rendered pages, under the GE project folder.
_GE_RESULTS = Path("gx") / "uncommitted" / "validations"
_GE_PAGES = Path("gx") / "uncommitted" / "data_docs" / "local_site" / "validations"


def invocation_name(op_name: str, run_id: str) -> str:
    """The artefact folder of one dbt invocation: ``<op>-<run id prefix>-<invocation id>``
    (:func:`run_of` reads the run back)."""
    return f"{op_name}-{run_id[:8]}-{uuid.uuid4().hex[:6]}"


def run_of(folder: Path) -> str:
    """The run id prefix of an :func:`invocation_name` folder."""
    parts = folder.name.rsplit("-", 2)
    return parts[1] if len(parts) == 3 else folder.name


def prune_dbt_invocations(dbt_dir: Path, keep_runs: int) -> list[str]:
    """Remove the artefact folders of all but the newest ``keep_runs`` runs (a run may
    invoke dbt more than once); returns the folder names removed."""
    if not dbt_dir.is_dir():
        return []
    newest: dict[str, float] = {}
    folders = [p for p in dbt_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for folder in folders:
        run = run_of(folder)
        newest[run] = max(newest.get(run, 0.0), folder.stat().st_mtime)
    kept = set(sorted(newest, key=newest.__getitem__, reverse=True)[:keep_runs])
    removed = sorted(p.name for p in folders if run_of(p) not in kept)
    for name in removed:
        shutil.rmtree(dbt_dir / name, ignore_errors=True)
    return removed


def prune_validations(quality_dir: Path, keep_runs: int) -> list[str]:
    """Remove all but the newest ``keep_runs`` validation results of each GE suite, with
    their data-docs pages; returns ``<suite>/<run name>/<run time>`` of each removed. The
    site's index lists what its next build finds (the export step builds it every run)."""
    results = quality_dir / _GE_RESULTS
    if not results.is_dir():
        return []
    removed = []
    for suite in sorted(p for p in results.iterdir() if p.is_dir()):
        for run_name in sorted(p for p in suite.iterdir() if p.is_dir()):
            # GE names each result folder by its run time (UTC, sortable as text).
            times = sorted(p for p in run_name.iterdir() if p.is_dir())
            for old in times[: max(len(times) - keep_runs, 0)]:
                shutil.rmtree(old, ignore_errors=True)
                pages = quality_dir / _GE_PAGES / suite.name / run_name.name / old.name
                shutil.rmtree(pages, ignore_errors=True)
                removed.append(f"{suite.name}/{run_name.name}/{old.name}")
    return removed


def prune_published(folder: Path, keep: int) -> list[str]:
    """Remove the published as-of-date folders (``exports/<as_of_date>/``,
    ``restricted/contacts/<as_of_date>/``) but the newest ``keep``; returns their names. A
    writer's hidden staging folder is left to the writer (lib/exports.py)."""
    # Sorted by name: ISO dates sort as the dates do.
    dated = published_folders(folder)
    removed = dated[: max(len(dated) - max(keep, 1), 0)]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return [path.name for path in removed]
