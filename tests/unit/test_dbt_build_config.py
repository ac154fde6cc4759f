"""A full rebuild is the dbt step's typed run config (pipelines/defs/dbt/build_config.py):
the warehouse job accepts it, refuses what is not a boolean, and the dbt step turns it into
`dbt build --full-refresh`."""

import dagster as dg
import pytest

from pipelines.defs.dbt.build_config import DbtBuildConfig, build_run_config


def test_the_dbt_step_builds_in_full_only_when_asked():
    from pipelines.lib.dbt_invocation import build_args

    assert DbtBuildConfig().full_refresh is False
    assert build_args(DbtBuildConfig(full_refresh=True).full_refresh) == [
        "build",
        "--exclude-resource-type",
        "unit_test",
        "--full-refresh",
    ]
    assert build_args(DbtBuildConfig().full_refresh) == [
        "build",
        "--exclude-resource-type",
        "unit_test",
    ]


def test_the_warehouse_job_validates_the_config():
    from pipelines.definitions import defs

    job = defs.resolve_job_def("warehouse")
    for full_refresh in (True, False):
        assert dg.validate_run_config(job, build_run_config(full_refresh))
    with pytest.raises(dg.DagsterInvalidConfigError, match="full_refresh"):
        dg.validate_run_config(
            job, {"ops": {"crm_dbt_models": {"config": {"full_refresh": "sometimes"}}}}
        )
