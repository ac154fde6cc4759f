"""marts.kpis_monthly on the XS warehouse, recomputed column by column in Polars from
marts.orders, marts.interactions and the campaign spend (staging), and compared exactly.

The definitions are the ones documented in dbt_project/models/marts/kpis/_kpis__models.yml;
this file restates them independently of the SQL. Ratios are compared as IEEE doubles
(the same division of the same integers or decimals gives the same bits), money as
decimals.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
import yaml

from pipelines.lib.warehouse import connect
from pipelines.settings import DBT_PROJECT_DIR, get_settings

KEY = ["month", "channel"]
CHANNELS = ["online", "store", "all"]


def dbt_vars() -> dict:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return project["vars"]


def _month(col: str) -> pl.Expr:
    return pl.col(col).dt.truncate("1mo").alias("month")


def _months(first: date, last: date) -> list[date]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _ratio(num: str, den: str) -> pl.Expr:
    return (
        pl.when(pl.col(den) > 0)
        .then(pl.col(num).cast(pl.Float64) / pl.col(den).cast(pl.Float64))
        .otherwise(None)
    )


def _spend_reporting(spend: pl.DataFrame, rates: pl.DataFrame, reporting: str) -> pl.DataFrame:
    """Spend in the reporting currency: the latest rate on or before the spend day,
    round(spend x rate, 2) half away from zero, per row."""
    rates = rates.filter(pl.col("to_currency") == reporting).sort("rate_date")
    rows = []
    for r in spend.iter_rows(named=True):
        if r["currency"] == reporting:
            rate = Decimal(1)
        else:
            known = rates.filter(
                (pl.col("from_currency") == r["currency"])
                & (pl.col("rate_date") <= r["spend_date"])
            )
            rate = Decimal(str(known["rate"][-1])) if known.height else None
        amount = (
            None
            if rate is None
            else (Decimal(str(r["spend"])) * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
        )
        rows.append({**r, "spend_reporting": amount})
    return pl.DataFrame(
        rows,
        schema={**spend.schema, "spend_reporting": pl.Decimal(38, 2)},
    )


def expected_kpis(con, variables: dict) -> pl.DataFrame:
    """Every column of kpis_monthly, from the marts and the campaign spend."""
    orders_all = con.sql(
        "select order_id, customer_id, channel, ordered_at, order_date, is_paid, "
        "net_amount_reporting from marts.orders"
    ).pl()
    as_of = variables.get("as_of_date")
    as_of = (
        date.fromisoformat(str(as_of))
        if as_of
        else orders_all.filter(pl.col("is_paid"))["order_date"].max()
    )
    orders = orders_all.filter(pl.col("is_paid") & (pl.col("order_date") <= as_of)).with_columns(
        _month("order_date")
    )
    per_channel = pl.concat(
        [orders, orders.with_columns(channel=pl.lit("all"))], how="vertical_relaxed"
    )

    months = _months(orders["month"].min(), as_of)
    grid = pl.DataFrame({"month": months}).join(pl.DataFrame({"channel": CHANNELS}), how="cross")

    order_figures = per_channel.group_by(KEY).agg(
        customers=pl.col("customer_id").drop_nulls().n_unique(),
        orders=pl.len(),
        identified_orders=pl.col("customer_id").is_not_null().sum(),
        net_revenue=pl.col("net_amount_reporting").sum(),
        identified_revenue=pl.col("net_amount_reporting")
        .filter(pl.col("customer_id").is_not_null())
        .sum(),
    )

    identified = per_channel.filter(pl.col("customer_id").is_not_null())
    firsts = (
        orders.filter(pl.col("customer_id").is_not_null())
        .sort("ordered_at", "order_id")
        .group_by("customer_id", maintain_order=True)
        .first()
        .select("customer_id", first_month="month", first_channel="channel")
    )
    new = pl.concat(
        [
            firsts.group_by(month="first_month", channel="first_channel").len("new_customers"),
            firsts.group_by(month="first_month")
            .len("new_customers")
            .with_columns(channel=pl.lit("all")),
        ],
        how="diagonal",
    )
    customer_months = identified.select(*KEY, "customer_id").unique()
    repeat = (
        customer_months.join(firsts, on="customer_id")
        .filter(pl.col("first_month") < pl.col("month"))
        .group_by(KEY)
        .len("repeat_customers")
    )
    previous = customer_months.with_columns(pl.col("month").dt.offset_by("1mo"))
    retained = (
        customer_months.join(previous, on=[*KEY, "customer_id"])
        .group_by(KEY)
        .len("retained_customers")
    )
    channel_firsts = (
        customer_months.group_by("channel", "customer_id")
        .agg(pl.col("month").min())
        .group_by(KEY)
        .len("new_buyers")
    )

    spend = con.sql(
        "select spend_date, marketing_channel, campaign, spend, currency "
        "from staging.stg_marketing__campaign_spend"
    ).pl()
    spend = spend.filter(pl.col("spend_date") <= as_of)
    rates = con.sql(
        "select rate_date, from_currency, to_currency, rate from staging.stg_finance__fx_rates"
    ).pl()
    reporting = variables["reporting_currency"] or get_settings().reporting_currency
    spend = _spend_reporting(spend, rates, reporting).with_columns(
        _month("spend_date"),
        channel=pl.col("marketing_channel").replace_strict(
            variables["cac_channel_by_marketing_channel"], default=None
        ),
    )
    spend_figures = pl.concat(
        [
            spend.filter(pl.col("channel").is_not_null())
            .group_by(KEY)
            .agg(campaign_spend=pl.col("spend_reporting").sum()),
            spend.group_by("month")
            .agg(campaign_spend=pl.col("spend_reporting").sum())
            .with_columns(channel=pl.lit("all")),
        ],
        how="diagonal",
    )

    service = (
        con.sql(
            "select occurred_date, nps, csat from marts.interactions "
            "where source = 'service_interactions'"
        )
        .pl()
        .filter(pl.col("occurred_date") <= as_of)
        .with_columns(_month("occurred_date"))
        .group_by("month")
        .agg(
            nps_responses=pl.col("nps").is_not_null().sum().cast(pl.Int64),
            promoters=(pl.col("nps") >= 9).sum().cast(pl.Int64),
            detractors=(pl.col("nps") <= 6).sum().cast(pl.Int64),
            csat_responses=pl.col("csat").is_not_null().sum().cast(pl.Int64),
            satisfied=(pl.col("csat") >= 4).sum().cast(pl.Int64),
        )
        .with_columns(channel=pl.lit("all"))
    )

    zero = Decimal("0.00")
    df = (
        grid.join(order_figures, on=KEY, how="left")
        .join(new, on=KEY, how="left")
        .join(repeat, on=KEY, how="left")
        .join(retained, on=KEY, how="left")
        .join(channel_firsts, on=KEY, how="left")
        .join(spend_figures, on=KEY, how="left")
        .join(service, on=KEY, how="left")
        .sort("channel", "month")
        .with_columns(
            pl.col(
                "customers",
                "orders",
                "identified_orders",
                "new_customers",
                "repeat_customers",
                "retained_customers",
                "new_buyers",
            ).fill_null(0),
            pl.col("net_revenue", "identified_revenue", "campaign_spend").fill_null(zero),
        )
        .with_columns(
            previous_month_customers=pl.col("customers").shift(1).over("channel").fill_null(0),
            revenue_to_date=pl.col("identified_revenue").cum_sum().over("channel"),
            buyers_to_date=pl.col("new_buyers").cum_sum().over("channel"),
            nps_responses=pl.when(pl.col("channel") == "all").then(
                pl.col("nps_responses").fill_null(0)
            ),
            csat_responses=pl.when(pl.col("channel") == "all").then(
                pl.col("csat_responses").fill_null(0)
            ),
            nps_points=100 * (pl.col("promoters") - pl.col("detractors")),
        )
        .with_columns(
            retention_rate=_ratio("retained_customers", "previous_month_customers"),
            repeat_purchase_rate=_ratio("repeat_customers", "customers"),
            average_order_value=_ratio("net_revenue", "orders"),
            purchase_frequency=_ratio("identified_orders", "customers"),
            average_historical_clv=_ratio("revenue_to_date", "buyers_to_date"),
            cac=_ratio("campaign_spend", "new_customers"),
            nps=_ratio("nps_points", "nps_responses"),
            csat=_ratio("satisfied", "csat_responses"),
        )
        .with_columns(churn_rate=1 - pl.col("retention_rate"))
    )
    return df.select(
        "month",
        "channel",
        "customers",
        "new_customers",
        "repeat_customers",
        "orders",
        "identified_orders",
        "net_revenue",
        "previous_month_customers",
        "retained_customers",
        "retention_rate",
        "churn_rate",
        "repeat_purchase_rate",
        "average_order_value",
        "purchase_frequency",
        "revenue_to_date",
        "buyers_to_date",
        "average_historical_clv",
        "campaign_spend",
        "cac",
        "nps_responses",
        "nps",
        "csat_responses",
        "csat",
    )


def _rows(df: pl.DataFrame) -> dict[tuple, dict]:
    return {(r["month"], r["channel"]): r for r in df.iter_rows(named=True)}


def mismatches(got: pl.DataFrame, expected: pl.DataFrame) -> list[str]:
    """Every cell that differs (values compared with ==: Decimal('1.50') == Decimal('1.5'),
    floats bit for bit), plus missing or extra rows and columns."""
    problems = []
    if got.columns != expected.columns:
        problems.append(f"columns: mart {got.columns} != recomputed {expected.columns}")
        return problems
    got_rows, exp_rows = _rows(got), _rows(expected)
    for key in sorted(set(got_rows) | set(exp_rows), key=str):
        if key not in got_rows or key not in exp_rows:
            problems.append(f"{key}: only in {'mart' if key in got_rows else 'recomputed'}")
            continue
        for col in got.columns:
            a, b = got_rows[key][col], exp_rows[key][col]
            if a != b and not (a is None and b is None):
                problems.append(f"{key} {col}: mart {a!r} != recomputed {b!r}")
    return problems


@pytest.fixture(scope="module")
def kpis(xs_warehouse):
    with connect(xs_warehouse, read_only=True) as con:
        got = con.sql("select * from marts.kpis_monthly order by channel, month").pl()
        expected = expected_kpis(con, dbt_vars())
    return got, expected


def test_kpis_monthly_matches_an_independent_polars_computation(kpis):
    got, expected = kpis
    assert got.height == expected.height == 3 * expected["month"].n_unique() > 0
    problems = mismatches(got, expected)
    assert not problems, "\n".join(problems[:40])


def test_kpis_monthly_is_not_trivially_empty(kpis):
    got, _ = kpis
    every = got.filter(pl.col("channel") == "all")
    # the XS year has buyers, repeat customers, retention, spend and service scores
    assert every["customers"].sum() > 0
    assert every["repeat_customers"].sum() > 0
    assert every["retention_rate"].drop_nulls().len() > 0
    assert every["cac"].drop_nulls().len() > 0
    assert every["nps"].drop_nulls().len() > 0
    assert every["csat"].drop_nulls().len() > 0
    assert got.filter(pl.col("channel") != "all")["nps"].null_count() == 2 * every.height
