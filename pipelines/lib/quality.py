"""Great Expectations suites from ``expectations/``, run on frames pulled from DuckDB.

The suites are versioned YAML in GE's own vocabulary (expectation type, kwargs, severity);
thresholds live in ``expectations/thresholds.yml`` and reach the suites as GE expectation
parameters (``{$PARAMETER: name}``), together with the values computed per run: row-count
bounds from earlier deliveries, drift baselines, the latest date that is not "in the
future". GE validates pandas frames, not DuckDB through SQLAlchemy (DECISIONLOG.md).

A suite validates one batch of one asset:
- ``newest_delivery``: the rows of a raw table from the newest delivery date of its source,
  in their current version (a corrected re-delivery of a file replaces the earlier load);
- ``table``: the whole relation (marts).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
import re
import statistics
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import yaml

from pipelines.lib.contracts import get_contract
from pipelines.settings import DBT_PROJECT_DIR, PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SUITES_DIR = EXPECTATIONS_DIR / "suites"
THRESHOLDS_PATH = EXPECTATIONS_DIR / "thresholds.yml"
BLOCKLIST_SEED = DBT_PROJECT_DIR / "seeds" / "identifier_blocklist.csv"

BATCH_KINDS = ("newest_delivery", "table")
SEVERITIES = ("critical", "warning")
SAMPLE_ROWS = 5
# Lineage columns that locate a raw row in its landing file: part of every raw sample.
RAW_LOCATOR_COLUMNS = ("_source_file", "_source_line")
# kwargs that name columns of the batch.
COLUMN_KWARGS = ("column", "column_A", "column_B")
COLUMN_LIST_KWARGS = ("column_list",)


@dataclass(frozen=True)
class Suite:
    """One suite file: which relation it validates, how the batch is cut, what it expects."""

    name: str
    asset_key: tuple[str, ...]
    relation: str
    batch: str
    description: str
    expectations: tuple[dict, ...]
    sample_columns: tuple[str, ...] = ()
    extra_columns: tuple[str, ...] = ()
    # Rows of one delivery that repeat another row up to whitespace and letter case count
    # once: a source that re-lists a record (staging keeps one) is not a duplicate key.
    collapse_relisted_rows: bool = False
    # What fills this mart: raw sources (by name) or relations (schema.table). Parameter
    # min_mart_rows is 1 once any of them holds a row, 0 before (an empty mart is then the
    # truth, e.g. on a first run with nothing delivered, not a fault).
    filled_by: tuple[str, ...] = ()

    @property
    def check_name(self) -> str:
        return f"ge_{self.name}"

    @property
    def blocking(self) -> bool:
        """A suite with any critical expectation gates everything downstream of its asset."""
        return any(e.get("severity", "critical") == "critical" for e in self.expectations)

    @property
    def source(self) -> str | None:
        return self.asset_key[1] if self.batch == "newest_delivery" else None

    def columns(self) -> list[str]:
        """Columns the batch needs: those the expectations name, plus sample columns."""
        names: list[str] = []
        for exp in self.expectations:
            kwargs = exp.get("kwargs", {})
            names += [kwargs[k] for k in COLUMN_KWARGS if k in kwargs]
            for k in COLUMN_LIST_KWARGS:
                names += list(kwargs.get(k, []))
        names += list(self.extra_columns) + list(self.sample_columns)
        if self.batch == "newest_delivery":
            names += list(RAW_LOCATOR_COLUMNS)
        return list(dict.fromkeys(names))


def _suite_from_file(path: Path) -> Suite:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    problems = []
    if doc.get("batch") not in BATCH_KINDS:
        problems.append(f"batch must be one of {BATCH_KINDS}")
    for i, exp in enumerate(doc.get("expectations") or []):
        if exp.get("severity", "critical") not in SEVERITIES:
            problems.append(f"expectation {i + 1}: severity must be one of {SEVERITIES}")
        if not (exp.get("meta") or {}).get("guards"):
            problems.append(f"expectation {i + 1} ({exp.get('type')}): meta.guards is required")
    if path.stem != doc.get("name"):
        problems.append("the suite name must equal the file name")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return Suite(
        name=doc["name"],
        asset_key=tuple(doc["asset"]),
        relation=doc["relation"],
        batch=doc["batch"],
        description=doc.get("description", "").strip(),
        expectations=tuple(doc["expectations"]),
        sample_columns=tuple(doc.get("sample_columns") or ()),
        extra_columns=tuple(doc.get("extra_columns") or ()),
        collapse_relisted_rows=bool(doc.get("collapse_relisted_rows", False)),
        filled_by=tuple(doc.get("filled_by") or ()),
    )


@cache
def load_suites() -> tuple[Suite, ...]:
    return tuple(_suite_from_file(p) for p in sorted(SUITES_DIR.glob("*.yml")))


@cache
def load_thresholds() -> dict:
    return yaml.safe_load(THRESHOLDS_PATH.read_text(encoding="utf-8"))


def row_count_ratios(source: str) -> dict:
    cfg = load_thresholds()["row_count"]
    return {**cfg["default"], **(cfg.get("per_source") or {}).get(source, {})}


def freshness_max_lag_days(source: str) -> int | None:
    cfg = load_thresholds()["freshness"]
    per_source = cfg.get("per_source") or {}
    return per_source[source] if source in per_source else cfg["default_max_lag_days"]


def like_to_regex(pattern: str) -> str:
    """SQL LIKE (as in the blocklist seed) to an anchored, case-insensitive regex."""
    body = "".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern.lower()
    )
    return f"(?i)^{body}$"


@cache
def placeholder_email_patterns() -> tuple[str, ...]:
    """The identifier blocklist seed, the one list of placeholder e-mails, as regexes."""
    with BLOCKLIST_SEED.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["identifier_type"] == "email"]
    return tuple(
        like_to_regex(r["value"]) if r["match_type"] == "like" else f"(?i)^{re.escape(r['value'])}$"
        for r in rows
    )


# --- batches -------------------------------------------------------------------------

NEWEST_DELIVERY_LOADS = """
with loaded as (
    select load_id, file, delivery_date, finished_at
    from raw.loads
    where source = $source and status = 'loaded'
),
current_version as (
    -- a corrected re-delivery of a file (same path, new bytes) replaces the earlier load
    select * from loaded
    qualify row_number() over (partition by file order by finished_at desc) = 1
)
select delivery_date, list(load_id order by load_id) as load_ids
from current_version
group by delivery_date
order by delivery_date desc
"""


@dataclass
class Batch:
    frame: Any  # pandas.DataFrame
    description: str
    parameters: dict = field(default_factory=dict)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rows_for_loads(con: duckdb.DuckDBPyConnection, relation: str, load_ids: list[str]) -> int:
    return con.execute(
        f"select count(*) from {relation} where _load_id in (select unnest($ids))",
        {"ids": load_ids},
    ).fetchone()[0]


def _refund_share(
    con: duckdb.DuckDBPyConnection, relation: str, load_ids: list[str]
) -> float | None:
    share = con.execute(
        f"select avg((financial_status in ('refunded', 'partially_refunded'))::int) "
        f"from {relation} where _load_id in (select unnest($ids)) and financial_status is not null",
        {"ids": load_ids},
    ).fetchone()[0]
    return None if share is None else float(share)


def _row_count_bounds(con, suite: Suite, newest_date: dt.date, earlier: list) -> dict:
    """Bounds for the newest delivery's row count, from the rows *per day covered* of the
    earlier deliveries: a daily file after monthly ones is not "30x too small". A delivery
    covers the days since the delivery before it, so the oldest one of the window only
    serves as the start of the next. An absolute slack keeps tiny sources (a few rows a
    day) from failing on ordinary noise."""
    cfg = load_thresholds()["row_count"]
    ratios = row_count_ratios(suite.source)
    rates = [
        _rows_for_loads(con, suite.relation, ids) / max((day - before).days, 1)
        for (day, ids), (before, _) in itertools.pairwise(earlier)
    ]
    if not earlier:
        # The first delivery has nothing to compare with; an empty one still fails.
        return {"min_rows": 1, "max_rows": None, "basis": "first delivery"}
    span = max((newest_date - earlier[0][0]).days, 1)
    if span > cfg["max_gap_days"]:
        # Not a regular feed there: a merchant's history (several exports, years apart) or
        # a feed resumed after months says nothing about how many rows this one should hold.
        return {
            "min_rows": 1,
            "max_rows": None,
            "basis": f"no baseline: the previous delivery is {span} days older (more than "
            f"row_count.max_gap_days {cfg['max_gap_days']}: a history load or a resumed feed)",
        }
    if rates:
        expected = statistics.median(rates) * span
        basis = (
            f"from the median of {len(rates)} earlier deliveries = "
            f"{statistics.median(rates):.4g} rows/day "
            f"x {span} day(s) since the previous delivery = {expected:.4g} rows"
        )
    else:
        expected = _rows_for_loads(con, suite.relation, earlier[0][1])
        basis = f"from the previous delivery's {expected} rows"
    return {
        "min_rows": math.floor(expected * ratios["min_ratio"]),
        "max_rows": math.ceil(expected * ratios["max_ratio"]) + cfg["absolute_slack_rows"],
        "basis": basis,
    }


# The column every row a dbt model writes carries: the run that wrote it (dbt macro
# run_timestamp(); docs/incremental.md).
WRITTEN_BY_RUN = "_built_at"


def fetch_batch(
    con: duckdb.DuckDBPyConnection, suite: Suite, today: dt.date, *, written_only: bool = False
) -> Batch:
    """The suite's batch as a pandas frame, with the per-run expectation parameters.

    ``written_only``: a mart's suite reads the rows of the mart's last write only (its
    newest ``_built_at``), not the whole mart: a model kept by key wrote a night's worth,
    and its other rows passed when they were written. A mart built in full this run is
    read whole either way (every row carries the run's time), as is one without the
    column. The row-count expectation (a mart emptied by a fault) holds as before: the last
    write of a mart with rows has rows."""
    columns = ", ".join(_quote(c) for c in suite.columns())
    thresholds = load_thresholds()
    latest_allowed = dt.datetime.combine(
        today + dt.timedelta(days=thresholds["parameters"]["future_date_slack_days"]), dt.time()
    )
    params: dict[str, Any] = {
        **thresholds["parameters"],
        "latest_allowed_date": latest_allowed,
        "latest_allowed_timestamp": latest_allowed.replace(tzinfo=dt.UTC),
        "placeholder_email_patterns": list(placeholder_email_patterns()),
        "min_real_email_share": 1 - thresholds["parameters"]["placeholder_email_max_share"],
    }
    if suite.batch == "table":
        params["min_mart_rows"] = int(_filled(con, suite.filled_by))
        if written_only and WRITTEN_BY_RUN in _relation_columns(con, suite.relation):
            total, newest = con.execute(
                f"select count(*), max({WRITTEN_BY_RUN}) from {suite.relation}"
            ).fetchone()
            frame = con.execute(
                f"select {columns} from {suite.relation} where {WRITTEN_BY_RUN} = $newest",
                {"newest": newest},
            ).df()
            described = f"{suite.relation}: the {len(frame)} rows of its last write (of {total})"
            return Batch(frame, described, params)
        frame = con.execute(f"select {columns} from {suite.relation}").df()
        return Batch(frame, f"{suite.relation}: all {len(frame)} rows", params)

    deliveries = con.execute(NEWEST_DELIVERY_LOADS, {"source": suite.source}).fetchall()
    if not deliveries:
        frame = con.execute(f"select {columns} from {suite.relation} limit 0").df()
        params.update(min_rows=0, max_rows=0, min_unrefunded_share=0.0)
        return Batch(frame, f"{suite.relation}: no delivery loaded yet", params)
    newest_date, newest_loads = deliveries[0]
    frame = con.execute(
        f"select {columns} from {suite.relation} where _load_id in (select unnest($ids)) "
        f"{_relisting_filter(suite)} order by _source_file, _source_line",
        {"ids": newest_loads},
    ).df()
    earlier = deliveries[1 : 2 + thresholds["row_count"]["baseline_deliveries"]]
    params.update(_row_count_bounds(con, suite, newest_date, earlier))
    basis = params.pop("basis")
    if "financial_status" in frame.columns:
        shares = [_refund_share(con, suite.relation, ids) for _, ids in earlier[:-1] or earlier]
        shares = [s for s in shares if s is not None]
        if shares:
            baseline_share = statistics.median(shares)
            max_share = min(1.0, baseline_share + thresholds["refund_share"]["max_increase"])
        else:
            # No earlier delivery to drift from: a merchant's first export (often years of
            # history, refunds included) sets the baseline, it cannot exceed one.
            max_share = 1.0
        params["min_unrefunded_share"] = 1 - max_share
    description = (
        f"{suite.relation}: newest delivery {newest_date} ({len(newest_loads)} file(s), "
        f"{len(frame)} rows); expected rows {params['min_rows']}..{params['max_rows']} "
        f"({basis})"
    )
    return Batch(frame, description, params)


def _relation_columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    schema, _, table = relation.partition(".")
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = $s and table_name = $t",
        {"s": schema, "t": table},
    ).fetchall()
    return {name for (name,) in rows}


def _filled(con: duckdb.DuckDBPyConnection, inputs: tuple[str, ...]) -> bool:
    """Does any input hold a row: a raw source (rows loaded, per the manifest raw.loads) or
    a relation named schema.table (repository text, never data)."""
    sources = [i for i in inputs if "." not in i]
    if (
        sources
        and con.execute(
            "select coalesce(sum(rows_loaded), 0) > 0 from raw.loads "
            "where status = 'loaded' and source in (select unnest($s))",
            {"s": sources},
        ).fetchone()[0]
    ):
        return True
    return any(
        con.execute(f"select exists (select 1 from {relation})").fetchone()[0]
        for relation in inputs
        if "." in relation
    )


def _relisting_filter(suite: Suite) -> str:
    """QUALIFY keeping the first of the rows equal in every contract column once trimmed
    and case-folded (a re-listed record), or nothing for suites that take rows as they are."""
    if not suite.collapse_relisted_rows:
        return ""
    normalised = ", ".join(
        f"lower(trim(cast({_quote(c)} as varchar)))"
        for c in get_contract(suite.source).column_names
    )
    return (
        f"qualify row_number() over (partition by {normalised} "
        "order by _source_file, _source_line) = 1"
    )


# --- validation ----------------------------------------------------------------------


@dataclass
class ExpectationOutcome:
    expectation: str
    columns: str
    severity: str
    guards: str
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample: list[dict] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> str:
        where = f"({self.columns})" if self.columns else ""
        if self.error:
            return f"{self.expectation}{where} could not be evaluated: {self.error}"
        if self.unexpected_count is not None:
            text = (
                f"{self.expectation}{where}: {self.unexpected_count} unexpected rows "
                f"({self.unexpected_percent:.1f} %)"
            )
        else:
            text = f"{self.expectation}{where}: observed {self.observed}"
        return text + f" — guards against {self.guards}"

    def as_dict(self) -> dict:
        return {
            "expectation": self.expectation,
            "columns": self.columns,
            "severity": self.severity,
            "guards": self.guards,
            "success": self.success,
            "observed": _jsonable(self.observed),
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "sample": self.sample,
            "error": self.error,
        }


@dataclass
class SuiteOutcome:
    suite: Suite
    batch_description: str
    rows: int
    outcomes: list[ExpectationOutcome]
    parameters: dict

    @property
    def failed_critical(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def failed_warning(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]

    @property
    def passed(self) -> bool:
        return not self.failed_critical

    def failure_text(self) -> str:
        """Names the suite, every failing expectation and a sample of its failing rows."""
        failed = self.failed_critical + self.failed_warning
        lines = [f"{self.suite.check_name} on {self.batch_description}:"]
        for o in failed:
            lines.append(f"  [{o.severity}] {o.summary()}")
            for row in o.sample:
                lines.append(f"      e.g. {row}")
        return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _columns_of(kwargs: dict) -> list[str]:
    cols = [kwargs[k] for k in COLUMN_KWARGS if k in kwargs]
    for k in COLUMN_LIST_KWARGS:
        cols += list(kwargs.get(k, []))
    return cols


def _sample_rows(frame, suite: Suite, kwargs: dict, indexes: list) -> list[dict]:
    if not indexes:
        return []
    wanted = list(
        dict.fromkeys(
            _columns_of(kwargs)
            + list(suite.sample_columns)
            + (list(RAW_LOCATOR_COLUMNS) if suite.batch == "newest_delivery" else [])
        )
    )
    rows = frame.loc[list(indexes)[:SAMPLE_ROWS], [c for c in wanted if c in frame.columns]]
    return [{k: _jsonable(v) for k, v in row.items()} for row in rows.to_dict(orient="records")]


def _exception_message(info: dict | None) -> str | None:
    """GE reports an exception flat or nested per metric; find its message either way."""
    if not info:
        return None
    if info.get("raised_exception"):
        return info.get("exception_message") or "exception"
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message") or "exception"
    return None


@cache
def validator_for(project_dir: Path) -> Validator:
    """One GE context per process and project: creating it (and importing GE) takes seconds."""
    return Validator(project_dir)


class Validator:
    """A file-backed GE context: suites are (re)registered from ``expectations/`` and every
    validation is stored, so the data docs site shows each run's results.

    The site is rebuilt when a validation fails (so the failure can be read at once) and
    by :meth:`build_docs`, which the export step calls once per run: GE re-renders the
    site from scratch, compiling its templates anew (cProfile on XS data: 15.9 s of the 20
    validations' 25.4 s went to the site; DECISIONLOG.md)."""

    def __init__(self, project_dir: Path):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        project_dir.mkdir(parents=True, exist_ok=True)
        self.context = gx.get_context(mode="file", project_root_dir=str(project_dir))
        # GE draws tqdm bars on stderr for every metric; they would drown the run log.
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.datasource = self.context.data_sources.add_or_update_pandas("warehouse_frames")

    def _checkpoint(self, suite: Suite):
        gx = self._gx
        names = [a.name for a in self.datasource.assets]
        asset = (
            self.datasource.get_asset(suite.name)
            if suite.name in names
            else self.datasource.add_dataframe_asset(suite.name)
        )
        batch_def = next(
            (b for b in asset.batch_definitions if b.name == "whole_frame"), None
        ) or asset.add_batch_definition_whole_dataframe("whole_frame")
        ge_suite = self.context.suites.add_or_update(
            gx.ExpectationSuite(
                name=suite.name,
                expectations=[
                    {
                        "type": e["type"],
                        "kwargs": e.get("kwargs", {}),
                        "severity": e.get("severity", "critical"),
                        "meta": e.get("meta", {}),
                    }
                    for e in suite.expectations
                ],
                meta={"asset": "/".join(suite.asset_key), "description": suite.description},
            )
        )
        definition = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite.name, data=batch_def, suite=ge_suite)
        )
        return self.context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=suite.name,
                validation_definitions=[definition],
                actions=[],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS},
            )
        )

    def build_docs(self) -> None:
        self.context.build_data_docs()

    def validate(self, suite: Suite, batch: Batch) -> SuiteOutcome:
        checkpoint = self._checkpoint(suite)
        result = checkpoint.run(
            batch_parameters={"dataframe": batch.frame},
            expectation_parameters=batch.parameters,
        )
        (validation,) = result.run_results.values()
        if not validation.success:
            self.build_docs()
        outcomes = []
        for r in validation.results:
            config = r.expectation_config
            kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
            res = r.result or {}
            error = _exception_message(r.exception_info)
            if error is None and not r.success and not res:
                error = "no result (the expectation could not be computed on this batch)"
            outcomes.append(
                ExpectationOutcome(
                    expectation=config.type,
                    columns=", ".join(_columns_of(kwargs)),
                    severity=str(getattr(config.severity, "value", config.severity)).lower(),
                    guards=(config.meta or {}).get("guards", ""),
                    success=bool(r.success),
                    observed=res.get("observed_value"),
                    unexpected_count=res.get("unexpected_count"),
                    unexpected_percent=res.get("unexpected_percent"),
                    sample=[]
                    if r.success
                    else _sample_rows(
                        batch.frame, suite, kwargs, res.get("partial_unexpected_index_list") or []
                    ),
                    error=error,
                )
            )
        return SuiteOutcome(suite, batch.description, len(batch.frame), outcomes, batch.parameters)
