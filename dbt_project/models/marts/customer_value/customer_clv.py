"""customer_clv: BG/NBD + Gamma-Gamma fitted on int_customer_purchases_summarised.

A Python model so that the night's one `dbt build` runs it between the summary it reads and
the models that read it (prospecting_forecast). The maths is pipelines/lib/clv.py, the
guard, fit and scoring pipelines/lib/clv_scoring.py; dbt-duckdb writes the returned table
beside the old one and swaps it in (its table materialisation), so readers never see half
a table. DuckDB only: Spark reads the Parquet copy written here (docs/scaling-out.md).
"""

import json


def model(dbt, session):
    dbt.config(materialized="table")
    from dbt.adapters.events.logging import AdapterLogger

    from pipelines.lib import clv_scoring
    from pipelines.lib.dbt_invocation import FIT_LOG_PREFIX
    from pipelines.settings import get_settings

    scored = clv_scoring.score_customers(session, dbt.ref("int_customer_purchases_summarised"))
    settings = get_settings()
    if settings.raw_to_parquet:
        clv_scoring.write_portable_copy(session, scored.table, settings.clv_parquet_path)
    # The fit's figures reach the model's Dagster materialisation through dbt's log.
    AdapterLogger("crm_warehouse").info(FIT_LOG_PREFIX + json.dumps({"metadata": scored.metadata}))
    return scored.table
