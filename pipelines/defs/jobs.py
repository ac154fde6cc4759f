"""The warehouse job: every asset of the code location, over a range of landing dates (run
tags: pipelines/defs/partitions.py). The sensor, the schedule and retention name it."""

import dagster as dg

WAREHOUSE_JOB = "warehouse"

warehouse_job = dg.define_asset_job(WAREHOUSE_JOB, selection=dg.AssetSelection.all())
