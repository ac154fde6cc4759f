"""A progress display for `crm-warehouse run` / `backfill`: which steps have ended, how
long each took, and how far the run is.

It follows the run in Dagster's event log from a thread with its own instance, so the run
itself is not touched. On a terminal one status line is kept up to date; otherwise
(CI logs, `make demo > file`) each ended step is printed on its own line.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TextIO

import dagster as dg
from dagster import DagsterEventType

STEP_ENDS = {
    DagsterEventType.STEP_SUCCESS: "ok",
    DagsterEventType.STEP_FAILURE: "FAILED",
    DagsterEventType.STEP_SKIPPED: "skipped",
}
POLL_SECONDS = 1.0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:d}:{secs:02d}"


class RunProgress:
    """Context manager: ``with RunProgress(run_id, total_steps, home):
    job.execute_in_process(...)``, ``home`` being the run's Dagster instance folder."""

    def __init__(self, run_id: str, total_steps: int, home: Path, stream: TextIO | None = None):
        self.run_id = run_id
        self.home = home
        self.total_steps = total_steps
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.started_at = time.monotonic()
        self.step_started: dict[str, float] = {}
        self.ended = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="run-progress", daemon=True)

    def __enter__(self) -> RunProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if self.live:
            self.stream.write("\n")
            self.stream.flush()

    def _follow(self) -> None:
        cursor = None
        kinds = {DagsterEventType.STEP_START, *STEP_ENDS}
        with dg.DagsterInstance.from_config(str(self.home)) as instance:
            while True:
                stopping = self._stop.is_set()  # read before the last poll: no event missed
                connection = instance.get_records_for_run(self.run_id, cursor=cursor, of_type=kinds)
                cursor = connection.cursor
                for record in connection.records:
                    self._show(record.event_log_entry)
                if stopping:
                    return
                self._stop.wait(POLL_SECONDS)

    def _show(self, entry) -> None:
        event = entry.dagster_event
        step = event.step_key
        if event.event_type == DagsterEventType.STEP_START:
            self.step_started[step] = entry.timestamp
            if self.live:
                self._write(f"running {step}")
            return
        self.ended += 1
        took = entry.timestamp - self.step_started.get(step, entry.timestamp)
        self._write(f"{STEP_ENDS[event.event_type]:<7} {step} ({took:.1f}s)")

    def _write(self, text: str) -> None:
        position = f"[{self.ended:>3}/{self.total_steps} steps {_clock(time.monotonic() - self.started_at)}]"
        if self.live:
            self.stream.write(f"\r\033[K{position} {text}"[:200])
        else:
            self.stream.write(f"{position} {text}\n")
        self.stream.flush()
