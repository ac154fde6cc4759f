"""Which rows the dbt tests of the models kept by key read on a run (CRM_DBT_TEST_ROWS,
pipelines/defs/partitions.py::dbt_test_rows; the macro: macros/incremental/night_tests.sql)."""

from datetime import date

from pipelines.defs.partitions import FULL_TEST_WEEKDAY, dbt_test_rows

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
