"""marts.customer_clv on the XS warehouse: one row per customer of
int_customer_purchases_summarised, the sufficiency rule applied, predictions in range."""

from __future__ import annotations

import dataclasses

import pytest

from pipelines.lib import clv, clv_scoring
from pipelines.lib.warehouse import connect
from pipelines.settings import Settings

SUMMARY = "intermediate.int_customer_purchases_summarised"
PREDICTED = [
    "probability_alive",
    "expected_purchases_52w",
    "expected_order_value",
    "predicted_clv_12m",
    "churn_risk_90d",
    "churn_risk_band",
    "expected_days_to_next_order",
]


def _check_table(con) -> str:
    """Invariants that hold whatever the status; returns the status."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'customer_clv'"
    ).fetchone()[0]
    assert exists, "marts.customer_clv missing: is the customer_clv asset in the warehouse job?"
    n_summary = con.execute(f"select count(*) from {SUMMARY}").fetchone()[0]
    n, distinct, statuses, notes = con.execute(
        "select count(*), count(distinct customer_id), count(distinct prediction_status), "
        "count(distinct prediction_note) from marts.customer_clv"
    ).fetchone()
    assert n == distinct == n_summary > 0
    assert statuses == notes == 1
    mismatched = con.execute(
        f"""
        select count(*)
        from marts.customer_clv as c
        full join {SUMMARY} as s on c.customer_id = s.customer_id
        where c.customer_id is null or s.customer_id is null
            or c.historical_clv <> s.net_revenue or c.historical_margin <> s.historical_margin
            or c.frequency <> s.frequency or c.t_days <> s.t_days
            or c.as_of_date <> s.as_of_date
        """
    ).fetchone()[0]
    assert mismatched == 0
    repeat, history, status, note = con.execute(
        "select count(*) filter (where frequency > 0), max(t_days), any_value(prediction_status), "
        "any_value(prediction_note) from marts.customer_clv"
    ).fetchone()
    sufficient = repeat >= clv.MIN_REPEAT_CUSTOMERS and history >= clv.MIN_HISTORY_DAYS
    assert status == ("predicted" if sufficient else "insufficient_history"), note
    if not sufficient:
        filled = " + ".join(f"count({c})" for c in PREDICTED)
        assert con.execute(f"select {filled} from marts.customer_clv").fetchone()[0] == 0
        assert (
            "not enough data" in note
            and str(repeat if repeat < clv.MIN_REPEAT_CUSTOMERS else history) in note
        )
    return status


def _check_predictions(con) -> None:
    bad = con.execute(
        f"""
        select count(*) from marts.customer_clv
        where {" or ".join(f"{c} is null" for c in PREDICTED if c != "expected_days_to_next_order")}
            or probability_alive not between 0 and 1
            or churn_risk_90d not between 0 and 1
            or (frequency = 0 and probability_alive <> 1)
            or expected_purchases_52w < 0 or predicted_clv_12m < 0 or expected_order_value <= 0
            or churn_risk_band <> case
                when churn_risk_90d >= {clv.CHURN_BAND_HIGH} then 'high'
                when churn_risk_90d >= {clv.CHURN_BAND_MEDIUM} then 'medium'
                else 'low' end
            or (frequency >= 1 and expected_days_to_next_order is null)
            or expected_days_to_next_order <= 0
        """
    ).fetchone()[0]
    assert bad == 0
    # More purchases in the past, more expected in the future (on average).
    loyal, others = con.execute(
        "select avg(expected_purchases_52w) filter (where frequency >= 5), "
        "avg(expected_purchases_52w) filter (where frequency = 0) from marts.customer_clv"
    ).fetchone()
    assert loyal > others


def test_job_writes_customer_clv(xs_warehouse: Settings):
    """The warehouse job's dbt build writes customer_clv (a dbt Python model) after the
    summary it reads (XS: too few repeat customers, so it records why it did not
    predict)."""
    with connect(xs_warehouse, read_only=True) as con:
        status = _check_table(con)
        if status == "predicted":
            _check_predictions(con)


def _score(settings: Settings) -> dict:
    """The customer_clv model's body on the warehouse copy, its table written where the
    model's would be; returns the figures it logs for Dagster."""
    with connect(settings) as con:
        scored = clv_scoring.score_customers(con, con.table(SUMMARY))
        con.register("scored", scored.table)
        con.execute("create or replace table marts.customer_clv as select * from scored")
        con.unregister("scored")
    return scored.metadata


def test_scoring_below_and_above_the_floor(
    xs_warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch
):
    metadata = _score(xs_warehouse_copy)
    with connect(xs_warehouse_copy, read_only=True) as con:
        repeat = con.execute(f"select count(*) from {SUMMARY} where frequency > 0").fetchone()[0]
        assert _check_table(con) == metadata["prediction_status"]
    assert metadata["repeat_customers"] == repeat
    if metadata["prediction_status"] == "insufficient_history":
        assert "r" not in metadata
        # Lower the floor below what XS has: the same data is now fitted and scored.
        monkeypatch.setattr(clv, "MIN_REPEAT_CUSTOMERS", max(repeat // 2, 1))
        metadata = _score(xs_warehouse_copy)
    assert metadata["prediction_status"] == "predicted"
    for name in ("r", "alpha", "a", "b", "p", "q", "v"):
        assert metadata[name] > 0
    assert metadata["loglik_bgnbd"] < 0 and metadata["customers_scored"] > 0
    assert set(metadata["std_errors"]) >= {"r", "alpha", "p", "q", "v"}
    with connect(xs_warehouse_copy, read_only=True) as con:
        assert _check_table(con) == "predicted"
        _check_predictions(con)
        rows = con.execute(
            "select frequency, recency_days, t_days, monetary_value, probability_alive, "
            "expected_order_value from marts.customer_clv"
        ).fetchall()
        # the column types the model declares, whatever the fit returned
        types = {c: t for c, t, *_ in con.execute("describe marts.customer_clv").fetchall()}
    for column, declared in clv_scoring.PREDICTED_COLUMNS.items():
        assert types[column].replace(" ", "").lower() == declared.replace(" ", ""), column
    # Each customer's P(alive) and expected spend, from the fitted parameters by the
    # papers' closed forms written out here, not by pipelines/lib/clv.py: Fader, Hardie &
    # Lee (2005), "Counting your customers the easy way", eq. 13; Fader, Hardie & Lee
    # (2005), "RFM and CLV", eq. 5 (times in weeks, as the model is fitted).
    r, alpha, a, b = (metadata[k] for k in ("r", "alpha", "a", "b"))
    p, q, v = (metadata[k] for k in ("p", "q", "v"))
    for x, recency_days, t_days, mean_spend, alive, spend in rows:
        t_x, big_t = recency_days / 7, t_days / 7
        odds = (a / (b + x - 1)) * ((alpha + big_t) / (alpha + t_x)) ** (r + x) if x else 0.0
        assert alive == pytest.approx(1 / (1 + odds), rel=1e-9, abs=1e-12)
        m = max(float(mean_spend or 0), 0.0)
        expected = p * (v + x * m) / (p * x + q - 1) if x else p * v / (q - 1)
        assert float(spend) == pytest.approx(expected, abs=0.005 + 1e-9)
    assert len(rows) == metadata["customers_scored"]
    # Not a formula that reduces to 1 for everyone: the repeat buyers' P(alive) spread.
    repeat_alive = [alive for x, *_, alive, _ in rows if x]
    assert min(repeat_alive) < 0.5 < max(repeat_alive)


def test_a_fit_that_does_not_converge_fails_the_model(
    xs_warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch
):
    """No prediction rather than a wrong one: the model raises, naming the model and why."""
    monkeypatch.setattr(clv, "MIN_REPEAT_CUSTOMERS", 1)
    original = clv.fit_and_score

    def unconverged(*args, **kwargs):
        bgnbd, gamma_gamma, scores = original(*args, **kwargs)
        return dataclasses.replace(bgnbd, converged=False, message="ABNORMAL"), gamma_gamma, scores

    monkeypatch.setattr(clv, "fit_and_score", unconverged)
    with connect(xs_warehouse_copy) as con, pytest.raises(clv_scoring.FitDidNotConverge) as err:
        clv_scoring.score_customers(con, con.table(SUMMARY))
    assert "BG/NBD maximum likelihood did not converge: ABNORMAL" in str(err.value)
