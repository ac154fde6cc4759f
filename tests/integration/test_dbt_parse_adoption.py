"""A dbt parse made for another data directory, once adopted (pipelines/lib/dbt_invocation.py
::adopt_parse), is reused by dbt and gives the manifest the parse it came from made:
nothing this project's Jinja renders at parse time depends on the warehouse path, memory
limit or spill folder that dbt's parse state hashes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import msgpack

from pipelines.defs.dbt.project import prepare_manifest
from pipelines.lib.dbt_invocation import (
    DBT_EXECUTABLE,
    PARTIAL_PARSE,
    adopt_parse,
    dbt_environment,
    profile_checksum,
)
from pipelines.settings import DBT_PROJECT_DIR, get_settings

REPARSE = "Unable to do partial parsing"
# dbt's debug line (in dbt.log) when it starts from a saved parse, with or without changes
REUSED = "Partial parsing enabled"


def dbt_parse(env: dict[str, str], target: Path) -> str:
    """`dbt parse` into ``target`` (starting from the parse there, if any); its output."""
    done = subprocess.run(
        [
            *(str(DBT_EXECUTABLE), "parse", "--project-dir", str(DBT_PROJECT_DIR)),
            *("--profiles-dir", str(DBT_PROJECT_DIR)),
            *("--target-path", str(target), "--log-path", str(target)),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def parsed_project(target: Path) -> dict:
    """manifest.json without what differs between any two parses (when, which invocation)."""
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("metadata")
    return _without_created_at(manifest)


def _without_created_at(value):
    if isinstance(value, dict):
        return {k: _without_created_at(v) for k, v in value.items() if k != "created_at"}
    if isinstance(value, list):
        return [_without_created_at(v) for v in value]
    return value


def profile_hash(target: Path) -> str:
    """The profile hash a saved parse is stamped with."""
    state = msgpack.unpackb((target / PARTIAL_PARSE).read_bytes(), strict_map_key=False)
    return state["state_check"]["profile_hash"]["checksum"]


def test_a_parse_adopted_from_another_data_directory_is_reused_as_it_is(tmp_path: Path):
    # The checkout's parse (prepare_manifest), made for whichever data directory `make`
    # pointed at: a new warehouse's first run starts from it.
    checkout_manifest = prepare_manifest()
    checkout_parse = checkout_manifest.with_name(PARTIAL_PARSE)
    here = get_settings(
        {"CRM_DATA_DIR": str(tmp_path / "data"), "CRM_DUCKDB_MEMORY_LIMIT": "768MB"}
    )
    # dbt.log with dbt's debug lines, where it says that it reused a parse
    env = dbt_environment(here, {**os.environ, "DBT_LOG_LEVEL_FILE": "debug"})
    assert profile_checksum(env) != profile_hash(checkout_parse.parent)  # another profile

    adopted = tmp_path / "adopted"
    adopted.mkdir()
    shutil.copyfile(checkout_parse, adopted / PARTIAL_PARSE)
    assert adopt_parse(adopted / PARTIAL_PARSE, env) == "adopted"
    assert adopt_parse(adopted / PARTIAL_PARSE, env) == "kept"
    output = dbt_parse(env, adopted)
    # dbt hashes the profile it renders and parses in full when the stamp differs: it took
    # the adopted parse, so the hash computed for adoption is the one dbt computes ...
    assert REPARSE not in output, output
    assert REUSED in (adopted / "dbt.log").read_text(encoding="utf-8")
    # ... and nothing the parse renders depends on the profile: the manifest is the one
    # the checkout's parse made for another warehouse path, memory limit and spill folder.
    assert parsed_project(adopted) == parsed_project(checkout_manifest.parent)
