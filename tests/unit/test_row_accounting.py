"""Row accounting (pipelines/defs/quality/checks.py): every load's rows add up; on a night
the loads of the run's landing dates, on the weekly night every load."""

from datetime import UTC, date, datetime

import dagster as dg
import duckdb

from pipelines.defs.partitions import night_window, range_tags
from pipelines.defs.quality.checks import row_accounting_mismatches
from pipelines.lib.contracts import get_contract
from pipelines.lib.ingest import ensure_raw_tables

OLD, NEW = date(2026, 11, 26), date(2026, 12, 3)  # a Thursday, then the next one


def _warehouse() -> duckdb.DuckDBPyConnection:
    """Two POS loads: an old one whose raw rows were lost since, last night's whole."""
    con = duckdb.connect()
    ensure_raw_tables(con, get_contract("pos_transactions"))
    for load_id, delivered, loaded, held in (("L-old", OLD, 3, 2), ("L-new", NEW, 2, 2)):
        con.execute(
            "insert into raw.loads (load_id, source, file, delivery_date, sha256, bytes, status,"
            " rows_in, rows_loaded, rows_quarantined, started_at, finished_at) values "
            "(?, 'pos_transactions', ?, ?, 'x', 1, 'loaded', ?, ?, 0, ?, ?)",
            [load_id, f"pos_transactions/{delivered}/pos.csv", delivered, loaded, loaded,
             datetime.now(UTC), datetime.now(UTC)],
        )  # fmt: skip
        for line in range(held):
            con.execute(
                "insert into raw.pos_transactions (receipt_id, _load_id, _source_line) "
                "values (?, ?, ?)",
                [f"{load_id}-{line}", load_id, line + 2],
            )
    return con


def _run(tags: dict[str, str]) -> dg.DagsterRun:
    return dg.DagsterRun(job_name="warehouse", run_id="r", tags=tags)


def test_a_night_accounts_for_its_loads_and_the_weekly_night_for_every_load():
    con = _warehouse()
    night = night_window(_run(range_tags(NEW, NEW)))
    assert night == (NEW, NEW)
    assert row_accounting_mismatches(con, "pos_transactions", night) == ([], (1, 2))

    weekly = night_window(_run(range_tags(NEW, date(2026, 12, 7))))  # ends on a Monday
    assert weekly is None
    mismatches, loads = row_accounting_mismatches(con, "pos_transactions", weekly)
    assert mismatches == [(f"pos_transactions/{OLD}/pos.csv", 3, 3, 0, 2, 0)]
    assert loads == (2, 5)
