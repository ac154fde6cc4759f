"""One self-contained HTML report of the customer analyses (no network needed to view it).

Plots are rendered with matplotlib's Agg backend to PNG and inlined as base64, so the file
opens anywhere, offline, and can be mailed as is.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt
import numpy as np

PALETTE = ["#2f6db5", "#e07b39", "#3a9d5d", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c"]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _segment_sizes(con) -> tuple[str, str]:
    lifecycle = _rows(
        con,
        "select coalesce(lifecycle_stage, 'unknown'), count(*) from marts.customer_segments "
        "group by 1 order by 2 desc",
    )
    tiers = _rows(
        con,
        "select coalesce(value_tier, 'non-buyer'), count(*) from marts.customer_segments "
        "group by 1 order by 2 desc",
    )
    rfm = _rows(con, "select rfm_segment, count(*) from marts.customer_rfm group by 1 order by 2")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, data, title in zip(
        axes, (lifecycle, tiers, rfm), ("Lifecycle stage", "Value tier", "RFM segment"), strict=True
    ):
        labels = [str(r[0]) for r in data]
        values = [r[1] for r in data]
        ax.barh(labels, values, color=PALETTE[0])
        ax.set_title(title)
        ax.set_xlabel("customers")
    fig.tight_layout()
    total = sum(v for _, v in lifecycle)
    return _png(fig), f"{total:,} customers."


def _rfm_heatmap(con) -> tuple[str, str]:
    cells = _rows(
        con,
        "select r_score, f_score, count(*), avg(monetary) from marts.customer_rfm group by 1, 2",
    )
    counts = np.zeros((5, 5))
    money = np.full((5, 5), np.nan)
    for r, f, n, m in cells:
        counts[int(r) - 1, int(f) - 1] = n
        money[int(r) - 1, int(f) - 1] = float(m)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    im = ax.imshow(counts, origin="lower", cmap="Blues")
    for (i, j), n in np.ndenumerate(counts):
        label = f"{int(n)}" + (f"\n¥{money[i, j]:,.0f}" if n else "")
        ax.text(j, i, label, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(5), [str(i) for i in range(1, 6)])
    ax.set_yticks(range(5), [str(i) for i in range(1, 6)])
    ax.set_xlabel("frequency score")
    ax.set_ylabel("recency score")
    ax.set_title("Customers (and average monetary value) by R and F score")
    fig.colorbar(im, ax=ax, label="customers")
    return _png(fig), "Top right: frequent and recent buyers (Champions)."


def _cohort_heatmap(con) -> tuple[str, str]:
    rows = _rows(
        con,
        "select cohort_month, months_since_first, retention_rate from marts.cohort_retention "
        "where months_since_first <= 12 order by 1, 2",
    )
    cohorts = sorted({r[0] for r in rows})
    matrix = np.full((len(cohorts), 13), np.nan)
    index = {c: i for i, c in enumerate(cohorts)}
    for cohort, month, rate in rows:
        matrix[index[cohort], int(month)] = float(rate)
    fig, ax = plt.subplots(figsize=(10, max(3, 0.35 * len(cohorts) + 1)))
    im = ax.imshow(matrix, aspect="auto", cmap="Greens", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(matrix):
        if not np.isnan(v):
            colour = "white" if v > 0.7 else "black"  # readable on the dark cells
            ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_yticks(range(len(cohorts)), [str(c)[:7] for c in cohorts])
    ax.set_xlabel("months since first purchase")
    ax.set_title("Monthly cohort retention")
    fig.colorbar(im, ax=ax, label="share of cohort buying")
    return _png(fig), f"{len(cohorts)} monthly cohorts."


def _clv_distribution(con) -> tuple[str, str]:
    status = _rows(
        con,
        "select prediction_status, any_value(prediction_note), count(*) from marts.customer_clv "
        "group by 1",
    )
    predicted = [
        float(v)
        for (v,) in _rows(
            con,
            "select predicted_clv_12m from marts.customer_clv where predicted_clv_12m is not null",
        )
    ]
    historical = [float(v) for (v,) in _rows(con, "select historical_clv from marts.customer_clv")]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    axes[0].hist(historical, bins=40, color=PALETTE[0])
    axes[0].set_title("Historical CLV (net revenue to date)")
    axes[0].set_xlabel("reporting currency")
    if predicted:
        axes[1].hist(predicted, bins=40, color=PALETTE[1])
        axes[1].set_title("Predicted 12-month CLV (BG/NBD + Gamma-Gamma, discounted)")
    else:
        axes[1].text(0.5, 0.5, "no prediction (see note)", ha="center", va="center")
        axes[1].set_axis_off()
    axes[1].set_xlabel("reporting currency")
    fig.tight_layout()
    note = "; ".join(f"{s}: {n:,} customers" + (f" ({m})" if m else "") for s, m, n in status)
    return _png(fig), note


def _kpi_trends(con) -> tuple[str, str]:
    rows = _rows(
        con,
        "select month, net_revenue, average_order_value, retention_rate, repeat_purchase_rate, "
        "customers from marts.kpis_monthly where channel = 'all' order by month",
    )
    months = [str(r[0])[:7] for r in rows]
    fig, axes = plt.subplots(2, 2, figsize=(13, 7))
    series = (
        ("Net revenue", 1, False),
        ("Average order value", 2, False),
        ("Retention rate", 3, True),
        ("Repeat-purchase rate", 4, True),
    )
    for ax, (title, col, is_rate) in zip(axes.flat, series, strict=True):
        values = [float(r[col]) if r[col] is not None else np.nan for r in rows]
        ax.plot(months, values, marker="o", color=PALETTE[0])
        ax.set_title(title)
        if is_rate:
            ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=60, labelsize=7)
    fig.tight_layout()
    return _png(fig), f"{len(months)} months, all channels."


def _top_pairs(con) -> tuple[str, str]:
    rows = _rows(
        con,
        "select sku_a, sku_b, support, lift from marts.product_affinity "
        "order by lift desc, support desc, sku_a, sku_b limit 15",
    )
    fig, ax = plt.subplots(figsize=(8, max(3, 0.35 * len(rows) + 1)))
    labels = [f"{a} + {b}" for a, b, *_ in rows][::-1]
    ax.barh(labels, [float(r[3]) for r in rows][::-1], color=PALETTE[2])
    ax.set_xlabel("lift")
    ax.set_title("Top product pairs by lift")
    return _png(fig), f"{len(rows)} pairs above the minimum support."


SECTIONS: list[tuple[str, Callable]] = [
    ("Segment sizes", _segment_sizes),
    ("RFM heatmap", _rfm_heatmap),
    ("Cohort retention", _cohort_heatmap),
    ("Customer lifetime value", _clv_distribution),
    ("KPI trends", _kpi_trends),
    ("Top product pairs", _top_pairs),
]


def build_report(con: duckdb.DuckDBPyConnection, out_path: Path) -> Path:
    """Write the report; every section is required (a missing mart fails loudly)."""
    as_of = con.execute("select max(as_of_date) from marts.customer_clv").fetchone()[0]
    parts = []
    for title, section in SECTIONS:
        image, caption = section(con)
        parts.append(
            f"<section><h2>{html.escape(title)}</h2>"
            f'<img alt="{html.escape(title)}" src="data:image/png;base64,{image}">'
            f"<p>{html.escape(caption)}</p></section>"
        )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>CRM Warehouse - customer report {as_of}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
section {{ margin-bottom: 2.5rem; }} img {{ max-width: 100%; }} p {{ color: #555; }}
</style></head><body>
<h1>Customer report as of {as_of}</h1>
<p>Generated {generated} from the warehouse marts.</p>
{"".join(parts)}
</body></html>
"""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out_path)  # readers never see a half-written report
    return out_path
