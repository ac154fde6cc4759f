"""How a run asks the dbt step for a full rebuild: typed run config of the dbt op, which the
Dagster UI's launchpad shows and validates, instead of a free-form run tag."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field

# The op of the dbt assets (@dbt_assets(name=...) in defs/dbt/assets.py).
DBT_BUILD_OP = "crm_dbt_models"


class DbtBuildConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="Rebuild every incremental model from all its history (`dbt build "
        "--full-refresh`); the dbt tests and the checks then read every row.",
    )


def build_run_config(full_refresh: bool) -> dict[str, Any]:
    """The run config that sets the dbt step's options."""
    return {"ops": {DBT_BUILD_OP: {"config": DbtBuildConfig(full_refresh=full_refresh).dict()}}}


def full_refresh_of_run(run: dg.DagsterRun) -> bool:
    """Whether ``run`` rebuilds in full, for the steps beside the dbt step (the checks
    follow the dbt tests: every row after a full rebuild)."""
    ops: Mapping[str, Any] = (run.run_config or {}).get("ops") or {}
    return DbtBuildConfig(**(ops.get(DBT_BUILD_OP, {}).get("config") or {})).full_refresh
