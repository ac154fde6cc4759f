"""`crm-warehouse`: generate sample exports, run the pipeline, report on identity."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from pipelines.lib.warehouse import connect
from pipelines.settings import DBT_PROJECT_DIR, PROJECT_ROOT, get_settings

app = typer.Typer(
    help="CRM Warehouse: merchant exports -> DuckDB customer marts.", no_args_is_help=True
)


@app.command()
def generate(
    scale: Annotated[
        str, typer.Option(help="XS (~1k persons), S (~20k), M (~100k), L (~1M)")
    ] = "S",
    seed: Annotated[int, typer.Option(help="Same seed, same files")] = 42,
    start_date: Annotated[str, typer.Option(help="First activity day, YYYY-MM-DD")] = "2025-01-01",
    days: Annotated[int, typer.Option(help="Number of activity days")] = 365,
    cadence: Annotated[str, typer.Option(help="monthly or daily deliveries")] = "monthly",
) -> None:
    """Write sample exports of every channel into the landing folder, truth beside it."""
    from crm_tools.generator import generate as run_generator

    settings = get_settings()
    summary = run_generator(
        settings.landing_dir,
        settings.truth_dir,
        scale=scale.upper(),
        seed=seed,
        start_date=date.fromisoformat(start_date),
        days=days,
        cadence=cadence,
    )
    typer.echo(json.dumps(summary, indent=2, default=str))


def _run_and_summarise(
    window: tuple[date, date] | None,
    *,
    log_level: str,
    verbose: bool,
    full_refresh: bool,
    now: bool,
    rerun: str,
) -> None:
    from pipelines.defs.partitions import complete_landing_dates
    from pipelines.lib.privacy import SaltError, resolve_salt
    from pipelines.run import run_succeeded, run_warehouse_job
    from pipelines.summary import summarise

    settings = get_settings()
    # A person starting a run has waited for their own copy: folders are read once nothing
    # in them changed for a few seconds (--now: at once), not after the sensor's quiet period.
    quiet = 0 if now else min(settings.manual_quiet_seconds, settings.landing_quiet_seconds)
    settings = replace(settings, landing_quiet_seconds=quiet)
    try:
        salt = resolve_salt(settings)
    except SaltError as refusal:
        typer.echo(f"not started: {refusal}", err=True)
        raise typer.Exit(2) from None
    typer.echo(salt.describe())
    skips = _settled_landing(settings, window)
    if skips.waiting or skips.unknown_sources:
        typer.echo("not read in this run:\n" + "\n".join(skips.lines(rerun)))
    if skips.waiting and not complete_landing_dates(settings, *(window or (None, None))):
        typer.echo(
            f"nothing to read yet: every delivery folder under {settings.landing_dir} is still "
            f"waiting (above); run `{rerun}` if the copies have finished"
        )
        return
    terminal = sys.stderr  # before stdout is redirected: the progress display goes here
    log_path = settings.data_dir / "logs" / "last-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    scope = f"landing dates {window[0]}..{window[1]}" if window else "every landing date"
    typer.echo(f"running every asset (ingest -> dbt build) for {scope}; dbt log: {log_path}")
    # dagster-dbt echoes every dbt event to stdout; keep the terminal for the summary.
    with (
        open(log_path, "w", encoding="utf-8") as log,
        contextlib.nullcontext() if verbose else contextlib.redirect_stdout(log),
    ):
        result = run_warehouse_job(
            settings,
            log_level=log_level.upper(),
            window=window,
            full_refresh=full_refresh,
            progress=terminal,
        )
    if result is None:
        typer.echo(
            f"nothing to run: no complete delivery folder under {settings.landing_dir}"
            + (f" dated {window[0]}..{window[1]}" if window else "")
        )
        return
    typer.echo(summarise(settings, result, skips, rerun))
    if not run_succeeded(result):
        raise typer.Exit(1)


def _settled_landing(settings, window):
    """What the run will skip, after waiting a little (up to three quiet periods) for
    folders that are still changing: a copy that ends within seconds is read, not skipped."""
    from pipelines.summary import landing_skips

    skips = landing_skips(settings, window)
    deadline = time.monotonic() + 3 * settings.landing_quiet_seconds
    if skips.waiting:
        names = ", ".join(f.relative_path for f in skips.waiting)
        typer.echo(f"waiting for files still being written to settle: {names}")
    while skips.waiting and time.monotonic() < deadline:
        time.sleep(1)
        skips = landing_skips(settings, window)
    return skips


LOG_LEVEL_OPTION = typer.Option(help="Dagster console log level")
VERBOSE_OPTION = typer.Option(help="Stream dbt's log instead of writing it to a file")
FULL_REFRESH_OPTION = typer.Option(help="Rebuild dbt's incremental models from scratch")
NOW_OPTION = typer.Option(
    "--now",
    help="Read every delivery folder present now, even one whose files changed in the last "
    "CRM_MANUAL_QUIET_SECONDS (default 5): for a copy you know has finished",
)


@app.command()
def run(
    log_level: Annotated[str, LOG_LEVEL_OPTION] = "WARNING",
    verbose: Annotated[bool, VERBOSE_OPTION] = False,
    full_refresh: Annotated[bool, FULL_REFRESH_OPTION] = False,
    now: Annotated[bool, NOW_OPTION] = False,
) -> None:
    """Load every complete delivery not loaded yet, rebuild every asset after it through
    Dagster, and print a summary that starts with what the run did not read and why."""
    _run_and_summarise(
        None,
        log_level=log_level,
        verbose=verbose,
        full_refresh=full_refresh,
        now=now,
        rerun="crm-warehouse run --now",
    )


@app.command()
def backfill(
    from_date: Annotated[
        str, typer.Option("--from", help="First landing date, YYYY-MM-DD (inclusive)")
    ],
    to_date: Annotated[str, typer.Option("--to", help="Last landing date, YYYY-MM-DD (inclusive)")],
    log_level: Annotated[str, LOG_LEVEL_OPTION] = "WARNING",
    verbose: Annotated[bool, VERBOSE_OPTION] = False,
    full_refresh: Annotated[bool, FULL_REFRESH_OPTION] = False,
    now: Annotated[bool, NOW_OPTION] = False,
) -> None:
    """(Re)load the deliveries dated --from..--to as one run and rebuild every asset after
    them; files loaded before are skipped by content hash, so a backfill is safe to repeat."""
    try:
        window = (date.fromisoformat(from_date), date.fromisoformat(to_date))
    except ValueError as exc:
        typer.echo(f"error: --from/--to must be YYYY-MM-DD dates: {exc}", err=True)
        raise typer.Exit(2) from None
    if window[1] < window[0]:
        typer.echo(f"error: --to {window[1]} is before --from {window[0]}", err=True)
        raise typer.Exit(2)
    _run_and_summarise(
        window,
        log_level=log_level,
        verbose=verbose,
        full_refresh=full_refresh,
        now=now,
        rerun=f"crm-warehouse backfill --from {window[0]} --to {window[1]} --now",
    )


@app.command()
def versions() -> None:
    """List the published serving versions (newest last) with row counts per mart."""
    from pipelines.lib import serving

    settings = get_settings()
    current = serving.current_name(settings)
    published = serving.list_versions(settings)
    if not published:
        typer.echo(f"no serving version under {settings.serving_dir}")
        return
    for version in published:
        marker = "*" if version.name == current else " "
        rows = version.rows
        typer.echo(
            f"{marker} {version.name}  as of {version.manifest['as_of_date']}  "
            f"{len(rows)} marts, {sum(rows.values())} rows  "
            f"(customers {rows.get('customers', 0)}, orders {rows.get('orders', 0)})"
        )
    typer.echo(f"* = current: {settings.serving_dir / serving.CURRENT_DB}")


@app.command()
def rollback(
    to: Annotated[
        str | None, typer.Option(help="Version to switch to (default: the one before current)")
    ] = None,
) -> None:
    """Switch serving/current.duckdb (and serving/current) to an earlier version."""
    from pipelines.lib import serving

    settings = get_settings()
    try:
        version = serving.rollback(settings, to)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"serving now {version.name} (as of {version.manifest['as_of_date']})")


@app.command()
def prune() -> None:
    """Apply the retention settings now (CRM_KEEP_RUNS, CRM_SERVING_KEEP): old Dagster runs,
    dbt artefacts, GE validation results and serving versions; a successful run does the
    same (GE results at its export step). Raw loads, quarantine and exports stay."""
    from pipelines import retention
    from pipelines.definitions import defs
    from pipelines.lib import quality
    from pipelines.run import open_instance

    settings = get_settings()
    with open_instance(settings) as instance:
        pruned = retention.apply(
            settings, instance, defs.resolve_asset_graph().asset_check_keys, validations=True
        )
    if pruned.validations and settings.data_docs_index.exists():
        quality.validator_for(settings.quality_dir).build_docs()  # no links to removed pages
    typer.echo(pruned.describe())


@app.command()
def report() -> None:
    """Write the HTML customer report from the current warehouse and print its path."""
    from pipelines.lib.report import build_report

    settings = get_settings()
    with connect(settings, read_only=True) as con:
        path = build_report(con, settings.report_path)
    typer.echo(str(path))


@app.command("identity-report")
def identity_report_cmd() -> None:
    """Pairwise precision / recall / F1 of identity resolution against the generator truth."""
    from pipelines.lib.identity_report import identity_report

    settings = get_settings()
    with connect(settings, read_only=True) as con:
        report = identity_report(con, settings.truth_dir)
    typer.echo(json.dumps(report, indent=2))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dbt(ctx: typer.Context) -> None:
    """Run dbt on the project with the warehouse settings, e.g. `crm-warehouse dbt docs generate`
    or, on a local Spark, `crm-warehouse dbt build --target spark` (docs/scaling-out.md)."""
    from pipelines.lib import dbt_invocation
    from pipelines.lib.spark import spark_target

    settings = get_settings()
    cmd = [str(dbt_invocation.DBT_EXECUTABLE), *ctx.args, "--project-dir", str(DBT_PROJECT_DIR)]
    cmd += ["--profiles-dir", str(DBT_PROJECT_DIR)]
    env = dbt_invocation.dbt_environment(settings, os.environ)
    if spark_target(ctx.args):
        from pipelines.lib.privacy import SaltError
        from pipelines.lib.spark import spark_environment

        try:
            env |= spark_environment(settings)
        except SaltError as exc:
            typer.echo(f"not started: {exc}", err=True)
            raise typer.Exit(2) from exc
    else:
        # As the dbt asset does: start from the checkout's parse, made for another data
        # directory, instead of parsing the whole project again (10 s and more).
        target = dbt_invocation.target_dir(ctx.args, env)
        try:
            dbt_invocation.start_from_parse(target, env, dbt_invocation.checkout_parse())
        except Exception as exc:  # only time is at stake
            typer.echo(f"dbt parses the whole project: its parse is unusable ({exc!r})", err=True)
    raise typer.Exit(subprocess.call(cmd, cwd=PROJECT_ROOT, env=env))


@app.command()
def bench(
    scale: Annotated[str, typer.Option(help="XS, S, M or L (docs/benchmarks.md)")] = "M",
    seed: Annotated[int, typer.Option(help="Generator seed")] = 42,
    nights: Annotated[
        int, typer.Option(help="Nights to run after the incremental day (daily deliveries)")
    ] = 0,
) -> None:
    """Time the whole pipeline on generated data against DuckDB alone and the targets;
    writes bench/results/<scale>.json (data cached under bench/cache/). With --nights N,
    N more nightly runs, each with its seconds, events and data-folder size, and the slope
    of night time and disk against the history they add to."""
    from crm_tools.bench import SCALE_ORDER, report, run_benchmark, scaling_table

    scale = scale.upper()
    if scale not in SCALE_ORDER:
        raise typer.BadParameter(f"scale must be one of {', '.join(SCALE_ORDER)}")
    typer.echo(f"benchmark scale {scale}: generate (cached), full run, one incremental day...")
    results = run_benchmark(scale, seed, nights)
    typer.echo(report(results))
    typer.echo("\nscaling (every scale measured so far, bench/results/):")
    typer.echo(scaling_table())


@app.command()
def env() -> None:
    """Print the resolved settings as shell exports (for `dagster dev` or dbt by hand)."""
    settings = get_settings()
    for key, value in settings.env().items():
        typer.echo(f"export {key}={value}")
    typer.echo(f"export DAGSTER_HOME={settings.dagster_home}")


@app.command("clv-fit")
def clv_fit(
    input_file: Annotated[
        Path,
        typer.Option(
            "--input",
            help="CSV with customer_id,frequency,recency,T[,monetary_value]: frequency = repeat "
            "purchases, recency and T in one time unit (e.g. weeks) since the first purchase",
        ),
    ],
) -> None:
    """Fit BG/NBD (and Gamma-Gamma when monetary_value is given) and print the parameters."""
    from pipelines.lib import clv

    try:
        data = clv.read_rfm_csv(str(input_file))
    except clv.RfmFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    bgnbd = clv.fit_bgnbd(data.frequency, data.recency, data.T)
    result: dict = {
        "time_unit": "the input's: recency and T as given; alpha is per that unit, "
        "r, a, b, p, q, v do not depend on it",
        "customers": len(data.frequency),
        "bgnbd": vars(bgnbd.params),
    }
    fits = {"bgnbd": bgnbd}
    if data.monetary_value is not None:
        repeat = data.frequency > 0
        if not repeat.any():
            typer.echo(
                f"error: {input_file}: monetary_value given but no customer has frequency > 0",
                err=True,
            )
            raise typer.Exit(2)
        gamma_gamma = clv.fit_gamma_gamma(data.frequency[repeat], data.monetary_value[repeat])
        result["gamma_gamma"] = vars(gamma_gamma.params)
        fits["gamma_gamma"] = gamma_gamma
    result["fit"] = {
        name: {
            "loglik": fit.loglik,
            "std_errors": fit.std_errors,
            "customers": int(fit.customers),
            "converged": fit.converged,
            "message": fit.message,
        }
        for name, fit in fits.items()
    }
    typer.echo(json.dumps(result, indent=2))
    if not all(fit.converged for fit in fits.values()):
        raise typer.Exit(1)
