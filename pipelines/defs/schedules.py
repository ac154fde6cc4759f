"""The nightly refresh: re-reads the last few landing days and rebuilds everything after."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.defs.jobs import WAREHOUSE_JOB
from pipelines.defs.partitions import (
    complete_landing_dates,
    nightly_window,
    range_tags,
    register_landing_dates,
)
from pipelines.settings import get_settings

_settings = get_settings()


@dg.schedule(
    name="nightly",
    job_name=WAREHOUSE_JOB,
    cron_schedule=_settings.nightly_cron,
    execution_timezone=_settings.schedule_timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="The nightly refresh (CRM_NIGHTLY_CRON, CRM_SCHEDULE_TIMEZONE): loads the "
    "complete deliveries of the last CRM_NIGHTLY_LOOKBACK_DAYS landing days and rebuilds "
    "every asset after them; runs only while dagster-daemon is up (docs/operations.md).",
)
def nightly(context: dg.ScheduleEvaluationContext):
    settings = get_settings()
    scheduled = context.scheduled_execution_time or datetime.now(
        ZoneInfo(settings.schedule_timezone)
    )
    start, end = nightly_window(
        settings, scheduled.astimezone(ZoneInfo(settings.schedule_timezone)).date()
    )
    dates = complete_landing_dates(settings, start, end)
    if not dates:
        return dg.SkipReason(f"no complete delivery folder dated {start}..{end}")
    # A schedule cannot return partition requests as a sensor does; register them here.
    register_landing_dates(context.instance, dates)
    return dg.RunRequest(
        run_key=f"nightly-{end.isoformat()}",
        tags={"crm/trigger": "nightly", **range_tags(dates[0], dates[-1])},
    )
