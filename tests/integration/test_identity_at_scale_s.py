"""Identity resolution holds its quality at the demo scale (S, ~20k persons), not only XS.

The run materialises what the resolution needs (ingest, staging, the identity models, with
their checks); the analyses, exports and serving after it are the XS tests' business."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import dagster as dg
from typer.testing import CliRunner

from crm_tools.generator import generate
from pipelines.cli import app
from pipelines.run import run_warehouse_job
from pipelines.settings import get_settings


def test_identity_precision_and_recall_at_scale_s(data_dir: Path, monkeypatch):
    # A subset run: dbt's default (eager) indirect selection would also run the tests that
    # join a selected model to one left out (order lines), which then do not exist.
    monkeypatch.setenv("DBT_INDIRECT_SELECTION", "cautious")
    settings = get_settings()
    generate(
        settings.landing_dir,
        settings.truth_dir,
        scale="S",
        seed=42,
        start_date=date(2025, 1, 1),
        days=365,
    )
    resolution = dg.AssetSelection.assets("int_source_records_resolved").upstream()
    result = run_warehouse_job(settings, selection=resolution)
    assert result.success
    assert "customer_clv" not in {
        e.asset_key.to_user_string() for e in result.all_events if e.is_step_materialization
    }
    # the CLI a user runs, as JSON
    result = CliRunner().invoke(app, ["identity-report"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["persons"] > 15_000
    assert report["missing_in_warehouse"] == 0
    assert report["precision"] >= 0.99
    assert report["recall"] >= 0.95
    assert report["f1"] >= 0.97
