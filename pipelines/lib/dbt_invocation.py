"""One ``dbt build`` of the warehouse, without Dagster: its environment, its arguments, its
artefact folder and the parse it reuses, and the figures its log lines carry.

The dbt asset (``pipelines/defs/dbt/assets.py``) starts dbt through dagster-dbt and turns
what is read here into Dagster events. Everything here works on plain values and files,
unit-tested without Dagster (tests/unit/test_dbt_invocation.py); only :func:`adopt_parse`
imports dbt (its profile rendering, under a second), once per dbt step.
"""

from __future__ import annotations

import contextvars
import json
import os
import pprint
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from pipelines.lib import retention
from pipelines.lib.dbt_project_file import project_file
from pipelines.settings import DBT_PROJECT_DIR, Settings

# The dbt installed beside this interpreter (uv.lock), whatever PATH holds.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"

# dbt's parse state; reused by the next invocation against the same data directory.
PARTIAL_PARSE = "partial_parse.msgpack"

# The line each model's post-hook logs (macros/observability/report_table_figures.sql).
FIGURES_PREFIX = "crm_table_figures "
# The line a Python model logs its figures on (the CLV fit, pipelines/lib/clv_scoring.py);
# the dbt asset adds them to the model's materialisation.
FIT_LOG_PREFIX = "crm_model_metadata "

# The level of dbt.log, dbt's log file in each invocation's folder, unless the caller's
# environment sets DBT_LOG_LEVEL_FILE (debug adds every SQL statement and its timing). At
# dbt's default, debug, every line is rendered to JSON, stat-ed and flushed under a lock
# both threads wait on: about a second of a 24 s night at M (DECISIONLOG.md, "dbt's log
# file at info").
FILE_LOG_LEVEL = {"DBT_LOG_LEVEL_FILE": "info"}


def dbt_environment(settings: Settings, base: Mapping[str, str], **values: str) -> dict[str, str]:
    """The environment of one dbt process, built where dbt starts (the dbt asset, the parse
    of the manifest, ``crm-warehouse dbt``) instead of written into this process's: dbt.log's
    level, then ``base`` (the caller's environment: credentials, DBT_* options), then the
    settings profiles.yml and the macros read, then this invocation's ``values``. This
    interpreter's bin directory comes first on PATH, so whatever dbt starts by name is the
    locked one too."""
    path = base.get("PATH", "")
    bin_dir = str(DBT_EXECUTABLE.parent)
    if bin_dir not in path.split(os.pathsep):
        path = os.pathsep.join(filter(None, [bin_dir, path]))
    return {**FILE_LOG_LEVEL, **base, **settings.env(), **values, "PATH": path}


def build_args(full_refresh: bool = False) -> list[str]:
    """`dbt build` of the models, data tests and seeds. dbt unit tests test our SQL, not
    the night's data: `make test` runs them (tests/integration/test_dbt_unit_tests.py)."""
    args = ["build", "--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    return args


def option_value(args: Sequence[str], *names: str) -> str | None:
    """The value a dbt command line gives an option (``--name value``, ``-n value`` or
    ``--name=value``); the last one counts, as in dbt's command line parser."""
    value = None
    for i, arg in enumerate(args):
        if arg in names and i + 1 < len(args):
            value = args[i + 1]
        elif any(arg.startswith(f"{name}=") for name in names if name.startswith("--")):
            value = arg.split("=", 1)[1]
    return value


def target_dir(
    args: Sequence[str], env: Mapping[str, str], project_dir: Path = DBT_PROJECT_DIR
) -> Path:
    """The folder a dbt command (``args``, started with ``env``) writes its artefacts to,
    its parse among them, as dbt resolves it: --target-path, else DBT_TARGET_PATH, else the
    project's target-path, relative to the project (dbt's Project.project_target_path)."""
    chosen = (
        option_value(args, "--target-path")
        or env.get("DBT_TARGET_PATH")
        or project_file(project_dir)["target-path"]
    )
    return project_dir / chosen  # an absolute path replaces the project's


def checkout_target(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """The checkout's own dbt folder (the project's target-path): prepare_manifest parses
    into it, a Spark build writes beside it."""
    return target_dir([], {}, project_dir)


def checkout_parse(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """The parse `make` leaves in the checkout: where a new data directory's dbt starts."""
    return checkout_target(project_dir) / PARTIAL_PARSE


def start_from_parse(target: Path, env: Mapping[str, str], source: Path | None) -> str:
    """Give the dbt invocation that writes to ``target`` a parse valid for ``env``: the one
    already there, else a copy of ``source``; the answer of :func:`adopt_parse`."""
    parse = target / PARTIAL_PARSE
    if not parse.exists() and source is not None and source.exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, parse)
    return adopt_parse(parse, env)


def new_invocation_dir(
    artifacts_dir: Path, op_name: str, run_id: str, first_parse: Path | None = None
) -> Path:
    """A new artefact folder for one dbt invocation, under the warehouse's data directory
    (not dbt_project/target: one checkout can serve several data directories), holding
    the parse of the previous invocation against this data directory, else ``first_parse``
    (the checkout's, :func:`checkout_parse`) for a new one. Either may have been made for
    another profile (a copied or moved warehouse, another data directory):
    :func:`adopt_parse` makes it valid for this one."""
    target = artifacts_dir / retention.invocation_name(op_name, run_id)
    target.mkdir(parents=True)
    kept = artifacts_dir / PARTIAL_PARSE
    source = kept if kept.exists() else first_parse
    if source is not None and source.exists():
        shutil.copyfile(source, target / PARTIAL_PARSE)
    return target


def _profile_credentials(env: Mapping[str, str], project_dir: Path):
    """The credentials of the project's profile (its default target) as ``env`` renders
    profiles.yml, by dbt's own rendering. ``env`` is what env_var() reads, set in a context
    of its own: nothing is written to this process's environment."""
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    name = project_file(project_dir)["profile"]

    def render():
        set_invocation_context(dict(env))
        raw = read_profile(str(project_dir))[name]
        target, data = Profile.render_profile(raw, name, None, ProfileRenderer({}))
        return Profile._credentials_from_profile(data, name, target)

    return contextvars.copy_context().run(render)


def profile_checksum(env: Mapping[str, str], project_dir: Path = DBT_PROJECT_DIR) -> str:
    """The hash dbt keeps in its parse state of the connection details of the profile that
    ``env`` renders (dbt.parser.manifest.ManifestLoader.build_manifest_state_check)."""
    return _connection_checksum(_profile_credentials(env, project_dir))


def _connection_checksum(credentials) -> str:
    from dbt.contracts.files import FileHash

    connection = sorted(credentials.connection_info())
    return FileHash.from_contents(pprint.pformat(connection)).checksum


def adopt_parse(parse: Path, env: Mapping[str, str], project_dir: Path = DBT_PROJECT_DIR) -> str:
    """Make the dbt parse state in ``parse`` reusable by a dbt started with ``env``:
    "adopted" when it was re-stamped, "kept" when it already was, "absent" without one,
    "other adapter" when it was made for another adapter (a Spark parse: left to dbt,
    which parses in full).

    dbt keeps a hash of the profile's connection details (for DuckDB the warehouse file,
    memory limit and spill folder) in its parse state, and parses every file again (10 s
    and more) when it differs, because Jinja could read them while parsing. This project's
    Jinja does not (tests/integration/test_dbt_parse_adoption.py: the adopted parse gives
    the manifest of the parse it came from), so a parse made for another data directory is
    valid here once it carries this profile's hash. The rest of dbt's check still applies (vars
    and target name, dbt version, project files, the environment variables each file
    read). dagster-dbt edits this file too (its preparer's _invalidate_seeds_in_partial_parse)."""
    if not parse.exists():
        return "absent"
    state = msgpack.unpackb(parse.read_bytes(), strict_map_key=False)
    credentials = _profile_credentials(env, project_dir)
    if state["metadata"].get("adapter_type") != credentials.type:
        return "other adapter"
    checksum = _connection_checksum(credentials)
    if state["state_check"]["profile_hash"].get("checksum") == checksum:
        return "kept"
    state["state_check"]["profile_hash"] = {"name": "sha256", "checksum": checksum}
    staged = parse.with_name(f".{parse.name}.{os.getpid()}.adopting")  # one per writer
    staged.write_bytes(msgpack.packb(state))
    staged.replace(parse)
    return "adopted"


def keep_invocation(target: Path, keep_runs: int) -> None:
    """Make this invocation's parse the one the next reuses (replaced atomically: a
    concurrent reader sees the old file or the new one); prune the artefact folders of all
    but the newest ``keep_runs`` runs. Here as well as after a successful night: failed
    nights must not fill the disk either."""
    root = target.parent
    parsed = target / PARTIAL_PARSE
    if parsed.exists():
        staged = root / f".{PARTIAL_PARSE}.{target.name}"
        shutil.copyfile(parsed, staged)
        staged.replace(root / PARTIAL_PARSE)
    retention.prune_dbt_invocations(root, keep_runs)


@dataclass(frozen=True)
class TableFigures:
    """What a model's post-hook logged of the table it wrote."""

    unique_id: str
    row_count: int
    columns: list[str]
    rows: list[list[Any]]


def table_figures(message: str) -> TableFigures | None:
    """The figures of a post-hook log line, else None."""
    if not message.startswith(FIGURES_PREFIX):
        return None
    logged = json.loads(message.removeprefix(FIGURES_PREFIX))
    return TableFigures(
        unique_id=logged["unique_id"],
        row_count=logged["row_count"],
        columns=logged["columns"],
        rows=logged["rows"],
    )


def model_metadata(raw_event: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(unique_id, metadata) of a line a Python model logged for its materialisation
    (the CLV fit's parameters: pipelines/lib/clv_scoring.py), else None."""
    data = raw_event.get("data") or {}
    message = data.get("base_msg")
    if not isinstance(message, str) or not message.startswith(FIT_LOG_PREFIX):
        return None
    logged = json.loads(message.removeprefix(FIT_LOG_PREFIX))["metadata"]
    return data["node_info"]["unique_id"], logged
