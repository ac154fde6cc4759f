"""Runs killed with SIGKILL while they publish, ingest and build with dbt, then run again:
no row is lost or loaded twice, the working warehouse opens after every kill, and the BI
entry point opens on one whole version at every moment (the old one until a publication
completes, then the new one).

On a copy of the session's XS warehouse (built and published once) the next landing day
is delivered and, with a BI reader opening serving/current.duckdb in a loop throughout:

1. `dagster asset materialize --select serving_version` (what the UI's "Materialize" runs)
   is killed while it builds the new serving version (a `serving/.building-*` folder
   already holds Parquet files). It comes first because only here is the publication gate
   open without a full run before it: after the kills below the gate stays shut until a
   run has rebuilt and checked everything, and a second full run would cost the suite
   another minute and a half.
2. `crm-warehouse backfill --from D --to D` (the run the landing sensor or an operator
   starts for one day) is killed as soon as ingest has committed its first file of the
   day (the commit's bytes are in DuckDB's WAL), before dbt starts.
3. The same command again (it loads the rest of the day), killed once dbt has committed
   the first incremental fact (its dbt.log says so), before dbt finished.
4. The same run once more, to completion. It runs in this process (`run_warehouse_job`,
   what the command calls): the session's XS build has imported the definitions already,
   a fresh interpreter would import them again.

Every kill takes the whole process group (Dagster and the dbt subprocess), is checked to
have landed in its phase (a kill too early or too late fails the test rather than passing
it vacuously), and is followed by the checks a reader or the next run depends on."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from crm_tools.generator import generate
from pipelines.lib import serving
from pipelines.lib.contracts import load_contracts
from pipelines.lib.exports import published_folders
from pipelines.lib.ingest import quote_ident
from pipelines.lib.warehouse import connect
from pipelines.run import run_succeeded, run_warehouse_job
from pipelines.settings import Settings
from tests.conftest import XS_DAYS, XS_SEED, XS_START, point_at

READER = Path(__file__).with_name("serving_reader.py")
BIN = Path(sys.executable).parent
NEW_DAY = XS_START + timedelta(days=XS_DAYS)
TAG = f"{NEW_DAY}_{NEW_DAY}"  # the generator's truth files of that one call
FACTS = ("orders", "order_lines", "interactions")
FACT_IDS = {"orders": "order_id", "order_lines": "order_line_id", "interactions": "interaction_id"}
# Generous: the kill points are reached 10-60 s after a start, twice that on a busy machine.
KILL_TIMEOUT = 300.0
POLL_SECONDS = 0.01
# Between two reads of the BI reader: each read costs CPU the runs it watches need.
READ_PAUSE_SECONDS = 0.5


@pytest.fixture
def warehouse(xs_warehouse, tmp_path: Path):
    """A private copy of the session's XS warehouse (published once), run history
    included, with the next day delivered. The environment points at it, and is restored
    after (the in-process run exports every setting into it)."""
    saved = dict(os.environ)
    data = tmp_path / "data"
    shutil.copytree(xs_warehouse.data_dir, data, symlinks=True)
    env = pytest.MonkeyPatch()
    # the copy's run history, not ours
    settings = point_at(
        env, data, DAGSTER_HOME=str(data / "dagster"), CRM_DUCKDB_MEMORY_LIMIT="2GB"
    )
    generate(
        settings.landing_dir,
        settings.truth_dir,
        scale="XS",
        seed=XS_SEED,
        start_date=NEW_DAY,
        days=1,
        cadence="daily",
    )
    yield settings
    env.undo()
    os.environ.clear()
    os.environ.update(saved)


# --- killing a run -------------------------------------------------------------------------


def _live_members(group: int) -> list[int]:
    """Processes of a process group that are not zombies (a zombie holds no file lock)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state != "Z":
            members.append(int(stat.parent.name))
    return members


def run_and_kill(command: list[str], trigger: Callable[[], bool], phase: str, cwd: Path) -> None:
    """Start ``command`` in a process group of its own, SIGKILL the whole group the moment
    ``trigger()`` is true and wait until no process of it is left."""
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group: dbt, started by it, is killed with it
        cwd=cwd,
    )
    output: list[str] = []  # read all along (a full pipe would stall the run); shown on failure
    drain = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    drain.start()
    deadline = time.monotonic() + KILL_TIMEOUT
    try:
        while not trigger():
            if proc.poll() is not None:
                pytest.fail(
                    f"{phase}: the run ended (exit {proc.returncode}) before the kill point:\n"
                    + "".join(output[-40:])
                )
            if time.monotonic() > deadline:
                pytest.fail(f"{phase}: kill point not reached in {KILL_TIMEOUT:.0f} s")
            time.sleep(POLL_SECONDS)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # The run was alive when the signal came: it did not end on its own first.
    assert proc.returncode == -signal.SIGKILL, (phase, proc.returncode)
    deadline = time.monotonic() + 30
    while _live_members(proc.pid):
        assert time.monotonic() < deadline, f"{phase}: processes survived SIGKILL"
        time.sleep(0.05)
    drain.join(timeout=10)


class DbtFactWatch:
    """Follows the dbt.log of the first dbt invocation that starts after it is created and
    tells when dbt has committed one of the incremental facts."""

    def __init__(self, settings: Settings):
        self.root = settings.data_dir / "dbt"
        self.known = {p.name for p in self.root.iterdir()}
        self.folder: Path | None = None
        self.offset = 0
        self.pending = ""
        self.committed: str | None = None

    def __call__(self) -> bool:
        if self.folder is None:
            new = [p for p in self.root.glob("crm_dbt_models-*") if p.name not in self.known]
            if not new:
                return False
            self.folder = new[0]
        log = self.folder / "dbt.log"
        if not log.exists():
            return False
        with log.open(encoding="utf-8") as f:
            f.seek(self.offset)
            text = self.pending + f.read()
            self.offset = f.tell()
        *lines, self.pending = text.split("\n")
        for line in lines:
            if '"LogModelResult"' not in line:
                continue
            node = json.loads(line)["data"]["node_info"]
            if node["node_name"] in FACTS and node["node_status"] == "success":
                self.committed = node["node_name"]
                return True
        return False


def steps_of_last_run(settings: Settings) -> tuple[set[str], set[str]]:
    """(started, ended) steps of the latest run in the warehouse's run history: where the
    run was when it was killed, by Dagster's own record."""
    start = dg.DagsterEventType.STEP_START
    ends = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        run = instance.get_runs(limit=1)[0]
        records = instance.get_records_for_run(run.run_id, of_type={start, *ends}).records
    assert run.status == dg.DagsterRunStatus.STARTED, run.status  # it never ended
    events = [r.event_log_entry.dagster_event for r in records]
    started = {e.step_key for e in events if e.event_type == start}
    ended = {e.step_key for e in events if e.event_type in ends}
    return started, ended


# --- what must hold after every kill -------------------------------------------------------


def served_version(settings: Settings) -> str:
    """Open the BI entry point as a reader does; it must be one whole version."""
    entry = settings.serving_dir / serving.CURRENT_DB
    with duckdb.connect(str(entry), read_only=True) as con:
        manifest = con.execute("select version, mart, row_count from serving.manifest").fetchall()
        (version,) = {v for v, _, _ in manifest}
        actual = {
            mart: con.execute(f"select count(*) from marts.{quote_ident(mart)}").fetchone()[0]
            for _, mart, _ in manifest
        }
    assert actual == {mart: rows for _, mart, rows in manifest}, version
    assert version == serving.current_name(settings)
    # The Parquet entry point follows the same version.
    parquet_entry = os.readlink(settings.serving_dir / serving.CURRENT_DIR)
    assert parquet_entry == f"{serving.VERSIONS}/{version}"
    return version


def raw_accounting_problems(con) -> list[str]:
    """Rows in raw tables and quarantine that do not match raw.loads, load by load: a
    killed load must leave nothing behind, a rerun must not load a file twice."""
    problems = []
    loaded = "(select load_id from raw.loads where status = 'loaded')"
    for source in load_contracts():
        table = f"raw.{quote_ident(source)}"
        problems += [
            f"{source}: load {load_id} has {got} rows in {table}, raw.loads says {want}"
            for load_id, want, got in con.execute(
                f"select l.load_id, l.rows_loaded, count(r._load_id) from raw.loads as l "
                f"left join {table} as r on r._load_id = l.load_id "
                "where l.source = $s and l.status = 'loaded' group by all "
                "having count(r._load_id) <> l.rows_loaded",
                {"s": source},
            ).fetchall()
        ]
        orphans, twice = con.execute(
            f"select count(*) filter (where _load_id not in {loaded}), "
            "count(*) - count(distinct (_load_id, _source_line)) "
            f"from {table}"
        ).fetchone()
        if orphans:
            problems.append(f"{source}: {orphans} rows in {table} of no recorded load")
        if twice:
            problems.append(f"{source}: {twice} source lines in {table} more than once")
    problems += [
        f"load {load_id} has {got} quarantined rows, raw.loads says {want}"
        for load_id, want, got in con.execute(
            "select l.load_id, l.rows_quarantined, count(q.load_id) from raw.loads as l "
            "left join raw.quarantine as q on q.load_id = l.load_id "
            "where l.status = 'loaded' group by all having count(q.load_id) <> l.rows_quarantined"
        ).fetchall()
    ]
    orphans = con.execute(
        f"select count(*) from raw.quarantine where load_id not in {loaded}"
    ).fetchone()[0]
    if orphans:
        problems.append(f"{orphans} quarantined rows of no recorded load")
    return problems


def new_day_loads(con) -> dict[str, tuple[str, int, int]]:
    """file -> (status, rows_in, rows_quarantined) of the loads of the new day's files."""
    return {
        file: (status, rows_in, quarantined)
        for file, status, rows_in, quarantined in con.execute(
            "select file, status, rows_in, rows_quarantined from raw.loads "
            "where delivery_date = $d",
            {"d": NEW_DAY},
        ).fetchall()
    }


def check_warehouse(settings: Settings, served: str) -> dict:
    """What must hold after every kill (and at the start and end): the entry point serves
    version ``served`` whole, the working warehouse opens (replaying any WAL a kill left)
    and its raw tables agree with raw.loads. Returns what the test compares across kills."""
    assert served_version(settings) == served
    with connect(settings, read_only=True) as con:
        assert raw_accounting_problems(con) == []
        return {
            "loads": new_day_loads(con),
            "raw_rows": {
                source: con.execute(f"select count(*) from raw.{quote_ident(source)}").fetchone()[0]
                for source in load_contracts()
            },
            "max_rowid": {
                fact: con.execute(f"select max(rowid) from marts.{fact}").fetchone()[0]
                for fact in FACTS
            },
        }


# --- the test --------------------------------------------------------------------------------


def test_runs_killed_while_ingesting_building_and_publishing_recover_on_rerun(
    warehouse: Settings, tmp_path: Path
):
    settings = warehouse
    truth_files = pl.read_parquet(settings.truth_dir / "files" / f"{TAG}.parquet")
    day_files = set(truth_files["file"])
    backfill = [str(BIN / "crm-warehouse"), "backfill", f"--from={NEW_DAY}", f"--to={NEW_DAY}"]
    old_version = served_version(settings)
    before = check_warehouse(settings, old_version)
    assert before["loads"] == {}

    stop = tmp_path / "stop"
    # BI readers through both drivers BI tools use (DuckDB's and SQLAlchemy's) for the
    # whole test: kills, reruns, and the complete run that publishes the new version.
    readers = {
        driver: subprocess.Popen(
            [
                sys.executable,
                str(READER),
                str(settings.serving_dir / serving.CURRENT_DB),
                str(stop),
                str(tmp_path / f"{driver}.json"),
                driver,
                str(READ_PAUSE_SECONDS),
            ]
        )
        for driver in ("duckdb", "sqlalchemy")
    }
    try:
        # 1. Killed while it builds the serving version. The copy's marts are the
        # session's, but its current version reads the session's folder: a data folder
        # moved elsewhere is published anew (lib/serving.py), so there is a build to kill.
        def building() -> bool:
            return any(settings.serving_dir.glob(".building-*/parquet/*.parquet"))

        materialise_serving = [str(BIN / "dagster"), "asset", "materialize"]
        materialise_serving += ["--select", "serving_version", "-m", "pipelines.definitions"]
        run_and_kill(materialise_serving, building, "publish", tmp_path)
        assert steps_of_last_run(settings) == ({"serving_version"}, set())
        killed_build = [p.name for p in settings.serving_dir.glob(".building-*")]
        assert len(killed_build) == 1, "killed before or after the build, not during it"
        assert check_warehouse(settings, old_version) == before
        assert [v.name for v in serving.list_versions(settings)] == [old_version]

        # 2. Killed during ingest, as soon as the first file of the day is committed.
        wal = settings.duckdb_path.with_name(settings.duckdb_path.name + ".wal")
        assert not wal.exists()
        stamp = settings.duckdb_path.stat().st_mtime_ns
        dbt_folders = set((settings.data_dir / "dbt").iterdir())

        def ingest_committed() -> bool:
            # The first write to the working file in a run is ingest's first commit, into
            # the WAL (the step's checkpoint merges it into the file when it closes). What
            # a process wrote survives its kill, so once the WAL holds bytes that commit is
            # in; the empty WAL DuckDB creates first is not enough.
            if wal.exists() and wal.stat().st_size > 0:
                return True
            return settings.duckdb_path.stat().st_mtime_ns != stamp

        run_and_kill(backfill, ingest_committed, "ingest", tmp_path)
        wal_left = f"{wal.stat().st_size} bytes" if wal.exists() else "none"
        started, _ = steps_of_last_run(settings)
        assert started and all(step.startswith("raw__") for step in started), started
        assert set((settings.data_dir / "dbt").iterdir()) == dbt_folders, "dbt had started"
        loaded = set(check_warehouse(settings, old_version)["loads"])
        assert loaded and loaded < day_files, f"not killed mid-ingest: loaded {sorted(loaded)}"

        # 3. Run again, killed during dbt once it has committed one incremental fact.
        watch = DbtFactWatch(settings)
        run_and_kill(backfill, watch, "dbt", tmp_path)
        started, ended = steps_of_last_run(settings)
        assert "crm_dbt_models" in started - ended, (started, ended)
        assert not (watch.folder / "run_results.json").exists(), "dbt had finished"
        assert set(check_warehouse(settings, old_version)["loads"]) == day_files
        # The killed build rewrote that fact (delete+insert appends what it writes) and
        # not necessarily the others: the kill left the facts half way through the day.
        with connect(settings, read_only=True) as con:
            rewritten = con.execute(
                f"select count(*) from marts.{watch.committed} where rowid > $r",
                {"r": before["max_rowid"][watch.committed]},
            ).fetchone()[0]
        assert rewritten > 0, watch.committed

        # 4. The same run again, to completion.
        result = run_warehouse_job(settings, window=(NEW_DAY, NEW_DAY))
        assert result is not None and run_succeeded(result), result
        new_version = served_version(settings)
        # Stop the readers once each has read the new version: the run can end so soon
        # after its switch that a reader pausing between reads has not read it yet.
        deadline = time.monotonic() + 120
        lasts = [tmp_path / f"{driver}.last" for driver in readers]
        while time.monotonic() < deadline and not all(
            last.exists() and last.read_text() == new_version for last in lasts
        ):
            time.sleep(0.1)
    finally:
        stop.touch()
        for reader in readers.values():
            reader.wait(timeout=60)
    print(
        f"killed: in publication with {killed_build[0]} half built; in ingest with "
        f"{len(loaded)} of {len(day_files)} files of the day loaded (WAL left: {wal_left}); "
        f"in dbt after {watch.committed} was committed"
    )

    # Serving: the new version is current and whole; the killed build is gone (removed by
    # the rerun's build), never became a version and was never served.
    assert new_version != old_version
    assert [v.name for v in serving.list_versions(settings)] == [old_version, new_version]
    assert not list(settings.serving_dir.glob(".building-*"))
    for driver in readers:
        summary = json.loads((tmp_path / f"{driver}.json").read_text())
        print(f"{driver} reader:", json.dumps({k: summary[k] for k in ("reads", "versions")}))
        assert summary["errors"] == [], driver
        assert summary["mismatches"] == [], driver
        assert summary["reads"] > 20, driver
        # reading before and after the switch: the old version whole, then the new one
        assert set(summary["versions"]) == {old_version, new_version}, driver
    # The exports of the same day, whole, and no work folder left beside them.
    as_of_date = serving.get_version(settings, new_version).manifest["as_of_date"]
    for exports in (settings.exports_dir, settings.restricted_exports_dir):
        assert published_folders(exports)[-1].name == as_of_date, exports
        assert not list(exports.glob(".*")), exports

    after = check_warehouse(settings, new_version)
    assert_day_loaded_once(before, after, truth_files)
    assert_facts_match_truth(settings)


def _truth(settings: Settings, table: str) -> pl.DataFrame:
    """Every generate call's truth rows of one table (the session's year, then the day)."""
    frames = [pl.read_parquet(p) for p in sorted((settings.truth_dir / table).glob("*.parquet"))]
    return pl.concat(frames, how="vertical_relaxed")


def assert_day_loaded_once(before: dict, after: dict, truth_files: pl.DataFrame) -> None:
    """Each file of the day is loaded once with all its rows (raw or quarantine), and the
    raw tables grew by exactly the day's good rows."""
    for row in truth_files.iter_rows(named=True):
        status, rows_in, quarantined = after["loads"][row["file"]]
        if status == "loaded":
            assert (rows_in, quarantined) == (row["data_rows"], row["malformed_rows"]), row
        else:  # an empty export repeats the bytes of an earlier one
            assert (status, row["data_rows"]) == ("duplicate", 0), row
    day_rows = dict(
        truth_files.group_by("source")
        .agg((pl.col("data_rows") - pl.col("malformed_rows")).sum())
        .iter_rows()
    )
    grown = {s: rows - before["raw_rows"][s] for s, rows in after["raw_rows"].items()}
    assert grown == {source: day_rows.get(source, 0) for source in grown}


def assert_facts_match_truth(settings: Settings) -> None:
    """The incremental facts hold no key twice and exactly the generator's truth (orders,
    lines and net revenue to the cent per source; interactions per source), and no dbt
    intermediate relation of a killed build is left behind."""
    truth_orders = _truth(settings, "orders").unique(
        ["source", "order_key"], keep="last", maintain_order=True
    )  # a later delivery may re-deliver an order, corrected
    truth_interactions = _truth(settings, "interactions")
    with connect(settings, read_only=True) as con:
        for fact, key in FACT_IDS.items():
            total, distinct = con.execute(
                f"select count(*), count(distinct {key}) from marts.{fact}"
            ).fetchone()
            assert total == distinct, fact
        orders = {
            source: (n, lines, Decimal(net))
            for source, n, lines, net in con.execute(
                "select o.source, count(*), sum(l.n), sum(o.net_amount_reporting) "
                "from marts.orders as o left join (select source, order_key, count(*) as n "
                "from marts.order_lines group by all) as l using (source, order_key) group by 1"
            ).fetchall()
        }
        interactions = dict(
            con.execute(
                "select source, count(*) from marts.interactions "
                "where source in ('social_events', 'service_interactions') group by 1"
            ).fetchall()
        )
        # Serving copies every table of the marts schema: one left there would be served.
        leftovers = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_name like '%\\_\\_dbt\\_%' escape '\\'"
        ).fetchall()
    assert orders == {
        source: (n, lines, Decimal(net))
        for source, n, lines, net in truth_orders.group_by("source")
        .agg(pl.len(), pl.col("line_count").sum(), pl.col("net_amount_reporting").sum())
        .iter_rows()
    }
    assert interactions == dict(truth_interactions.group_by("source").len().iter_rows())
    assert leftovers == []
