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
from tests.conftest import point_at


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    settings = point_at(monkeypatch, tmp_path / "data", CRM_SERVING_KEEP="2")
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
    version = serving.publish(settings, run_id="r1", as_of_date="2025-12-31").version

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
    first = serving.publish(settings, run_id="r1", as_of_date=None).version
    _add_order(settings)
    second = serving.publish(settings, run_id="r2", as_of_date=None).version
    _add_order(settings)
    third = serving.publish(settings, run_id="r3", as_of_date=None).version

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
    _add_order(settings)
    second = serving.publish(settings, run_id="r2", as_of_date=None).version
    _add_order(settings)
    third = serving.publish(settings, run_id="r3", as_of_date=None).version
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
    # Killed while its work folder went by the version's final name (to create the views).
    named = settings.serving_dir / serving.VERSIONS / "v20260101T000000000000Z"
    named.parent.mkdir()
    named.symlink_to(f"../{dead.name}")

    version = serving.publish(settings, run_id="r1", as_of_date=None).version

    assert not dead.exists()  # a killed build's copy of the marts, never to be finished
    assert alive.is_dir()  # another publication still at work
    assert not named.is_symlink()
    assert [v.name for v in serving.list_versions(settings)] == [version.name]


def test_unchanged_marts_are_linked_and_a_night_that_changed_none_publishes_nothing(settings):
    first = serving.publish(settings, run_id="r1", as_of_date=None)
    assert first.new and first.version.manifest["linked"] == []

    again = serving.publish(settings, run_id="r2", as_of_date=None)

    assert not again.new and again.version.name == first.version.name
    assert [v.name for v in serving.list_versions(settings)] == [first.version.name]

    _add_order(settings)
    second = serving.publish(settings, run_id="r3", as_of_date=None).version

    # customers did not change: the same file, hard-linked; orders was written anew.
    assert second.manifest["linked"] == ["customers"]
    old, new = (v.path / "parquet" for v in (first.version, second))
    assert (new / "customers.parquet").samefile(old / "customers.parquet")
    assert (new / "customers.parquet").stat().st_nlink == 2
    assert not (new / "orders.parquet").samefile(old / "orders.parquet")
    with duckdb.connect(str(settings.serving_dir / serving.CURRENT_DB), read_only=True) as con:
        assert con.execute("select count(*) from marts.orders").fetchone()[0] == 6
        assert con.execute("select count(*) from marts.customers").fetchone()[0] == 3
    # Rolling back reads the first version's own files, the linked one included.
    serving.rollback(settings)
    with duckdb.connect(str(settings.serving_dir / serving.CURRENT_DB), read_only=True) as con:
        assert con.execute("select count(*) from marts.orders").fetchone()[0] == 5


def test_a_changed_value_or_column_is_a_change_however_the_rows_are_ordered(settings):
    first = serving.publish(settings, run_id="r1", as_of_date=None).version
    with duckdb.connect(str(settings.duckdb_path)) as con:
        # The same rows in another order: not a change.
        con.execute(
            "create or replace table marts.orders as select * from marts.orders "
            "order by order_id desc"
        )
    assert not serving.publish(settings, run_id="r2", as_of_date=None).new
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("update marts.orders set order_id = 40 where order_id = 4")
    second = serving.publish(settings, run_id="r3", as_of_date=None).version
    assert second.name != first.name and second.manifest["linked"] == ["customers"]
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("alter table marts.customers rename column customer_id to id")
    third = serving.publish(settings, run_id="r4", as_of_date=None).version
    assert third.manifest["linked"] == ["orders"]


def test_a_moved_data_folder_gets_a_version_that_reads_its_new_place(
    settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    first = serving.publish(settings, run_id="r1", as_of_date=None).version
    moved = tmp_path / "moved"
    settings.data_dir.rename(moved)
    monkeypatch.setenv("CRM_DATA_DIR", str(moved))
    settings = get_settings()

    again = serving.publish(settings, run_id="r2", as_of_date=None)

    assert again.new and again.version.manifest["linked"] == ["customers", "orders"]
    assert again.version.manifest["path"] == str(again.version.path)
    with duckdb.connect(str(settings.serving_dir / serving.CURRENT_DB), read_only=True) as con:
        assert con.execute("select count(*) from marts.orders").fetchone()[0] == 5
    assert not serving.publish(settings, run_id="r3", as_of_date=None).new
    assert first.name in [v.name for v in serving.list_versions(settings)]
