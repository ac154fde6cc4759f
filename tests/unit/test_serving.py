"""Serving versions: built whole, switched by rename, pruned, rolled back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.lib import serving
from pipelines.settings import get_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    for var in ("CRM_LANDING_DIR", "DUCKDB_PATH", "CRM_DUCKDB_TEMP_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CRM_SERVING_KEEP", "2")
    settings = get_settings()
    settings.duckdb_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        for schema in ("marts", "raw", "identity"):
            con.execute(f"create schema {schema}")
        con.execute("create table marts.customers as select range as customer_id from range(3)")
        con.execute("create table marts.orders as select range as order_id from range(5)")
        con.execute("create table raw.shopify_orders as select 'secret@example.com' as email")
        con.execute("create table identity.links as select 1 as x")
    return settings


def _add_order(settings) -> None:
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("insert into marts.orders values (99)")


def test_a_version_holds_the_marts_only_and_becomes_current(settings):
    version = serving.publish(settings, run_id="r1", as_of_date="2025-12-31")

    assert version.rows == {"customers": 3, "orders": 5}
    entry = settings.serving_dir / serving.CURRENT_DB
    assert entry.is_symlink() and not os.path.isabs(os.readlink(entry))
    with duckdb.connect(str(entry), read_only=True) as con:
        schemas = {
            r[0]
            for r in con.execute(
                "select distinct table_schema from information_schema.tables"
            ).fetchall()
        }
        assert schemas == {"marts", "serving"}
        assert con.execute("select count(*) from marts.orders").fetchone()[0] == 5
        assert (
            dict(con.execute("select mart, row_count from serving.manifest").fetchall())
            == version.rows
        )
    parquet = settings.serving_dir / serving.CURRENT_DIR / "parquet" / "orders.parquet"
    assert duckdb.sql(f"select count(*) from '{parquet}'").fetchall() == [(5,)]
    assert not list(settings.serving_dir.glob(".building-*"))


def test_old_versions_are_pruned_and_rollback_switches_back(settings):
    first = serving.publish(settings, run_id="r1", as_of_date=None)
    _add_order(settings)
    second = serving.publish(settings, run_id="r2", as_of_date=None)
    _add_order(settings)
    third = serving.publish(settings, run_id="r3", as_of_date=None)

    assert [v.name for v in serving.list_versions(settings)] == [second.name, third.name]
    assert not first.path.exists()  # keep = 2
    assert serving.current_name(settings) == third.name

    back = serving.rollback(settings)
    assert back.name == second.name
    with duckdb.connect(str(settings.serving_dir / serving.CURRENT_DB), read_only=True) as con:
        assert con.execute("select count(*) from marts.orders").fetchone()[0] == 6
    with pytest.raises(ValueError, match="no version before"):
        serving.rollback(settings)
    assert serving.rollback(settings, to=third.name).name == third.name
    with pytest.raises(ValueError, match="no serving version"):
        serving.rollback(settings, to="v19990101T000000000000Z")


def test_the_current_version_survives_pruning_after_a_rollback(settings):
    serving.publish(settings, run_id="r1", as_of_date=None)
    second = serving.publish(settings, run_id="r2", as_of_date=None)
    third = serving.publish(settings, run_id="r3", as_of_date=None)
    serving.rollback(settings)  # to the second, now the oldest kept

    removed = serving.prune(settings, keep=1)

    assert removed == []  # the oldest would go, but it is current
    assert [v.name for v in serving.list_versions(settings)] == [second.name, third.name]


def test_a_build_removes_the_work_folders_of_dead_builders_only(settings):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # a builder that died (killed, as far as the folder can tell)
    name = serving.BUILDING_PREFIX + "{}-v20260101T000000000000Z"
    dead = settings.serving_dir / name.format(ended.pid)
    alive = settings.serving_dir / name.format(os.getpid())
    for folder in (dead, alive):
        (folder / "parquet").mkdir(parents=True)

    version = serving.publish(settings, run_id="r1", as_of_date=None)

    assert not dead.exists()  # a killed build's copy of the marts, never to be finished
    assert alive.is_dir()  # another publication still at work
    assert [v.name for v in serving.list_versions(settings)] == [version.name]
