"""Which rows the dbt tests of the models kept by key read on a run (CRM_DBT_TEST_ROWS,
pipelines/defs/partitions.py::dbt_test_rows; the macro: macros/incremental/night_tests.sql)."""

from datetime import date

from pipelines.defs.partitions import (
    FULL_REFRESH_TAG,
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


def test_checks_read_the_same_from_the_run_tags():
    """The GE suites on marts (asset checks, which see no partition range) follow suit."""
    night = range_tags(MONDAY, THURSDAY)
    assert dbt_test_rows_of_run(night) == "night"
    assert dbt_test_rows_of_run(night | {FULL_REFRESH_TAG: "true"}) == "all"
    assert dbt_test_rows_of_run(range_tags(THURSDAY, date(2026, 12, 7))) == "all"  # a Monday
    assert dbt_test_rows_of_run({}) == "all"
