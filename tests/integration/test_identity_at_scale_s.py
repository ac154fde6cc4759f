"""Identity resolution holds its quality at the demo scale (S, ~20k persons), not only XS."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.generator import generate
from pipelines.run import run_warehouse_job
from pipelines.settings import export_to_environment, get_settings


def test_identity_precision_and_recall_at_scale_s(data_dir: Path):
    settings = export_to_environment(get_settings())
    generate(
        settings.landing_dir,
        settings.truth_dir,
        scale="S",
        seed=42,
        start_date=date(2025, 1, 1),
        days=365,
    )
    assert run_warehouse_job(settings).success
    # the CLI a user runs, as JSON
    result = CliRunner().invoke(app, ["identity-report"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["persons"] > 15_000
    assert report["missing_in_warehouse"] == 0
    assert report["precision"] >= 0.99
    assert report["recall"] >= 0.95
    assert report["f1"] >= 0.97
