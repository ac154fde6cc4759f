"""dbt unit tests check our SQL on hand-written fixtures, not the night's data, so the
pipeline's `dbt build` leaves them out; here they run, every one, against a real warehouse
(dbt reads the column types of a model's parents from it)."""

import json
import subprocess
import sys
from pathlib import Path

from pipelines.settings import DBT_PROJECT_DIR, Settings


def test_every_dbt_unit_test_passes(xs_warehouse_copy: Settings, tmp_path: Path):
    cli = Path(sys.executable).parent / "crm-warehouse"
    target = tmp_path / "target"
    done = subprocess.run(
        [cli, "dbt", "test", "--select", "test_type:unit", "--target-path", str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    declared = set(manifest["unit_tests"])
    results = json.loads((target / "run_results.json").read_text())["results"]
    # besides the unit tests, only the hooks ran (macros/security/,
    # macros/portable/portable_sources.sql, macros/incremental/replaced_rows.sql)
    hooks = {r["unique_id"] for r in results if r["unique_id"].startswith("operation.")}
    unit_tests = [r for r in results if r["unique_id"] not in hooks]
    assert hooks == {
        "operation.crm_warehouse.crm_warehouse-on-run-start-0",
        "operation.crm_warehouse.crm_warehouse-on-run-start-1",
        "operation.crm_warehouse.crm_warehouse-on-run-end-0",
    }
    assert len(declared) >= 20
    assert {r["unique_id"] for r in unit_tests} == declared
    assert {r["status"] for r in unit_tests} == {"pass"}
