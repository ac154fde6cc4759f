"""Run the warehouse job in-process on a persistent Dagster instance, and say whether it
published. What the run is told (its summary) is pipelines/summary.py."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import date
from pathlib import Path
from typing import TextIO

import dagster as dg
from dagster._core.utils import make_new_run_id

from pipelines.lib.privacy import resolve_salt
from pipelines.progress import RunProgress
from pipelines.settings import Settings


def prepare_instance_home(settings: Settings) -> Path:
    """The run history's folder (DAGSTER_HOME, else under the data folder), created with
    its dagster.yaml on first use."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    # Default storage under DAGSTER_HOME; no telemetry (and no banner): runs are offline.
    # One run at a time when the daemon launches them: the working file has one writer.
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(
            "telemetry:\n  enabled: false\nconcurrency:\n  runs:\n    max_concurrent_runs: 1\n",
            encoding="utf-8",
        )
    return home


def open_instance(settings: Settings) -> dg.DagsterInstance:
    """The Dagster instance of the warehouse's run history, named by path: the process's
    environment is not changed to point at it."""
    return dg.DagsterInstance.from_config(str(prepare_instance_home(settings)))


@contextlib.contextmanager
def event_log_held_open(instance: dg.DagsterInstance, run_id: str):
    """For the block, one idle connection to each SQLite file the run's events go to (the
    run's own and the index), when the instance keeps its event log in SQLite files (the
    default under DAGSTER_HOME).

    That storage opens and closes a connection for every event it writes, and in WAL mode
    the last connection to close a database checkpoints the log into it and deletes it:
    with ~900 events in an XS run, ~10 s of the run went to that. A connection held open
    makes no close the last, so the log is checkpointed when it grows instead (SQLite's
    automatic checkpoint) and once at the end (DECISIONLOG.md)."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
        INDEX_SHARD_NAME,
        SqliteEventLogStorage,
    )

    storage = instance.event_log_storage
    if not isinstance(storage, SqliteEventLogStorage):
        yield
        return
    # Reading the run's (empty) log creates its file, tables and WAL mode, as the run's
    # first event would.
    storage.get_logs_for_run(run_id)
    held = [sqlite3.connect(storage.path_for_shard(s)) for s in (run_id, INDEX_SHARD_NAME)]
    try:
        for connection in held:
            # A read opens the shared WAL index; the transaction ends with the fetch.
            connection.execute("select count(*) from sqlite_master").fetchall()
        yield
    finally:
        for connection in held:
            connection.close()


def run_warehouse_job(
    settings: Settings,
    *,
    log_level: str = "WARNING",
    window: tuple[date, date] | None = None,
    full_refresh: bool = False,
    progress: TextIO | None = None,
    selection: dg.AssetSelection | None = None,
) -> dg.ExecuteInProcessResult | None:
    """Materialise every asset (or those of ``selection``, with their checks) for the
    complete deliveries dated within ``window``, as one run recorded in DAGSTER_HOME for
    the UI (``progress``: a stream to show it on); which dates: :func:`dates_to_run`. None
    when a window holds no complete delivery folder."""
    # Refuse before anything runs when personal data cannot be hashed safely (production
    # without CRM_PII_SALT): SaltError says what to set.
    resolve_salt(settings)
    from pipelines.definitions import defs
    from pipelines.defs.dbt.build_config import build_run_config
    from pipelines.defs.partitions import dates_to_run, range_tags, register_landing_dates

    dates = dates_to_run(settings, window)
    if not dates:
        return None
    job = defs.resolve_job_def("warehouse")
    run_config = {
        "loggers": {"console": {"config": {"log_level": log_level}}},
        # A run started by hand may read folders sooner than the sensor (pipelines/cli.py).
        "resources": {
            "warehouse": {"config": {"landing_quiet_seconds": settings.landing_quiet_seconds}}
        },
        # Only when asked: a selection without the dbt step has no op to configure.
        **(build_run_config(full_refresh=True) if full_refresh else {}),
    }
    tags = range_tags(dates[0], dates[-1])
    run_id = make_new_run_id()
    asset_keys = list(selection.resolve(defs.resolve_asset_graph())) if selection else None
    with open_instance(settings) as instance:
        register_landing_dates(instance, dates)
        with (
            RunProgress(run_id, len(job.graph.nodes), settings.dagster_home, progress)
            if progress
            else contextlib.nullcontext(),
            event_log_held_open(instance, run_id),
        ):
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=run_config,
                tags=tags,
                run_id=run_id,
                asset_selection=asset_keys,
            )
        if selection is None and run_succeeded(result):
            from pipelines import retention

            retention.apply(settings, instance, defs.resolve_asset_graph().asset_check_keys)
        return result


def _materialised(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> bool:
    return any(e.is_step_materialization and e.asset_key == key for e in result.all_events)


def published(result: dg.ExecuteInProcessResult) -> bool:
    """Did the run publish the segment outputs? A run can end "successful" with assets
    skipped (dagster-dbt outputs not yielded), so success alone does not say so."""
    from pipelines.defs.publish.assets import SEGMENT_EXPORTS

    return _materialised(result, SEGMENT_EXPORTS)


def declined(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> bool:
    """The asset's step ran to success and materialised nothing: a publishing step that
    found nothing to publish (an empty warehouse, no paid order yet)."""
    return not _materialised(result, key) and any(
        e.event_type_value == "STEP_SUCCESS" and e.step_key == key.path[-1]
        for e in result.all_events
    )


def nothing_to_publish(result: dg.ExecuteInProcessResult) -> bool:
    """The run succeeded and its publishing steps found nothing to publish."""
    from pipelines.defs.publish.assets import SEGMENT_EXPORTS

    return result.success and declined(result, SEGMENT_EXPORTS)


def run_succeeded(result: dg.ExecuteInProcessResult) -> bool:
    """Every step passed and every publication happened, or was declined for want of
    anything to publish (then the contact lists, which follow the exports, do not run)."""
    from pipelines.defs.publish.assets import (
        AUDIENCE_CONTACT_EXPORTS,
        SEGMENT_EXPORTS,
        SERVING_VERSION,
    )

    exports = published(result) or declined(result, SEGMENT_EXPORTS)
    contacts = _materialised(result, AUDIENCE_CONTACT_EXPORTS) or (
        declined(result, SEGMENT_EXPORTS) or declined(result, AUDIENCE_CONTACT_EXPORTS)
    )
    serving = _materialised(result, SERVING_VERSION) or declined(result, SERVING_VERSION)
    return result.success and exports and contacts and serving
