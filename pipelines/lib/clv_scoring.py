"""The body of the dbt Python model ``customer_clv`` (dbt_project/models/marts/customer_value/
customer_clv.py): read int_customer_purchases_summarised, apply the data-sufficiency guard,
fit BG/NBD + Gamma-Gamma (pipelines/lib/clv.py) and score every customer.

A dbt Python model, not a Dagster asset, so that one ``dbt build`` runs every model of a
night: the models reading the predictions (prospecting_forecast) come after it in the same
invocation (DECISIONLOG.md, "CLV inside the dbt build"). No Dagster and no dbt here: the
model hands in a DuckDB connection and the summary's relation, and gets back the table and
the fit's figures, which it logs for Dagster's materialisation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from pipelines.lib import clv
from pipelines.lib.ingest import write_parquet

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


class FitDidNotConverge(RuntimeError):
    """A maximum-likelihood fit stopped without converging: no prediction is better than a
    wrong one, so the model (and the night's gate) fails."""


@dataclass(frozen=True)
class ScoredCustomers:
    table: pa.Table
    metadata: dict = field(default_factory=dict)


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
            raise FitDidNotConverge(
                f"{name} maximum likelihood did not converge: {fit.message} "
                f"(parameters reached: {vars(fit.params)})"
            )
    metadata = {
        **{k: float(v) for k, v in vars(bgnbd.params).items()},
        **{k: float(v) for k, v in vars(gamma_gamma.params).items()},
        "time_unit": "week (alpha is per week; r, a, b, p, q, v are unitless)",
        "loglik_bgnbd": bgnbd.loglik,
        "loglik_gamma_gamma": gamma_gamma.loglik,
        "std_errors": {
            k: v if np.isfinite(v) else None
            for k, v in {**bgnbd.std_errors, **gamma_gamma.std_errors}.items()
        },
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


def score_customers(
    con: duckdb.DuckDBPyConnection, summary: duckdb.DuckDBPyRelation
) -> ScoredCustomers:
    """One row per customer of ``summary`` (int_customer_purchases_summarised): historical
    CLV and margin, the predictive columns, prediction_status and prediction_note."""
    started = time.perf_counter()
    inputs = summary.select(
        "customer_id, frequency, recency_days, t_days, "
        "cast(monetary_value as double) as monetary_value"
    ).pl()
    sufficiency = clv.check_sufficiency(inputs["frequency"].to_numpy(), inputs["t_days"].to_numpy())
    scores, fit_metadata = _fit_and_score(inputs, sufficiency)
    predictions = _predictions_frame(inputs, scores, sufficiency).to_arrow()
    typed = ",\n".join(f"cast(p.{c} as {t}) as {c}" for c, t in PREDICTED_COLUMNS.items())
    # Registered by name: the warehouse's connections may not scan Python variables
    # (pipelines.lib.warehouse.restrict_file_access).
    con.register("clv_summary", summary)
    con.register("clv_predictions", predictions)
    # Types are set here, in SQL, so the table has them whatever the frame inferred (a
    # column of nulls below the floor included).
    table = con.sql(
        f"""
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
        from clv_summary as s
        inner join clv_predictions as p
            on s.customer_id = p.customer_id
        order by s.customer_id
        """
    ).to_arrow_table()
    con.unregister("clv_summary")
    con.unregister("clv_predictions")
    status = STATUS_PREDICTED if sufficiency.sufficient else STATUS_INSUFFICIENT
    return ScoredCustomers(
        table=table,
        metadata={
            "prediction_status": status,
            "prediction_note": sufficiency.note,
            "customers_scored": table.num_rows,
            "repeat_customers": sufficiency.repeat_customers,
            "history_days": sufficiency.history_days,
            "min_repeat_customers": clv.MIN_REPEAT_CUSTOMERS,
            "min_history_days": clv.MIN_HISTORY_DAYS,
            **fit_metadata,
            "duration_seconds": round(time.perf_counter() - started, 3),
        },
    )


def write_portable_copy(con: duckdb.DuckDBPyConnection, table: pa.Table, path: Path) -> None:
    """The table as Parquet beside the portable raw layer, for a Spark build of the models
    that read it (docs/scaling-out.md)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con.register("clv_portable_copy", table)
    write_parquet(con, "select * from clv_portable_copy order by customer_id", path)
    con.unregister("clv_portable_copy")
