"""Partitions by landing date: the one definition every asset, run and test uses.

A partition is a landing date: the ``<source>/<YYYY-MM-DD>`` delivery folders of that
day. Ingest assets are partitioned; the dbt and analysis assets downstream are not (they
are built from everything loaded so far) but receive the run's partition range, which
dbt's incremental facts take as their window. A run covers a range of days as one run
(``BackfillPolicy.single_run``), never one run per day, which would rebuild every mart
once per day of a backfill.

The partitions are dynamic: one key per landing date that has a complete delivery
folder, registered when the folder is found (sensor, nightly schedule, `crm-warehouse
run` / `backfill`). A calendar of every day was measured first: Dagster stores a planned
and a materialisation event per asset and partition of a run (~17 ms each), so one year
of monthly deliveries cost ~8 000 events (minutes) per run for ~130 days that had files.

Dagster resolves a range of dynamic keys in registration order, not date order; ingest
reads folders by date (``window_of``), so a run loads exactly the folders dated in its
range even when a late, older folder was registered after newer ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.defs.dbt.build_config import full_refresh_of_run
from pipelines.lib.contracts import load_contracts
from pipelines.lib.landing import DateBounds, delivery_folders, delivery_ready, folder_date
from pipelines.settings import Settings

LANDING_PARTITIONS = "landing_date"
landing_partitions = dg.DynamicPartitionsDefinition(name=LANDING_PARTITIONS)

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(start: date, end: date) -> dict[str, str]:
    """Run tags that make a run cover the landing dates start..end (inclusive)."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    return {RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()}


def today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.schedule_timezone)).date()


def date_bounds(settings: Settings) -> DateBounds:
    """The delivery dates a run reads: any plausible date from the optional floor on."""
    floor = date.fromisoformat(settings.landing_floor) if settings.landing_floor else None
    return DateBounds(today=today(settings), floor=floor)


def complete_landing_dates(
    settings: Settings, start: date | None = None, end: date | None = None
) -> list[date]:
    """Landing dates (sorted) with at least one complete delivery folder of a known source
    dated within the bounds; folders outside them are reported by ingest (or by the run,
    for a folder no source reads), not partitioned."""
    bounds = date_bounds(settings)
    dates = {
        folder_date(folder.name)
        for folder in delivery_folders(settings.landing_dir, set(load_contracts()))
        if delivery_ready(folder, settings.landing_quiet_seconds)
    }
    return sorted(
        d for d in dates if bounds.admits(d) and (start or date.min) <= d <= (end or date.max)
    )


def dates_to_run(settings: Settings, window: tuple[date, date] | None = None) -> list[date]:
    """The landing dates a run covers. Without a window: every date with a complete folder,
    or today's when there is none, so the run still reports unreadable folders and rebuilds
    from what is loaded. With a window: its complete dates (empty: nothing to run)."""
    if window is None:
        return complete_landing_dates(settings) or [today(settings)]
    return complete_landing_dates(settings, *window)


def register_landing_dates(instance: dg.DagsterInstance, dates: list[date]) -> None:
    """Add the dates not yet known as partitions, oldest first."""
    known = set(instance.get_dynamic_partitions(LANDING_PARTITIONS))
    new = [d.isoformat() for d in sorted(dates) if d.isoformat() not in known]
    if new:
        instance.add_dynamic_partitions(LANDING_PARTITIONS, new)


def window_of(context: dg.AssetExecutionContext) -> tuple[date, date] | None:
    """The run's landing-date range (also on the unpartitioned assets of a ranged run)."""
    if not context.has_partition_key_range:
        return None
    keys = context.partition_key_range
    return date.fromisoformat(keys.start), date.fromisoformat(keys.end)


def nightly_window(settings: Settings, scheduled: date) -> tuple[date, date]:
    """The landing days a nightly run re-reads: a delivery that lands a few days late is
    still picked up (re-reading a loaded file is a no-op: loads are content-hashed)."""
    return scheduled - timedelta(days=settings.nightly_lookback_days), scheduled


# Which rows the dbt tests of the models kept by key read (macros/incremental/night_tests.sql,
# set by pipelines/defs/dbt/assets.py): on a run over landing dates only the rows the run
# wrote, except on the run whose newest landing date is this weekday (Monday: once a week
# for a nightly refresh of daily deliveries), which tests every row, as every run without
# a landing-date range (a full run, a rebuild) does.
FULL_TEST_WEEKDAY = 0


def dbt_test_rows(window: tuple[date, date] | None, full_refresh: bool) -> str:
    """'night' or 'all': the value of CRM_DBT_TEST_ROWS for a run over the landing dates
    `window` (docs/incremental.md, "Tests that look at the night")."""
    if window is None or full_refresh or window[1].weekday() == FULL_TEST_WEEKDAY:
        return "all"
    return "night"


def run_window(tags: Mapping[str, str]) -> tuple[date, date] | None:
    """A run's landing-date range from its tags, for the steps that see no partition range
    (asset checks)."""
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    return (date.fromisoformat(start), date.fromisoformat(end)) if start and end else None


def dbt_test_rows_of_run(run: dg.DagsterRun) -> str:
    """:func:`dbt_test_rows` of a run, so that the checks (GE suites on marts, row
    accounting) follow the dbt tests' week."""
    return dbt_test_rows(run_window(run.tags), full_refresh_of_run(run))


def night_window(run: dg.DagsterRun) -> tuple[date, date] | None:
    """The landing dates a check may stop at on a night; None: it reads everything."""
    return run_window(run.tags) if dbt_test_rows_of_run(run) == "night" else None


def cadence_period(day: date) -> str:
    """The week (ISO year and week, Monday first) a landing date belongs to."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def run_period(settings: Settings, window: tuple[date, date] | None) -> str:
    """The week of a run, by its newest landing date: the window's end, or without a
    window the newest date the run covers. The models on a weekly cadence rebuild on the
    first run of a week (pipelines/defs/dbt/fingerprints.py::WEEKLY_TAG): a nightly run
    whose window ends on a Monday, or the next one when that night did not run."""
    return cadence_period(window[1] if window else dates_to_run(settings)[-1])
