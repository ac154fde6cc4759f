"""The HTML customer report as an asset, downstream of the analysis marts it plots."""

import time

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from pipelines.defs.dbt.assets import crm_dbt_models
from pipelines.lib.report import build_report
from pipelines.resources import WarehouseResource

REPORT_INPUTS = [
    "customer_segments",
    "customer_rfm",
    "cohort_retention",
    "customer_clv",
    "kpis_monthly",
    "product_affinity",
]


@dg.asset(
    group_name="reporting",
    kinds={"python", "html"},
    # Keys from the dbt assets themselves: a misspelt model name fails here, where a
    # hand-written AssetKey would quietly add a stub asset to the graph.
    deps=[get_asset_key_for_model([crm_dbt_models], name) for name in REPORT_INPUTS],
    description="One self-contained HTML file with segment sizes, RFM and cohort heatmaps, "
    "CLV distribution, KPI trends and top product pairs.",
)
def customer_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
    started = time.perf_counter()
    settings = warehouse.settings()
    with warehouse.connection(read_only=True) as con:
        path = build_report(con, settings.report_path)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "bytes": path.stat().st_size,
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
    )
