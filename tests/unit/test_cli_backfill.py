"""`crm-warehouse backfill`: argument errors and an empty range end without a run."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app


def test_backfill_rejects_bad_dates_and_reversed_ranges(data_dir: Path):
    runner = CliRunner()
    bad = runner.invoke(app, ["backfill", "--from", "2025/01/01", "--to", "2025-01-02"])
    assert bad.exit_code == 2
    assert "YYYY-MM-DD" in bad.output
    reversed_range = runner.invoke(app, ["backfill", "--from", "2025-01-05", "--to", "2025-01-01"])
    assert reversed_range.exit_code == 2
    assert "before --from" in reversed_range.output


def test_backfill_of_a_range_without_complete_deliveries_runs_nothing(data_dir: Path):
    folder = data_dir / "landing" / "pos_transactions" / "2025-02-01"
    folder.mkdir(parents=True)
    (folder / "sales.csv").write_text("x")
    result = CliRunner().invoke(app, ["backfill", "--from", "2025-01-01", "--to", "2025-01-31"])
    assert result.exit_code == 0, result.output
    assert "nothing to run" in result.output
    assert "2025-01-01" in result.output and "2025-01-31" in result.output
    # No run was made: nothing was recorded in the Dagster instance.
    assert not (data_dir / "dagster" / "history").exists()
