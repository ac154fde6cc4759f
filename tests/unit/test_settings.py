"""Paths and limits resolve from one place, with the documented defaults."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from pipelines.lib.warehouse import connect
from pipelines.settings import PROJECT_ROOT, get_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_defaults_live_under_the_data_dir():
    s = get_settings({})
    assert s.data_dir == (PROJECT_ROOT / "data").resolve()
    assert s.landing_dir == s.data_dir / "landing"
    assert s.duckdb_path == s.data_dir / "warehouse.duckdb"
    assert s.duckdb_temp_dir == s.data_dir / "tmp" / "duckdb"
    assert (s.duckdb_memory_limit, s.duckdb_threads) == ("4GB", 2)


def test_environment_overrides(tmp_path: Path):
    s = get_settings(
        {
            "CRM_DATA_DIR": str(tmp_path),
            "DUCKDB_PATH": str(tmp_path / "w.duckdb"),
            "CRM_DUCKDB_MEMORY_LIMIT": "1GB",
            "CRM_DUCKDB_THREADS": "1",
        }
    )
    assert s.landing_dir == tmp_path / "landing"
    assert s.duckdb_path == tmp_path / "w.duckdb"
    assert s.env()["DUCKDB_PATH"] == str(tmp_path / "w.duckdb")
    assert (s.duckdb_memory_limit, s.duckdb_threads) == ("1GB", 1)


def test_profiles_read_the_same_variables():
    profiles = (PROJECT_ROOT / "dbt_project" / "profiles.yml").read_text()
    for var in get_settings({}).env():
        if var.startswith(("DUCKDB", "CRM_DUCKDB")):
            assert f"env_var('{var}')" in profiles


def test_serving_and_schedule_defaults_and_overrides():
    s = get_settings({})
    assert s.serving_dir == s.data_dir / "serving"
    assert (s.serving_keep, s.nightly_cron, s.schedule_timezone) == (
        7,
        "0 2 * * *",
        "Asia/Shanghai",
    )
    s = get_settings(
        {"CRM_SERVING_KEEP": "3", "CRM_NIGHTLY_CRON": "30 3 * * *", "CRM_SCHEDULE_TIMEZONE": "UTC"}
    )
    assert (s.serving_keep, s.nightly_cron, s.schedule_timezone) == (3, "30 3 * * *", "UTC")


def test_the_nightly_schedule_runs_the_warehouse_job():
    from pipelines.definitions import defs

    schedule = defs.resolve_schedule_def("nightly")
    assert schedule.job_name == "warehouse"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "Asia/Shanghai")


def test_the_nightly_run_covers_the_complete_deliveries_of_its_lookback_window(
    tmp_path: Path, monkeypatch
):
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.lib.landing import DELIVERY_MARKER

    monkeypatch.setenv("CRM_LANDING_DIR", str(tmp_path))
    monkeypatch.setenv("CRM_NIGHTLY_LOOKBACK_DAYS", "7")
    for day in ("2025-03-01", "2025-03-05", "2025-03-09", "2025-03-10"):
        folder = tmp_path / "pos_transactions" / day
        folder.mkdir(parents=True)
        (folder / "sales.csv").write_text("x")
        if day != "2025-03-10":  # still being delivered: no marker, just written
            (folder / DELIVERY_MARKER).touch()
    schedule = defs.resolve_schedule_def("nightly")
    # A temp_dir that outlives the block: with instance_for_test's own (deleted on exit),
    # later in-memory instances in this process failed ("unable to open database file").
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        # Each context is entered and left, so the instance it opens from the ref is closed.
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2025, 3, 10, 2, 0, tzinfo=SHANGHAI)
        ) as context:
            (request,) = schedule.evaluate_tick(context).run_requests
        # 03-01 is older than the lookback, 03-10 is incomplete: 03-05..03-09 are read.
        assert request.tags["dagster/asset_partition_range_start"] == "2025-03-05"
        assert request.tags["dagster/asset_partition_range_end"] == "2025-03-09"
        assert instance.get_dynamic_partitions("landing_date") == ["2025-03-05", "2025-03-09"]
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2025, 5, 1, 2, 0, tzinfo=SHANGHAI)
        ) as context:
            assert schedule.evaluate_tick(context).run_requests == []  # nothing landed: skipped


def test_duckdb_reads_and_writes_only_the_warehouse_folders(tmp_path: Path):
    s = get_settings({"CRM_DATA_DIR": str(tmp_path / "data")})
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("a\n1\n")
    inside = s.landing_dir / "pos_transactions" / "2025-03-01" / "pos.csv"
    inside.parent.mkdir(parents=True)
    inside.write_text("a\n1\n")
    with connect(s) as con:
        assert con.execute("select a from read_csv($p)", {"p": str(inside)}).fetchall() == [(1,)]
        for sql in (
            f"select * from read_csv('{outside}')",
            f"select * from read_csv('{inside.parent}/../../../../elsewhere.csv')",
            f"copy (select 1) to '{tmp_path / 'out.csv'}'",
            f"attach '{tmp_path / 'other.duckdb'}' as other",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql)
        with pytest.raises(duckdb.InvalidInputException):
            con.execute("set enable_external_access = true")
        # a second connection of this process shares the database and its limit
        with connect(s) as again, pytest.raises(duckdb.PermissionException):
            again.execute(f"select * from read_csv('{outside}')")


def test_history_has_no_date_floor_and_the_reporting_currency_is_a_setting():
    s = get_settings({})
    assert (s.landing_floor, s.reporting_currency) == (None, "CNY")
    assert s.env()["CRM_REPORTING_CURRENCY"] == "CNY"
    s = get_settings({"CRM_LANDING_FLOOR": "2020-01-01", "CRM_REPORTING_CURRENCY": "eur"})
    assert (s.landing_floor, s.reporting_currency) == ("2020-01-01", "EUR")
    with pytest.raises(ValueError, match="CRM_LANDING_FLOOR must be a YYYY-MM-DD date"):
        get_settings({"CRM_LANDING_FLOOR": "last year"})
    with pytest.raises(ValueError, match="CRM_REPORTING_CURRENCY must be an ISO 4217 code"):
        get_settings({"CRM_REPORTING_CURRENCY": "yuan"})
