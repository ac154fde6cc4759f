"""Publication: the gated segment exports, the audiences' contact lists (restricted) and
the serving version of the BI marts, each published only when every blocking check
upstream of it passes.

Dagster's own blocking only skips the *direct* dependents of a failing check's asset, and
not across a multi-asset (@dbt_assets) boundary (DECISIONLOG.md; dagster issues 18472,
19821, 25112). So this asset does not rely on the run having stopped: before writing it
reads, for every blocking check on any of its ancestors, the latest evaluation from the
instance and refuses to publish unless each one passed on the asset's latest
materialisation.

The gate reads the asset graph of the whole code location below the publishing assets,
not the run's job: a run that selects only this asset must still be gated by every check
upstream of it. That graph is handed in where the Definitions are assembled
(``build_publish_assets`` in pipelines/definitions.py), so no asset module imports the
code location.
"""

import datetime as dt
import functools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster_dbt import get_asset_key_for_model

from pipelines.defs.dbt.assets import crm_dbt_models, manifest
from pipelines.lib import quality, retention, serving
from pipelines.lib.exports import (
    CONTACT_FORMATS,
    CONTACT_OUTPUTS,
    GATED_OUTPUTS,
    MARTS_SCHEMA,
    RESTRICTED_SCHEMA,
    write_exports,
)
from pipelines.lib.observe import preview_markdown, table_figures
from pipelines.resources import WarehouseResource

PUBLISH_GROUP = "publish"
SEGMENT_EXPORTS = dg.AssetKey(["segment_exports"])
AUDIENCE_CONTACT_EXPORTS = dg.AssetKey(["audience_contact_exports"])
SERVING_VERSION = dg.AssetKey(["serving_version"])


def _model(name: str) -> dg.AssetKey:
    """The asset key of dbt model ``name``, from the dbt assets: a misspelt name fails
    here, where a hand-written AssetKey would quietly add a stub asset to the graph."""
    return get_asset_key_for_model([crm_dbt_models], name)


class Gate:
    """The blocking checks upstream of each publishing asset, read from the definitions of
    every asset and check below them (handed in by ``build_publish_assets``)."""

    def __init__(self, definitions: Sequence[dg.AssetsDefinition | dg.AssetChecksDefinition]):
        self._definitions = list(definitions)

    def include(self, definitions: Sequence[dg.AssetsDefinition]) -> None:
        """The publishing assets themselves: one can depend on another (the contact lists
        on the segment exports), and then on every check upstream of it."""
        self._definitions.extend(definitions)

    @functools.cached_property
    def _graph(self) -> AssetGraph:
        # What Definitions resolves, without the resources it would insist on: the gate
        # needs keys, dependencies and check specs only (DECISIONLOG.md, "The gate's
        # graph is handed in").
        return AssetGraph.from_assets(self._definitions)

    def checks(self, asset_key: dg.AssetKey) -> list[dg.AssetCheckKey]:
        graph = self._graph
        ancestors = graph.get_ancestor_asset_keys(asset_key)
        return sorted(
            (
                key
                for key in graph.asset_check_keys
                if key.asset_key in ancestors and graph.get_check_spec(key).blocking
            ),
            key=lambda k: (k.asset_key.to_user_string(), k.name),
        )

    def require(self, context: dg.AssetExecutionContext) -> list[dg.AssetCheckKey]:
        """The blocking checks upstream of this asset, all passed on current data; else
        fail."""
        checks = self.checks(context.asset_key)
        problems = gate_problems(context.instance, checks)
        if problems:
            raise dg.Failure(
                description=f"{context.asset_key.to_user_string()} not published: "
                f"{len(problems)} blocking check(s) did not pass:\n" + "\n".join(problems),
                metadata={"problems": dg.MetadataValue.json(problems)},
            )
        return checks


def gate_problems(instance: dg.DagsterInstance, checks: list[dg.AssetCheckKey]) -> list[str]:
    """Why publishing must not happen: one line per blocking check that did not pass on the
    current data (failed, errored, never ran, or ran on an older materialisation)."""
    # Two queries for all the checks, not two per check: a night asks this for some 90
    # checks in each of three publishing steps.
    storage = instance.event_log_storage
    latest_runs = storage.get_latest_asset_check_execution_by_key(checks)
    latest_materialisations = storage.get_latest_materialization_storage_ids(
        sorted({key.asset_key for key in checks}, key=lambda k: k.to_user_string())
    )
    problems = []
    for key in checks:
        name = f"{key.asset_key.to_user_string()}:{key.name}"
        record = latest_runs.get(key)
        if record is None:
            problems.append(f"{name} has never been evaluated")
            continue
        evaluation = record.event.asset_check_evaluation if record.event else None
        if record.status == AssetCheckExecutionRecordStatus.PLANNED or evaluation is None:
            problems.append(f"{name} did not complete in run {record.run_id}")
            continue
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            detail = (evaluation.description or "").strip() or "failed"
            problems.append(f"{name} failed in run {record.run_id}: {detail}")
            continue
        latest = latest_materialisations.get(key.asset_key)
        target = evaluation.target_materialization_data
        if latest is not None and (target is None or target.storage_id < latest):
            problems.append(
                f"{name} has not been evaluated on the latest materialisation of "
                f"{key.asset_key.to_user_string()}"
            )
    return problems


# Why a publishing step wrote nothing (and the run still succeeds): before the first paid
# order no analysis has a run date, so there is no segment to hand out; before the first
# loaded row every mart is empty, so there is no version to serve.
NOTHING_TO_EXPORT = "nothing to publish: no paid order loaded yet, so no analysis has a run date"
NOTHING_TO_SERVE = "nothing to publish: no row loaded yet, every mart is empty"
# A night that changed no mart: a new version would only push real ones out of rollback's
# reach (CRM_SERVING_KEEP).
SERVING_UNCHANGED = "serving unchanged, still {version} (no mart changed since it was published)"


def _as_of_date(con) -> dt.date | None:
    return con.execute(f"select max(as_of_date) from {MARTS_SCHEMA}.customer_segments").fetchone()[
        0
    ]


def _warehouse_as_of_date(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dt.date | None:
    """The segments' run date, or None (logged) when there is nothing to publish yet."""
    with warehouse.connection(read_only=True) as con:
        as_of_date = _as_of_date(con)
    if as_of_date is None:
        context.log.info(f"{context.asset_key.to_user_string()}: {NOTHING_TO_EXPORT}")
    return as_of_date


def _write_gated_files(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    gate: Gate,
    folder,
    as_of_date: dt.date,
    **options,
) -> tuple:
    """Gate, then write the outputs as of the segments' run date into ``folder``.
    Returns (published folder, manifest, gating checks)."""
    checks = gate.require(context)
    gated_by = [f"{k.asset_key.to_user_string()}:{k.name}" for k in checks]
    with warehouse.connection(read_only=True) as con:
        published, manifest = write_exports(
            con, folder, as_of_date, context.run.run_id, gated_by, **options
        )
    return published, manifest, checks


def _files_metadata(started: float, folder, manifest: dict, checks: list, data_docs) -> dict:
    return {
        "dagster/row_count": sum(v["rows"] for v in manifest["outputs"].values()),
        "duration_seconds": round(time.perf_counter() - started, 3),
        "folder": dg.MetadataValue.path(str(folder)),
        "as_of_date": manifest["as_of_date"],
        "gating_checks": len(checks),
        "data_docs": dg.MetadataValue.path(str(data_docs)),
        "rows": dg.MetadataValue.json({k: v["rows"] for k, v in manifest["outputs"].items()}),
    }


def _segment_exports_asset(gate: Gate) -> dg.AssetsDefinition:
    """The segment exports, gated by ``gate``."""

    @dg.asset(
        key=SEGMENT_EXPORTS,
        group_name=PUBLISH_GROUP,
        kinds={"csv", "parquet"},
        deps=[_model(name) for name in GATED_OUTPUTS],
        description="exports/<as_of_date>/<output>.csv and .parquet with manifest.json: the "
        "segments, CLV and audience lists for marketing (customer_id, no personal data). "
        "Published only when every blocking check upstream passed on the current data; "
        "otherwise the earlier exports stay as they are. Before the first paid order there is "
        "nothing to publish: the step succeeds without a materialisation.",
        output_required=False,
    )
    def segment_exports(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        started = time.perf_counter()
        settings = warehouse.settings()
        as_of_date = _warehouse_as_of_date(context, warehouse)
        if as_of_date is None:
            return
        folder, manifest, checks = _write_gated_files(
            context, warehouse, gate, settings.exports_dir, as_of_date
        )
        with warehouse.connection(read_only=True) as con:
            preview = table_figures(con, f"{MARTS_SCHEMA}.customer_segments")["preview"]
        # The validations behind this publication, readable beside it (the checks leave the
        # site to be built once per run: lib/quality.py Validator). The oldest results go
        # first, so that the site never links to a page retention removed.
        retention.prune_validations(settings.quality_dir, settings.keep_runs)
        quality.validator_for(settings.quality_dir).build_docs()
        metadata = _files_metadata(started, folder, manifest, checks, settings.data_docs_index)
        yield dg.MaterializeResult(metadata={**metadata, "preview": preview})

    return segment_exports


def _audience_contact_exports_asset(gate: Gate) -> dg.AssetsDefinition:
    """The audiences' contact lists, gated by ``gate``."""

    @dg.asset(
        key=AUDIENCE_CONTACT_EXPORTS,
        group_name=PUBLISH_GROUP,
        kinds={"csv"},
        # After the segment exports: the lists go out with the audiences they belong to, and
        # their step then follows every check that gates those.
        deps=[*(_model(name) for name in CONTACT_OUTPUTS), SEGMENT_EXPORTS],
        description="restricted/contacts/<as_of_date>/<audience>_contacts.csv with "
        "manifest.json: name, e-mail and phone of each audience's consenting customers, for "
        "marketing's send tools. Raw personal data: the folder is readable by its owner only "
        "and is never served (docs/privacy.md). Gated like the segment exports, and written "
        "after them.",
        output_required=False,
    )
    def audience_contact_exports(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        started = time.perf_counter()
        settings = warehouse.settings()
        as_of_date = _warehouse_as_of_date(context, warehouse)
        if as_of_date is None:
            return
        folder, manifest, checks = _write_gated_files(
            context,
            warehouse,
            gate,
            settings.restricted_exports_dir,
            as_of_date,
            outputs=CONTACT_OUTPUTS,
            schema=RESTRICTED_SCHEMA,
            formats=CONTACT_FORMATS,
            private=True,
        )
        metadata = _files_metadata(started, folder, manifest, checks, settings.data_docs_index)
        # Files and row counts only: the event log is read by people who may not see contacts.
        files = sorted((k, v["rows"]) for k, v in manifest["outputs"].items())
        preview = dg.MetadataValue.md(preview_markdown(["contact list", "rows"], files))
        yield dg.MaterializeResult(metadata={**metadata, "preview": preview})

    return audience_contact_exports


def _served_marts() -> list[dg.AssetKey]:
    """Every dbt model (the CLV Python model included) and seed in the marts schema."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    dbt_marts = [
        n["name"]
        for n in nodes
        if n["resource_type"] in ("model", "seed") and n.get("schema") == MARTS_SCHEMA
    ]
    return [_model(name) for name in sorted(set(dbt_marts))]


def _serving_version_asset(gate: Gate) -> dg.AssetsDefinition:
    """The serving version, gated by ``gate``."""

    @dg.asset(
        key=SERVING_VERSION,
        group_name=PUBLISH_GROUP,
        kinds={"duckdb", "parquet"},
        deps=_served_marts(),
        description="A new read-only version of every BI mart (serving/versions/<v>/: one Parquet "
        "file per mart, hard-linked from the previous version when the mart did not change, and "
        "a DuckDB file of views over them), then serving/current.duckdb and serving/current "
        "switched to it by rename. Gated like the exports; the last CRM_SERVING_KEEP versions "
        "are kept. No version when no mart changed since the current one, and nothing before "
        "the first loaded row (every mart empty): the step then succeeds without a "
        "materialisation.",
        output_required=False,
    )
    def serving_version(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        started = time.perf_counter()
        with warehouse.connection(read_only=True) as con:
            as_of_date = _as_of_date(con)
            loaded = con.execute(
                "select exists (select 1 from raw.loads where status = 'loaded' and rows_loaded > 0)"
            ).fetchone()[0]
        if not loaded:
            context.log.info(f"serving_version: {NOTHING_TO_SERVE}")
            return
        checks = gate.require(context)
        settings = warehouse.settings()
        publication = serving.publish(
            settings, run_id=context.run.run_id, as_of_date=str(as_of_date) if as_of_date else None
        )
        version = publication.version
        if not publication.new:
            context.log.info(f"serving_version: {SERVING_UNCHANGED.format(version=version.name)}")
            return
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(version.rows.values()),
                "preview": dg.MetadataValue.md(
                    preview_markdown(["mart", "rows"], sorted(version.rows.items()))
                ),
                "duration_seconds": round(time.perf_counter() - started, 3),
                "version": version.name,
                "path": dg.MetadataValue.path(str(version.path)),
                "entry_point": dg.MetadataValue.path(
                    str(settings.serving_dir / serving.CURRENT_DB)
                ),
                "gating_checks": len(checks),
                "data_docs": dg.MetadataValue.path(str(settings.data_docs_index)),
                "rows": dg.MetadataValue.json(version.rows),
                # Unchanged since the version before: hard-linked, not written again.
                "marts_linked": len(version.manifest["linked"]),
            }
        )

    return serving_version


@dataclass(frozen=True)
class PublishAssets:
    segment_exports: dg.AssetsDefinition
    audience_contact_exports: dg.AssetsDefinition
    serving_version: dg.AssetsDefinition
    gate: Gate

    @property
    def assets(self) -> list[dg.AssetsDefinition]:
        return [self.segment_exports, self.audience_contact_exports, self.serving_version]


def build_publish_assets(
    upstream: Sequence[dg.AssetsDefinition | dg.AssetChecksDefinition],
) -> PublishAssets:
    """The publishing assets, each gated by the blocking checks upstream of it among
    ``upstream``: every other asset and check of the code location."""
    gate = Gate(upstream)
    built = PublishAssets(
        segment_exports=_segment_exports_asset(gate),
        audience_contact_exports=_audience_contact_exports_asset(gate),
        serving_version=_serving_version_asset(gate),
        gate=gate,
    )
    gate.include(built.assets)
    return built
