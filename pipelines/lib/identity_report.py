"""Identity-resolution quality against the generator's ground truth.

Pairwise precision / recall / F1 over same-person pairs: a pair of records is *predicted*
when both got the same ``customer_id`` and *true* when the generator made both for the
same ``person_id``. Only records the truth marks ``identifiable`` (they carry an identifier
that could link them) and that exist on both sides are scored; the rest are counted.

Pairs are never enumerated: with ``C(n, 2) = n (n - 1) / 2``,

* predicted pairs = Σ over customers of C(records, 2)
* true pairs      = Σ over persons of C(records, 2)
* correct pairs   = Σ over (customer, person) cells of C(records, 2)

so the cost is a few group-bys whatever the cluster sizes.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

RESOLVED_RELATION = "intermediate.int_source_records_resolved"
KEY = ["source", "record_key"]


def _pairs(counts: pl.Series) -> int:
    """Σ C(n, 2) over group sizes."""
    n = counts.cast(pl.Int64)
    return int((n * (n - 1) // 2).sum())


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def read_truth(truth_dir: Path | str) -> pl.DataFrame:
    """The generator's record truth: one row per source record with its person."""
    records = Path(truth_dir) / "records"
    files = sorted(records.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no truth files in {records} (expected *.parquet)")
    truth = pl.read_parquet(files, columns=[*KEY, "person_id", "identifiable"])
    return truth.with_columns(pl.col("record_key").cast(pl.String))


def score(resolved: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float | int | None]:
    """Pairwise scores of ``resolved`` (source, record_key, customer_id) against ``truth``
    (source, record_key, person_id, identifiable)."""
    resolved = resolved.select(*KEY, "customer_id").unique(KEY)
    identifiable = truth.filter(pl.col("identifiable")).select(*KEY, "person_id").unique(KEY)
    scored = identifiable.join(resolved, on=KEY, how="inner")

    true_pairs = _pairs(scored.group_by("person_id").len()["len"])
    predicted_pairs = _pairs(scored.group_by("customer_id").len()["len"])
    correct_pairs = _pairs(scored.group_by("customer_id", "person_id").len()["len"])
    precision = _ratio(correct_pairs, predicted_pairs)
    recall = _ratio(correct_pairs, true_pairs)
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else None
    )
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "correct_pairs": correct_pairs,
        "predicted_pairs": predicted_pairs,
        "true_pairs": true_pairs,
        "records": scored.height,
        "clusters": scored["customer_id"].n_unique(),
        "persons": scored["person_id"].n_unique(),
        # identifiable truth records the warehouse has no customer for
        "missing_in_warehouse": identifiable.join(resolved, on=KEY, how="anti").height,
        # resolved records the truth does not know at all (a key mismatch, or a bug)
        "missing_in_truth": resolved.join(truth.select(KEY), on=KEY, how="anti").height,
        "not_identifiable": truth.height - truth["identifiable"].sum(),
    }


def identity_report(
    con: duckdb.DuckDBPyConnection,
    truth_dir: Path | str,
    relation: str = RESOLVED_RELATION,
) -> dict[str, float | int | None]:
    """Score the warehouse's ``int_source_records_resolved`` (read from an open DuckDB
    connection) against ``truth_dir/records/*.parquet``. precision / recall / f1 are
    ``None`` when there is no pair to score."""
    resolved = con.table(relation).select("source, record_key, customer_id").pl()
    return score(resolved, read_truth(truth_dir))
