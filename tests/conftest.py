"""Shared fixtures: an isolated data directory per test and the real merchant exports."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from pipelines.settings import PROJECT_ROOT

REAL_EXPORTS = PROJECT_ROOT.parent / "shared" / "real-exports"

# The settings a data folder derives from CRM_DATA_DIR unless set apart: a test that points
# at its own data folder unsets them, so none of them still names another test's folder.
DERIVED_PATH_VARIABLES = ("CRM_LANDING_DIR", "DUCKDB_PATH", "CRM_DUCKDB_TEMP_DIR", "DAGSTER_HOME")


def point_at(env: pytest.MonkeyPatch, data: Path, **variables: str):
    """The one way a test points the environment at a warehouse in ``data``: every path
    derived from it (landing, warehouse file, spill folder, run history), plus
    ``variables``; ``env`` restores it all afterwards. Returns the resolved Settings."""
    from pipelines.settings import get_settings

    for var in DERIVED_PATH_VARIABLES:
        env.delenv(var, raising=False)
    env.setenv("CRM_DATA_DIR", str(data))
    for var, value in variables.items():
        env.setenv(var, value)
    return get_settings()


# The modules that take minutes, in the order their units (an xdist group, or each test of
# an ungrouped module) should start under `make test` (seconds of test time on a loaded
# machine, fourteenth session). The first builds the session's XS warehouse; the second
# needs none, so the other worker starts it instead of waiting on the XS lock.
LONG_MODULES = (
    "test_end_to_end.py",  # 306 s, with the XS build (115 s)
    "test_incremental_facts.py",  # 223 s
    "test_quality_gates.py",  # 298 s
    "test_crash_safety.py",  # 182 s
    "test_incremental_splits.py",  # 154 s
    "test_real_exports.py",  # 108 s
    "test_identity_at_scale_s.py",  # 89 s
    "test_identity_properties.py",  # 58 s
    "test_dbt_unit_tests.py",  # 34 s
)
# How many short units follow each long one in the queue: see start_order.
SHORT_UNITS_BETWEEN = 2


def start_order(units: list[tuple[str, list]]) -> list[tuple[str, list]]:
    """The units (module file name, its items) as xdist should hand them out: the long
    modules' units first, in LONG_MODULES order, each followed by SHORT_UNITS_BETWEEN of the
    last collected units (the unit tests, seconds each), then the rest in collection order.

    xdist gives a worker another unit whenever two or fewer of its tests are pending
    (LoadScopeScheduling._reschedule), so a worker that starts a single-test unit takes the
    next units of the queue at once: were they long, they would wait behind it while the
    other worker ran out of work (DECISIONLOG.md, Tests)."""
    rank = {name: i for i, name in enumerate(LONG_MODULES)}
    long = sorted((u for u in units if u[0] in rank), key=lambda u: rank[u[0]])
    rest = [u for u in units if u[0] not in rank]
    ordered = []
    for unit in long:
        ordered.append(unit)
        for _ in range(SHORT_UNITS_BETWEEN):
            if rest:
                ordered.append(rest.pop())
    return ordered + rest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``xdist_group`` marks group again under ``--dist loadgroup``, and order the
    units so the long ones start first (start_order; `make test` keeps this order with
    ``--no-loadscope-reorder``).

    pytest-xdist 3.8 sends a group's tests to one worker by suffixing each test's node id
    with ``@<group>`` through ``item._nodeid``, which pytest 9.2 no longer reads (node ids
    are structured): the marks were silently ignored, and a module's expensive fixture was
    built on both workers (pytest-xdist#1386). Until xdist sets it, the suffix is set on the
    structured id here (DECISIONLOG.md, Tests)."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        marks = item.iter_markers("xdist_group")
        groups = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        )
        if groups and "@" not in item.nodeid.rpartition("]")[2]:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")
    # xdist's unit: the group after "@", else the test itself. A group's tests keep their
    # file order (the grouped modules run in order on one state).
    units: dict[str, tuple[str, list]] = {}
    for item in items:
        group = item.nodeid.rpartition("]")[2].partition("@")[2]
        units.setdefault(group or item.nodeid, (item.path.name, []))[1].append(item)
    items[:] = [item for _, unit in start_order(list(units.values())) for item in unit]


@pytest.fixture(autouse=True)
def _no_current_dagster_state_storage():
    """Each test starts with no "current" Dagster state storage.

    Dagster resolves definitions against a context variable that an entered instance sets.
    A test that leaves one set (an evaluation context that opened an instance and was
    never closed) makes later materialize() calls in that worker fail with "Attempted to
    resolve undefined DagsterInstance weakref" once the instance is gone. That happened
    twice, to whichever module ran next on the worker: the bad-input catalogue, then
    test_customer_clv (DECISIONLOG.md, Tests)."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CRM_DATA_DIR (landing, warehouse, truth) for one test."""
    data = tmp_path / "data"
    # Tests copy files into landing and ingest at once: no quiet period to wait out (the
    # generator writes _SUCCESS markers anyway; tests of the rule set their own value).
    point_at(monkeypatch, data, CRM_DUCKDB_MEMORY_LIMIT="1GB", CRM_LANDING_QUIET_SECONDS="0")
    (data / "landing").mkdir(parents=True)
    return data


@pytest.fixture(scope="session")
def real_exports() -> Path:
    # CI has ../shared beside the checkout; a missing folder is a broken set-up, not a skip.
    assert REAL_EXPORTS.is_dir(), f"real merchant exports not found at {REAL_EXPORTS}"
    return REAL_EXPORTS


def deliver(landing: Path, source: str, day: str, src_file: Path, name: str | None = None) -> Path:
    """Copy a file into <landing>/<source>/<day>/ as a merchant delivery would land."""
    target = landing / source / day / (name or src_file.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src_file, target)
    return target


_INGEST_INSTANCES: list = []


def materialise_ingest(assets, **kwargs):
    """dg.materialize for ingest assets, over every landing date (they are partitioned),
    as `crm-warehouse run` does: the dates are registered in an ephemeral instance. Without
    the sources' checks (evaluated in the ingest step when selected): these tests judge
    what ingest does with a delivery, the checks judge the delivery."""
    import dagster as dg

    from pipelines.defs.partitions import (
        dates_to_run,
        range_tags,
        register_landing_dates,
    )
    from pipelines.resources import WarehouseResource
    from pipelines.settings import get_settings

    dates = dates_to_run(get_settings())
    instance = kwargs.pop("instance", None) or dg.DagsterInstance.ephemeral()
    # Results read their events through the instance, which they hold by weak reference
    # only: keep each one alive for the session. A fresh one per call, because a shared
    # in-memory instance was lost between tests ("unable to open database file").
    _INGEST_INSTANCES.append(instance)
    register_landing_dates(instance, dates)
    return dg.materialize(
        assets,
        instance=instance,
        resources={"warehouse": WarehouseResource()},
        tags=range_tags(dates[0], dates[-1]),
        selection=dg.AssetSelection.assets(*assets).without_checks(),
        **kwargs,
    )


XS_SEED = 7
XS_START = date(2025, 1, 1)
XS_DAYS = 365


@contextlib.contextmanager
def _exclusive(lock_file: Path):
    """Hold an exclusive lock on lock_file (between processes: the xdist workers)."""
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def set_dbt_variables(env: pytest.MonkeyPatch, settings) -> None:
    """Set in this process the variables a dbt process is given (Settings.env), for dbt run
    in it (:func:`dbt_in`, the in-process runners of the incremental tests); ``env``
    restores them."""
    for key, value in settings.env().items():
        env.setenv(key, value)


@contextlib.contextmanager
def warehouse_environment(data: Path, **variables: str):
    """For the duration of the block, the process environment of a warehouse in data/
    (its paths derived from CRM_DATA_DIR, 2 GB for DuckDB, plus ``variables``) with the
    variables a dbt process is given (Settings.env), so dbt run in this process
    (:func:`dbt_in`) sees the same warehouse; yields its Settings. The environment is
    restored afterwards."""
    saved = dict(os.environ)
    try:
        with pytest.MonkeyPatch.context() as env:
            settings = point_at(env, data, **{"CRM_DUCKDB_MEMORY_LIMIT": "2GB", **variables})
            set_dbt_variables(env, settings)
            yield settings
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def xs_warehouse(tmp_path_factory: pytest.TempPathFactory, worker_id: str):
    """One read-only XS warehouse for the whole session: generated (seed 7, 365 days),
    materialised through the real Dagster job. Tests must not write to it.

    The xdist workers share it: the first to ask builds it in the session's common temp
    folder while holding a lock, and the others wait for it, then read the same files.
    Every use reads it or copies it, so one build serves the whole suite instead of one
    build per worker, each slowed by the other."""
    from crm_tools.generator import generate
    from pipelines.run import run_warehouse_job

    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # pytest-of-<user>/pytest-<n>/, above each worker's popen-gw<k>/
    folder = root / "xs_warehouse"
    built = folder / "built"
    with warehouse_environment(folder / "data") as settings, _exclusive(root / "xs.lock"):
        if not built.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            generate(
                settings.landing_dir,
                settings.truth_dir,
                scale="XS",
                seed=XS_SEED,
                start_date=XS_START,
                days=XS_DAYS,
            )
            assert run_warehouse_job(settings).success, "the XS warehouse run failed"
            built.touch()
    return settings


@pytest.fixture
def xs_warehouse_copy(xs_warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A private copy of the XS warehouse file (the session one is read-only for tests),
    with the environment pointing at it."""
    data = tmp_path / "data"
    data.mkdir()
    target = data / "warehouse.duckdb"
    shutil.copyfile(xs_warehouse.duckdb_path, target)
    wal = xs_warehouse.duckdb_path.with_suffix(".duckdb.wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_suffix(".duckdb.wal"))
    return point_at(monkeypatch, data, CRM_DUCKDB_MEMORY_LIMIT="1GB")


def macro_project(root: Path, *macro_folders: str, variables: dict | None = None) -> Path:
    """A throw-away dbt project in ``root`` holding only dbt_project/macros/<macro_folder>
    for each of ``macro_folders`` (and ``variables``), on a DuckDB file of its own, to
    compile or run those macros on chosen values without the warehouse."""
    import yaml

    project = {
        "name": "crm_warehouse",  # the dispatch namespace the macros use
        "version": "0.1.0",
        "config-version": 2,
        "profile": "macros",
        "macro-paths": ["macros"],
        "vars": variables or {},
    }
    (root / "dbt_project.yml").write_text(yaml.safe_dump(project), encoding="utf-8")
    profile = {
        "macros": {
            "target": "dev",
            "outputs": {"dev": {"type": "duckdb", "path": str(root / "macros.duckdb")}},
        }
    }
    (root / "profiles.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")
    for folder in macro_folders:
        shutil.copytree(PROJECT_ROOT / "dbt_project" / "macros" / folder, root / "macros" / folder)
    return root


@pytest.fixture(scope="session")
def identity_macro_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The identity macros with the real vars (macro_project)."""
    import yaml

    with (PROJECT_ROOT / "dbt_project" / "dbt_project.yml").open(encoding="utf-8") as f:
        real = yaml.safe_load(f)
    return macro_project(
        tmp_path_factory.mktemp("identity_macros"), "identity", variables=real["vars"]
    )


def dbt_in(project: Path, *args: str, work: Path | None = None):
    """dbt in this process on ``project`` (its profiles.yml beside it); target and logs go
    to ``work`` (default: the project folder). Returns the dbtRunnerResult."""
    from dbt.cli.main import dbtRunner

    work = work or project
    return dbtRunner().invoke(
        [
            *args,
            *("--project-dir", str(project), "--profiles-dir", str(project)),
            *("--target-path", str(work / "target"), "--log-path", str(work / "logs")),
        ]
    )
