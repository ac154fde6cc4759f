"""dbt models as Dagster assets, wired to the Python assets around them.

One ``dbt build`` per run builds every model, the CLV fit included (a dbt Python model,
models/marts/customer_value/customer_clv.py), and runs their data tests.
"""

import contextlib
import functools
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from pipelines.defs.dbt import fingerprints, test_checks
from pipelines.defs.dbt.build_config import DBT_BUILD_OP, DbtBuildConfig
from pipelines.defs.dbt.project import dbt_project, prepare_manifest
from pipelines.defs.partitions import dbt_test_rows, run_period, window_of
from pipelines.lib import clv_scoring, retention
from pipelines.lib.observe import preview_markdown
from pipelines.settings import get_settings

# The line each model's post-hook logs (macros/observability/report_table_figures.sql).
FIGURES_PREFIX = "crm_table_figures "


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


PARTIAL_PARSE = "partial_parse.msgpack"


def build_args(config: DbtBuildConfig) -> list[str]:
    """`dbt build` of the models, data tests and seeds. dbt unit tests test our SQL, not
    the night's data: `make test` runs them (tests/integration/test_dbt_unit_tests.py)."""
    args = ["build", "--exclude-resource-type", "unit_test"]
    if config.full_refresh:
        args.append("--full-refresh")
    return args


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` while dagster-dbt starts dbt (it hands dbt a copy of os.environ)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def invocation_dir(context: dg.AssetExecutionContext) -> Path:
    """A new artefact folder for one dbt invocation, under the warehouse's data directory
    (not dbt_project/target: one checkout can serve several data directories)."""
    root = get_settings().dbt_artifacts_dir
    target = root / retention.invocation_name(
        context.op_execution_context.op.name, context.run.run_id
    )
    target.mkdir(parents=True)
    # dbt parses only what changed since this warehouse's last invocation. The profile
    # (warehouse path) and vars are part of dbt's parse state, so a parse is reusable only
    # by invocations against the same data directory: keep it there.
    kept = root / PARTIAL_PARSE
    if kept.exists():
        shutil.copyfile(kept, target / PARTIAL_PARSE)
    return target


def keep_invocation(target: Path) -> None:
    """Make this invocation's parse the one the next reuses; prune the artefact folders of
    all but the newest CRM_KEEP_RUNS runs."""
    root = target.parent
    parsed = target / PARTIAL_PARSE
    if parsed.exists():
        staged = root / f".{PARTIAL_PARSE}.{target.name}"
        shutil.copyfile(parsed, staged)
        staged.replace(root / PARTIAL_PARSE)
    # Here as well as after a successful night: failed nights must not fill the disk either.
    retention.prune_dbt_invocations(root, get_settings().keep_runs)


def _dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    test_checks.require_whole_selection(context)
    target = invocation_dir(context)
    settings = get_settings()
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
    with _environment(
        {fingerprints.REBUILD_ENV: ",".join(rebuild), fingerprints.TEST_ROWS_ENV: rows}
    ):
        invocation = dbt.cli(
            build_args(config), context=context, raise_on_error=False, target_path=target
        )
    yield from with_table_figures(invocation)
    # The event stream ends when dbt closes stdout, but the process can still hold DuckDB's
    # write lock for a moment; the next step (CLV, report) would then fail to connect.
    invocation.process.wait()
    keep_invocation(target)
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
        if message.startswith(FIGURES_PREFIX):
            logged = json.loads(message.removeprefix(FIGURES_PREFIX))
            figures.setdefault(logged["unique_id"], {}).update(
                {
                    "dagster/row_count": logged["row_count"],
                    "preview": dg.MetadataValue.md(
                        preview_markdown(logged["columns"], logged["rows"])
                    ),
                }
            )
            continue
        if logged := model_metadata(raw.raw_event):
            unique_id, metadata = logged
            figures.setdefault(unique_id, {}).update(metadata)
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


def model_metadata(raw_event: Mapping[str, Any]) -> tuple[str, dict] | None:
    """(unique_id, metadata) of a line a Python model logged for its materialisation
    (e.g. the CLV fit's parameters, pipelines/lib/clv_scoring.py), else None."""
    data = raw_event.get("data") or {}
    message = data.get("base_msg")
    if not isinstance(message, str) or not message.startswith(clv_scoring.FIT_LOG_PREFIX):
        return None
    logged = json.loads(message.removeprefix(clv_scoring.FIT_LOG_PREFIX))["metadata"]
    metadata = {
        key: dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
        for key, value in logged.items()
    }
    return data["node_info"]["unique_id"], metadata


@dbt_assets(
    manifest=manifest,
    project=dbt_project,
    dagster_dbt_translator=translator,
    name=DBT_BUILD_OP,
)
def crm_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    yield from _dbt_build(context, dbt, config)
