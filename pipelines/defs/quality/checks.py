"""Asset checks: the GE suites of ``expectations/``, row accounting and source freshness.

A suite with a critical expectation is a blocking check. When it fails, the check first
records its evaluation (per-expectation results and failing rows in the metadata) and
then fails its step with a message that names the suite, the expectation and a sample of
the failing rows, so the run's failure says why, not only which check.

A mart's suite is a check with a step of its own, after the dbt build. A raw source's
suite, row accounting and freshness are evaluated in its ingest step (``raw_checks``,
used by defs/ingest/assets.py): the same checks on the raw asset, one step instead of four.
"""

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import dagster as dg

from pipelines.defs.partitions import night_window
from pipelines.lib import quality
from pipelines.lib.contracts import Contract
from pipelines.resources import WarehouseResource


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def suite_result(
    suite: quality.Suite, run: dg.DagsterRun, warehouse: WarehouseResource
) -> tuple[dg.AssetCheckResult, str | None]:
    """The suite's evaluation, and the step's failure text when a blocking suite failed a
    critical expectation (None otherwise)."""
    settings = warehouse.settings()
    # Like the dbt tests: a mart's rows of this night, its whole table weekly.
    written_only = night_window(run) is not None
    with warehouse.connection(read_only=True) as con:
        batch = quality.fetch_batch(con, suite, _today(), written_only=written_only)
    outcome = quality.validator_for(settings.quality_dir).validate(suite, batch)
    failed = outcome.failed_critical + outcome.failed_warning
    severity = (
        dg.AssetCheckSeverity.ERROR if outcome.failed_critical else dg.AssetCheckSeverity.WARN
    )
    result = dg.AssetCheckResult(
        check_name=suite.check_name,
        passed=not failed,
        severity=severity,
        description=outcome.failure_text()
        if failed
        else f"{len(outcome.outcomes)} expectations met",
        metadata={
            "batch": outcome.batch_description,
            "rows": outcome.rows,
            "expectations": len(outcome.outcomes),
            "failed_critical": len(outcome.failed_critical),
            "failed_warning": len(outcome.failed_warning),
            "results": dg.MetadataValue.json([o.as_dict() for o in outcome.outcomes]),
            "failing_examples": dg.MetadataValue.json(
                {o.expectation + f"({o.columns})": o.sample for o in failed if o.sample}
            ),
            "data_docs": dg.MetadataValue.path(str(settings.data_docs_index)),
        },
    )
    failure = (
        f"blocking check {suite.check_name} failed: {outcome.failure_text()}"
        if outcome.failed_critical and suite.blocking
        else None
    )
    return result, failure


def _suite_spec(suite: quality.Suite) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=suite.check_name,
        asset=dg.AssetKey(list(suite.asset_key)),
        blocking=suite.blocking,
        description=f"Great Expectations suite expectations/suites/{suite.name}.yml: "
        f"{suite.description}",
    )


def build_suite_check(suite: quality.Suite) -> dg.AssetChecksDefinition:
    """A mart's suite as its own step after the dbt build (a raw source's runs in its
    ingest step: raw_checks)."""

    spec = _suite_spec(suite)

    @dg.asset_check(
        asset=spec.asset_key,
        name=spec.name,
        blocking=spec.blocking,
        description=spec.description,
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        result, failure = suite_result(suite, context.run, warehouse)
        yield result
        if failure:
            raise dg.Failure(description=failure)

    return _check


ROW_ACCOUNTING_SQL = """
with scope as (
    select load_id, file, rows_in, rows_loaded, rows_quarantined from raw.loads
    where source = $source and status = 'loaded' {delivered}
),
raw_rows as (
    select _load_id as load_id, count(*) as n from raw.{table}
    where _load_id in (select load_id from scope) group by all
),
quarantined as (
    select load_id, count(*) as n from raw.quarantine
    where source = $source and load_id in (select load_id from scope) group by all
)
select l.file, l.rows_in, l.rows_loaded, l.rows_quarantined,
       coalesce(r.n, 0) as rows_in_raw, coalesce(q.n, 0) as rows_in_quarantine
from scope as l
left join raw_rows as r using (load_id)
left join quarantined as q using (load_id)
where l.rows_in <> l.rows_loaded + l.rows_quarantined
   or coalesce(r.n, 0) <> l.rows_loaded
   or coalesce(q.n, 0) <> l.rows_quarantined
order by l.file
"""


def row_accounting_mismatches(
    con, source: str, window: tuple[dt.date, dt.date] | None = None
) -> tuple[list[tuple], tuple[int, int]]:
    """The loads of ``source`` (delivered within ``window``; None: every load) whose rows
    do not add up, and (loads, rows in) of those looked at."""
    delivered = "and delivery_date between $first and $last" if window else ""
    params = {"source": source} | ({"first": window[0], "last": window[1]} if window else {})
    mismatches = con.execute(
        ROW_ACCOUNTING_SQL.format(table=source, delivered=delivered), params
    ).fetchall()
    loads = con.execute(
        "select count(*), coalesce(sum(rows_in), 0) from raw.loads "
        f"where source = $source and status = 'loaded' {delivered}",
        params,
    ).fetchone()
    return mismatches, loads


ROW_ACCOUNTING_DESCRIPTION = (
    "Every load: rows in = rows loaded + rows quarantined, and raw.<source> and "
    "raw.quarantine hold exactly those rows (nothing lost, nothing twice). On a night the "
    "loads of the run's landing dates; every load on the weekly night (as the dbt tests)."
)


def row_accounting_result(
    contract: Contract, run: dg.DagsterRun, warehouse: WarehouseResource
) -> tuple[dg.AssetCheckResult, str | None]:
    """The check's evaluation, and the step's failure text when a load does not add up."""
    window = night_window(run)
    with warehouse.connection(read_only=True) as con:
        if not _has_raw_table(con, contract.source):
            return dg.AssetCheckResult(
                check_name="row_accounting", passed=True, description="no delivery loaded yet"
            ), None
        mismatches, loads = row_accounting_mismatches(con, contract.source, window)
    rows = [
        dict(
            zip(
                ("file", "rows_in", "loaded", "quarantined", "in_raw", "in_quarantine"),
                m,
                strict=True,
            )
        )
        for m in mismatches
    ]
    text = "; ".join(
        f"{r['file']}: rows in {r['rows_in']} = loaded {r['loaded']} + quarantined "
        f"{r['quarantined']}, but raw holds {r['in_raw']} and quarantine {r['in_quarantine']}"
        for r in rows[:5]
    )
    result = dg.AssetCheckResult(
        check_name="row_accounting",
        passed=not rows,
        description=f"{len(rows)} load(s) do not add up: {text}" if rows else "all loads add up",
        metadata={
            "scope": f"loads delivered {window[0]}..{window[1]}" if window else "every load",
            "loads": int(loads[0]),
            "rows_in": int(loads[1]),
            "mismatches": dg.MetadataValue.json(rows),
        },
    )
    return result, f"row_accounting on raw/{contract.source}: {text}" if rows else None


def _freshness_description(max_lag: int | None) -> str:
    if max_lag is None:
        return "Reference snapshot, delivered when it changes: no freshness bound."
    return (
        f"The newest delivery of this source is at most {max_lag} days older than the newest "
        "delivery of any source (thresholds.yml)."
    )


def freshness_result(
    contract: Contract, tags: Mapping[str, str], warehouse: WarehouseResource
) -> tuple[dg.AssetCheckResult, None]:
    """A warning, never a failure: a late source is news, not a reason to stop the night."""
    max_lag = quality.freshness_max_lag_days(contract.source)
    with warehouse.connection(read_only=True) as con:
        newest, newest_any = con.execute(
            "select max(delivery_date) filter (where source = $s), max(delivery_date) "
            "from raw.loads where status in ('loaded', 'duplicate')",
            {"s": contract.source},
        ).fetchone()
    metadata = {"newest_delivery": str(newest), "newest_delivery_any_source": str(newest_any)}
    if max_lag is None:
        return dg.AssetCheckResult(
            check_name="freshness", passed=True, metadata=metadata, description="no bound"
        ), None
    if newest is None:
        # A merchant need not have every channel: a source never delivered is not late.
        return dg.AssetCheckResult(
            check_name="freshness",
            passed=True,
            metadata=metadata,
            description=f"{contract.source}: never delivered (not one of this "
            "warehouse's sources so far)",
        ), None
    lag = (newest_any - newest).days
    return dg.AssetCheckResult(
        check_name="freshness",
        passed=lag <= max_lag,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={**metadata, "lag_days": lag, "max_lag_days": max_lag},
        description=f"{contract.source}: newest delivery {newest}, {lag} days behind "
        f"the newest delivery of any source ({newest_any}); bound {max_lag} days",
    ), None


@dataclass(frozen=True)
class RawCheck:
    """A check of a raw source, evaluated in its ingest step (defs/ingest/assets.py): one
    step per source instead of four, the checks still shown on the raw asset. evaluate
    returns the result and, for a blocking failure, the step's failure text."""

    spec: dg.AssetCheckSpec
    evaluate: Callable[[dg.DagsterRun, WarehouseResource], tuple[dg.AssetCheckResult, str | None]]


def raw_checks(contract: Contract) -> list[RawCheck]:
    """The source's GE suite (if it has one), row accounting and freshness."""
    key = dg.AssetKey(["raw", contract.source])
    checks = [
        RawCheck(_suite_spec(suite), functools.partial(suite_result, suite))
        for suite in quality.load_suites()
        if suite.source == contract.source
    ]
    checks.append(
        RawCheck(
            dg.AssetCheckSpec(
                "row_accounting", asset=key, blocking=True, description=ROW_ACCOUNTING_DESCRIPTION
            ),
            functools.partial(row_accounting_result, contract),
        )
    )
    checks.append(
        RawCheck(
            dg.AssetCheckSpec(
                "freshness",
                asset=key,
                blocking=False,
                description=_freshness_description(quality.freshness_max_lag_days(contract.source)),
            ),
            functools.partial(freshness_result, contract),
        )
    )
    return checks


def _has_raw_table(con, source: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw' "
            "and table_name = $t",
            {"t": source},
        ).fetchone()[0]
    )


# The checks with steps of their own: the marts' GE suites. A raw source's checks run in
# its ingest step (raw_checks).
quality_checks = [build_suite_check(s) for s in quality.load_suites() if s.source is None]
