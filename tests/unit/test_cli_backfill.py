"""`crm-warehouse backfill` and `run`: argument errors, and what a run by hand does not read
end without a run."""

from __future__ import annotations

import threading
import time
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


def test_a_run_by_hand_says_which_folders_it_leaves_and_how_to_read_them(
    data_dir: Path, monkeypatch
):
    """A copy still being written when the run starts: after waiting for it to settle
    (three quiet periods), the run names the folder, why it is left and the way out, and
    starts nothing. A folder no source reads is named too."""
    monkeypatch.setenv("CRM_LANDING_QUIET_SECONDS", "300")
    monkeypatch.setenv("CRM_MANUAL_QUIET_SECONDS", "1")
    landing = data_dir / "landing"
    (landing / "woocommerce" / "2025-01-01").mkdir(parents=True)
    copying = landing / "shopify_orders" / "2025-01-02" / "orders_export_1.csv"
    copying.parent.mkdir(parents=True)
    stop = threading.Event()

    def write_slowly():
        with copying.open("w") as out:
            while not stop.is_set():
                out.write("Name,Email\n")
                out.flush()
                time.sleep(0.2)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    try:
        result = CliRunner().invoke(app, ["run"])
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert "waiting for files still being written to settle: shopify_orders/2025-01-02" in (
        result.output
    )
    assert (
        "  shopify_orders/2025-01-02: changed 0 s ago and no _SUCCESS marker; it is read once "
        "unchanged for 1 s, or when _SUCCESS is added, or run `crm-warehouse run --now` to "
        "read it now"
    ) in result.output
    assert "  woocommerce/: no source of that name is read" in result.output
    assert "nothing to read yet" in result.output
    assert not (data_dir / "dagster" / "history").exists()
