"""The benchmark's per-model figures for the incremental day (crm_tools/bench.py): rows
written are counted from rowids, so they must be read from every schema a model lands in
and must count a delete+insert of one key as that key's rows only."""

from crm_tools import bench
from pipelines.lib.warehouse import connect


def test_rows_written_per_model_follow_delete_insert(xs_warehouse_copy):
    settings = xs_warehouse_copy
    relations = bench.model_relations()
    before = bench.table_rowids(settings, relations)

    # every model stored as a table has a rowid, whatever its schema; views have none
    stored = {m for m, (_, _, how) in relations.items() if how not in ("view", "ephemeral")}
    assert set(before) == stored
    assert {relations[m][0] for m in before} >= {"staging", "intermediate", "marts", "identity"}

    with connect(settings) as con:
        (order_id,) = con.execute("select min(order_id) from marts.orders").fetchone()
        (rows_of_key,) = con.execute(
            "select count(*) from marts.orders where order_id = ?", [order_id]
        ).fetchone()
        # what dbt-duckdb's delete+insert does to one key
        con.execute(
            "create temp table kept as select * from marts.orders where order_id = ?",
            [order_id],
        )
        con.execute("delete from marts.orders where order_id = ?", [order_id])
        con.execute("insert into marts.orders select * from kept")
        (orders_held,) = con.execute("select count(*) from marts.orders").fetchone()
        (customers_held,) = con.execute("select count(*) from marts.customers").fetchone()

    seconds = {"orders": 2.0, "customers": 1.0, "customer_id_assignments": 0.5}
    seconds["stg_catalog__products"] = 0.1
    figures = bench.models_written(settings, relations, seconds, before)
    assert list(figures) == [
        "orders",
        "customers",
        "customer_id_assignments",
        "stg_catalog__products",
    ]
    assert figures["orders"] == {
        "seconds": 2.0,
        "materialized": "incremental",
        "rows_written": rows_of_key,
        "rows": orders_held,
    }
    # a table is rebuilt in full: it wrote every row it holds
    assert figures["customers"]["rows_written"] == customers_held > 0
    # an incremental table in the identity schema that this "night" did not touch
    assert figures["customer_id_assignments"]["rows_written"] == 0
    assert figures["customer_id_assignments"]["rows"] > 0
    assert figures["stg_catalog__products"] == {
        "seconds": 0.1,
        "materialized": "view",
        "rows_written": 0,
    }


def test_the_dbt_steps_store_events_per_model_not_per_test(xs_warehouse, monkeypatch):
    """A model's dbt tests are one asset check (defs/dbt/test_checks.py): the dbt steps store
    a handful of events per model, where one check per test stored three per test."""
    import json

    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    from pipelines.defs.dbt.assets import manifest as manifest_path

    # the session run's history (DAGSTER_HOME, which wins, may name another test's)
    home = str(xs_warehouse.data_dir / "dagster")
    monkeypatch.setenv("DAGSTER_HOME", home)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(home)) as instance:
        (run,) = instance.get_runs()
    steps, events = bench.run_log_figures(xs_warehouse, run.run_id)
    # one dbt process per run: the CLV fit is a model of the same build
    assert steps["crm_dbt_models"] > 0 and not any(
        "dbt" in s for s in steps.keys() - {"crm_dbt_models"}
    )

    nodes = json.loads(manifest_path.read_text(encoding="utf-8"))["nodes"].values()
    models = sum(1 for n in nodes if n["resource_type"] in ("model", "seed"))
    tests = sum(1 for n in nodes if n["resource_type"] == "test")
    bound = 6 * models + 20  # per model: planned, output, materialised, check planned and run
    assert events["all"] > events["dbt steps"] > 2 * models
    assert events["dbt steps"] <= bound < 3 * tests


def test_a_file_linked_twice_counts_once(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "orders.parquet").write_bytes(b"x" * 100)
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "orders.parquet").hardlink_to(tmp_path / "v1" / "orders.parquet")
    (tmp_path / "v2" / "customers.parquet").write_bytes(b"y" * 10)
    assert bench.tree_bytes(tmp_path) == 110


def test_night_time_and_disk_are_read_as_slopes_against_the_nights():
    nights = [
        {"seconds": s, "data_bytes": 1_000_000 + 2048 * i}
        for i, s in enumerate([30.0, 32.0, 31.0, 33.0, 34.0])
    ]
    summary = bench.nights_summary(nights)
    assert summary["seconds_per_night_slope"] == 0.9  # 30, 32, 31, 33, 34: +0.9 s a night
    # residuals -0.2, 0.9, -1.0, 0.1, 0.2 about the line: sqrt(1.9 / 3)
    assert summary["seconds_residual_std"] == 0.796
    assert summary["data_bytes_per_night"] == 2048
