"""The Dagster code location loads as `dagster dev` loads it, lineage runs landing -> marts,
and the dbt docs build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.settings import PROJECT_ROOT


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
    """dbt tests are asset checks, blocking exactly when their severity is error; GE suites
    with a critical expectation and row accounting block; freshness only warns; and the
    export asset is gated by every blocking check upstream of it."""
    from pipelines.definitions import defs
    from pipelines.defs.dbt.assets import manifest as manifest_path
    from pipelines.defs.publish.assets import SEGMENT_EXPORTS, gating_checks
    from pipelines.lib.quality import load_suites

    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    graph = defs.resolve_asset_graph()
    dbt_checks = 0
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        unique_id = (spec.metadata or {}).get("dagster_dbt/unique_id")
        if unique_id:
            dbt_checks += 1
            severity = manifest["nodes"][unique_id]["config"]["severity"].lower()
            assert spec.blocking is (severity == "error"), unique_id
        elif key.name == "freshness":
            assert not spec.blocking
        elif key.name == "row_accounting":
            assert spec.blocking
    assert dbt_checks > 300
    suites = {s.check_name: s for s in load_suites()}
    for name, suite in suites.items():
        spec = graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey(list(suite.asset_key)), name))
        assert spec.blocking is suite.blocking
    gate = set(gating_checks(SEGMENT_EXPORTS))
    assert (
        dg.AssetCheckKey(dg.AssetKey(["raw", "shopify_orders"]), "ge_raw__shopify_orders") in gate
    )
    assert dg.AssetCheckKey(dg.AssetKey(["orders"]), "not_null_orders_fx_rate") in gate
    assert dg.AssetCheckKey(dg.AssetKey(["raw", "shopify_orders"]), "freshness") not in gate
