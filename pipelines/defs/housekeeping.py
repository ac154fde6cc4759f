"""Retention after each successful night run by the daemon (the nightly schedule, the
landing sensor): `crm-warehouse run` applies the same rules itself (pipelines/retention.py)."""

import dagster as dg

from pipelines import retention
from pipelines.defs.jobs import WAREHOUSE_JOB
from pipelines.settings import get_settings


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="retention_after_success",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After each successful run of the whole warehouse job: keeps the newest "
    "CRM_KEEP_RUNS runs' Dagster history and dbt artefacts (and every run holding an asset's "
    "or a check's latest result) and CRM_SERVING_KEEP serving versions (docs/operations.md).",
)
def retention_after_success(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    repository = context.repository_def
    assert repository is not None, "the daemon evaluates sensors with their code location"
    selected = run.asset_selection
    # An in-process run of the whole job selects nothing in particular (an empty set).
    whole = not selected or selected >= repository.asset_graph.materializable_asset_keys
    if run.job_name != WAREHOUSE_JOB or not whole:
        return dg.SkipReason("not a whole run of the warehouse job")
    pruned = retention.apply(
        get_settings(), context.instance, repository.asset_graph.asset_check_keys
    )
    context.log.info(pruned.describe())
    return None
