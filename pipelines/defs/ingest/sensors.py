"""A sensor on the landing folder: one run of the warehouse job per newly complete delivery.

It reads the file system only, never the warehouse (DuckDB is locked while a run writes).
The cursor remembers each complete delivery folder with a signature of its contents, so a
folder is announced once when it becomes complete, and again only if files change in it
(a corrected re-delivery). Ingest itself skips incomplete folders too, so a run started
by the schedule or by hand does not read half-written files either.
"""

import hashlib
import json

import dagster as dg

from pipelines.defs.partitions import date_bounds, landing_partitions, range_tags
from pipelines.lib.contracts import load_contracts
from pipelines.lib.landing import delivery_folders, delivery_ready, folder_date
from pipelines.settings import get_settings

WAREHOUSE_JOB = "warehouse"


def _signature(folder) -> str:
    entries = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


def complete_deliveries(landing_dir, quiet_seconds: float) -> dict[str, str]:
    """Complete delivery folders of the known sources (relative path -> content signature)."""
    return {
        f"{folder.parent.name}/{folder.name}": _signature(folder)
        for folder in delivery_folders(landing_dir, set(load_contracts()))
        if delivery_ready(folder, quiet_seconds)
    }


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
    complete = complete_deliveries(settings.landing_dir, settings.landing_quiet_seconds)
    new = sorted(folder for folder, sig in complete.items() if seen.get(folder) != sig)
    if not new:
        return dg.SkipReason(f"no new complete delivery ({len(complete)} known)")
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
