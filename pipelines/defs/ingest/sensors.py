"""A sensor on the landing folder: one run of the warehouse job per newly complete delivery.

It reads the file system only, never the warehouse (DuckDB is locked while a run writes).
The cursor remembers each complete delivery folder with a signature of its contents, so a
folder is announced once when it becomes complete, and again only if files change in it
(a corrected re-delivery). Ingest itself skips incomplete folders too, so a run started
by the schedule or by hand does not read half-written files either. What cannot be read
(a folder's permissions, a dangling or looping symlink) is logged on each tick, never
raised: a sensor that fails its ticks would stop announcing every other delivery too.
"""

import hashlib
import json
import os
from pathlib import Path

import dagster as dg

from pipelines.defs.jobs import WAREHOUSE_JOB
from pipelines.defs.partitions import date_bounds, landing_partitions, range_tags
from pipelines.lib.contracts import load_contracts
from pipelines.lib.landing import (
    LandingProblem,
    delivery_folders,
    delivery_ready,
    folder_date,
    unlistable_folder,
)
from pipelines.settings import get_settings


def _signature(folder: Path, problems: list[str]) -> str:
    """What the folder holds: name, size and time of each entry (of a symlink's target).
    An entry that cannot be read is added to ``problems``: the run rejects it with its
    cause, and the folder's other files are announced as usual."""
    entries = []
    for path in sorted(folder.iterdir()):
        shown = f"{folder.parent.name}/{folder.name}/{path.name}"
        try:
            stat = path.stat()
        except (OSError, RuntimeError) as exc:  # a dangling symlink, a symlink loop
            try:
                stat = path.lstat()
            except FileNotFoundError:  # removed since the listing
                continue
            problems.append(f"{shown}: cannot be read: {exc.strerror or exc}")
        else:
            if not os.access(path, os.R_OK):
                problems.append(f"{shown}: cannot be read: permission denied")
        entries.append((path.name, stat.st_size, stat.st_mtime_ns))
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


def complete_deliveries(
    landing_dir: Path, quiet_seconds: float
) -> tuple[dict[str, str], list[str]]:
    """Complete delivery folders of the known sources (relative path -> content signature),
    and what in landing cannot be read. A folder that cannot be listed is left out (nothing
    in it could load): it is reported on every tick until it can be read."""
    found: list[LandingProblem] = []
    complete, problems = {}, []
    for folder in delivery_folders(landing_dir, set(load_contracts()), found):
        relative = f"{folder.parent.name}/{folder.name}"
        if not delivery_ready(folder, quiet_seconds):
            continue
        try:
            complete[relative] = _signature(folder, problems)
        except OSError as exc:
            found.append(unlistable_folder(relative, exc))
    return complete, problems + [f"{p.relative_path}: {p.reason}" for p in found]


@dg.sensor(
    job_name=WAREHOUSE_JOB,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts the warehouse job when a delivery folder under landing becomes complete "
    "(_SUCCESS marker, or no change for CRM_LANDING_QUIET_SECONDS).",
)
def landing_sensor(context: dg.SensorEvaluationContext):
    settings = get_settings()
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    complete, problems = complete_deliveries(settings.landing_dir, settings.landing_quiet_seconds)
    for problem in problems:
        context.log.warning(f"landing: {problem}")
    new = sorted(folder for folder, sig in complete.items() if seen.get(folder) != sig)
    if not new:
        unreadable = f"; cannot read: {'; '.join(problems)}" if problems else ""
        return dg.SkipReason(f"no new complete delivery ({len(complete)} known){unreadable}")
    context.update_cursor(json.dumps(complete, sort_keys=True))
    key = hashlib.sha256(json.dumps({f: complete[f] for f in new}).encode()).hexdigest()[:16]
    bounds = date_bounds(settings)
    dates = sorted({d for d in (folder_date(f.split("/")[1]) for f in new) if bounds.admits(d)})
    if not dates:
        reasons = "; ".join(f"{f}: {bounds.problem(folder_date(f.split('/')[1]))}" for f in new)
        return dg.SkipReason(f"new deliveries are not read: {reasons}")
    known = set(context.instance.get_dynamic_partitions(landing_partitions.name))
    new_keys = [d.isoformat() for d in dates if d.isoformat() not in known]
    return dg.SensorResult(
        # Register the new landing dates as partitions first; the run covers them.
        dynamic_partitions_requests=[landing_partitions.build_add_request(new_keys)]
        if new_keys
        else [],
        run_requests=[
            dg.RunRequest(
                run_key=f"landing-{key}",
                tags={
                    "crm/trigger": "landing_sensor",
                    "crm/deliveries": ",".join(new)[:1000],
                    **range_tags(dates[0], dates[-1]),
                },
            )
        ],
    )
