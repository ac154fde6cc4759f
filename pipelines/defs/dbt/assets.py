"""dbt models as Dagster assets, wired to the Python assets around them.

Two selections, because one Python asset sits inside the dbt graph: most models build
before the CLV asset (which reads int_customer_purchases_summarised), and the models
tagged ``after_clv`` read its output table. One ``dbt build`` cannot pause for it.
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from pipelines.defs.dbt.project import dbt_project, prepare_manifest
from pipelines.defs.partitions import FULL_REFRESH_TAG, window_of
from pipelines.lib.ingest import quote_ident
from pipelines.lib.observe import table_figures
from pipelines.settings import connect, get_settings

AFTER_CLV = "tag:after_clv"


class CrmDbtTranslator(DagsterDbtTranslator):
    """Sources map to the Python assets that fill them: raw.<table> is the ingest asset
    ["raw", <table>]; any other source names its asset in ``meta.dagster.asset_key``. So
    the lineage graph runs from landing file to mart without a gap."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            declared = (dbt_resource_props.get("meta") or {}).get("dagster", {}).get("asset_key")
            if declared:
                return dg.AssetKey(declared)
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        layer = fqn[1] if len(fqn) > 2 else None
        return layer if layer in ("staging", "intermediate", "marts") else "reference"


translator = CrmDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
manifest = prepare_manifest()


def build_args(context: dg.AssetExecutionContext) -> list[str]:
    """`dbt build`, with the run's landing-date range as the incremental facts' window."""
    args = ["build"]
    window = window_of(context)
    if window is not None:
        window_vars = {"window_start": window[0].isoformat(), "window_end": window[1].isoformat()}
        args += ["--vars", json.dumps(window_vars)]
    if context.run.tags.get(FULL_REFRESH_TAG) == "true":
        args.append("--full-refresh")
    return args


def _dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    invocation = dbt.cli(build_args(context), context=context, raise_on_error=False)
    # Held back until dbt exits: dbt owns DuckDB's write lock while it runs, so row counts
    # and previews (and the next step: CLV, report) can only read the file afterwards.
    # dagster-dbt's own fetch_row_counts() queries while dbt runs and would hit the lock.
    events = list(invocation.stream())
    invocation.process.wait()
    yield from with_table_figures(events, get_settings(), context.log)
    if not invocation.is_successful():
        # dagster-dbt's own error says only "exit code 1"; name the failing tests and show
        # the rows they found, as the GE checks do.
        try:
            results = invocation.get_artifact("run_results.json")
        except FileNotFoundError:  # dbt stopped before running anything (e.g. parse error)
            raise dg.Failure(
                description=f"dbt build failed before running any node: {invocation.get_error()}"
            ) from None
        raise dg.Failure(description=describe_dbt_failures(results, get_settings()))


def with_table_figures(events: list, settings, log) -> list:
    """dagster-dbt's model outputs with the table's row count and preview added."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    enriched = []
    with connect(settings, read_only=True) as con:
        for event in events:
            unique_id = getattr(event, "metadata", {}).get("unique_id")
            node = nodes.get(unique_id.value) if unique_id is not None else None
            if isinstance(event, dg.Output | dg.AssetMaterialization) and node:
                # Schema and alias only: the catalog name in the manifest is the file name
                # dbt parsed with, not necessarily this run's DUCKDB_PATH.
                relation = f"{quote_ident(node['schema'])}.{quote_ident(node['alias'])}"
                try:
                    figures = table_figures(con, relation)
                    event = event.with_metadata({**event.metadata, **figures})
                except duckdb.Error as exc:  # the figures are a courtesy; the build stands
                    log.warning(f"no row count for {relation}: {exc}")
            enriched.append(event)
    return enriched


def describe_dbt_failures(run_results: dict, settings) -> str:
    failed = [r for r in run_results.get("results", []) if r.get("status") in ("fail", "error")]
    lines = [f"dbt build failed: {len(failed)} node(s) failed or errored"]
    for r in failed[:10]:
        unique_id = r.get("unique_id", "")
        lines.append(f"  {r.get('status')}: {unique_id}: {(r.get('message') or '').strip()}")
        code = r.get("compiled_code")
        if unique_id.startswith("test.") and code:
            lines += [f"      e.g. {row}" for row in _sample_failing_rows(code, settings)]
    return "\n".join(lines)


def _sample_failing_rows(compiled_sql: str, settings, limit: int = 5) -> list[dict]:
    """A few of the rows a failed dbt test selected (the compiled test is a query)."""
    try:
        with connect(settings, read_only=True) as con:
            cursor = con.execute(f"select * from ({compiled_sql}) as failing limit {limit}")
            names = [d[0] for d in cursor.description]
            return [
                dict(zip(names, (str(v) for v in row), strict=True)) for row in cursor.fetchall()
            ]
    except duckdb.Error as exc:  # the sample is a courtesy; the failure stands without it
        return [{"sample_unavailable": str(exc).splitlines()[0]}]


@dbt_assets(
    manifest=manifest,
    project=dbt_project,
    dagster_dbt_translator=translator,
    exclude=AFTER_CLV,
    name="crm_dbt_models",
)
def crm_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _dbt_build(context, dbt)


@dbt_assets(
    manifest=manifest,
    project=dbt_project,
    dagster_dbt_translator=translator,
    select=AFTER_CLV,
    name="crm_dbt_models_after_clv",
)
def crm_dbt_models_after_clv(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _dbt_build(context, dbt)
