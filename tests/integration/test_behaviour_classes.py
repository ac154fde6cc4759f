"""The behaviour classes and lifecycle of marts.customer_segments find the cohorts the
generator planted (truth/persons.parquet, planted_*) at XS with precision and recall >= 0.9.

Each customer is mapped to the person most of its records belong to (truth/records joined
to intermediate.int_source_records_resolved; ties to the smaller person_id). Scores are per
person: a person is labelled when any customer mapped to them carries the label, so a
person whose records identity resolution split into a main customer and a stray social
account is judged by what the warehouse knows about them, not penalised twice.

planted_churned is compared with lifecycle_stage = 'churned' among customers with at least
var behaviour_min_orders paid orders: the generator plants churners among regular buyers,
while the lifecycle rule (rightly) also calls a one-off buyer of eight months ago churned.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from pipelines.lib.warehouse import connect
from pipelines.settings import DBT_PROJECT_DIR

THRESHOLD = 0.9
# planted cohort -> the customer_segments label it must be found by
CLASSES = {
    "price_sensitive": pl.col("is_price_sensitive"),
    "brand_loyal": pl.col("is_brand_loyal"),
    "promotion_driven": pl.col("is_promotion_driven"),
    "churned": pl.col("lifecycle_stage") == "churned",
    "socially_engaged": pl.col("is_socially_engaged"),
}


def _min_orders() -> int:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return int(project["vars"]["behaviour_min_orders"])


def customer_persons(resolved: pl.DataFrame, truth_dir: Path) -> pl.DataFrame:
    """customer_id -> the person most of its records belong to."""
    files = sorted((truth_dir / "records").glob("*.parquet"))
    assert files, f"no truth records in {truth_dir / 'records'}"
    # a key delivered by several generate calls: the later call's row wins
    records = (
        pl.concat(
            [pl.read_parquet(f, columns=["source", "record_key", "person_id"]) for f in files]
        )
        .with_columns(pl.col("record_key").cast(pl.String))
        .unique(["source", "record_key"], keep="last", maintain_order=True)
    )
    return (
        resolved.join(records, on=["source", "record_key"])
        .group_by("customer_id", "person_id")
        .len()
        .sort(["customer_id", "len", "person_id"], descending=[False, True, False])
        .unique("customer_id", keep="first", maintain_order=True)
        .select("customer_id", "person_id")
    )


def score_classes(segments: pl.DataFrame, mapping: pl.DataFrame, persons: pl.DataFrame) -> dict:
    """Per planted class: planted and found persons, precision, recall."""
    missing = [f"planted_{c}" for c in CLASSES if f"planted_{c}" not in persons.columns]
    assert not missing, (
        f"truth/persons.parquet lacks {missing}: regenerate with the current generator"
    )
    min_orders = _min_orders()
    labelled = segments.join(mapping, on="customer_id", how="inner").with_columns(
        **{c: expr.fill_null(False) for c, expr in CLASSES.items()}
    )
    labelled = labelled.with_columns(
        churned=pl.col("churned") & (pl.col("paid_orders") >= min_orders)
    )
    found = labelled.group_by("person_id").agg(pl.col(c).any() for c in CLASSES)
    truth = persons.select("person_id", *[f"planted_{c}" for c in CLASSES])
    # every person of the truth: a planted person no customer maps to is a miss
    scored = truth.join(found, on="person_id", how="left").with_columns(
        pl.col(c).fill_null(False) for c in CLASSES
    )
    out = {}
    for c in CLASSES:
        hits = int((scored[c] & scored[f"planted_{c}"]).sum())
        n_found, n_planted = int(scored[c].sum()), int(scored[f"planted_{c}"].sum())
        out[c] = {
            "planted": n_planted,
            "found": n_found,
            "precision": hits / n_found if n_found else 0.0,
            "recall": hits / n_planted if n_planted else 0.0,
        }
    return out


@pytest.fixture(scope="module")
def scores(xs_warehouse) -> dict:
    with connect(xs_warehouse, read_only=True) as con:
        segments = con.sql("select * from marts.customer_segments").pl()
        resolved = con.sql(
            "select source, record_key, customer_id from intermediate.int_source_records_resolved"
        ).pl()
    persons_file = xs_warehouse.truth_dir / "persons.parquet"
    assert persons_file.exists(), f"{persons_file} missing: the generator writes it"
    persons = pl.read_parquet(persons_file)
    return score_classes(segments, customer_persons(resolved, xs_warehouse.truth_dir), persons)


@pytest.mark.parametrize("cohort", list(CLASSES))
def test_planted_cohort_is_found(scores, cohort):
    s = scores[cohort]
    assert s["planted"] > 0, f"no planted {cohort} persons at XS"
    assert s["precision"] >= THRESHOLD, s
    assert s["recall"] >= THRESHOLD, s
