"""The Dagster code location: assembles definitions only."""

import dagster as dg
from dagster_dbt import DbtCliResource

from pipelines.defs.dbt.assets import crm_dbt_models
from pipelines.defs.dbt.project import dbt_project
from pipelines.defs.ingest.assets import ingest_assets
from pipelines.resources import WarehouseResource

warehouse_job = dg.define_asset_job("warehouse", selection=dg.AssetSelection.all())

defs = dg.Definitions(
    assets=[*ingest_assets, crm_dbt_models],
    jobs=[warehouse_job],
    resources={"warehouse": WarehouseResource(), "dbt": DbtCliResource(project_dir=dbt_project)},
    # DuckDB allows one writer per file: steps must not run in parallel processes.
    executor=dg.in_process_executor,
)
