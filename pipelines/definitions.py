"""The Dagster code location: assembles definitions only."""

import dagster as dg

from pipelines.defs.dbt.assets import crm_dbt_models
from pipelines.defs.dbt.project import dbt_project
from pipelines.defs.housekeeping import retention_after_success
from pipelines.defs.ingest.assets import ingest_assets
from pipelines.defs.ingest.reference_rates import ecb_reference_rates
from pipelines.defs.ingest.sensors import WAREHOUSE_JOB, landing_sensor
from pipelines.defs.publish.assets import (
    audience_contact_exports,
    segment_exports,
    serving_version,
)
from pipelines.defs.quality.checks import quality_checks
from pipelines.defs.reporting.assets import customer_report
from pipelines.defs.schedules import nightly
from pipelines.resources import WarehouseDbtResource, WarehouseResource

# Every run covers a range of landing dates (run tags); see pipelines/defs/partitions.py.
warehouse_job = dg.define_asset_job(WAREHOUSE_JOB, selection=dg.AssetSelection.all())

defs = dg.Definitions(
    assets=[
        *ingest_assets,
        ecb_reference_rates,
        crm_dbt_models,
        customer_report,
        segment_exports,
        audience_contact_exports,
        serving_version,
    ],
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
