"""marts.customer_clv: BG/NBD + Gamma-Gamma fitted on int_customer_purchases_summarised.

The maths lives in pipelines/lib/clv.py; this asset reads the dbt model, applies the
data-sufficiency guard, fits, scores every customer and swaps the table in atomically.
"""

import time
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl

from pipelines.lib import clv
from pipelines.lib.ingest import write_parquet
from pipelines.lib.observe import table_figures
from pipelines.resources import WarehouseResource

SOURCE_TABLE = "intermediate.int_customer_purchases_summarised"
TARGET_SCHEMA = "marts"
TARGET_TABLE = "customer_clv"
STATUS_PREDICTED = "predicted"
STATUS_INSUFFICIENT = "insufficient_history"

# Predictive columns and their DuckDB types, in table order (null when not predicted).
PREDICTED_COLUMNS = {
    "probability_alive": "double",
    "expected_purchases_52w": "double",
    "expected_order_value": "decimal(18, 2)",
    "predicted_clv_12m": "decimal(18, 2)",
    "churn_risk_90d": "double",
    "churn_risk_band": "varchar",
    "expected_days_to_next_order": "double",
}


def _fit_and_score(inputs: pl.DataFrame, sufficiency: clv.Sufficiency) -> tuple[dict, dict]:
    """Predictive columns (numpy arrays) and metadata; empty columns when not sufficient."""
    if not sufficiency.sufficient:
        return {}, {}
    x = inputs["frequency"].to_numpy().astype(np.float64)
    t_x = inputs["recency_days"].to_numpy().astype(np.float64) / clv.DAYS_PER_UNIT
    big_t = inputs["t_days"].to_numpy().astype(np.float64) / clv.DAYS_PER_UNIT
    m = inputs["monetary_value"].fill_null(np.nan).to_numpy().astype(np.float64)
    bgnbd, gamma_gamma, scores = clv.fit_and_score(x, t_x, big_t, m)
    spend_rows = clv.repeat_spenders(x, m)
    for name, fit in (("BG/NBD", bgnbd), ("Gamma-Gamma", gamma_gamma)):
        if not fit.converged:
            raise dg.Failure(
                description=f"{name} maximum likelihood did not converge: {fit.message}",
                metadata={"params": dg.MetadataValue.json(vars(fit.params))},
            )
    metadata = {
        **{k: float(v) for k, v in vars(bgnbd.params).items()},
        **{k: float(v) for k, v in vars(gamma_gamma.params).items()},
        "time_unit": "week (alpha is per week; r, a, b, p, q, v are unitless)",
        "loglik_bgnbd": bgnbd.loglik,
        "loglik_gamma_gamma": gamma_gamma.loglik,
        "std_errors": dg.MetadataValue.json(
            {
                k: v if np.isfinite(v) else None
                for k, v in {**bgnbd.std_errors, **gamma_gamma.std_errors}.items()
            }
        ),
        "bgnbd_fit": f"{bgnbd.iterations} iterations: {bgnbd.message}",
        "gamma_gamma_fit": f"{gamma_gamma.iterations} iterations: {gamma_gamma.message}",
        "gamma_gamma_customers": int(spend_rows.sum()),
        "fit_seconds": round(bgnbd.seconds + gamma_gamma.seconds, 3),
    }
    # Gamma-Gamma assumes spend independent of frequency; a strong correlation warns.
    correlation = (
        np.corrcoef(x[spend_rows], m[spend_rows])[0, 1] if spend_rows.sum() > 2 else np.nan
    )
    if np.isfinite(correlation):
        metadata["frequency_monetary_correlation"] = float(correlation)
    return scores, metadata


def _predictions_frame(
    inputs: pl.DataFrame, scores: dict, sufficiency: clv.Sufficiency
) -> pl.DataFrame:
    """customer_id, the predictive columns (all null when not predicted), status and note."""
    columns = {"customer_id": inputs["customer_id"]}
    for name in PREDICTED_COLUMNS:
        dtype = pl.String if name == "churn_risk_band" else pl.Float64
        values = scores.get(name)
        if values is None:
            columns[name] = pl.Series(name, [None] * inputs.height, dtype=dtype)
        elif dtype == pl.String:
            columns[name] = pl.Series(name, values.tolist(), dtype=dtype)
        else:
            columns[name] = pl.Series(name, values, dtype=dtype, nan_to_null=True)
    status = STATUS_PREDICTED if sufficiency.sufficient else STATUS_INSUFFICIENT
    return pl.DataFrame(columns).with_columns(
        prediction_status=pl.lit(status), prediction_note=pl.lit(sufficiency.note)
    )


def _write_table(con, predictions: pl.DataFrame) -> int:
    """Build the new table beside the old one, then swap it in inside one transaction:
    readers see the old table or the new one, never none or half of one."""
    con.register("clv_predictions", predictions.to_arrow())
    typed = ",\n".join(f"cast(p.{c} as {t}) as {c}" for c, t in PREDICTED_COLUMNS.items())
    staging = f"{TARGET_SCHEMA}.{TARGET_TABLE}__new"
    con.execute(f"create schema if not exists {TARGET_SCHEMA}")
    con.execute(
        f"""
        create or replace table {staging} as
        select
            s.customer_id,
            s.as_of_date,
            cast(s.net_revenue as decimal(18, 2)) as historical_clv,
            cast(s.historical_margin as decimal(18, 2)) as historical_margin,
            s.frequency,
            s.recency_days,
            s.t_days,
            s.monetary_value,
            {typed},
            p.prediction_status,
            p.prediction_note
        from {SOURCE_TABLE} as s
        inner join clv_predictions as p
            on s.customer_id = p.customer_id
        order by s.customer_id
        """
    )
    con.unregister("clv_predictions")
    con.execute("begin transaction")
    con.execute(f"drop table if exists {TARGET_SCHEMA}.{TARGET_TABLE}")
    con.execute(f"alter table {staging} rename to {TARGET_TABLE}")
    con.execute("commit")
    return con.execute(f"select count(*) from {TARGET_SCHEMA}.{TARGET_TABLE}").fetchone()[0]


def _write_portable_copy(con, path: Path) -> None:
    """The table as Parquet beside the portable raw layer, for a Spark build of the models
    that read it (docs/scaling-out.md)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(con, f"select * from {TARGET_SCHEMA}.{TARGET_TABLE} order by customer_id", path)


def build_customer_clv(warehouse: WarehouseResource) -> dict:
    """Read, fit, score and swap in marts.customer_clv; returns the materialisation metadata."""
    started = time.perf_counter()
    with warehouse.connection() as con:
        inputs = con.sql(
            "select customer_id, frequency, recency_days, t_days, "
            f"cast(monetary_value as double) as monetary_value from {SOURCE_TABLE} "
            "order by customer_id"
        ).pl()
        sufficiency = clv.check_sufficiency(
            inputs["frequency"].to_numpy(), inputs["t_days"].to_numpy()
        )
        scores, fit_metadata = _fit_and_score(inputs, sufficiency)
        written = _write_table(con, _predictions_frame(inputs, scores, sufficiency))
        settings = warehouse.settings()
        if settings.raw_to_parquet:
            _write_portable_copy(con, settings.clv_parquet_path)
        figures = table_figures(con, f"{TARGET_SCHEMA}.{TARGET_TABLE}")
    return {
        **figures,
        "prediction_status": STATUS_PREDICTED if sufficiency.sufficient else STATUS_INSUFFICIENT,
        "prediction_note": sufficiency.note,
        "customers_scored": int(written),
        "repeat_customers": sufficiency.repeat_customers,
        "history_days": sufficiency.history_days,
        "min_repeat_customers": clv.MIN_REPEAT_CUSTOMERS,
        "min_history_days": clv.MIN_HISTORY_DAYS,
        **fit_metadata,
        "duration_seconds": round(time.perf_counter() - started, 3),
    }


@dg.asset(
    name=TARGET_TABLE,
    group_name="marts",
    kinds={"python", "duckdb"},
    deps=[dg.AssetKey(["int_customer_purchases_summarised"])],
    description="One row per customer of int_customer_purchases_summarised: historical CLV "
    "and margin, and predictive 12-month CLV, probability alive, expected purchases, "
    "expected order value and 90-day churn risk from BG/NBD + Gamma-Gamma maximum-likelihood "
    "fits (pipelines/lib/clv.py). Below the data-sufficiency floor the predictive columns "
    "are null and prediction_status / prediction_note say why.",
)
def customer_clv(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    metadata = build_customer_clv(warehouse)
    context.log.info(
        f"customer_clv: {metadata['prediction_status']}: {metadata['prediction_note']}"
    )
    return dg.MaterializeResult(metadata=metadata)
