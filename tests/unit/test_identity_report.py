"""Pairwise identity-resolution scores on a case small enough to count by hand."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.lib.identity_report import identity_report, read_truth, score

# person 1: a b c   person 2: d e i   person 3: f (+ g, not identifiable)   person 4: h
TRUTH = pl.DataFrame(
    {
        "source": ["shopify_orders"] * 9,
        "record_key": ["a", "b", "c", "d", "e", "i", "f", "g", "h"],
        "person_id": [1, 1, 1, 2, 2, 2, 3, 3, 4],
        "identifiable": [True] * 7 + [False, True],
    }
)
# C1: a b   C2: c d e i   C3: f   C4: g   C5: x (unknown to the truth); h not resolved
RESOLVED = pl.DataFrame(
    {
        "source": ["shopify_orders"] * 8,
        "record_key": ["a", "b", "c", "d", "e", "i", "f", "g"],
        "customer_id": ["C1", "C1", "C2", "C2", "C2", "C2", "C3", "C4"],
    }
).vstack(pl.DataFrame({"source": ["pos_transactions"], "record_key": ["x"], "customer_id": ["C5"]}))


def test_score_counts_pairs_per_cluster_person_and_cell() -> None:
    report = score(RESOLVED, TRUTH)
    # true: C(3,2) + C(3,2) = 6; predicted: C(2,2) + C(4,2) = 7; correct: 1 + C(3,2) = 4
    assert report["true_pairs"] == 6
    assert report["predicted_pairs"] == 7
    assert report["correct_pairs"] == 4
    assert report["precision"] == pytest.approx(4 / 7)
    assert report["recall"] == pytest.approx(4 / 6)
    assert report["f1"] == pytest.approx(8 / 13)
    assert report["records"] == 7
    assert report["clusters"] == 3
    assert report["persons"] == 3
    assert report["missing_in_warehouse"] == 1  # h
    assert report["missing_in_truth"] == 1  # x
    assert report["not_identifiable"] == 1  # g


def test_perfect_resolution_scores_one() -> None:
    perfect = TRUTH.select(
        "source", "record_key", pl.format("P{}", "person_id").alias("customer_id")
    )
    report = score(perfect, TRUTH)
    assert report["precision"] == report["recall"] == report["f1"] == 1.0


def test_no_pairs_gives_no_score() -> None:
    singletons = TRUTH.select("source", "record_key", pl.col("record_key").alias("customer_id"))
    report = score(singletons, TRUTH)
    assert report["predicted_pairs"] == 0
    assert report["precision"] is None
    assert report["recall"] == 0.0
    assert report["f1"] is None


def test_identity_report_reads_warehouse_and_truth_files(tmp_path: Path) -> None:
    records = tmp_path / "truth" / "records"
    records.mkdir(parents=True)
    TRUTH.head(5).write_parquet(records / "part-0.parquet")
    TRUTH.tail(4).write_parquet(records / "part-1.parquet")
    con = duckdb.connect()
    con.execute("create schema intermediate")
    con.register("resolved_frame", RESOLVED)
    con.execute("create table intermediate.int_source_records_resolved as from resolved_frame")
    report = identity_report(con, tmp_path / "truth")
    assert report == score(RESOLVED, TRUTH)


def test_read_truth_names_the_folder_when_empty(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="records"):
        read_truth(tmp_path)
