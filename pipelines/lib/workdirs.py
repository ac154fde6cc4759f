"""Work folders of writers that publish by rename (serving builds, export staging):
named ``<prefix><writer pid>-...`` so that the next writer can tell a dead writer's
leftovers from a live one's."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_dead_writers(parent: Path, prefixes: tuple[str, ...]) -> list[str]:
    """Delete the folders under ``parent`` named with one of ``prefixes`` whose writer
    has died (a killed run never reaches its ``finally``); returns their names. A folder
    whose pid still runs is another writer at work and is left alone, as is one whose pid
    was reused, until that process ends. A name without a pid is a leftover too."""
    removed = []
    for folder in parent.glob(".*"):
        prefix = next((p for p in prefixes if folder.name.startswith(p)), None)
        if prefix is None:
            continue
        pid = folder.name.removeprefix(prefix).split("-", 1)[0]
        if pid.isdigit() and process_alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    return sorted(removed)
