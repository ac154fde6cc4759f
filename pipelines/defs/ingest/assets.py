"""Landing -> raw.<source>: one asset per source contract, built by one factory.

All sources share the same shape (landing folder -> contract -> raw table), so a factory
over ``pipelines/contracts`` gives eleven assets without eleven copies.
"""

import dagster as dg

from pipelines.lib.contracts import Contract, load_contracts
from pipelines.lib.ingest import LoadResult, ensure_raw_tables, load_file
from pipelines.lib.landing import delivery_folders, delivery_ready, discover
from pipelines.resources import WarehouseResource

INGEST_GROUP = "ingest"


def ingest_source(
    contract: Contract, warehouse: WarehouseResource
) -> tuple[list[LoadResult], list[str]]:
    """Load every new landing file of one source; returns results and problems (messages)."""
    settings = warehouse.settings()
    files, problems = discover(
        settings.landing_dir, contract.source, quiet_seconds=settings.landing_quiet_seconds
    )
    messages = [f"{p.relative_path}: {p.reason}" for p in problems]
    results: list[LoadResult] = []
    with warehouse.connection() as con:
        ensure_raw_tables(con, contract)
        for file in files:
            result = load_file(con, contract, file, settings.duckdb_temp_dir)
            results.append(result)
            if result.status == "rejected":
                messages.append(result.error or f"{file.relative_path}: rejected")
    return results, messages


def waiting_folders(settings, source: str) -> list[str]:
    """Delivery folders of this source that are not complete yet (no marker, not quiet)."""
    return [
        f"{source}/{folder.name}"
        for folder in delivery_folders(settings.landing_dir)
        if folder.parent.name == source
        and not delivery_ready(folder, settings.landing_quiet_seconds)
    ]


def build_ingest_asset(contract: Contract) -> dg.AssetsDefinition:
    @dg.asset(
        name=contract.source,
        key_prefix=["raw"],
        group_name=INGEST_GROUP,
        kinds={"duckdb", "python"},
        description=f"{contract.title}. Grain: {contract.grain} "
        f"Contract: pipelines/contracts/{contract.source}.yml",
        metadata={"contract": f"pipelines/contracts/{contract.source}.yml"},
    )
    def _ingest(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        results, problems = ingest_source(contract, warehouse)
        waiting = waiting_folders(warehouse.settings(), contract.source)
        if waiting:
            context.log.info(f"not complete yet, left for a later run: {', '.join(waiting)}")
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
                metadata={"problems": problems, "files_loaded": len(loaded)},
            )
        return dg.MaterializeResult(
            metadata={
                "files_seen": len(results),
                "files_loaded": len(loaded),
                "files_duplicate": sum(r.status == "duplicate" for r in results),
                "rows_in": sum(r.rows_in for r in results),
                "rows_loaded": sum(r.rows_loaded for r in results),
                "rows_quarantined": sum(r.rows_quarantined for r in results),
                "loads": dg.MetadataValue.json([r.as_dict() for r in done]),
                "folders_waiting": dg.MetadataValue.json(waiting),
            }
        )

    return _ingest


ingest_assets = [build_ingest_asset(c) for c in load_contracts().values()]
