"""The machinery of one dbt build, without Dagster or dbt (pipelines/lib/dbt_invocation.py):
the artefact folder and the parse it reuses, and the figures read back from dbt's log."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipelines.lib import dbt_invocation
from pipelines.lib.dbt_invocation import FIT_LOG_PREFIX, PARTIAL_PARSE


def test_an_invocation_starts_from_the_parse_the_last_one_kept(tmp_path: Path):
    first = dbt_invocation.new_invocation_dir(tmp_path, "crm_dbt_models", "a" * 36)
    assert first.parent == tmp_path and first.name.startswith("crm_dbt_models-aaaaaaaa-")
    assert not (first / PARTIAL_PARSE).exists()  # nothing kept yet: dbt parses in full
    (first / PARTIAL_PARSE).write_bytes(b"parse of run a")
    dbt_invocation.keep_invocation(first, keep_runs=5)
    assert (tmp_path / PARTIAL_PARSE).read_bytes() == b"parse of run a"

    second = dbt_invocation.new_invocation_dir(tmp_path, "crm_dbt_models", "b" * 36)
    assert (second / PARTIAL_PARSE).read_bytes() == b"parse of run a"
    # an invocation that wrote no parse (dbt stopped early) leaves the kept one alone
    dbt_invocation.keep_invocation(second, keep_runs=5)
    assert (tmp_path / PARTIAL_PARSE).read_bytes() == b"parse of run a"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staged leftovers


def test_a_new_data_directory_starts_from_the_checkouts_parse(tmp_path: Path):
    checkout = tmp_path / "checkout_target" / PARTIAL_PARSE
    checkout.parent.mkdir()
    checkout.write_bytes(b"parse of the checkout")
    artifacts = tmp_path / "data" / "dbt"
    first = dbt_invocation.new_invocation_dir(artifacts, "crm_dbt_models", "a" * 36, checkout)
    assert (first / PARTIAL_PARSE).read_bytes() == b"parse of the checkout"
    (first / PARTIAL_PARSE).write_bytes(b"parse of run a")
    dbt_invocation.keep_invocation(first, keep_runs=5)
    # once this data directory kept a parse, that one is the start
    second = dbt_invocation.new_invocation_dir(artifacts, "crm_dbt_models", "b" * 36, checkout)
    assert (second / PARTIAL_PARSE).read_bytes() == b"parse of run a"
    missing = tmp_path / "none" / PARTIAL_PARSE  # a checkout never parsed: dbt parses in full
    third = dbt_invocation.new_invocation_dir(tmp_path / "new", "crm_dbt_models", "c" * 36, missing)
    assert not (third / PARTIAL_PARSE).exists()


def test_a_parse_made_for_another_profile_is_restamped_for_this_one(tmp_path: Path):
    """Only the profile's hash changes (tests/integration/test_dbt_parse_adoption.py shows
    dbt then reuses the parse and that its manifest is the original's)."""
    import msgpack

    from pipelines.settings import get_settings

    def env_of(folder: str) -> dict[str, str]:
        settings = get_settings({"CRM_DATA_DIR": str(tmp_path / folder)})
        return dbt_invocation.dbt_environment(settings, {"PATH": "/usr/bin"})

    parse = tmp_path / PARTIAL_PARSE
    assert dbt_invocation.adopt_parse(parse, env_of("a")) == "absent"
    made_elsewhere = {
        "metadata": {"adapter_type": "duckdb"},
        "nodes": {"model.crm_warehouse.orders": {"raw_code": "select 1"}},
        "state_check": {
            "vars_hash": {"name": "sha256", "checksum": "v"},
            "profile_hash": {"name": "sha256", "checksum": "of another data directory"},
        },
    }
    parse.write_bytes(msgpack.packb(made_elsewhere))
    assert dbt_invocation.adopt_parse(parse, env_of("a")) == "adopted"
    adopted = msgpack.unpackb(parse.read_bytes())
    checksum_a = dbt_invocation.profile_checksum(env_of("a"))
    assert adopted["state_check"]["profile_hash"] == {"name": "sha256", "checksum": checksum_a}
    made_elsewhere["state_check"]["profile_hash"] = adopted["state_check"]["profile_hash"]
    assert adopted == made_elsewhere  # nothing else changed
    assert dbt_invocation.adopt_parse(parse, env_of("a")) == "kept"
    # another warehouse file is another profile
    assert dbt_invocation.profile_checksum(env_of("b")) != checksum_a
    assert dbt_invocation.adopt_parse(parse, env_of("b")) == "adopted"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staged leftovers
    # a parse for another adapter (a Spark run's) is never passed off as DuckDB's
    made_elsewhere["metadata"]["adapter_type"] = "spark"
    parse.write_bytes(msgpack.packb(made_elsewhere))
    assert dbt_invocation.adopt_parse(parse, env_of("a")) == "other adapter"
    assert msgpack.unpackb(parse.read_bytes()) == made_elsewhere


def test_keeping_an_invocation_prunes_the_folders_of_older_runs(tmp_path: Path):
    folders = []
    for i, run in enumerate(("a", "b", "c")):
        folder = dbt_invocation.new_invocation_dir(tmp_path, "crm_dbt_models", run * 36)
        os.utime(folder, (1_000_000 + i, 1_000_000 + i))
        folders.append(folder)
    dbt_invocation.keep_invocation(folders[-1], keep_runs=2)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted(
        f.name for f in folders[1:]
    )


def test_a_post_hook_line_gives_the_table_figures():
    line = dbt_invocation.FIGURES_PREFIX + json.dumps(
        {
            "unique_id": "model.crm_warehouse.orders",
            "row_count": 3,
            "columns": ["order_id", "net_amount"],
            "rows": [["o1", "1.00"]],
        }
    )
    assert dbt_invocation.table_figures(line) == dbt_invocation.TableFigures(
        unique_id="model.crm_warehouse.orders",
        row_count=3,
        columns=["order_id", "net_amount"],
        rows=[["o1", "1.00"]],
    )
    assert dbt_invocation.table_figures("1 of 66 OK created sql table model marts.orders") is None


def test_a_python_model_line_gives_its_metadata():
    event = {
        "data": {
            "base_msg": FIT_LOG_PREFIX + json.dumps({"metadata": {"r": 0.24, "fit": {"n": 2}}}),
            "node_info": {"unique_id": "model.crm_warehouse.customer_clv"},
        }
    }
    assert dbt_invocation.model_metadata(event) == (
        "model.crm_warehouse.customer_clv",
        {"r": 0.24, "fit": {"n": 2}},
    )
    assert dbt_invocation.model_metadata({"data": {"base_msg": "Running with dbt"}}) is None
    assert dbt_invocation.model_metadata({"info": {"msg": "no data"}}) is None


def test_dbt_gets_the_settings_as_its_own_environment(tmp_path: Path):
    from pipelines.settings import get_settings

    settings = get_settings({"CRM_DATA_DIR": str(tmp_path)})
    base = {"PATH": "/usr/bin", "DBT_INDIRECT_SELECTION": "cautious", "DUCKDB_PATH": "/old"}
    env = dbt_invocation.dbt_environment(settings, base, CRM_REBUILD_MODELS="orders")
    # the caller's variables pass through, the settings win over them, the run's come last
    assert env["DBT_INDIRECT_SELECTION"] == "cautious"
    assert env["DUCKDB_PATH"] == str(tmp_path / "warehouse.duckdb")
    assert env["CRM_REBUILD_MODELS"] == "orders"
    assert {k: env[k] for k in settings.env()} == settings.env()
    # the locked dbt's folder first on PATH, once
    bin_dir = str(dbt_invocation.DBT_EXECUTABLE.parent)
    assert env["PATH"] == f"{bin_dir}{os.pathsep}/usr/bin"
    assert dbt_invocation.dbt_environment(settings, env)["PATH"] == env["PATH"]
    assert base == {"PATH": "/usr/bin", "DBT_INDIRECT_SELECTION": "cautious", "DUCKDB_PATH": "/old"}
    # dbt.log at info, unless the caller asks for dbt's debug lines
    assert env["DBT_LOG_LEVEL_FILE"] == "info"
    asked = dbt_invocation.dbt_environment(settings, {**base, "DBT_LOG_LEVEL_FILE": "debug"})
    assert asked["DBT_LOG_LEVEL_FILE"] == "debug"


def test_a_dbt_command_writes_where_dbt_resolves_its_target_path():
    from pipelines.settings import DBT_PROJECT_DIR

    target_dir = dbt_invocation.target_dir
    assert target_dir(["docs", "generate", "--target-path", "/x/y"], {}) == Path("/x/y")
    assert target_dir(["docs", "generate", "--target-path=out"], {}) == DBT_PROJECT_DIR / "out"
    assert target_dir(["build"], {"DBT_TARGET_PATH": "/e"}) == Path("/e")
    assert target_dir(["build", "--target-path", "/a"], {"DBT_TARGET_PATH": "/e"}) == Path("/a")
    # the project's target-path (dbt_project.yml), where prepare_manifest parses
    assert target_dir(["build"], {}) == DBT_PROJECT_DIR / "target"
    assert dbt_invocation.checkout_parse() == DBT_PROJECT_DIR / "target" / PARTIAL_PARSE
    # the option parsing spark_target shares: both spellings, the last one counts
    option = dbt_invocation.option_value
    assert option(["build", "-t", "spark", "--target=ci"], "--target", "-t") == "ci"
    assert option(["build", "--target", "spark"], "--target", "-t") == "spark"
    assert option(["build", "--target"], "--target", "-t") is None  # no value given
    assert option(["build", "-t=spark"], "--target", "-t") is None  # not a spelling dbt reads


def test_a_dbt_command_starts_from_its_own_parse_else_a_copy_of_the_given_one(tmp_path: Path):
    import msgpack

    from pipelines.settings import get_settings

    env = dbt_invocation.dbt_environment(
        get_settings({"CRM_DATA_DIR": str(tmp_path / "data")}), {"PATH": "/usr/bin"}
    )
    made_elsewhere = {
        "metadata": {"adapter_type": "duckdb"},
        "state_check": {"profile_hash": {"name": "sha256", "checksum": "elsewhere"}},
    }
    checkout = tmp_path / "checkout" / PARTIAL_PARSE
    checkout.parent.mkdir()
    checkout.write_bytes(msgpack.packb(made_elsewhere))
    start = dbt_invocation.start_from_parse

    assert start(tmp_path / "docs", env, checkout) == "adopted"  # copied, then re-stamped
    assert msgpack.unpackb(checkout.read_bytes()) == made_elsewhere  # the original untouched
    assert start(tmp_path / "docs", env, checkout) == "kept"  # its own parse, already valid
    assert start(tmp_path / "new", env, tmp_path / "none" / PARTIAL_PARSE) == "absent"
    assert not (tmp_path / "new").exists()  # nothing to start from: dbt parses in full
