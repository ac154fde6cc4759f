"""Which rows the dbt tests of the models kept by key read on a run (CRM_DBT_TEST_ROWS,
pipelines/defs/partitions.py::dbt_test_rows; the macro: macros/incremental/night_tests.sql)."""

from datetime import date

import dagster as dg

from pipelines.defs.dbt.build_config import build_run_config, full_refresh_of_run
from pipelines.defs.partitions import (
    FULL_TEST_WEEKDAY,
    dbt_test_rows,
    dbt_test_rows_of_run,
    range_tags,
)

MONDAY = date(2026, 11, 30)
THURSDAY = date(2026, 12, 3)


def test_a_night_of_deliveries_tests_the_rows_it_wrote():
    assert dbt_test_rows((THURSDAY, THURSDAY), full_refresh=False) == "night"
    # a nightly window re-reads the last days: what counts is its newest landing date
    assert dbt_test_rows((MONDAY, THURSDAY), full_refresh=False) == "night"


def test_the_weekly_night_a_full_refresh_and_a_run_without_dates_test_every_row():
    assert MONDAY.weekday() == FULL_TEST_WEEKDAY
    assert dbt_test_rows((date(2026, 11, 24), MONDAY), full_refresh=False) == "all"
    assert dbt_test_rows((THURSDAY, THURSDAY), full_refresh=True) == "all"
    assert dbt_test_rows(None, full_refresh=False) == "all"


def _run(tags: dict[str, str], **run_config) -> dg.DagsterRun:
    return dg.DagsterRun(job_name="warehouse", run_id="r", tags=tags, run_config=run_config)


def test_checks_read_the_same_from_the_run():
    """The GE suites on marts (asset checks, which see no partition range) follow suit:
    the range from the run's tags, a full rebuild from the dbt step's run config."""
    night = range_tags(MONDAY, THURSDAY)
    assert dbt_test_rows_of_run(_run(night)) == "night"
    assert dbt_test_rows_of_run(_run(night, **build_run_config(False))) == "night"
    assert dbt_test_rows_of_run(_run(night, **build_run_config(True))) == "all"
    assert dbt_test_rows_of_run(_run(range_tags(THURSDAY, date(2026, 12, 7)))) == "all"  # Monday
    assert dbt_test_rows_of_run(_run({})) == "all"


def test_a_full_rebuild_is_the_dbt_steps_typed_config():
    assert full_refresh_of_run(_run({}, **build_run_config(True)))
    assert not full_refresh_of_run(_run({}))
    # The config is validated: a value that is not a boolean is refused, not read as false.
    bad = {"ops": {"crm_dbt_models": {"config": {"full_refresh": "sometimes"}}}}
    try:
        full_refresh_of_run(_run({}, **bad))
    except ValueError as refusal:
        assert "full_refresh" in str(refusal)
    else:
        raise AssertionError("a non-boolean full_refresh was accepted")
