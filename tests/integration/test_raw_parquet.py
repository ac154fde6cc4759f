"""The portable raw layer (CRM_RAW_FORMAT, docs/scaling-out.md): ingest writes each load as
one Parquet file under portable/raw/<source>/delivery_date=<date>/<load_id>.parquet, in
addition to the DuckDB tables or instead of them, through the real Dagster ingest assets."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from crm_tools.generator import generate
from pipelines.defs.ingest.assets import ingest_assets
from pipelines.lib.contracts import load_contracts
from pipelines.lib.ingest import parquet_glob, parquet_load_path
from pipelines.lib.warehouse import connect
from pipelines.settings import get_settings
from tests.conftest import materialise_ingest, point_at

CONTRACTS = load_contracts()


def _generate(settings) -> None:
    generate(
        settings.landing_dir,
        settings.truth_dir,
        scale="XS",
        seed=11,
        start_date=date(2025, 1, 1),
        days=40,
    )


def _rows(con, relation: str, source: str) -> list[tuple]:
    """Rows of a raw relation, in load order, with the TIME columns as 'HH:MM:SS' text and
    without _loaded_at (the clock of the load)."""
    contract = CONTRACTS[source]
    columns = [
        f"cast({c.name} as varchar)" if c.type == "time" else c.name for c in contract.columns
    ] + ["_load_id", "_source_file", "_source_line", "_delivery_date"]
    return con.execute(
        f"select {', '.join(columns)} from {relation} order by _load_id, _source_line"
    ).fetchall()


def test_duckdb_plus_parquet_writes_each_load_once_as_a_file(data_dir: Path, monkeypatch):
    monkeypatch.setenv("CRM_RAW_FORMAT", "duckdb+parquet")
    settings = get_settings()
    _generate(settings)
    assert materialise_ingest(ingest_assets).success
    root = settings.raw_parquet_dir
    assert root.stat().st_mode & 0o777 == 0o700  # raw rows hold personal data
    with connect(settings, read_only=True) as con:
        loads = con.execute(
            "select source, load_id, delivery_date, rows_loaded from raw.loads "
            "where status = 'loaded'"
        ).fetchall()
        delivered = {source for source, *_ in loads}
        assert delivered == set(CONTRACTS) - {"generic_orders"}  # the generator maps nothing
        for source, load_id, delivery, rows in loads:
            file = parquet_load_path(root, source, delivery, load_id)
            assert file.is_file(), file
            (count,) = con.execute(f"select count(*) from read_parquet('{file}')").fetchone()
            assert count == rows, file
        # a source never delivered has its columns in one file without rows (for Spark)
        empty = parquet_load_path(root, "generic_orders", date(1, 1, 1), "no-rows")
        assert con.execute(f"select count(*) from read_parquet('{empty}')").fetchone() == (0,)
        files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
        assert len(files) == len(loads) + 1, "a file that is no load (or a leftover temp file)"
        for source in CONTRACTS:
            parquet = f"read_parquet('{parquet_glob(root, source)}')"
            assert _rows(con, parquet, source) == _rows(con, f"raw.{source}", source), source

    # A second run finds nothing new and writes nothing.
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.parquet")}
    assert materialise_ingest(ingest_assets).success
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.parquet")} == before


def test_parquet_only_serves_raw_tables_as_views_over_the_files(
    data_dir: Path, monkeypatch, tmp_path: Path
):
    monkeypatch.setenv("CRM_RAW_FORMAT", "parquet")
    settings = get_settings()
    _generate(settings)
    assert materialise_ingest(ingest_assets).success
    with connect(settings, read_only=True) as con:
        kinds = dict(
            con.execute(
                "select table_name, table_type from information_schema.tables "
                "where table_schema = 'raw'"
            ).fetchall()
        )
        assert {kinds[s] for s in CONTRACTS} == {"VIEW"}
        assert kinds["loads"] == kinds["quarantine"] == "BASE TABLE"
        only_parquet = {s: _rows(con, f"raw.{s}", s) for s in CONTRACTS}
        pos = con.execute("describe raw.pos_transactions").fetchall()
        assert dict((c, t) for c, t, *_ in pos)["sale_time"] == "TIME"

    # The same exports loaded into tables give the same rows.
    # (the runs above exported the first warehouse's paths into the environment)
    tables = point_at(monkeypatch, tmp_path / "tables", CRM_RAW_FORMAT="duckdb")
    _generate(tables)
    assert materialise_ingest(ingest_assets).success
    with connect(tables, read_only=True) as con:
        for source in CONTRACTS:
            assert _rows(con, f"raw.{source}", source) == only_parquet[source], source

    # That warehouse holds rows in its tables: reading only the files would hide them.
    monkeypatch.setenv("CRM_RAW_FORMAT", "parquet")
    (tables.landing_dir / "stores" / "2025-02-10").mkdir(parents=True)
    for path in (tables.landing_dir / "stores").glob("*/*.csv"):
        (tables.landing_dir / "stores" / "2025-02-10" / path.name).write_bytes(
            path.read_bytes() + b"\n"
        )
        break
    result = materialise_ingest(
        [a for a in ingest_assets if a.key.path[-1] == "stores"], raise_on_error=False
    )
    assert not result.success
    error = next(e.event_specific_data.error for e in result.all_events if e.is_step_failure)
    message = error.message + (error.cause.message if error.cause else "")
    assert "raw.stores holds" in message and "CRM_RAW_FORMAT=duckdb+parquet" in message
    # Refused before loading: the new file is not recorded, so it loads once allowed.
    with connect(tables, read_only=True) as con:
        (recorded,) = con.execute(
            "select count(*) from raw.loads where file like 'stores/2025-02-10/%'"
        ).fetchone()
    assert recorded == 0


@pytest.mark.parametrize("value", ["", "duckdb", "parquet", "duckdb+parquet"])
def test_raw_format_setting(value, monkeypatch):
    monkeypatch.setenv("CRM_RAW_FORMAT", value)
    settings = get_settings()
    assert settings.raw_format == (value or "duckdb")
    assert settings.raw_to_duckdb == (value != "parquet")
    assert settings.raw_to_parquet == ("parquet" in value)


def test_an_unknown_raw_format_is_refused(monkeypatch):
    monkeypatch.setenv("CRM_RAW_FORMAT", "delta")
    with pytest.raises(ValueError, match="CRM_RAW_FORMAT must be one of"):
        get_settings()
