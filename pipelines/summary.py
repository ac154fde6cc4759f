"""The summary of a warehouse run, as `crm-warehouse run` prints it: what was not read and
what to do about it, rows per source and mart, the checks, what was published and where
to query it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

import dagster as dg

from pipelines.lib.contracts import load_contracts
from pipelines.lib.landing import (
    LANDING_PROBLEMS,
    WaitingFolder,
    unknown_source_folders,
    waiting_folders,
)
from pipelines.lib.privacy import resolve_salt
from pipelines.lib.warehouse import connect
from pipelines.run import declined, nothing_to_publish, published, run_succeeded
from pipelines.settings import PROJECT_ROOT, Settings

MART_SCHEMA = "marts"


@dataclass(frozen=True)
class LandingSkips:
    """What a run started now does not read, before it starts: delivery folders still
    being written, and folders under landing that no source reads."""

    waiting: list[WaitingFolder]
    unknown_sources: list[str]

    def lines(self, rerun: str) -> list[str]:
        """One line per skipped folder with its reason and the way out; ``rerun`` is the
        command that reads waiting folders at once."""
        lines = [
            f"  {folder.relative_path}: {folder.reason}, or run `{rerun}` to read it now"
            for folder in self.waiting
        ]
        known = ", ".join(sorted(load_contracts()))
        lines += [
            f"  {name}/: no source of that name is read (sources: {known}); rename the folder, "
            "or deliver another export shape to generic_orders/ with a mapping "
            "(docs/operations.md, Your own exports)"
            for name in self.unknown_sources
        ]
        return lines


def landing_skips(settings: Settings, window: tuple[date, date] | None = None) -> LandingSkips:
    from pipelines.defs.partitions import date_bounds

    sources = set(load_contracts())
    return LandingSkips(
        waiting=waiting_folders(
            settings.landing_dir,
            settings.landing_quiet_seconds,
            sources=sources,
            window=window,
            bounds=date_bounds(settings),
        ),
        unknown_sources=unknown_source_folders(settings.landing_dir, sources),
    )


def warehouse_figures(settings: Settings) -> dict:
    """Row accounting per source and row counts per mart, read from the warehouse."""
    with connect(settings, read_only=True) as con:
        loads = con.execute(
            "select source, count(*) filter (where status = 'loaded'), "
            "count(*) filter (where status = 'rejected'), coalesce(sum(rows_in), 0), "
            "coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0) "
            "from raw.loads group by source order by source"
        ).fetchall()
        marts = {
            name: con.execute(f'select count(*) from {MART_SCHEMA}."{name}"').fetchone()[0]
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = $s "
                "order by table_name",
                {"s": MART_SCHEMA},
            ).fetchall()
        }
    return {
        "sources": {
            src: {
                "files_loaded": fl,
                "files_rejected": fr,
                "rows_in": int(ri),
                "rows_loaded": int(rl),
                "rows_quarantined": int(rq),
            }
            for src, fl, fr, ri, rl, rq in loads
        },
        "marts": marts,
    }


def check_summary(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, int]]:
    """passed / warned / failed / not run, per asset, from the run's check events; "not run"
    counts the job's checks that never evaluated (their step was skipped or failed)."""
    counts: dict[str, dict[str, int]] = {}
    planned = [
        (key.asset_key.to_user_string(), key.name)
        for key in result.job_def.asset_layer.asset_graph.asset_check_keys
    ]
    evaluated: set[tuple[str, str]] = set()
    for event in result.all_events:
        data = event.event_specific_data
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            asset = data.asset_key.to_user_string()
            evaluated.add((asset, data.check_name))
            row = counts.setdefault(asset, {"passed": 0, "warned": 0, "failed": 0, "not run": 0})
            if data.passed:
                row["passed"] += 1
            elif data.severity == dg.AssetCheckSeverity.WARN:
                row["warned"] += 1
            else:
                row["failed"] += 1
    for asset, check_name in planned:
        if (asset, check_name) not in evaluated:
            row = counts.setdefault(asset, {"passed": 0, "warned": 0, "failed": 0, "not run": 0})
            row["not run"] += 1
    return dict(sorted(counts.items()))


def _check_lines(settings: Settings, result: dg.ExecuteInProcessResult) -> list[str]:
    summary = check_summary(result)
    totals = {
        k: sum(row[k] for row in summary.values())
        for k in ("passed", "warned", "failed", "not run")
    }
    lines = [
        "",
        f"quality checks: {totals['passed']} passed, {totals['warned']} warned, "
        f"{totals['failed']} failed, {totals['not run']} not run",
        f"{'asset':<44}{'passed':>8}{'warned':>8}{'failed':>8}{'not run':>9}",
    ]
    for asset, row in summary.items():
        lines.append(
            f"{asset:<44}{row['passed']:>8}{row['warned']:>8}{row['failed']:>8}{row['not run']:>9}"
        )
    for event in result.all_events:
        data = event.event_specific_data
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and not data.passed:
            level = "warning" if data.severity == dg.AssetCheckSeverity.WARN else "FAILED"
            lines.append(
                f"  {level}: {data.asset_key.to_user_string()}:{data.check_name}: "
                f"{_check_text(data)}"
            )
    if settings.data_docs_index.exists():
        lines.append(f"data docs (Great Expectations): {settings.data_docs_index}")
    return lines


def _conversion_lines(settings: Settings) -> list[str]:
    """How the orders' amounts reached the reporting currency: per currency, the orders and
    where their rates came from (the merchant's fx_rates, the bundled ECB rates)."""
    with connect(settings, read_only=True) as con:
        if not con.execute(
            "select count(*) from information_schema.columns where table_schema = $s "
            "and table_name = 'orders' and column_name = 'fx_rate_source'",
            {"s": MART_SCHEMA},
        ).fetchone()[0]:
            return []
        rows = con.execute(
            f"select currency, coalesce(fx_rate_source, 'no rate'), count(*), "
            f"min(fx_rate_date), max(fx_rate_date), any_value(reporting_currency) "
            f"from {MART_SCHEMA}.orders where currency is not null group by all order by 1, 2"
        ).fetchall()
    if not rows:
        return []
    lines = ["", f"orders in the reporting currency {rows[0][5]}, by the source of their rate:"]
    for currency, source, orders, first, last, _ in rows:
        days = "" if source == "same_currency" else f", rates of {first}..{last}"
        lines.append(f"  {currency:<5}{orders:>9} orders  {source}{days}")
    return lines


def _check_text(evaluation) -> str:
    """What a failed check found: its description, or for a dbt test (dagster-dbt gives
    none) the number of rows that fail it."""
    if evaluation.description:
        return evaluation.description
    failed = evaluation.metadata.get("dagster_dbt/failed_row_count")
    if failed is not None:
        return f"dbt test: {failed.value} row(s) fail it"
    return "failed"


def _export_lines(settings: Settings, result: dg.ExecuteInProcessResult) -> list[str]:
    from pipelines.lib.exports import published_folders, read_manifest

    folders = published_folders(settings.exports_dir)
    if published(result):
        folder = folders[-1] if folders else None
        manifest = read_manifest(folder) if folder else {"outputs": {}}
        rows = ", ".join(f"{k} {v['rows']}" for k, v in manifest["outputs"].items())
        lines = ["", f"segment outputs published: {folder}", f"  rows: {rows}"]
        contacts = published_folders(settings.restricted_exports_dir)
        if contacts:
            lines.append(f"audience contact lists (restricted, owner only): {contacts[-1]}")
        lines.append(f"  {resolve_salt(settings).describe()}")
        return lines
    if nothing_to_publish(result):
        from pipelines.defs.publish.assets import NOTHING_TO_EXPORT

        return ["", f"segment outputs: {NOTHING_TO_EXPORT}"]
    kept = (
        f"earlier exports kept as they were: {folders[-1]}" if folders else "nothing published yet"
    )
    return ["", f"segment outputs NOT published ({kept})"]


def _serving_lines(settings: Settings, result: dg.ExecuteInProcessResult) -> list[str]:
    from pipelines.defs.publish.assets import SERVING_UNCHANGED, SERVING_VERSION
    from pipelines.lib import serving

    current = serving.current_name(settings)
    if current is None:
        return ["", "serving: nothing published yet"]
    if declined(result, SERVING_VERSION):
        return ["", SERVING_UNCHANGED.format(version=current)]
    entry = settings.serving_dir / serving.CURRENT_DB
    rel = os.path.relpath(entry, PROJECT_ROOT)
    if rel.startswith(".."):  # a data folder outside the checkout: its own path reads better
        rel = str(entry)
    return [
        "",
        f"serving version {current} (of {len(serving.list_versions(settings))} kept): {entry}",
        f"  query it:   .venv/bin/python -c \"import duckdb; print(duckdb.connect('{rel}', read_only=True)"
        ".sql('select * from marts.customers limit 5'))\"",
        f"  Parquet:    {settings.serving_dir / serving.CURRENT_DIR / 'parquet'}/<mart>.parquet",
        "  versions:   crm-warehouse versions   rollback: crm-warehouse rollback [--to VERSION]",
    ]


# What to do about a file or folder ingest could not read, by the start of its reason.
_REMEDIES = (
    (
        "file is not inside",
        "move it into <source>/<YYYY-MM-DD>/, the folder of the day it was delivered",
    ),
    ("delivery folder name is not", "rename the folder to the day it was delivered, YYYY-MM-DD"),
    ("unsupported file type", "deliver it as .csv (UTF-8 or GBK), .csv.gz, .jsonl or .parquet"),
    (
        "missing required column",
        "its header does not match the source's contract "
        "(pipelines/contracts/<source>.yml): re-export with those columns, or deliver the shape "
        "to generic_orders/ with a mapping (docs/operations.md, Your own exports)",
    ),
    ("mapped header", "correct the mapping or the export, then run again"),
    ("no mapping file matches", "write a mapping for it (docs/examples/), then run again"),
    ("symlink points outside", "copy the file into landing instead of linking to it"),
    ("UTF-16", "re-export the file as UTF-8"),
    ("not UTF-8 and not GBK", "re-export the file as UTF-8"),
)
_DEFAULT_REMEDY = (
    "replace the file with a readable export in the same folder and run again (a rejected "
    "file is retried on every run)"
)


def remedy(reason: str) -> str | None:
    """The way out for one unreadable landing entry (None when its reason already says)."""
    if "rename the folder" in reason or "(set it earlier" in reason:
        return None
    for start, action in _REMEDIES:
        if start in reason:
            return action
    return _DEFAULT_REMEDY


def _ingest_problems(result: dg.ExecuteInProcessResult) -> list[str]:
    """The landing files and folders the run's ingest steps could not read ("path: reason")."""
    problems = []
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        user = event.event_specific_data.user_failure_data
        listed = (user.metadata or {}).get(LANDING_PROBLEMS) if user else None
        if listed is not None:
            problems += list(listed.value if hasattr(listed, "value") else listed)
    return problems


def _not_read_lines(
    result: dg.ExecuteInProcessResult, skips: LandingSkips | None, rerun: str
) -> list[str]:
    """The summary's head: what the run could not read and what to do, then the folders
    it left for later, then the steps that did not run because of it."""
    lines = []
    problems = _ingest_problems(result)
    if problems:
        lines += ["", f"NOT READ: {len(problems)} landing file(s) or folder(s) could not be read:"]
        for problem in problems:
            lines.append(f"  {problem}")
            action = remedy(problem)
            if action:
                lines.append(f"    what to do: {action}")
    if skips and (skips.waiting or skips.unknown_sources):
        lines += ["", "not read in this run:", *skips.lines(rerun)]
    other_failures = [
        e for e in result.all_events if e.is_step_failure and not _is_ingest_failure(e)
    ]
    for event in other_failures:
        lines.append(f"  failed step {event.step_key}: {_error_text(event)}")
    skipped = sorted(
        {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}
    )
    if skipped and (problems or other_failures):
        lines.append(
            f"therefore not run: {len(skipped)} step(s): {', '.join(skipped[:12])}"
            + (", ..." if len(skipped) > 12 else "")
        )
    return lines


def _error_text(event) -> str:
    """A step failure's own message: a dg.Failure's description, or for an exception the
    innermost cause (Dagster wraps it in "Error occurred while executing op ...")."""
    user = event.event_specific_data.user_failure_data
    if user is not None and user.description:
        # Dagster prefixes the class name to a Failure raised from a generator step.
        return user.description.strip()
    error = event.event_specific_data.error
    while error.cause is not None and "Error occurred while executing" in error.message:
        error = error.cause
    return error.message.strip()


def _is_ingest_failure(event) -> bool:
    user = event.event_specific_data.user_failure_data
    return bool(user and (user.metadata or {}).get(LANDING_PROBLEMS) is not None)


def summarise(
    settings: Settings,
    result: dg.ExecuteInProcessResult,
    skips: LandingSkips | None = None,
    rerun: str = "crm-warehouse run --now",
) -> str:
    lines = [f"Run {result.run_id}: {'SUCCESS' if run_succeeded(result) else 'FAILURE'}"]
    lines += _not_read_lines(result, skips, rerun)
    figures = warehouse_figures(settings)
    if not any(f["rows_loaded"] for f in figures["sources"].values()):
        lines += [
            "",
            f"nothing loaded yet: no delivery under {settings.landing_dir} has been read "
            "(layout: <source>/<YYYY-MM-DD>/<file>; docs/operations.md). The marts are empty "
            "and nothing is published.",
        ]
    lines.append("")
    lines.append(
        f"{'source':<22}{'files':>7}{'rejected':>10}{'rows in':>10}{'loaded':>10}{'quarantined':>13}"
    )
    for src, f in figures["sources"].items():
        lines.append(
            f"{src:<22}{f['files_loaded']:>7}{f['files_rejected']:>10}{f['rows_in']:>10}"
            f"{f['rows_loaded']:>10}{f['rows_quarantined']:>13}"
        )
    lines.append("")
    lines.append(f"{'mart':<30}{'rows':>10}")
    for mart, n in figures["marts"].items():
        lines.append(f"{mart:<30}{n:>10}")
    lines += _conversion_lines(settings)
    if (settings.truth_dir / "records").exists():
        from pipelines.lib.identity_report import identity_report

        with connect(settings, read_only=True) as con:
            rep = identity_report(con, settings.truth_dir)
        lines.append("")
        lines.append(
            f"identity resolution vs truth: precision {rep['precision']:.4f}  "
            f"recall {rep['recall']:.4f}  F1 {rep['f1']:.4f}"
        )
    lines += _check_lines(settings, result)
    lines += _export_lines(settings, result)
    if settings.report_path.exists():
        lines += ["", f"customer report: {settings.report_path}"]
    lines += _serving_lines(settings, result)
    lines += [
        "",
        f"working warehouse (the pipeline's; BI tools use the serving file): {settings.duckdb_path}",
        f"  Dagster UI: DAGSTER_HOME={settings.dagster_home} "
        ".venv/bin/dagster dev -w workspace.yaml   (then open http://127.0.0.1:3000)",
    ]
    return "\n".join(lines)
