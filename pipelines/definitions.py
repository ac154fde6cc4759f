"""The Dagster code location: assembles definitions only."""

import dagster as dg

from pipelines.defs.dbt.assets import crm_dbt_models
from pipelines.defs.dbt.project import dbt_project
from pipelines.defs.housekeeping import retention_after_success
from pipelines.defs.ingest.assets import ingest_assets
from pipelines.defs.ingest.reference_rates import ecb_reference_rates
from pipelines.defs.ingest.sensors import landing_sensor
from pipelines.defs.jobs import warehouse_job
from pipelines.defs.publish.assets import build_publish_assets
from pipelines.defs.quality.checks import quality_checks
from pipelines.defs.reporting.assets import customer_report
from pipelines.defs.schedules import nightly
from pipelines.resources import WarehouseDbtResource, WarehouseResource

# Published only when every blocking check below passed: the gate is given every other
# asset and check of the location here, so no asset module imports this one.
upstream_assets = [*ingest_assets, ecb_reference_rates, crm_dbt_models, customer_report]
publish = build_publish_assets([*upstream_assets, *quality_checks])

defs = dg.Definitions(
    assets=[*upstream_assets, *publish.assets],
    asset_checks=quality_checks,
    jobs=[warehouse_job],
    schedules=[nightly],
    sensors=[landing_sensor, retention_after_success],
    resources={
        "warehouse": WarehouseResource(),
        "dbt": WarehouseDbtResource(project_dir=dbt_project),
    },
    # DuckDB allows one writer per file: steps must not run in parallel processes.
    executor=dg.in_process_executor,
)
