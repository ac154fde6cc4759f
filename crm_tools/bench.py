"""`crm-warehouse bench`: the whole pipeline timed on generated data, against DuckDB's own
reading speed and the targets of docs/benchmarks.md.

One call, one scale: generate the landing data once per scale and seed (cached under
bench/cache/, timed apart), run every asset from an empty warehouse, then one incremental
day, then DuckDB alone reading the same landing files (the ceiling for ingest), then the CLV
fit and scoring on one million simulated customers. Figures go to bench/results/<scale>.json
and a printed table; the scaling table compares every scale measured so far. Wall times,
not CPU times: on the shared 2-core machines compare ratios measured within one run.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np

from pipelines.lib.warehouse import connect
from pipelines.settings import PROJECT_ROOT, Settings, get_settings

BENCH_DIR = PROJECT_ROOT / "bench"
START = date(2025, 1, 1)
DAYS = 365
NEXT_DAY = START + timedelta(days=DAYS)  # the incremental run's one-day delivery
CLV_CUSTOMERS = 1_000_000
SCALE_ORDER = ("XS", "S", "M", "L")

# docs/benchmarks.md: the targets on the 2-core / 24 GB machine.
TARGETS = {
    "full_run_L_seconds": 15 * 60,
    "full_run_M_seconds": 2 * 60,
    "peak_rss_bytes": 8 * 1024**3,
    "ingest_over_ceiling": 2.0,
    "incremental_over_full": 0.10,
    "clv_1m_seconds": 15.0,
}


# --- measuring ------------------------------------------------------------------------------


def process_tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (dbt subprocesses), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    page = os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        todo += children.get(pid, [])
    return total


def tree_bytes(path: Path) -> int:
    """Bytes of the files under ``path``, a file hard-linked several times once (serving
    versions share their unchanged marts)."""
    total, seen = 0, set()
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                stat = os.lstat(os.path.join(root, name))
                if (stat.st_dev, stat.st_ino) not in seen:
                    seen.add((stat.st_dev, stat.st_ino))
                    total += stat.st_size
    return total


class PeakSampler:
    """Samples the process tree's RSS and DuckDB's spill folder size while a stage runs."""

    def __init__(self, spill_dir: Path, interval: float = 0.25):
        self.spill_dir, self.interval = spill_dir, interval
        self.peak_rss = self.peak_spill = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, process_tree_rss(os.getpid()))
            self.peak_spill = max(self.peak_spill, tree_bytes(self.spill_dir))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Timed:
    seconds: float = 0.0


@contextlib.contextmanager
def timed() -> Iterator[Timed]:
    """Wall seconds of the ``with`` block, in the yielded object once the block ends."""
    t, start = Timed(), time.perf_counter()
    try:
        yield t
    finally:
        t.seconds = time.perf_counter() - start


# --- data -----------------------------------------------------------------------------------


def cached_data(scale: str, seed: int) -> tuple[Path, dict]:
    """bench/cache/<scale>-seed<seed>/: landing (a year of monthly deliveries) and next_day
    (the daily delivery of the day after, moved out of landing), generated once;
    generated.json says how long it took."""
    from crm_tools.generator import generate

    cache = BENCH_DIR / "cache" / f"{scale}-seed{seed}"
    record = cache / "generated.json"
    if record.exists():
        return cache, {**json.loads(record.read_text()), "cached": True}
    staging = cache.with_name(cache.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with timed() as year:
        generate(
            staging / "landing", staging / "truth",
            scale=scale, seed=seed, start_date=START, days=DAYS,
        )  # fmt: skip
    with timed() as day:
        # Into the same landing and truth folders: the generator continues what is there
        # (a call on an empty folder would deliver, e.g., the whole member list again).
        generate(
            staging / "landing", staging / "truth",
            scale=scale, seed=seed, start_date=NEXT_DAY, days=1, cadence="daily",
        )  # fmt: skip
    for folder in sorted((staging / "landing").glob(f"*/{NEXT_DAY.isoformat()}")):
        target = staging / "next_day" / folder.parent.name / folder.name
        target.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(target)
    facts = {
        "generate_seconds": round(year.seconds, 2),
        "generate_next_day_seconds": round(day.seconds, 2),
        "landing_bytes": tree_bytes(staging / "landing"),
    }
    (staging / "generated.json").write_text(json.dumps(facts, indent=2))
    shutil.rmtree(cache, ignore_errors=True)
    staging.rename(cache)
    return cache, {**facts, "cached": False}


def cached_nights(cache: Path, scale: str, seed: int, nights: int) -> list[tuple[date, Path]]:
    """bench/cache/<scale>-seed<seed>/nights/<date>/: the daily deliveries of ``nights``
    days after the incremental day, generated once (the generator continues its chain from
    the cache's truth) and moved out of the cached landing like next_day."""
    from crm_tools.generator import generate

    root = cache / "nights"
    have = len(list(root.iterdir())) if root.is_dir() else 0
    days = [NEXT_DAY + timedelta(days=i) for i in range(1, nights + 1)]
    if nights > have:
        generate(
            cache / "landing", cache / "truth",
            scale=scale, seed=seed, start_date=days[have], days=nights - have, cadence="daily",
        )  # fmt: skip
        for day in days[have:]:
            for folder in sorted((cache / "landing").glob(f"*/{day.isoformat()}")):
                target = root / day.isoformat() / folder.parent.name / folder.name
                target.parent.mkdir(parents=True, exist_ok=True)
                folder.rename(target)
    return [(day, root / day.isoformat()) for day in days]


def link_tree(source: Path, target: Path) -> None:
    """Hard-link a landing tree into the work folder (same bytes and times, no copy)."""
    shutil.copytree(source, target, copy_function=os.link, dirs_exist_ok=True)


# --- the pipeline's own figures ---------------------------------------------------------------


def run_log_figures(settings: Settings, run_id: str) -> tuple[dict[str, float], dict[str, int]]:
    """From one read of a run's event log: the wall seconds of every step (start to success
    or failure), and how many events the run stored, in all and in its dbt steps (every
    stored event costs its step a write, so their count is a figure of the night's cost).
    An ingest step evaluates its source's checks after its materialisation: those seconds
    are also given apart, as ``<step>:checks``."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    started: dict[str, float] = {}
    materialised: dict[str, float] = {}
    seconds: dict[str, float] = {}
    events = {"all": 0, "dbt steps": 0}
    # The run's own instance, named by path: no DAGSTER_HOME set as a side effect.
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(settings.dagster_home))) as instance:
        for entry in instance.all_logs(run_id):
            events["all"] += 1
            if entry.step_key and entry.step_key.startswith("crm_dbt_models"):
                events["dbt steps"] += 1
            event = entry.dagster_event
            if event is None or entry.step_key is None:
                continue
            if event.event_type_value == "STEP_START":
                started[entry.step_key] = entry.timestamp
            elif event.event_type_value == "ASSET_MATERIALIZATION":
                materialised[entry.step_key] = entry.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                seconds[entry.step_key] = entry.timestamp - started.get(
                    entry.step_key, entry.timestamp
                )
                if entry.step_key.startswith("raw__") and entry.step_key in materialised:
                    checks = entry.timestamp - materialised[entry.step_key]
                    seconds[f"{entry.step_key}:checks"] = checks
    return seconds, events


def stages(steps: dict[str, float], wall: float) -> dict[str, float]:
    """Steps grouped as the docs report them; `orchestration` is the rest of the wall time
    (run start, Dagster's planning and event storage between steps, the summary). A
    source's checks (GE suite, row accounting, freshness) run in its ingest step and are
    counted under checks."""
    from pipelines.lib.contracts import load_contracts

    sources = sorted(load_contracts())
    out: dict[str, float] = {
        f"ingest {s}": steps.get(f"raw__{s}", 0.0) - steps.get(f"raw__{s}:checks", 0.0)
        for s in sources
    }
    out["ingest (all sources)"] = sum(out.values())
    groups = {
        "checks (GE, row accounting, freshness)": [
            k for k in steps if k.endswith(":checks") or "_ge_" in k
        ],
        "dbt build (models, CLV fit, data tests)": ["crm_dbt_models"],
        "customer report": ["customer_report"],
        "publish (exports, serving version)": [
            "segment_exports",
            "audience_contact_exports",
            "serving_version",
        ],
    }
    for label, keys in groups.items():
        out[label] = sum(steps.get(k, 0.0) for k in set(keys))
    accounted = out["ingest (all sources)"] + sum(out[label] for label in groups)
    out["orchestration (Dagster, between steps)"] = max(0.0, wall - accounted)
    return {k: round(v, 2) for k, v in out.items()}


def _dbt_results(settings: Settings, run_id: str) -> Iterator[dict]:
    """The node results of every dbt invocation of the run (their kept run_results.json)."""
    for results in (settings.data_dir / "dbt").glob(f"*-{run_id[:8]}-*/run_results.json"):
        yield from json.loads(results.read_text())["results"]


def dbt_breakdown(settings: Settings, run_id: str) -> dict[str, float]:
    """dbt's own execution seconds by layer (identity resolution apart), summed over the
    run's invocations; with 2 threads the sum exceeds the wall time."""
    layers: dict[str, float] = {}
    for node in _dbt_results(settings, run_id):
        kind, _project, *rest = node["unique_id"].split(".")
        name = rest[0] if rest else ""
        if kind == "model" and "identit" in name:
            label = "models: identity resolution"
        elif kind == "model":
            layer = name.split("_")[0]
            label = f"models: {layer}" if layer in ("stg", "int") else "models: marts"
        else:
            label = f"{kind}s"
        layers[label] = layers.get(label, 0.0) + node["execution_time"]
    return {k: round(v, 2) for k, v in sorted(layers.items())}


def model_seconds(settings: Settings, run_id: str) -> dict[str, float]:
    """Each dbt model's execution seconds in the run (its data tests apart)."""
    return {
        node["unique_id"].split(".")[-1]: round(node["execution_time"], 2)
        for node in _dbt_results(settings, run_id)
        if node["unique_id"].startswith("model.")
    }


def model_relations() -> dict[str, tuple[str, str, str]]:
    """Every dbt model: (schema, table, materialisation), as the manifest declares them."""
    from pipelines.defs.dbt.fingerprints import load_manifest
    from pipelines.defs.dbt.project import prepare_manifest

    return {
        n["name"]: (n["schema"], n["alias"], n["config"]["materialized"])
        for n in load_manifest(prepare_manifest())["nodes"].values()
        if n["resource_type"] == "model"
    }


def _stored_tables(con, relations: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    """The models stored as tables (a view stores nothing): model name -> quoted relation."""
    tables = set(
        con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database()"
        ).fetchall()
    )
    return {
        model: f'"{schema}"."{table}"'
        for model, (schema, table, _) in relations.items()
        if (schema, table) in tables
    }


def table_rowids(settings: Settings, relations: dict[str, tuple[str, str, str]]) -> dict[str, int]:
    """Highest rowid of every model table: delete+insert appends the rows it writes after
    them, so `rowid >` this counts what an incremental run wrote."""
    rowids: dict[str, int] = {}
    with connect(settings, read_only=True) as con:
        for model, relation in _stored_tables(con, relations).items():
            (top,) = con.execute(f"select max(rowid) from {relation}").fetchone()
            rowids[model] = -1 if top is None else top
    return rowids


def models_written(
    settings: Settings,
    relations: dict[str, tuple[str, str, str]],
    seconds: dict[str, float],
    before: dict[str, int],
) -> dict[str, dict]:
    """Per model of the run: seconds, rows it wrote and rows it holds. A table rebuilt in
    full wrote every row it holds; an incremental one the rows after its old rowids."""
    figures: dict[str, dict] = {}
    with connect(settings, read_only=True) as con:
        stored = _stored_tables(con, relations)
        for model, spent in seconds.items():
            how = relations.get(model, ("", "", "?"))[2]
            if model not in stored:  # a view: it stores nothing
                figures[model] = {"seconds": spent, "materialized": how, "rows_written": 0}
                continue
            total, after = con.execute(
                f"select count(*), count(*) filter (where rowid > ?) from {stored[model]}",
                [before.get(model, -1)],
            ).fetchone()
            written = after if how == "incremental" and model in before else total
            figures[model] = {
                "seconds": spent,
                "materialized": how,
                "rows_written": written,
                "rows": total,
            }
    return dict(sorted(figures.items(), key=lambda item: -item[1]["seconds"]))


# --- the ceiling: DuckDB alone -----------------------------------------------------------------


def ceiling_seconds(landing: Path, work: Path, settings: Settings) -> dict[str, float]:
    """DuckDB reading every landing file into a table with its own readers and no checks
    (same memory limit and threads as the pipeline). GB18030 files are transcoded first as
    ingest does: DuckDB cannot read them without the `encodings` extension, which would be
    downloaded."""
    from pipelines.lib.contracts import load_contracts
    from pipelines.lib.landing import detect_encoding, discover, transcode_to_utf8

    database = work / "ceiling.duckdb"
    out: dict[str, float] = {}
    with duckdb.connect(
        str(database),
        config={
            "memory_limit": settings.duckdb_memory_limit,
            "threads": settings.duckdb_threads,
            "temp_directory": str(work / "ceiling_tmp"),
        },
    ) as con:
        con.execute("set enable_progress_bar = false")  # it would draw on the bench's output
        for source, contract in sorted(load_contracts().items()):
            files, _problems = discover(landing, source, quiet_seconds=0)
            with timed() as t:
                for i, file in enumerate(files):
                    path = file.path
                    if file.kind != "parquet" and detect_encoding(file) == "gb18030":
                        path = transcode_to_utf8(file, "gb18030", work / "ceiling_utf8.csv")
                    if file.kind == "parquet":
                        reader = "read_parquet($p)"
                    elif file.kind == "jsonl" or contract.format == "jsonl":
                        reader = "read_json($p, format = 'newline_delimited', ignore_errors = true)"
                    else:
                        # ingest's dialect, minus its rejects table: bad rows are dropped
                        reader = (
                            "read_csv($p, header = true, delim = ',', quote = '\"', "
                            "escape = '\"', all_varchar = true, ignore_errors = true, "
                            "max_line_size = 20000000)"
                        )
                    con.execute(
                        f"create table {source}_{i} as select * from {reader}", {"p": str(path)}
                    )
            out[source] = round(t.seconds, 2)
    out["all sources"] = round(sum(out.values()), 2)
    return out


# --- CLV at a million customers -----------------------------------------------------------------


def clv_million_seconds(n: int = CLV_CUSTOMERS, seed: int = 42) -> dict:
    """BG/NBD + Gamma-Gamma fit and scoring (pipelines.lib.clv.fit_and_score, the asset's
    computation) on ``n`` simulated customers observed 1-104 weeks, at day granularity."""
    from pipelines.lib import clv

    rng = np.random.default_rng(seed)
    big_t = rng.integers(7, 729, n) / 7.0
    x, t_x, big_t = clv.simulate_bgnbd(clv.BgNbdParams(r=0.25, alpha=4.0, a=0.8, b=2.5), big_t, rng)
    t_x = np.round(t_x * 7) / 7
    m = clv.simulate_gamma_gamma(clv.GammaGammaParams(p=6.0, q=4.0, v=15.0), x, rng)
    with timed() as t:
        bgnbd, gamma_gamma, scores = clv.fit_and_score(x, t_x, big_t, m)
    return {
        "customers": n,
        "seconds": round(t.seconds, 2),
        "converged": bool(bgnbd.converged and gamma_gamma.converged),
        "scored": len(next(iter(scores.values()))),
    }


# --- one benchmark -----------------------------------------------------------------------------


def _machine(settings: Settings) -> dict:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "memory_bytes": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "duckdb_memory_limit": settings.duckdb_memory_limit,
        "duckdb_threads": settings.duckdb_threads,
    }


def _run(settings: Settings, window=None) -> tuple[float, object, PeakSampler, str | None]:
    """(wall seconds, result, peaks, why it failed or None)."""
    from pipelines.run import run_succeeded, run_warehouse_job

    # Each step is shown as it ends on stderr; dagster-dbt's echo of every dbt event goes to
    # the log, as with `crm-warehouse run`.
    log_path = settings.data_dir / "logs" / "bench-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stderr
    with (
        open(log_path, "a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        PeakSampler(settings.duckdb_temp_dir) as peaks,
        timed() as t,
    ):
        result = run_warehouse_job(settings, window=window, progress=terminal)
    failure = None
    if result is None:
        failure = "no complete delivery in the window"
    elif not run_succeeded(result):
        messages = [
            e.event_specific_data.error.message for e in result.all_events if e.is_step_failure
        ]
        failure = "\n".join(m.strip() for m in messages) or "the run published nothing"
        failure += f"\n(Dagster run {result.run_id} in {settings.dagster_home})"
    return t.seconds, result, peaks, failure


def slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope of ys against xs, and the standard deviation of the residuals
    (the noise the slope is to be read against)."""
    fit = np.polyfit(xs, ys, 1)
    residuals = np.asarray(ys) - np.polyval(fit, xs)
    return float(fit[0]), float(residuals.std(ddof=2)) if len(xs) > 2 else 0.0


def _night(settings: Settings, day: date) -> dict:
    """One nightly run over one landing date: seconds, events, the dbt step, disk."""
    seconds, result, peaks, failure = _run(settings, window=(day, day))
    steps, events = run_log_figures(settings, result.run_id) if result else ({}, {})
    return {
        "landing_date": day.isoformat(),
        "seconds": round(seconds, 2),
        "dbt_step_seconds": round(steps.get("crm_dbt_models", 0.0), 2),
        "events": events,
        "peak_rss_bytes": peaks.peak_rss,
        # What the data folder holds besides the deliveries (hard links to the cache).
        "data_bytes": tree_bytes(settings.data_dir) - tree_bytes(settings.landing_dir),
        "failed": failure,
    }


def nights_summary(nights: list[dict]) -> dict:
    """Night time and disk against the history each night adds to: both should be flat."""
    index = list(range(1, len(nights) + 1))
    seconds_slope, seconds_noise = slope(index, [n["seconds"] for n in nights])
    disk_slope, _ = slope(index, [n["data_bytes"] for n in nights])
    return {
        "seconds_per_night_slope": round(seconds_slope, 3),
        "seconds_residual_std": round(seconds_noise, 3),
        "data_bytes_per_night": round(disk_slope),
    }


def run_benchmark(scale: str, seed: int = 42, nights: int = 0) -> dict:
    """Generate (cached), run from empty, run one incremental day and the same night again
    with nothing new, then ``nights`` more nights; measure the ceiling and CLV at a million
    customers; write bench/results/<scale>.json and return the figures."""
    from pipelines.summary import warehouse_figures

    cache, generated = cached_data(scale, seed)
    work = BENCH_DIR / "work" / scale
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for var in ("CRM_LANDING_DIR", "DUCKDB_PATH", "CRM_DUCKDB_TEMP_DIR", "DAGSTER_HOME"):
        os.environ.pop(var, None)
    os.environ["CRM_DATA_DIR"] = str(work)
    settings = get_settings()
    link_tree(cache / "landing", settings.landing_dir)

    full_seconds, full, full_peaks, failure = _run(settings)
    if failure:
        raise RuntimeError(f"the benchmark's full run failed:\n{failure}")
    figures = warehouse_figures(settings)
    rows_in = sum(s["rows_in"] for s in figures["sources"].values())
    steps, full_events = run_log_figures(settings, full.run_id)
    full_stages = stages(steps, full_seconds)
    # Read each run's dbt artefacts now: the nights after it prune them (CRM_KEEP_RUNS).
    full_dbt_nodes = dbt_breakdown(settings, full.run_id)

    link_tree(cache / "next_day", settings.landing_dir)
    relations = model_relations()
    rowids_before_day = table_rowids(settings, relations)
    # A failed incremental run is a result too (it is reported, the rest is measured).
    day_seconds, day, day_peaks, day_failure = _run(settings, window=(NEXT_DAY, NEXT_DAY))
    day_steps, day_events = run_log_figures(settings, day.run_id)
    day_rows = sum(s["rows_in"] for s in warehouse_figures(settings)["sources"].values()) - rows_in
    day_models = models_written(
        settings, relations, model_seconds(settings, day.run_id), rowids_before_day
    )
    # The same night again: nothing new to load, so what is left is the fixed cost.
    rerun = _night(settings, NEXT_DAY)
    night_runs = [_night(settings, day) for day, folder in _linked(cache, scale, seed, nights)]

    ceiling = ceiling_seconds(cache / "landing", work, settings)
    ingest = full_stages["ingest (all sources)"]
    results = {
        "scale": scale,
        "seed": seed,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(settings),
        "generate": generated,
        "rows": {
            "landing_rows": rows_in,
            "per_source": {k: v["rows_in"] for k, v in figures["sources"].items()},
            "marts": figures["marts"],
        },
        "full_run": {
            "seconds": round(full_seconds, 2),
            "rows_per_second": round(rows_in / full_seconds),
            "stages": full_stages,
            "events": full_events,
            "dbt_node_seconds": full_dbt_nodes,
            "peak_rss_bytes": full_peaks.peak_rss,
            "peak_spill_bytes": full_peaks.peak_spill,
        },
        "incremental_day": {
            "landing_date": NEXT_DAY.isoformat(),
            "rows": day_rows,
            "seconds": round(day_seconds, 2),
            "stages": stages(day_steps, day_seconds),
            "events": day_events,
            "peak_rss_bytes": day_peaks.peak_rss,
            "over_full_run": None if day_failure else round(day_seconds / full_seconds, 3),
            "failed": day_failure,
            "models": day_models,
        },
        "rerun_no_new_data": rerun,
        "nights": {"runs": night_runs, **(nights_summary(night_runs) if nights > 1 else {})},
        "ingest": {
            "seconds": ingest,
            "rows_per_second": round(rows_in / ingest) if ingest else None,
            "ceiling_seconds": ceiling,
            "over_ceiling": round(ingest / ceiling["all sources"], 2),
        },
        "clv_1m": clv_million_seconds(seed=seed),
    }
    results["targets"] = target_verdicts(results)
    out = BENCH_DIR / "results" / f"{scale}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _linked(cache: Path, scale: str, seed: int, nights: int) -> Iterator[tuple[date, Path]]:
    """Each night's deliveries, linked into landing just before its run."""
    landing = get_settings().landing_dir
    for day, folder in cached_nights(cache, scale, seed, nights) if nights else []:
        link_tree(folder, landing)
        yield day, folder


def target_verdicts(r: dict) -> list[dict]:
    def verdict(name: str, value: float | None, limit: float) -> dict:
        # None: the stage failed, which misses the target
        return {
            "target": name,
            "value": value,
            "limit": limit,
            "met": value is not None and value <= limit,
        }

    out = [
        verdict("peak RSS (bytes)", r["full_run"]["peak_rss_bytes"], TARGETS["peak_rss_bytes"]),
        verdict(
            "ingest / DuckDB ceiling", r["ingest"]["over_ceiling"], TARGETS["ingest_over_ceiling"]
        ),
        verdict(
            "incremental day / full run",
            r["incremental_day"]["over_full_run"],
            TARGETS["incremental_over_full"],
        ),
        verdict(
            "CLV fit + scoring, 1M customers (s)", r["clv_1m"]["seconds"], TARGETS["clv_1m_seconds"]
        ),
    ]
    key = f"full_run_{r['scale']}_seconds"
    if key in TARGETS:
        out.insert(
            0, verdict(f"full run, scale {r['scale']} (s)", r["full_run"]["seconds"], TARGETS[key])
        )
    return out


# --- printing --------------------------------------------------------------------------------


def _gb(n: int) -> str:
    return f"{n / 1024**3:.2f} GB"


def _events_line(run: dict) -> str:
    events = run.get("events")  # absent from results written before it was measured
    if not events:
        return "  Dagster events stored: not measured"
    return f"  {'Dagster events stored (dbt steps)':<42}{events['all']:>10,}   ({events['dbt steps']:,})"


def report(r: dict) -> str:
    m, full, day, ing = r["machine"], r["full_run"], r["incremental_day"], r["ingest"]
    gen = r["generate"]
    lines = [
        f"benchmark scale {r['scale']} seed {r['seed']} on {m['cpus']} cores, {_gb(m['memory_bytes'])}"
        f" (DuckDB {m['duckdb']}, memory_limit {m['duckdb_memory_limit']}, threads {m['duckdb_threads']})",
        f"data: {r['rows']['landing_rows']:,} landing rows, {_gb(gen['landing_bytes'])}; generated in "
        f"{gen['generate_seconds']} s" + (" (cached)" if gen["cached"] else ""),
        "",
        f"{'full run from empty':<44}{full['seconds']:>10.1f} s   {full['rows_per_second']:>9,} rows/s",
    ]
    for stage, seconds in full["stages"].items():
        lines.append(f"  {stage:<42}{seconds:>10.1f} s")
    lines.append(_events_line(full))
    lines.append("  dbt node seconds (sum over 2 threads):")
    for label, seconds in full["dbt_node_seconds"].items():
        lines.append(f"    {label:<40}{seconds:>10.1f} s")
    lines += [
        f"  {'peak RSS, process tree':<42}{_gb(full['peak_rss_bytes']):>12}",
        f"  {'peak DuckDB spill':<42}{_gb(full['peak_spill_bytes']):>12}",
        f"{'one incremental day (' + day['landing_date'] + ')':<44}{day['seconds']:>10.1f} s   "
        + (
            f"{day['over_full_run']:.1%} of the full run"
            if day["failed"] is None
            else "FAILED: " + day["failed"].splitlines()[0]
        ),
    ]
    if day["failed"] is None:
        lines.append(_events_line(day))
    lines.append("  per model (seconds, rows written / rows held), slowest first:")
    for model, f in day.get("models", {}).items():
        held = f" / {f['rows']:,}" if "rows" in f else ""
        lines.append(
            f"    {model:<40}{f['seconds']:>8.2f} s  {f['rows_written']:>12,}{held}  {f['materialized']}"
        )
    lines += _night_lines(r)
    lines += [
        f"{'ingest':<44}{ing['seconds']:>10.1f} s   {ing['rows_per_second'] or 0:>9,} rows/s",
        f"{'DuckDB alone reading the same files':<44}{ing['ceiling_seconds']['all sources']:>10.1f} s   "
        f"ingest / ceiling = {ing['over_ceiling']:.2f}",
        f"{'CLV fit + scoring, 1M customers':<44}{r['clv_1m']['seconds']:>10.1f} s",
        "",
        "targets:",
    ]
    for t in r["targets"]:
        value, limit = t["value"], t["limit"]
        if value is None:
            value = "failed"
        elif "bytes" in t["target"]:
            value, limit = _gb(value), _gb(limit)
        lines.append(
            f"  {'met ' if t['met'] else 'MISSED'}  {t['target']:<40}{value!s:>12} <= {limit}"
        )
    return "\n".join(lines)


def _night_lines(r: dict) -> list[str]:
    """The re-run with nothing new and the nights after, when measured."""
    lines = []
    rerun = r.get("rerun_no_new_data")
    if rerun:
        lines.append(
            f"{'the same night again, nothing new':<44}{rerun['seconds']:>10.1f} s   "
            f"{rerun['events'].get('all', 0):,} events"
        )
    runs = r.get("nights", {}).get("runs", [])
    if runs:
        lines.append(f"{len(runs)} nights after it (date, seconds, dbt step, events, data folder):")
        for n in runs:
            state = "" if n["failed"] is None else "  FAILED"
            lines.append(
                f"    {n['landing_date']:<12}{n['seconds']:>8.1f} s{n['dbt_step_seconds']:>8.1f} s"
                f"{n['events'].get('all', 0):>8,}{_gb(n['data_bytes']):>12}{state}"
            )
    summary = r.get("nights", {})
    if "seconds_per_night_slope" in summary:
        lines.append(
            f"  night time against history: {summary['seconds_per_night_slope']:+.2f} s per "
            f"night (residual std {summary['seconds_residual_std']:.2f} s); data folder "
            f"{summary['data_bytes_per_night'] / 1024**2:+.1f} MB per night"
        )
    return lines


def scaling_table() -> str:
    """Every scale measured so far: rows, full-run seconds, and how time grew against rows."""
    rows = []
    for scale in SCALE_ORDER:
        path = BENCH_DIR / "results" / f"{scale}.json"
        if path.exists():
            r = json.loads(path.read_text())
            rows.append(
                (
                    scale,
                    r["rows"]["landing_rows"],
                    r["full_run"]["seconds"],
                    r["incremental_day"]["seconds"],
                )
            )
    lines = [
        f"{'scale':<6}{'landing rows':>14}{'full run s':>12}{'µs/row':>9}{'rows x':>9}{'time x':>9}{'day s':>8}"
    ]
    previous = None
    for scale, n, seconds, day in rows:
        grow = f"{n / previous[0]:>9.1f}{seconds / previous[1]:>9.1f}" if previous else f"{'':>18}"
        lines.append(
            f"{scale:<6}{n:>14,}{seconds:>12.1f}{seconds / n * 1e6:>9.1f}{grow}{day:>8.1f}"
        )
        previous = (n, seconds)
    return "\n".join(lines)
