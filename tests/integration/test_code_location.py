"""The Dagster code location loads as `dagster dev` loads it, lineage runs landing -> marts,
and the dbt docs build."""

from __future__ import annotations

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
