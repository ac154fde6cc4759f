"""The Dagster code location loads as `dagster dev` loads it, lineage runs landing -> marts,
and the dbt docs build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.settings import PROJECT_ROOT
from tests.conftest import point_at


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def test_workspace_validates(data_dir: Path):
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [_bin("dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dbt_sources_hang_off_the_ingest_assets():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    stg = dg.AssetKey(["stg_shopify__orders"])
    assert dg.AssetKey(["raw", "shopify_orders"]) in graph.get(stg).parent_keys
    # every raw source feeds at least one staging model
    for key in graph.get_all_asset_keys():
        if key.path[0] == "raw":
            assert graph.get(key).child_keys, key
    # and the marts reach back to landing through them
    upstream = graph.upstream_key_iterator(dg.AssetKey(["orders"]))
    assert dg.AssetKey(["raw", "tmall_orders"]) in set(upstream)
    # Every key is an asset of the location: a dependency on a key nothing defines (a
    # misspelt model name) would appear as a stub that cannot be materialised.
    stubs = [k for k in graph.get_all_asset_keys() if not graph.get(k).is_materializable]
    assert stubs == []
    report = graph.get(dg.AssetKey(["customer_report"])).parent_keys
    assert dg.AssetKey(["customer_clv"]) in report


def test_every_model_states_its_grain():
    import json

    from pipelines.defs.dbt.project import prepare_manifest

    manifest = json.loads(prepare_manifest().read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert models
    for node in models:
        assert node["description"].startswith("One row per"), node["name"]


def test_singular_tests_with_several_parents_name_their_asset():
    """Otherwise dagster-dbt logs them as observations, not asset checks (and warns)."""
    import json

    from pipelines.defs.dbt.project import prepare_manifest

    manifest = json.loads(prepare_manifest().read_text())
    singular = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and not n.get("test_metadata")
    ]
    assert singular
    for node in singular:
        if len(set(node["depends_on"]["nodes"])) > 1:
            assert node["config"]["meta"].get("dagster", {}).get("ref"), node["name"]


def test_checks_block_by_severity_and_gate_the_exports():
    """Each tested dbt model has one asset check, dbt_tests, naming every test attached to
    it and blocking exactly when one of them has severity error; GE suites with a critical
    expectation and row accounting block; freshness only warns; and the export asset is
    gated by every blocking check upstream of it."""
    from pipelines.definitions import defs, publish
    from pipelines.defs.dbt.assets import manifest as manifest_path
    from pipelines.defs.publish.assets import SEGMENT_EXPORTS
    from pipelines.lib.quality import load_suites

    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    # The model each test is attached to, read from the manifest: a generic test's
    # attached_node, a singular test's only parent or its meta ref.
    models = {
        n["name"]: uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"
    }
    severities: dict[str, dict[str, str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        ref = node["config"]["meta"].get("dagster", {}).get("ref", {}).get("name")
        parents = set(node["depends_on"]["nodes"])
        attached = node.get("attached_node") or (models[ref] if ref else parents.pop())
        model = manifest["nodes"][attached]["name"]
        severities.setdefault(model, {})[node["name"]] = node["config"]["severity"].lower()
    graph = defs.resolve_asset_graph()
    dbt_checks = {}
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        if key.name == "dbt_tests":
            dbt_checks[key.asset_key.to_user_string()] = spec
        elif key.name == "freshness":
            assert not spec.blocking
        elif key.name == "row_accounting":
            assert spec.blocking
    assert set(dbt_checks) == set(severities)
    for model, spec in dbt_checks.items():
        named = spec.metadata["dbt tests"]
        assert sorted(getattr(named, "value", named)) == sorted(severities[model]), model
        assert spec.blocking is ("error" in severities[model].values()), model
    suites = {s.check_name: s for s in load_suites()}
    for name, suite in suites.items():
        spec = graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey(list(suite.asset_key)), name))
        assert spec.blocking is suite.blocking
    gate = set(publish.gate.checks(SEGMENT_EXPORTS))
    # The graph handed to the gate is the code location's, for every publishing asset.
    for asset in publish.assets:
        ancestors = graph.get_ancestor_asset_keys(asset.key)
        blocking = {
            key
            for key in graph.asset_check_keys
            if key.asset_key in ancestors and graph.get_check_spec(key).blocking
        }
        assert set(publish.gate.checks(asset.key)) == blocking, asset.key
        assert len(blocking) > 50, asset.key
    assert (
        dg.AssetCheckKey(dg.AssetKey(["raw", "shopify_orders"]), "ge_raw__shopify_orders") in gate
    )
    assert dg.AssetCheckKey(dg.AssetKey(["orders"]), "dbt_tests") in gate
    assert dg.AssetCheckKey(dg.AssetKey(["raw", "shopify_orders"]), "freshness") not in gate


def test_the_dbt_resource_knows_the_dbt_it_starts_without_asking_it():
    """WarehouseDbtResource skips dagster-dbt's `dbt --version` probe (3 s a step): the
    version it reports instead must be the executable's own."""
    import re
    import subprocess

    from pipelines.definitions import defs
    from pipelines.resources import WarehouseDbtResource

    dbt = defs.resources["dbt"]
    assert isinstance(dbt, WarehouseDbtResource)
    printed = subprocess.run(
        [dbt.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    (core,) = re.findall(r"Core:\s*\n\s*- installed:\s*(\d+\.\d+\.\d+)", printed)
    assert str(dbt._cli_version) == core
    assert dbt._cli_version.major < 2  # dbt Core, not Fusion: dagster-dbt's event parsing


@pytest.mark.parametrize("leaves", ["the check", "the model"])
def test_a_dbt_model_and_its_dbt_tests_check_run_together_or_not_at_all(
    leaves, tmp_path, monkeypatch
):
    """dagster-dbt would select a check's dbt tests through one test id; a model's check
    holds all its tests, so a run selecting one without the other stops before dbt starts,
    naming the pair."""
    # an empty warehouse of its own, should dbt ever start
    point_at(monkeypatch, tmp_path / "data")
    from pipelines.defs.dbt.assets import crm_dbt_models
    from pipelines.defs.dbt.project import dbt_project
    from pipelines.resources import WarehouseDbtResource

    orders = dg.AssetKey(["orders"])
    check = dg.AssetCheckKey(orders, "dbt_tests")
    selection = (
        dg.AssetSelection.assets(orders).without_checks()
        if leaves == "the check"
        else dg.AssetSelection.checks(check)
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [crm_dbt_models],
            selection=selection,
            instance=instance,
            resources={"dbt": WarehouseDbtResource(project_dir=dbt_project)},
            raise_on_error=False,
        )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.event_specific_data.error.message
    assert "dbt tests run with their model" in message and "orders:dbt_tests" in message
    assert not [e for e in result.all_events if e.is_step_materialization]
