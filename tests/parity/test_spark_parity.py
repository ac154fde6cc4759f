"""The same dbt project on Spark builds the same marts as on DuckDB (docs/scaling-out.md).

One XS warehouse is built by the real Dagster job with the portable raw layer on
(CRM_RAW_FORMAT=duckdb+parquet); then `crm-warehouse dbt build --target spark` builds every
model, seed and dbt test on a local PySpark session from that layer. Every table both
engines build must hold the same rows: same columns of the same kind, amounts to the cent,
same customer_ids and segments. Then one more day is delivered and run incrementally on
both (Spark through the delete+insert of macros/portable/spark_delete_insert.sql), and the
tables must agree again.

Spark's tables are read from their Parquet files by DuckDB, so one engine does the
comparing. Run by `make parity` (a few minutes; outside `make test` to keep the suite
within its 15 minutes), which `.ci/run` runs too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from crm_tools.generator import generate
from pipelines.lib.privacy import resolve_salt
from pipelines.lib.spark import SPARK_TARGET_PATH
from pipelines.run import run_warehouse_job
from pipelines.settings import PROJECT_ROOT
from tests.conftest import warehouse_environment

SEED = 7
START = date(2025, 1, 1)
DAYS = 120
NEW_DAY = START + timedelta(days=DAYS)
CLI = [str(Path(sys.executable).parent / "crm-warehouse")]
# Columns that hold the time of the run that wrote them, so they differ between any two
# runs, on one engine or two.
RUN_TIME_COLUMNS = {
    ("identity", "customer_id_assignments"): {"first_assigned_at", "assigned_at"},
    ("identity", "customer_id_merges"): {"merged_at"},
    ("marts", "orders"): {"_built_at"},
    ("marts", "order_lines"): {"_built_at"},
    ("marts", "interactions"): {"_built_at"},
    ("intermediate", "int_customer_months_summarised"): {"_built_at"},
    ("intermediate", "int_customer_months_classified"): {"_built_at"},
    # ... and the checksum of the catalogue: hash() is each engine's own function
    ("intermediate", "int_customer_orders_summarised"): {"_built_at", "_catalogue_checksum"},
    ("marts", "product_recommendations"): {"_built_at"},
    # On a night Spark recomputes every identity component (int_identifiers_linked: its
    # planner copies the affected set into every round), so it writes every row of these
    # with the night's watermark, where DuckDB writes the affected records only: same rows,
    # other _loaded_through on the records no delivery touched.
    ("intermediate", "int_identifiers_linked"): {"_loaded_through"},
    ("intermediate", "int_source_records_resolved"): {"_loaded_through"},
    ("identity", "identity_links"): {"_loaded_through"},
    # ... and so every customer is one whose records were rewritten
    ("intermediate", "int_customers_profiled"): {"_loaded_through", "_built_at"},
}
# Spark has no TIME type: the POS time of day is 'HH:MM:SS' text there (the raw layer writes
# it so). Compared as text, which is what DuckDB's TIME casts to.
TIME_AS_TEXT_ON_SPARK = {("staging", "stg_pos__receipt_lines"): {"sale_time"}}


def _kind(duckdb_type: str) -> str:
    """The comparable kind of a column type: integer widths and timestamp flavours differ
    between the engines' type systems, not in what the values mean."""
    t = duckdb_type.upper()
    if t.startswith("DECIMAL"):
        return "decimal" + t[t.index(",") :].replace(" ", "")  # decimal,<scale>)
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"):
        return "integer"
    if t in ("FLOAT", "DOUBLE"):
        return "double"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    return t


def _comparable(column: str, kind: str) -> str:
    """SQL of a column as text that is equal when the values are: decimals exactly (to the
    cent for amounts), doubles to 12 significant digits (engines sum in different orders),
    timestamps as UTC microseconds."""
    quoted = '"' + column.replace('"', '""') + '"'
    if kind == "double":
        return f"case when {quoted} = 0 then '0' else printf('%.11e', {quoted}) end"
    if kind == "timestamp":
        return f"cast(epoch_us(cast({quoted} as timestamptz)) as varchar)"
    return f"cast({quoted} as varchar)"


def _run(command: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"{' '.join(command[1:])} failed ({result.returncode}):\n{result.stdout[-6000:]}\n"
        f"{result.stderr[-3000:]}"
    )
    return result


def _spark_build() -> dict:
    _run([*CLI, "dbt", "build", "--target", "spark"])
    with (SPARK_TARGET_PATH / "run_results.json").open(encoding="utf-8") as f:
        return json.load(f)


def _model_tables() -> list[tuple[str, str]]:
    """(schema, name) of every model dbt materialises as a table (incremental included)."""
    with (SPARK_TARGET_PATH / "manifest.json").open(encoding="utf-8") as f:
        manifest = json.load(f)
    return sorted(
        (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"]["materialized"] in ("table", "incremental")
    )


def compare(settings) -> dict[str, dict]:
    """Per table: row counts and the rows only one engine has (as a multiset)."""
    spark_tables = settings.spark_dir / "warehouse"
    report = {}
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        for schema, table in _model_tables():
            name = f"{schema}.{table}"
            files = spark_tables / f"{schema}.db" / table
            assert any(files.rglob("*.parquet")), f"{name}: no table files on Spark"
            spark = f"read_parquet('{files}/**/*.parquet')"
            duck_columns = con.execute(f"describe {name}").fetchall()
            spark_columns = con.execute(f"describe select * from {spark}").fetchall()
            skip = RUN_TIME_COLUMNS.get((schema, table), set())
            duck_kinds = {c: _kind(t) for c, t, *_ in duck_columns if c not in skip}
            spark_kinds = {c: _kind(t) for c, t, *_ in spark_columns if c not in skip}
            for column in TIME_AS_TEXT_ON_SPARK.get((schema, table), ()):
                if duck_kinds.get(column) == "TIME" and spark_kinds.get(column) == "VARCHAR":
                    duck_kinds[column] = "VARCHAR"
            selected = ", ".join(_comparable(c, k) for c, k in duck_kinds.items())
            only_duckdb = only_spark = None
            if duck_kinds == spark_kinds:
                only_duckdb, only_spark = (
                    con.execute(
                        f"select count(*) from (select {selected} from {a} "
                        f"except all select {selected} from {b})"
                    ).fetchone()[0]
                    for a, b in ((name, spark), (spark, name))
                )
            report[name] = {
                "duckdb_rows": con.execute(f"select count(*) from {name}").fetchone()[0],
                "spark_rows": con.execute(f"select count(*) from {spark}").fetchone()[0],
                "column_differences": sorted(
                    set(duck_kinds.items()).symmetric_difference(spark_kinds.items())
                ),
                "only_duckdb": only_duckdb,
                "only_spark": only_spark,
            }
    return report


def assert_same(report: dict[str, dict]) -> None:
    differing = {
        name: figures
        for name, figures in report.items()
        if figures["column_differences"] or figures["only_duckdb"] or figures["only_spark"]
    }
    assert not differing, f"tables that differ between DuckDB and Spark: {differing}"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    """An XS warehouse built on DuckDB by the Dagster job and on Spark by dbt, from the
    same loads. The environment points at it for the module, then is restored."""
    data = tmp_path_factory.mktemp("spark_parity") / "data"
    with warehouse_environment(
        data, CRM_LANDING_QUIET_SECONDS="0", CRM_RAW_FORMAT="duckdb+parquet"
    ) as settings:
        generate(
            settings.landing_dir,
            settings.truth_dir,
            scale="XS",
            seed=SEED,
            start_date=START,
            days=DAYS,
        )
        assert run_warehouse_job(settings).success, "the DuckDB run failed"
        yield settings, _spark_build()


def test_spark_builds_every_model_and_passes_every_dbt_test(warehouse):
    _, results = warehouse
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    assert statuses and set(statuses.values()) <= {"success", "pass"}, {
        k: v for k, v in statuses.items() if v not in ("success", "pass")
    }
    with (SPARK_TARGET_PATH / "manifest.json").open(encoding="utf-8") as f:
        nodes = json.load(f)["nodes"]
    models = [k for k, n in nodes.items() if n["resource_type"] == "model"]
    # The tests of a model disabled on Spark (customer_clv) stay in the manifest's nodes,
    # disabled themselves.
    tests = [k for k, n in nodes.items() if n["resource_type"] == "test" and n["config"]["enabled"]]
    assert set(models) <= set(statuses), "models dbt build did not run on Spark"
    assert set(tests) <= set(statuses), "dbt tests dbt build did not run on Spark"
    # Floors, so that a project that lost its models or tests cannot pass by running
    # all of nothing (each model's not_null columns are one test: DECISIONLOG.md).
    assert len(models) >= 50
    assert len(tests) >= 200


def test_the_salt_reaches_spark_without_being_written_down(warehouse):
    """Spark reads it from its environment (${env:CRM_PII_SALT}); nothing dbt wrote for the
    Spark build holds it, and the hashes are still salted with it (parity with DuckDB,
    whose salt comes from its plugin, proves the value)."""
    settings, _ = warehouse
    salt = resolve_salt(settings).value.encode()
    written = [p for p in SPARK_TARGET_PATH.rglob("*") if p.is_file()]
    written += [p for p in (PROJECT_ROOT / "dbt_project" / "logs").rglob("*") if p.is_file()]
    assert written and not [p for p in written if salt in p.read_bytes()]
    compiled = SPARK_TARGET_PATH / "compiled" / "crm_warehouse" / "models" / "marts" / "core"
    assert "${env:CRM_PII_SALT}" in (compiled / "customers.sql").read_text()


def test_marts_on_spark_equal_marts_on_duckdb(warehouse):
    settings, _ = warehouse
    report = compare(settings)
    assert_same(report)
    assert report["marts.orders"]["spark_rows"] > 1000
    assert report["marts.customers"]["spark_rows"] > 500
    # The ones the issue names, read directly: same customers, same segments.
    spark = settings.spark_dir / "warehouse" / "marts.db" / "customer_segments"
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        duck = con.execute(
            "select customer_id, rfm_segment, value_tier, lifecycle_stage "
            "from marts.customer_segments order by all"
        ).fetchall()
        other = con.execute(
            "select customer_id, rfm_segment, value_tier, lifecycle_stage "
            f"from read_parquet('{spark}/*.parquet') order by all"
        ).fetchall()
    assert duck == other and len({row[0] for row in duck}) == len(duck)


def test_an_incremental_day_on_spark_equals_duckdb(warehouse):
    settings, _ = warehouse
    generate(
        settings.landing_dir,
        settings.truth_dir,
        scale="XS",
        seed=SEED,
        start_date=NEW_DAY,
        days=1,
        cadence="daily",
    )
    day = NEW_DAY.isoformat()
    _run([*CLI, "backfill", "--from", day, "--to", day])
    results = _spark_build()
    assert {r["status"] for r in results["results"]} <= {"success", "pass"}
    # The facts took the incremental path (delete+insert), not a rebuild.
    compiled = SPARK_TARGET_PATH / "run" / "crm_warehouse" / "models" / "marts" / "core"
    for fact in ("orders", "order_lines", "interactions"):
        assert "refresh table marts." + fact in (compiled / f"{fact}.sql").read_text()
    report = compare(settings)
    assert_same(report)
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        (latest,) = con.execute("select max(order_date) from marts.orders").fetchone()
    assert latest == NEW_DAY
