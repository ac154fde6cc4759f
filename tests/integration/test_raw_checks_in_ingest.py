"""A raw source's checks (GE suite, row accounting, freshness) run in its ingest step: one
step per source instead of four, the checks still on the raw asset, and either part
selectable alone."""

from __future__ import annotations

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from pipelines.defs.ingest.assets import ingest_assets
from pipelines.defs.quality.checks import raw_checks
from pipelines.lib.contracts import get_contract
from pipelines.lib.quality import load_suites
from pipelines.resources import WarehouseResource
from pipelines.settings import Settings

SOURCE = "shopify_orders"


def _asset(source: str) -> dg.AssetsDefinition:
    (asset,) = [a for a in ingest_assets if a.key == dg.AssetKey(["raw", source])]
    return asset


def test_every_raw_check_is_a_check_of_its_ingest_asset():
    suites = {s.source: s.check_name for s in load_suites() if s.source}
    for asset in ingest_assets:
        source = asset.key.path[1]
        names = {key.name for key in asset.check_keys}
        assert names == {suites[source], "row_accounting", "freshness"}, source
        assert names == {c.spec.name for c in raw_checks(get_contract(source))}
        assert {key.asset_key for key in asset.check_keys} == {asset.key}


def test_the_night_evaluates_them_in_the_ingest_step(xs_warehouse: Settings):
    """In the XS run, every raw check was evaluated (and passed) in its source's step, and
    the run had no step of its own for any of them."""
    # the session run's own history, by path (DAGSTER_HOME, which Settings.dagster_home
    # prefers, may name another test's)
    home = str(xs_warehouse.data_dir / "dagster")
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(home)) as instance:
        (run,) = instance.get_runs(limit=1)
        events = instance.all_logs(run.run_id)
    evaluations = {
        (e.step_key, e.dagster_event.event_specific_data.check_name)
        for e in events
        if e.dagster_event
        and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.step_key.startswith("raw__")
    }
    expected = {(f"raw__{a.key.path[1]}", key.name) for a in ingest_assets for key in a.check_keys}
    assert evaluations == expected
    steps = {
        e.step_key
        for e in events
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_START"
    }
    assert {a.op.name for a in ingest_assets} <= steps
    own = [s for s in steps if "_ge_raw__" in s or s.endswith(("row_accounting", "freshness"))]
    assert own == []


def test_the_checks_run_alone_without_loading_anything(xs_warehouse_copy: Settings):
    """The UI's "execute checks" on a raw asset: the checks read what is loaded, nothing is
    materialised or loaded."""
    asset = _asset(SOURCE)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [asset],
            instance=instance,
            resources={"warehouse": WarehouseResource()},
            selection=dg.AssetSelection.checks_for_assets(asset),
        )
    assert result.success
    assert result.get_asset_materialization_events() == []
    evaluated = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluated == {key.name: True for key in asset.check_keys}
