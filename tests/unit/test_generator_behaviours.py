"""Planted behaviour cohorts of the sample-data generator, recovered from its ground truth.

An independent Polars implementation of the warehouse's behaviour rules (the dbt defaults),
run over the truth tables of a generated XS year (persons, orders, order_lines, interactions)
and the products file, must find each planted cohort with precision and recall >= 0.9. This
guards the generator; the warehouse-side test checks the dbt models against the same truth.

Rules, as of the run date (the latest paid order date):

* evaluated for persons with >= 3 paid orders: price_sensitive (>= 70 % of purchased units
  have a list price with percent_rank < 0.4 in their category), promotion_driven (>= 60 % of
  paid orders carry a discount), brand_loyal (the top brand has >= 80 % of the units), churned
  (last paid order more than 180 days before the run date);
* evaluated for everyone: socially_engaged (>= 5 social events in the last 90 days).

Paid: Shopify paid / partially_refunded / refunded, Tmall with a payment time, every POS receipt
(the truth's ``orders.is_paid``).
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from crm_tools.generator import generate

START = date(2025, 1, 1)
DAYS = 365
MIN_ORDERS = 3
PRICE_RANK = 0.4
PRICE_SHARE = 0.7
PROMO_SHARE = 0.6
BRAND_SHARE = 0.8
CHURN_DAYS = 180
SOCIAL_DAYS = 90
SOCIAL_EVENTS = 5
CLASSES = ("price_sensitive", "brand_loyal", "promotion_driven", "churned", "socially_engaged")


def _run(root: Path, **kw) -> dict:
    args = {"scale": "XS", "seed": 7, "start_date": START, "days": DAYS, "cadence": "monthly"}
    args.update(kw)
    return generate(root / "landing", root / "truth", **args)


def _truth(root: Path, table: str, key: list[str], keep: str) -> pl.DataFrame:
    """A truth table over every call: a key's row from the latest (or first) call."""
    files = sorted((root / "truth" / table).glob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]).unique(
        key, keep=keep, maintain_order=True
    )


def _products(root: Path) -> pl.DataFrame:
    """The catalogue as delivered (products.csv), with the cheap flag of the price rule."""
    rows = []
    for path in sorted((root / "landing" / "products").rglob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            rows += [
                {"sku": r["SKU"], "category": r["Category"], "list_price": float(r["List Price"])}
                for r in csv.DictReader(f)
            ]
    products = pl.DataFrame(rows).unique("sku", keep="last")
    rank = (pl.col("list_price").rank("min").over("category") - 1) / (pl.len().over("category") - 1)
    cheap = pl.when(pl.len().over("category") == 1).then(0.0).otherwise(rank) < PRICE_RANK
    return products.with_columns(cheap=cheap)


def behaviour_classes(root: Path) -> pl.DataFrame:
    """One row per person: the planted flags and the classes the rules find."""
    persons = pl.read_parquet(root / "truth" / "persons.parquet")
    orders = _truth(root, "orders", ["source", "order_key"], "last").filter("is_paid")
    lines = _truth(root, "order_lines", ["source", "order_key", "line_no"], "last")
    events = _truth(root, "interactions", ["source", "interaction_key"], "first").filter(
        pl.col("source") == "social_events"
    )
    run_date = orders["order_date"].max()

    per_order = orders.group_by("person_id").agg(
        paid_orders=pl.len(),
        discounted=pl.col("has_discount").mean(),
        last_paid=pl.col("order_date").max(),
    )
    units = (
        lines.join(orders.select("source", "order_key", "person_id"), on=["source", "order_key"])
        .join(_products(root).select("sku", "cheap"), on="sku", how="left")
        .with_columns(pl.col("cheap").fill_null(False))
    )
    cheap_share = units.group_by("person_id").agg(
        cheap_share=(pl.col("quantity") * pl.col("cheap")).sum() / pl.col("quantity").sum()
    )
    brand_share = (
        units.group_by("person_id", "brand")
        .agg(q=pl.col("quantity").sum())
        .group_by("person_id")
        .agg(brand_share=pl.col("q").max() / pl.col("q").sum())
    )
    social = (
        events.with_columns(day=pl.col("occurred_at").dt.date())
        .filter(
            (pl.col("day") <= run_date) & (pl.col("day") > run_date - timedelta(days=SOCIAL_DAYS))
        )
        .group_by("person_id")
        .agg(social_events=pl.len())
    )
    rated = pl.col("paid_orders") >= MIN_ORDERS
    return (
        persons.select("person_id", *[f"planted_{c}" for c in CLASSES])
        .join(per_order, on="person_id", how="left")
        .join(cheap_share, on="person_id", how="left")
        .join(brand_share, on="person_id", how="left")
        .join(social, on="person_id", how="left")
        .with_columns(pl.col("paid_orders", "social_events").fill_null(0))
        .with_columns(
            price_sensitive=rated & (pl.col("cheap_share") >= PRICE_SHARE),
            brand_loyal=rated & (pl.col("brand_share") >= BRAND_SHARE),
            promotion_driven=rated & (pl.col("discounted") >= PROMO_SHARE),
            churned=rated & ((pl.lit(run_date) - pl.col("last_paid")).dt.total_days() > CHURN_DAYS),
            socially_engaged=pl.col("social_events") >= SOCIAL_EVENTS,
        )
        .with_columns(pl.col(*CLASSES).fill_null(False))
    )


def scores(classes: pl.DataFrame) -> dict[str, dict[str, float | int]]:
    """Precision and recall of each rule against its planted cohort."""
    out = {}
    for c in CLASSES:
        found, planted = classes[c], classes[f"planted_{c}"]
        hits = int((found & planted).sum())
        out[c] = {
            "planted": int(planted.sum()),
            "found": int(found.sum()),
            "precision": hits / max(int(found.sum()), 1),
            "recall": hits / max(int(planted.sum()), 1),
        }
    return out


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("behaviours")
    _run(root)
    return root


def test_rules_recover_each_planted_cohort(year):
    got = scores(behaviour_classes(year))
    for c, s in got.items():
        assert s["planted"] >= 40, (c, s)  # enough members for the scores to mean something
        assert s["precision"] >= 0.9 and s["recall"] >= 0.9, (c, s)


def test_evaluated_cohort_members_have_three_paid_orders(year):
    classes = behaviour_classes(year)
    buying = pl.any_horizontal(
        pl.col(f"planted_{c}") for c in ("price_sensitive", "brand_loyal", "promotion_driven")
    )
    members = classes.filter(buying)
    assert (members["paid_orders"] >= MIN_ORDERS).mean() >= 0.97
    churned = classes.filter("planted_churned")
    assert (churned["paid_orders"] >= 1).all()  # buyers with a history, not prospects


def test_discount_codes_are_campaigns(year):
    landing = year / "landing"
    campaigns: dict[str, set[str]] = {}
    for path in (landing / "campaign_spend").rglob("*.csv"):
        with path.open(encoding="utf-8", newline="") as f:
            for r in csv.reader(f):
                if len(r) == 5 and r[0] != "Date":
                    campaigns.setdefault(r[2], set()).add(r[0])
    used: set[tuple[str, str]] = set()
    for path in (landing / "shopify_orders").rglob("*.csv"):
        with path.open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                if r.get("Discount Code") and None not in r:  # not a malformed extra row
                    try:
                        day = date.fromisoformat(r["Created at"][:10]).isoformat()
                    except ValueError:
                        continue  # a planted impossible date
                    used.add((r["Discount Code"], day))
    assert len({code for code, _ in used}) >= 3
    for code, day in used:
        assert day in campaigns.get(code, set()), (code, day)  # the campaign ran that day
    codes = {code for code, _ in used}
    assert len(set(campaigns) - codes) >= 10  # campaigns without a code (search, seeding, ...)
    # a discount on some orders of everyone, but on most orders of the promotion-driven only
    orders = _truth(year, "orders", ["source", "order_key"], "last").filter("is_paid")
    persons = pl.read_parquet(year / "truth" / "persons.parquet")
    rate = (
        orders.filter(pl.col("source") != "tmall_orders")
        .join(persons.select("person_id", "planted_promotion_driven"), on="person_id")
        .group_by("planted_promotion_driven")
        .agg(pl.col("has_discount").mean())
    )
    by = dict(rate.iter_rows())
    assert by[True] >= 0.85 and 0.03 <= by[False] <= 0.12, by


def test_order_lines_match_orders(year):
    orders = _truth(year, "orders", ["source", "order_key"], "last")
    lines = _truth(year, "order_lines", ["source", "order_key", "line_no"], "last")
    n = lines.group_by("source", "order_key").agg(n=pl.len(), disc=pl.col("has_discount").any())
    joined = orders.join(n, on=["source", "order_key"], how="left")
    assert (joined["n"] == joined["line_count"]).all()
    assert (joined["disc"] == joined["has_discount"]).all()


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_deterministic_with_the_cohorts(year, tmp_path):
    _run(tmp_path)
    assert _hashes(year) == _hashes(tmp_path)


def test_churners_stay_stopped_in_a_continuation_call(tmp_path):
    """A later call of a chain keeps the churn anchor of the first call (manifest.json)."""
    _run(tmp_path, days=250)
    _run(tmp_path, start_date=START + timedelta(days=250), days=20, cadence="daily")
    manifest = json.loads((tmp_path / "truth" / "manifest.json").read_text())
    assert {c["churn_anchor"] for c in manifest["calls"]} == {"2025-09-07"}
    persons = pl.read_parquet(tmp_path / "truth" / "persons.parquet")
    churners = persons.filter("planted_churned")["person_id"]
    later = pl.read_parquet(tmp_path / "truth" / "orders" / "2025-09-08_2025-09-27.parquet")
    assert later.filter(pl.col("person_id").is_in(churners.implode())).is_empty()
    first = pl.read_parquet(tmp_path / "truth" / "orders" / "2025-01-01_2025-09-07.parquet")
    last_buy = first.filter(pl.col("person_id").is_in(churners.implode()))["order_date"].max()
    assert last_buy < date(2025, 9, 7) - timedelta(days=CHURN_DAYS)
