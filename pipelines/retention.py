"""Retention: what a year of nights leaves behind is bounded (docs/operations.md).

Applied after every successful run of the warehouse job (by `crm-warehouse run`, and in a
deployment by the ``retention_after_success`` sensor the daemon evaluates) and by
`crm-warehouse prune`:

- Dagster's run history: the newest ``CRM_KEEP_RUNS`` finished runs, plus every run that
  holds an asset's latest materialisation or a check's latest evaluation (the publication
  gate reads those), with their event logs and captured step output;
- dbt artefact folders and GE validation results: the newest ``CRM_KEEP_RUNS`` runs'
  (lib/retention.py; the export step prunes GE results just before it builds the data
  docs, so the site never links to a removed page);
- serving versions: ``CRM_SERVING_KEEP`` (lib/serving.py), the current one always;
- segment exports and contact lists: the newest ``CRM_EXPORTS_KEEP`` as-of dates.

Raw loads and quarantine rows are never pruned.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import dagster as dg

from pipelines.lib import retention, serving
from pipelines.settings import Settings

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


@dataclass
class Pruned:
    runs: list[str] = field(default_factory=list)
    dbt_folders: list[str] = field(default_factory=list)
    validations: list[str] = field(default_factory=list)
    serving_versions: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"pruned {len(self.runs)} Dagster run(s), {len(self.dbt_folders)} dbt artefact "
            f"folder(s), {len(self.validations)} GE validation result(s), "
            f"{len(self.serving_versions)} serving version(s), {len(self.exports)} "
            "published export folder(s)"
        )


def current_runs(instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey]) -> set[str]:
    """Runs that hold an asset's latest materialisation or a check's latest evaluation."""
    latest = instance.get_latest_materialization_events(instance.get_asset_keys())
    runs = {event.run_id for event in latest.values() if event is not None}
    wanted = list(check_keys)
    # One query for all checks; it may also return other checks of those assets.
    evaluations = instance.event_log_storage.get_latest_asset_check_execution_by_key(wanted)
    return runs | {evaluations[key].run_id for key in wanted if key in evaluations}


def prune_run_history(
    instance: dg.DagsterInstance, keep_runs: int, check_keys: Iterable[dg.AssetCheckKey]
) -> list[str]:
    """Delete the finished runs beyond the newest ``keep_runs`` that hold nothing current;
    returns their ids. Runs still going are never touched."""
    records = sorted(
        instance.get_run_records(filters=dg.RunsFilter(statuses=FINISHED)),
        key=lambda r: r.create_timestamp,
        reverse=True,
    )
    protected = current_runs(instance, check_keys)
    doomed = [r.dagster_run.run_id for r in records[keep_runs:]]
    doomed = [run_id for run_id in doomed if run_id not in protected]
    storage = instance.event_log_storage
    for run_id in doomed:
        instance.delete_run(run_id)
        instance.compute_log_manager.delete_logs(prefix=[run_id])
        # SQLite keeps one event-log file per run and does not shrink it when its rows go.
        shard = getattr(storage, "path_for_shard", None)
        if shard is not None:
            for suffix in ("", "-wal", "-shm"):
                path = shard(run_id) + suffix
                if os.path.exists(path):
                    os.remove(path)
    return doomed


def apply(
    settings: Settings,
    instance: dg.DagsterInstance,
    check_keys: Iterable[dg.AssetCheckKey],
    *,
    validations: bool = False,
) -> Pruned:
    """Every retention rule, once (``check_keys``: the code location's checks). GE results
    only with ``validations``: their data-docs site must be rebuilt after (the export step
    prunes them just before it builds the site)."""
    return Pruned(
        runs=prune_run_history(instance, settings.keep_runs, check_keys),
        dbt_folders=retention.prune_dbt_invocations(settings.dbt_artifacts_dir, settings.keep_runs),
        validations=retention.prune_validations(settings.quality_dir, settings.keep_runs)
        if validations
        else [],
        serving_versions=serving.prune(settings, settings.serving_keep),
        exports=[
            f"{folder.name}/{name}"
            for folder in (settings.exports_dir, settings.restricted_exports_dir)
            for name in retention.prune_published(folder, settings.exports_keep)
        ],
    )
