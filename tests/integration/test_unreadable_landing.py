"""Landing entries that cannot be read: the sensor keeps ticking and the run rejects them
with their cause, while the other files of the same source still load.

Permissions are real: the warehouse code runs in a child process that cannot read what
its mode bits forbid. Under root (containers, CI) the child gives up the two capabilities
that let root read anything (``setpriv``, util-linux), so ``chmod 000`` means what it means
for a merchant's service account.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from pipelines.lib.contracts import get_contract
from pipelines.lib.landing import DELIVERY_MARKER

POS = "pos_transactions"
DAY, LOCKED_DAY = "2025-03-01", "2025-03-02"

CHILD = textwrap.dedent(
    """
    import json

    import dagster as dg

    from pipelines.defs.ingest.assets import ingest_assets
    from pipelines.defs.ingest.sensors import complete_deliveries, landing_sensor
    from pipelines.settings import get_settings
    from tests.conftest import materialise_ingest

    settings = get_settings()
    complete, problems = complete_deliveries(settings.landing_dir, settings.landing_quiet_seconds)
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance) as context:
            tick = landing_sensor(context)
    (pos,) = [a for a in ingest_assets if a.key == dg.AssetKey(["raw", "pos_transactions"])]
    result = materialise_ingest([pos], raise_on_error=False)
    (failure,) = result.get_step_failure_events()
    import duckdb

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        loads = con.execute(
            "select file, status, error from raw.loads order by file"
        ).fetchall()
        receipts = con.execute(
            "select receipt_id from raw.pos_transactions order by receipt_id"
        ).fetchall()
    print(json.dumps({
        "complete": sorted(complete),
        "problems": problems,
        "announced": [r.tags["crm/deliveries"] for r in tick.run_requests],
        "failure": failure.event_specific_data.error.message,
        "loads": loads,
        "receipts": [r for (r,) in receipts],
    }))
    """
)


def _pos_file(receipt: str) -> str:
    contract = get_contract(POS)
    row = {
        "store_id": "S01",
        "receipt_id": receipt,
        "line_no": "1",
        "sale_date": DAY,
        "sale_time": "10:00:00",
        "sku": "SKU1",
        "item_name": "Tea",
        "quantity": "1",
        "unit_price": "5.00",
        "discount_amount": "0",
        "line_amount": "5.00",
        "payment_method": "cash",
        "member_card": "",
        "phone": "",
    }
    header = ",".join(c.canonical_header for c in contract.columns)
    return f"{header}\n{','.join(row[c] for c in contract.column_names)}\n"


def _without_root_powers() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root: setpriv (util-linux) is needed to drop DAC overrides"
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]


def test_unreadable_entries_are_reported_and_the_rest_loads(tmp_path: Path):
    data = tmp_path / "data"
    day = data / "landing" / POS / DAY
    day.mkdir(parents=True)
    (day / "good.csv").write_text(_pos_file("GOOD1"))
    (day / "locked.csv").write_text(_pos_file("LOCKED1"))
    (day / "locked.csv").chmod(0)
    (day / "dangling.csv").symlink_to("gone.csv")
    (day / "loop.csv").symlink_to("loop.csv")
    (day / DELIVERY_MARKER).touch()
    locked_day = data / "landing" / POS / LOCKED_DAY
    locked_day.mkdir()
    (locked_day / "hidden.csv").write_text(_pos_file("HIDDEN1"))
    (locked_day / DELIVERY_MARKER).touch()
    # Delivered yesterday with the wrong permissions: its marker cannot be seen, and it has
    # been quiet for longer than the quiet period.
    os.utime(locked_day, (os.path.getmtime(locked_day) - 86400,) * 2)
    locked_day.chmod(0)

    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CRM_", "DUCKDB_", "DAGSTER_")) or k == "CRM_PII_SALT"
    } | {
        "CRM_DATA_DIR": str(data),
        "CRM_DUCKDB_MEMORY_LIMIT": "1GB",
        "CRM_LANDING_QUIET_SECONDS": "3600",  # every folder carries its marker
    }
    try:
        child = subprocess.run(
            [*_without_root_powers(), sys.executable, "-c", CHILD],
            env=environment,
            cwd=Path(__file__).parents[2],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        locked_day.chmod(0o755)  # so that pytest can remove tmp_path
    assert child.returncode == 0, child.stderr[-3000:]
    seen = json.loads(child.stdout.strip().splitlines()[-1])

    # The sensor: the readable folder is announced, each unreadable entry is named.
    assert seen["complete"] == [f"{POS}/{DAY}"]
    assert seen["announced"] == [f"{POS}/{DAY}"]
    assert seen["problems"] == [
        f"{POS}/{DAY}/dangling.csv: cannot be read: No such file or directory",
        f"{POS}/{DAY}/locked.csv: cannot be read: permission denied",
        f"{POS}/{DAY}/loop.csv: cannot be read: Too many levels of symbolic links",
        f"{POS}/{LOCKED_DAY}: cannot list the folder: Permission denied",
    ]
    # The run: the readable file loads; the unreadable one is a rejected load with its
    # cause (retried next run); the others are named by the landing scan.
    assert seen["receipts"] == ["GOOD1"]
    assert [tuple(load) for load in seen["loads"]] == [
        (f"{POS}/{DAY}/good.csv", "loaded", None),
        (
            f"{POS}/{DAY}/locked.csv",
            "rejected",
            f"{POS}/{DAY}/locked.csv: cannot read file: Permission denied",
        ),
    ]
    for message in (
        f"{POS}/{DAY}/dangling.csv: symlink points to nothing (dangling)",
        f"{POS}/{DAY}/locked.csv: cannot read file: Permission denied",
        f"{POS}/{DAY}/loop.csv: cannot resolve the path: Symlink loop",
        f"{POS}/{LOCKED_DAY}: cannot list the folder: Permission denied",
    ):
        assert message in seen["failure"], seen["failure"]
