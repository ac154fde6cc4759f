"""Export folders: published whole, private ones owner-only, and the work folders of a
writer that died cleaned up by the next one."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import duckdb

from pipelines.lib.exports import published_folders, read_manifest, write_exports

DAY = dt.date(2025, 12, 31)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema restricted")
    con.execute(
        "create table restricted.contacts as select * from (values ('C2', 'b@x.cn'), ('C1', 'a@x.cn')) t(customer_id, email)"
    )
    return con


def _dead_pid() -> int:
    pid = 2**22 + 12345  # above Linux's default pid_max: no such process
    assert not Path(f"/proc/{pid}").exists()
    return pid


def test_private_exports_are_owner_only_and_ordered(tmp_path: Path):
    folder, manifest = write_exports(
        _warehouse(),
        tmp_path / "contacts",
        DAY,
        "run-1",
        [],
        outputs=("contacts",),
        schema="restricted",
        formats=("csv",),
        private=True,
    )
    assert folder == tmp_path / "contacts" / "2025-12-31"
    for path in (tmp_path / "contacts", folder):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert (folder / "contacts.csv").read_text() == "customer_id,email\nC1,a@x.cn\nC2,b@x.cn\n"
    assert (
        read_manifest(folder)["outputs"]["contacts"]["rows"]
        == manifest["outputs"]["contacts"]["rows"]
        == 2
    )


def test_work_folders_of_dead_writers_are_removed_live_ones_kept(tmp_path: Path):
    exports = tmp_path / "exports"
    dead, alive = _dead_pid(), os.getppid()
    leftovers = [
        exports / f".staging-{dead}-0a1b",
        exports / f".replaced-{dead}-2025-12-30-0a1b",
        exports / ".staging-0a1b2c",  # named before writers put their pid in
    ]
    running = exports / f".staging-{alive}-0a1b"
    for path in [*leftovers, running]:
        path.mkdir(parents=True)
        (path / "customer_segments.csv").write_text("half a file")

    write_exports(
        _warehouse(),
        exports,
        DAY,
        "run-2",
        [],
        outputs=("contacts",),
        schema="restricted",
        formats=("csv",),
    )

    assert [p for p in leftovers if p.exists()] == []
    assert running.exists()  # its writer may still be writing
    assert published_folders(exports) == [exports / "2025-12-31"]
