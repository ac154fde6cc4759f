"""Landing -> raw.<source>: one asset per source contract, built by one factory.

All sources share the same shape (landing folder -> contract -> raw table), so a factory
over ``pipelines/contracts`` gives eleven assets without eleven copies.
"""

import time
import warnings
from datetime import date
from pathlib import PurePosixPath

import dagster as dg

from pipelines.defs.partitions import date_bounds, landing_partitions, window_of
from pipelines.defs.quality.checks import raw_checks
from pipelines.lib.contracts import Contract, load_contracts
from pipelines.lib.ingest import (
    RAW_SCHEMA,
    LoadResult,
    RawTargets,
    ensure_parquet_columns_file,
    ensure_raw_parquet_view,
    ensure_raw_tables,
    load_file,
    quote_ident,
)
from pipelines.lib.landing import LANDING_PROBLEMS, discover, waiting_folders
from pipelines.lib.mappings import (
    MAPPING_SUFFIX,
    MappingError,
    contract_for,
    load_mappings,
    mapping_for,
)
from pipelines.lib.observe import table_figures
from pipelines.resources import WarehouseResource

INGEST_GROUP = "ingest"


def ingest_source(
    contract: Contract, warehouse: WarehouseResource, window: tuple[date, date] | None = None
) -> tuple[list[LoadResult], list[str]]:
    """Load every new landing file of one source dated within ``window`` (all when None);
    returns results and problems (messages)."""
    settings = warehouse.settings()
    files, problems = discover(
        settings.landing_dir,
        contract.source,
        quiet_seconds=settings.landing_quiet_seconds,
        window=window,
        bounds=date_bounds(settings),
        config_suffixes=(MAPPING_SUFFIX,) if contract.mapped else (),
    )
    messages = [f"{p.relative_path}: {p.reason}" for p in problems]
    mappings = []
    if contract.mapped:
        mappings, mapping_problems = load_mappings(settings.landing_dir / contract.source, contract)
        messages += mapping_problems
    results: list[LoadResult] = []
    with warehouse.connection() as con:
        ensure_raw_tables(con, contract, data_table=settings.raw_to_duckdb)
        if not settings.raw_to_duckdb:
            # Before any load: a populated raw table is refused here, not after its loads
            # went only to Parquet.
            ensure_raw_parquet_view(con, contract, settings.raw_parquet_dir)
        targets = RawTargets(
            duckdb=settings.raw_to_duckdb,
            parquet_dir=settings.raw_parquet_dir if settings.raw_to_parquet else None,
        )
        for file in files:
            file_contract, salt = contract, None
            if contract.mapped:
                # A mapped source's file loads by the contract its mapping makes of it.
                try:
                    mapping, spec = mapping_for(PurePosixPath(file.relative_path).name, mappings)
                except MappingError as exc:
                    messages.append(f"{file.relative_path}: {exc}")
                    continue
                file_contract, salt = contract_for(contract, mapping, spec), mapping.digest
            result = load_file(
                con, file_contract, file, settings.duckdb_temp_dir, targets, content_salt=salt
            )
            results.append(result)
            if result.status == "rejected":
                messages.append(result.error or f"{file.relative_path}: rejected")
        if settings.raw_to_parquet:
            ensure_parquet_columns_file(con, contract, settings.raw_parquet_dir)
        if not settings.raw_to_duckdb:
            ensure_raw_parquet_view(con, contract, settings.raw_parquet_dir)  # new files
    return results, messages


def load_figures(results: list[LoadResult]) -> dict:
    """Files and row accounting of some loads (one landing date's, or a run's)."""
    return {
        "files_seen": len(results),
        "files_loaded": sum(r.status == "loaded" for r in results),
        "files_duplicate": sum(r.status == "duplicate" for r in results),
        "rows_in": sum(r.rows_in for r in results),
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_quarantined": sum(r.rows_quarantined for r in results),
        "loads": dg.MetadataValue.json([r.as_dict() for r in results]),
    }


def build_ingest_asset(contract: Contract) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", contract.source])
    checks = raw_checks(contract)

    @dg.multi_asset(
        name=f"raw__{contract.source}",
        specs=[
            dg.AssetSpec(
                key,
                group_name=INGEST_GROUP,
                kinds={"duckdb", "python"},
                description=f"{contract.title}. Grain: {contract.grain} "
                f"Contract: pipelines/contracts/{contract.source}.yml",
                metadata={"contract": f"pipelines/contracts/{contract.source}.yml"},
            )
        ],
        partitions_def=landing_partitions,
        # A range of days is one run: raw tables are append-only and loads content-hashed,
        # so one pass over the range's folders is all a backfill needs.
        backfill_policy=dg.BackfillPolicy.single_run(),
        # The source's GE suite, row accounting and freshness run in this step, once its
        # loads are committed: one step per source, not four (issue 19: fewer events).
        # Subsettable, so the checks can run alone (the UI's "execute checks") or the
        # loads without them.
        check_specs=[check.spec for check in checks],
        can_subset=True,
    )
    def _ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        if key in context.selected_asset_keys:
            yield from _load(context, warehouse)
        # Every check is evaluated and shown before a blocking failure stops the step.
        failures = []
        for check in checks:
            if check.spec.key not in context.selected_asset_check_keys:
                continue
            result, failure = check.evaluate(context.run, warehouse)
            yield result
            if failure:
                failures.append(failure)
        if failures:
            raise dg.Failure(description=" | ".join(failures))

    def _load(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        started = time.perf_counter()
        window = window_of(context)
        results, problems = ingest_source(contract, warehouse, window)
        settings = warehouse.settings()
        waiting = waiting_folders(
            settings.landing_dir,
            settings.landing_quiet_seconds,
            sources={contract.source},
            window=window,
            bounds=date_bounds(settings),
        )
        for folder in waiting:
            context.log.warning(f"not read in this run: {folder.relative_path}: {folder.reason}")
        done = [r for r in results if r.status in ("loaded", "duplicate", "rejected")]
        loaded = [r for r in results if r.status == "loaded"]
        for r in done:
            context.log.info(
                f"{r.file}: {r.status} rows_in={r.rows_in} loaded={r.rows_loaded} "
                f"quarantined={r.rows_quarantined}" + (f" error={r.error}" if r.error else "")
            )
        if problems:
            # The good files above are committed already; the asset fails so the run
            # shows which file could not be read and why.
            raise dg.Failure(
                description=f"{contract.source}: {len(problems)} landing file(s) could not be read: "
                + " | ".join(problems),
                metadata={LANDING_PROBLEMS: problems, "files_loaded": len(loaded)},
            )
        # Each landing date's materialisation carries that day's files; the table-level
        # figures (row count, preview of this run's rows, duration) go on all of them.
        for partition in context.partition_keys:
            day = [r for r in done if r.file.split("/")[1] == partition]
            context.add_asset_metadata(load_figures(day), partition_key=partition)
        with warehouse.connection(read_only=True) as con:
            # The preview shows rows of this run's loads (any rows when none loaded).
            figures = table_figures(
                con,
                f"{RAW_SCHEMA}.{quote_ident(contract.source)}",
                where="where list_contains($loads, _load_id) or len($loads) = 0",
                params={"loads": [r.load_id for r in loaded]},
            )
        yield dg.MaterializeResult(
            metadata={
                **figures,
                "duration_seconds": round(time.perf_counter() - started, 3),
                "run_files_loaded": len(loaded),
                "run_rows_loaded": sum(r.rows_loaded for r in results),
                "folders_waiting": dg.MetadataValue.json(
                    {f.relative_path: f.reason for f in waiting}
                ),
            }
        )

    return _ingest


# backfill_policy is marked beta in Dagster 1.13 (a warning per asset on every import);
# it is what makes a range of days one run, and the tests pin that behaviour.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    ingest_assets = [build_ingest_asset(c) for c in load_contracts().values()]
