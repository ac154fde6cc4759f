"""Which incremental models must build in full because what they read has changed.

An incremental model keeps the rows of earlier nights. They were computed with that
night's SQL, seeds and vars; when any of them changes (a blocklist entry, an RFM rule, an
identity var, the model's SQL or an upstream model's), only a full build brings the rows
no delivery touches up to date. So each incremental model has a fingerprint of everything
it reads except data: its SQL and config, the macros it calls (transitively), the values of
the vars and environment variables those name, and the fingerprints of its parent models
and seeds. The fingerprint of its last successful build is stored in the warehouse
(``build_state.model_fingerprints``); a model whose fingerprint differs, or that has none,
is named in ``CRM_REBUILD_MODELS`` for dbt (macros/incremental/should_full_refresh.sql),
and its new fingerprint is stored once dbt reports it built. A crash between the two
rebuilds it once more: a rebuild is never wrong, only slower.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import duckdb

from pipelines.lib.dbt_project_file import project_vars
from pipelines.lib.warehouse import connect
from pipelines.settings import Settings

REBUILD_ENV = "CRM_REBUILD_MODELS"
# Models tagged so are as-of marts kept a week (docs/incremental.md, "Marts on a weekly
# cadence"): the period of the run is part of their fingerprint, so the first run of a
# new period rebuilds them and every other run leaves them as they are.
WEEKLY_TAG = "weekly"
# which rows the dbt tests of the models kept by key read (pipelines/defs/dbt/assets.py)
TEST_ROWS_ENV = "CRM_DBT_TEST_ROWS"
STATE_TABLE = "build_state.model_fingerprints"
# Vars and environment variables that say how or where a run goes, not what a model
# computes: what previews mask, which folders DuckDB may read, where the portable copy is,
# which rows the tests read.
# Part of a fingerprint they would rebuild everything every night.
RUN_TIME_VARS = frozenset({"personal_column_patterns"})
RUN_TIME_ENV = frozenset(
    {"CRM_ALLOWED_DIRECTORIES", "CRM_PORTABLE_DIR", TEST_ROWS_ENV, REBUILD_ENV}
)
_VAR = re.compile(r"""\bvar\(\s*['"]([A-Za-z0-9_]+)['"]""")
_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\(")
_ENV = re.compile(r"""\benv_var\(\s*['"]([A-Za-z0-9_]+)['"]""")


def model_fingerprints(
    manifest: Mapping,
    variables: Mapping,
    environ: Mapping[str, str] | None = None,
    period: str | None = None,
) -> dict[str, str]:
    """Fingerprint of every incremental model, by model name; `period` (the run's week,
    pipelines/defs/partitions.py::cadence_period) is part of the weekly models' only."""
    environ = os.environ if environ is None else environ
    nodes, macros = manifest["nodes"], manifest["macros"]

    @cache
    def macro_closure(unique_id: str) -> frozenset[str]:
        found = {unique_id}
        for called in (macros.get(unique_id) or {}).get("depends_on", {}).get("macros", []):
            found |= macro_closure(called)
        return frozenset(found)

    # A model's depends_on.macros is recorded as dbt renders it, so it depends on the branch
    # taken (a macro called only under is_incremental() appears once a run took that
    # path, in the manifest that run wrote). Macros named in the SQL count as well.
    by_name = {m["name"]: uid for uid, m in macros.items() if m.get("package_name") != "dbt"}

    @cache
    def fingerprint(unique_id: str) -> str:
        node = nodes[unique_id]
        named = {by_name[n] for n in _CALL.findall(node.get("raw_code") or "") if n in by_name}
        called = set()
        for macro in {*node.get("depends_on", {}).get("macros", []), *named}:
            called |= macro_closure(macro)
        texts = [node.get("raw_code") or ""] + [
            macros[m].get("macro_sql") or "" for m in sorted(called) if m in macros
        ]
        var_names = sorted({n for t in texts for n in _VAR.findall(t)} - RUN_TIME_VARS)
        env_names = sorted({n for t in texts for n in _ENV.findall(t)} - RUN_TIME_ENV)
        parents = [
            fingerprint(p) for p in node.get("depends_on", {}).get("nodes", []) if p in nodes
        ]
        content = {
            "checksum": node.get("checksum", {}).get("checksum"),
            "config": _semantic_config(node.get("config") or {}),
            "macros": [hashlib.sha256(t.encode()).hexdigest() for t in texts[1:]],
            "vars": {n: variables.get(n) for n in var_names},
            "env": {n: environ.get(n) for n in env_names},
            "parents": sorted(parents),
        }
        if WEEKLY_TAG in (node.get("config") or {}).get("tags", []):
            content["period"] = period
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()

    # full_refresh=false: a history only this warehouse holds (the identity assignments
    # and merges) that a rebuild would wipe; it is never rebuilt, so it has no fingerprint
    return {
        node["name"]: fingerprint(unique_id)[:16]
        for unique_id, node in nodes.items()
        if node.get("resource_type") == "model"
        and (node.get("config") or {}).get("materialized") == "incremental"
        and (node.get("config") or {}).get("full_refresh") is not False
    }


def _semantic_config(config: Mapping) -> dict:
    """The config keys that change what a model holds (not tags, docs or hooks' text)."""
    keys = ("materialized", "unique_key", "incremental_strategy", "on_schema_change")
    return {k: config.get(k) for k in keys}


def stored_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    exists = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'build_state' "
        "and table_name = 'model_fingerprints' and database_name = current_database()"
    ).fetchone()[0]
    if not exists:
        return {}
    return dict(con.execute(f"select model, fingerprint from {STATE_TABLE}").fetchall())


def models_to_rebuild(wanted: Mapping[str, str], stored: Mapping[str, str]) -> list[str]:
    """Incremental models whose stored fingerprint is missing or differs."""
    return sorted(name for name, fp in wanted.items() if stored.get(name) != fp)


def record_fingerprints(
    con: duckdb.DuckDBPyConnection, wanted: Mapping[str, str], built: Iterable[str]
) -> None:
    """Store the fingerprints of the models dbt reports built."""
    rows = [(name, wanted[name]) for name in built if name in wanted]
    con.execute("create schema if not exists build_state")
    con.execute(
        f"create table if not exists {STATE_TABLE} "
        "(model varchar primary key, fingerprint varchar not null, built_at timestamptz)"
    )
    if rows:
        con.executemany(
            f"insert or replace into {STATE_TABLE} values (?, ?, current_timestamp)", rows
        )


def built_models(run_results: Mapping) -> list[str]:
    """Names of the models a dbt invocation built successfully."""
    return [
        r["unique_id"].split(".")[-1]
        for r in run_results.get("results", [])
        if r.get("unique_id", "").startswith("model.") and r.get("status") == "success"
    ]


def load_manifest(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def rebuild_request(
    settings: Settings, manifest_path: Path, period: str | None
) -> tuple[dict[str, str], list[str]]:
    """Each incremental model's fingerprint, and the models to build in full: those whose
    fingerprint differs from the one stored at their last build (or that have none)."""
    wanted = model_fingerprints(load_manifest(manifest_path), project_vars(), period=period)
    stored: dict[str, str] = {}
    if settings.duckdb_path.exists():
        # not read_only: a process that ran dbt in-process still holds the file open
        # read-write, and DuckDB refuses a second connection with another configuration
        with connect(settings) as con:
            stored = stored_fingerprints(con)
    return wanted, models_to_rebuild(wanted, stored)


def record_build(settings: Settings, wanted: Mapping[str, str], run_results: Mapping) -> None:
    """After a dbt invocation: store the fingerprints of the models it built."""
    with connect(settings) as con:
        record_fingerprints(con, wanted, built_models(run_results))
