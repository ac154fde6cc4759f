"""The run's SQLite event log is held open while the run writes to it (pipelines/run.py):
a tiny job on a real instance under a temporary DAGSTER_HOME."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster._core.utils import make_new_run_id

from pipelines.run import event_log_held_open


@dg.op
def _step():
    return 1


@dg.job
def _tiny():
    _step()


def _wal_files(home: Path, run_id: str) -> set[str]:
    runs = home / "history" / "runs"
    return {p.name for p in runs.glob("*.db-wal")} & {f"{run_id}.db-wal", "index.db-wal"}


def test_the_run_log_is_not_checkpointed_on_every_event_while_held(tmp_path: Path):
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        # Without the held connection every event's connection is the last to close: SQLite
        # checkpoints the log into the database and deletes it each time.
        alone = make_new_run_id()
        assert _tiny.execute_in_process(instance=instance, run_id=alone).success
        assert _wal_files(tmp_path, alone) == set()
        held = make_new_run_id()
        with event_log_held_open(instance, held):
            result = _tiny.execute_in_process(instance=instance, run_id=held)
            # Each event went into the log, which stays until the held connections close.
            assert _wal_files(tmp_path, held) == {f"{held}.db-wal", "index.db-wal"}
        assert result.success
        assert _wal_files(tmp_path, held) == set()
        # Every event is in the database once the log is checkpointed at the end.
        events = instance.all_logs(held)
        assert [e.dagster_event_type for e in events if e.is_dagster_event][-1] == (
            dg.DagsterEventType.RUN_SUCCESS
        )
        assert len(events) == len(instance.all_logs(alone))


def test_an_instance_without_sqlite_files_runs_as_it_is():
    with dg.DagsterInstance.ephemeral() as instance:
        run_id = make_new_run_id()
        with event_log_held_open(instance, run_id):
            assert _tiny.execute_in_process(instance=instance, run_id=run_id).success
