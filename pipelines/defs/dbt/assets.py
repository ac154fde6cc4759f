"""dbt models as Dagster assets, wired to the Python assets around them.

One ``dbt build`` per run builds every model, the CLV fit included (a dbt Python model,
models/marts/customer_value/customer_clv.py), and runs their data tests.
"""

import functools
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from pipelines.defs.dbt import fingerprints, test_checks
from pipelines.defs.dbt.build_config import DBT_BUILD_OP, DbtBuildConfig
from pipelines.defs.dbt.project import dbt_project, prepare_manifest
from pipelines.defs.partitions import dbt_test_rows, run_period, window_of
from pipelines.lib import dbt_invocation
from pipelines.lib.observe import preview_markdown
from pipelines.resources import WarehouseDbtResource
from pipelines.settings import get_settings


class CrmDbtTranslator(DagsterDbtTranslator):
    """Sources map to the Python assets that fill them: a source table is the asset
    [schema, identifier] (``source('shopify', 'orders')`` is the ingest asset
    ``raw/shopify_orders``, the table it reads). So the lineage graph runs from landing
    file to mart without a gap, one dbt source per system."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["identifier"]])
        return dg.AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        layer = fqn[1] if len(fqn) > 2 else None
        return layer if layer in ("staging", "intermediate", "marts") else "reference"

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """Every test of a model maps to the model's one ``dbt_tests`` check
        (defs/dbt/test_checks.py); dagster-dbt keeps one spec per check key."""
        tests = self.tests_by_asset(manifest, project).get(asset_spec.key, [])
        if not any(t.unique_id == unique_id for t in tests):
            return None
        return test_checks.summary_spec(asset_spec.key, tests)

    def tests_by_asset(self, manifest, project) -> dict[dg.AssetKey, list[test_checks.ModelTest]]:
        # Indexed once per manifest: dagster-dbt asks for a spec once per test.
        cached = getattr(self, "_tests_by_asset", None)
        if cached is None or cached[0] is not manifest:
            cached = (manifest, test_checks.tests_by_asset(manifest, self, project))
            self._tests_by_asset = cached
        return cached[1]


translator = CrmDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
manifest = prepare_manifest()


def _dbt_build(
    context: dg.AssetExecutionContext, dbt: WarehouseDbtResource, config: DbtBuildConfig
):
    test_checks.require_whole_selection(context)
    settings = get_settings()
    target = dbt_invocation.new_invocation_dir(
        settings.dbt_artifacts_dir,
        context.op_execution_context.op.name,
        context.run.run_id,
        first_parse=dbt_invocation.checkout_parse(),
    )
    window = window_of(context)
    wanted, rebuild = fingerprints.rebuild_request(settings, manifest, run_period(settings, window))
    if rebuild:
        context.log.info(
            "building in full (what they read changed since their last build, or the week "
            "of a weekly mart): " + ", ".join(rebuild)
        )
    rows = dbt_test_rows(window, config.full_refresh)
    if rows == "night":
        context.log.info("dbt tests of the models kept by key read the rows this run writes")
    # What the macros read this night (models to rebuild, rows to test) goes to this dbt
    # process only.
    env = dbt_invocation.dbt_environment(
        settings,
        os.environ,
        **{fingerprints.REBUILD_ENV: ",".join(rebuild), fingerprints.TEST_ROWS_ENV: rows},
    )
    try:
        dbt_invocation.adopt_parse(target / dbt_invocation.PARTIAL_PARSE, env)
    except Exception as exc:  # only time is at stake: dbt then parses the project in full
        context.log.warning(f"dbt parses the whole project: its last parse is unusable ({exc!r})")
    invocation = dbt.cli(
        dbt_invocation.build_args(config.full_refresh),
        env=env,
        context=context,
        raise_on_error=False,
        target_path=target,
    )
    yield from with_table_figures(invocation)
    # The event stream ends when dbt closes stdout, but the process can still hold DuckDB's
    # write lock for a moment; the next step (CLV, report) would then fail to connect.
    invocation.process.wait()
    dbt_invocation.keep_invocation(target, settings.keep_runs)
    try:
        results = invocation.get_artifact("run_results.json")
    except FileNotFoundError:  # dbt stopped before running anything (e.g. parse error)
        raise dg.Failure(
            description=f"dbt build failed before running any node: {invocation.get_error()}"
        ) from None
    fingerprints.record_build(settings, wanted, results)

    @functools.cache  # the check and the step's failure show the same rows: read once
    def sample(compiled_sql: str) -> list[dict]:
        return test_checks.failing_rows(settings, compiled_sql)

    tests = translator.tests_by_asset(invocation.manifest, dbt_project)
    yield from test_checks.summary_results(
        results, tests, context.selected_asset_check_keys, sample
    )
    if not invocation.is_successful():
        raise dg.Failure(description=test_checks.describe_failures(results, sample))


def with_table_figures(invocation):
    """dagster-dbt's events as they come, each model's output with the row count and
    preview its post-hook logged (dbt holds DuckDB's write lock while it runs, so only dbt
    itself can read the table then: macros/observability/report_table_figures.sql). Test
    results are left out: they reach Dagster as one check per model once dbt has exited."""
    figures: dict[str, dict] = {}
    for raw in invocation.stream_raw_events():
        message = raw.raw_event.get("info", {}).get("msg", "")
        if table := dbt_invocation.table_figures(message):
            figures.setdefault(table.unique_id, {}).update(
                {
                    "dagster/row_count": table.row_count,
                    "preview": dg.MetadataValue.md(preview_markdown(table.columns, table.rows)),
                }
            )
            continue
        if logged := dbt_invocation.model_metadata(raw.raw_event):
            unique_id, values = logged
            figures.setdefault(unique_id, {}).update(
                {
                    key: dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
                    for key, value in values.items()
                }
            )
            continue
        if test_checks.is_test_result(raw.raw_event):
            continue
        for event in raw.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=invocation.context,
            target_path=invocation.target_path,
            project=invocation.project,
        ):
            unique_id = getattr(event, "metadata", {}).get("unique_id")
            extra = figures.get(unique_id.value) if unique_id is not None else None
            if extra and isinstance(event, dg.Output | dg.AssetMaterialization):
                event = event.with_metadata({**event.metadata, **extra})
            yield event


@dbt_assets(
    manifest=manifest,
    project=dbt_project,
    dagster_dbt_translator=translator,
    name=DBT_BUILD_OP,
)
def crm_dbt_models(
    context: dg.AssetExecutionContext, dbt: WarehouseDbtResource, config: DbtBuildConfig
):
    yield from _dbt_build(context, dbt, config)
