"""The Dagster behaviour the export gate is built around (DECISIONLOG.md, quality gates):
a failing blocking check skips only the direct dependents of its asset. If Dagster ever
blocks transitively, this test fails and the gate's defence can be revisited."""

import dagster as dg


@dg.multi_asset(specs=[dg.AssetSpec("model_a"), dg.AssetSpec("model_b", deps=["model_a"])])
def two_models():
    # Like one `dbt build`: both models are written in one step.
    yield dg.MaterializeResult(asset_key="model_a")
    yield dg.MaterializeResult(asset_key="model_b")


@dg.asset(deps=["model_a"])
def direct_dependent() -> None:
    return None


@dg.asset(deps=["model_b"])
def indirect_dependent() -> None:
    return None


@dg.asset_check(asset="model_a", blocking=True)
def model_a_is_good() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False)


def test_a_blocking_check_skips_direct_dependents_only():
    defs = dg.Definitions(
        assets=[two_models, direct_dependent, indirect_dependent],
        asset_checks=[model_a_is_good],
        jobs=[dg.define_asset_job("all", selection=dg.AssetSelection.all())],
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("all").execute_in_process(
            instance=instance, raise_on_error=False
        )
    written = {e.asset_key.to_user_string() for e in result.all_events if e.is_step_materialization}
    assert not result.success
    assert "direct_dependent" not in written
    # The model after the checked one (same step) and what depends on it still ran.
    assert {"model_a", "model_b", "indirect_dependent"} <= written
