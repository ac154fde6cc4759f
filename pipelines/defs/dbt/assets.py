"""dbt models as Dagster assets, wired to the ingest assets that fill their sources."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from pipelines.defs.dbt.project import dbt_project, prepare_manifest


class CrmDbtTranslator(DagsterDbtTranslator):
    """dbt source raw.<table> is the asset ["raw", <table>] made by the ingest factory, so
    the lineage graph runs from landing file to mart without a gap."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        layer = fqn[1] if len(fqn) > 2 else None
        return layer if layer in ("staging", "intermediate", "marts") else "reference"


translator = CrmDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(manifest=prepare_manifest(), project=dbt_project, dagster_dbt_translator=translator)
def crm_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()
