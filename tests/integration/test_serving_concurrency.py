"""BI readers keep reading the serving entry point while the serving asset publishes two
versions in a row: no reader error, and every read sees one whole version (its row counts
equal that version's). Readers during a whole run, killed ones included, are in
test_crash_safety.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.lib import serving
from tests.conftest import point_at

READER = Path(__file__).with_name("serving_reader.py")


@pytest.fixture
def warehouse(xs_warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "data"
    shutil.copytree(xs_warehouse.data_dir, data, symlinks=True)
    # the copied run history: the serving asset's gate reads the session run's checks
    return point_at(
        monkeypatch, data, DAGSTER_HOME=str(data / "dagster"), CRM_DUCKDB_MEMORY_LIMIT="2GB"
    )


def _publish_serving_version_alone():
    """The serving asset alone (its gate reads the checks of the run before)."""
    import dagster as dg

    from pipelines.definitions import publish
    from pipelines.resources import WarehouseResource

    with dg.DagsterInstance.get() as instance:
        return dg.materialize(
            [publish.serving_version],
            instance=instance,
            resources={"warehouse": WarehouseResource()},
        )


def _change_one_mart(settings) -> None:
    """What a night does to one mart (the others stay as they are)."""
    import duckdb

    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute(
            "delete from marts.kpis_monthly where rowid = (select min(rowid) from marts.kpis_monthly)"
        )


def _materialised_version(result) -> dict | None:
    (event,) = [e for e in result.all_events if e.is_step_success] or [None]
    assert event is not None, "the serving step did not succeed"
    found = result.asset_materializations_for_node("serving_version")
    return found[0].metadata if found else None


def test_readers_see_whole_versions_and_no_errors_during_two_publications(
    warehouse, tmp_path: Path
):
    entry = warehouse.serving_dir / serving.CURRENT_DB
    first = serving.current_name(warehouse)
    assert first is not None  # the session run published one
    stop = tmp_path / "stop"
    readers = {
        driver: subprocess.Popen(
            [
                sys.executable,
                str(READER),
                str(entry),
                str(stop),
                str(tmp_path / f"{driver}.json"),
                driver,
            ]
        )
        for driver in ("duckdb", "sqlalchemy")
    }
    try:
        _change_one_mart(warehouse)
        once = _publish_serving_version_alone()
        _change_one_mart(warehouse)
        again = _publish_serving_version_alone()
    finally:
        stop.touch()
        for proc in readers.values():
            proc.wait(timeout=120)

    assert once.success and again.success
    published = [v.name for v in serving.list_versions(warehouse)]
    assert len(published) == 3 and published[0] == first
    # One mart changed each time: the others are the previous version's files, linked.
    marts = len(serving.get_version(warehouse, first).rows)
    for result in (once, again):
        assert _materialised_version(result)["marts_linked"].value == marts - 1
    # Nothing changed since: no version, the step still succeeds.
    unchanged = _publish_serving_version_alone()
    assert unchanged.success and _materialised_version(unchanged) is None
    assert [v.name for v in serving.list_versions(warehouse)] == published
    summaries = {d: json.loads((tmp_path / f"{d}.json").read_text()) for d in readers}
    print(
        "reader summaries:",
        json.dumps({d: {k: s[k] for k in ("reads", "versions")} for d, s in summaries.items()}),
    )
    for driver, summary in summaries.items():
        assert summary["errors"] == [], driver
        assert summary["mismatches"] == [], driver
        # each reader kept reading (how many times depends on the machine's load; that
        # they read across the switch is asserted on the versions below)
        assert summary["reads"] >= 5, driver
        assert set(summary["versions"]) <= set(published), driver
    # The readers were reading while the switch happened: they saw more than one version.
    assert len(set().union(*(s["versions"] for s in summaries.values()))) >= 2
