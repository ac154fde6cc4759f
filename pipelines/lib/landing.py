"""Finding, hashing and decoding landing files. Pure helpers, no Dagster.

Landing layout: ``<landing>/<source>/<YYYY-MM-DD>/<file>``. Anything else under a source
folder is reported, never silently read: a file outside a date folder, a date folder with
a bad name, a symlink that leaves the landing tree.

A delivery folder is read only when it is complete: it holds a ``_SUCCESS`` marker (the
delivering system writes it last), or nothing in it has changed for a quiet period. So a
half-copied file is never read, whoever starts the run; a folder left for later is listed
(:func:`waiting_folders`) so that a run can say what it did not read and why.

Any plausible delivery date loads, history included (:class:`DateBounds`): a folder named
before 1990 or after tomorrow is reported, as is one before the optional floor
(``CRM_LANDING_FLOOR``, off by default).
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import re
import time
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".parquet")
# Files still being written by the delivering system (or editor/OS droppings): not data.
IGNORED_PREFIXES = (".", "_", "~")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".filepart")

DELIVERY_MARKER = "_SUCCESS"
# The metadata key under which a failed ingest step lists the landing files and folders it
# could not read ("path: reason"): the run summary shows them under NOT READ, apart from
# other steps' failures (a refused publication lists checks, not files).
LANDING_PROBLEMS = "landing_problems"

# Enough bytes to decide an encoding: a GBK file shows invalid UTF-8 within the first
# Chinese characters; reading the whole file would double the I/O of big deliveries.
ENCODING_PROBE_BYTES = 4 * 1024 * 1024


class LandingError(ValueError):
    """A landing file that cannot be read at all; the message names the file and cause."""


@dataclass(frozen=True)
class LandingFile:
    source: str
    path: Path
    relative_path: str  # relative to the landing root, POSIX separators
    delivery_date: date

    @property
    def is_gzip(self) -> bool:
        return self.path.name.lower().endswith(".gz")

    @property
    def kind(self) -> str:
        name = self.path.name.lower()
        if name.endswith(".parquet"):
            return "parquet"
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
            return "jsonl"
        return "csv"


@dataclass(frozen=True)
class LandingProblem:
    """Something under a source folder that is not a readable delivery."""

    relative_path: str
    reason: str


_FOLDER_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def folder_date(name: str) -> date | None:
    """The date a delivery folder is named by (YYYY-MM-DD exactly), else None."""
    if not _FOLDER_DATE.fullmatch(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:  # 2025-02-30
        return None


def _is_ignored(name: str) -> bool:
    return name.startswith(IGNORED_PREFIXES) or name.lower().endswith(IGNORED_SUFFIXES)


def _shown(relative_path: str) -> str:
    """A landing path as text that can be stored and printed. A name that is not UTF-8 (GBK
    bytes, e.g. unzipped from an archive made on Chinese Windows) reaches Python as lone
    surrogates, which DuckDB and Dagster cannot encode: its bad bytes show as \\xNN."""
    return relative_path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# Delivery folders named before this are not a delivery date anyone meant (1899-12-30 is
# Excel's day zero, 1970-01-01 an unset Unix time); merchants' histories start later.
EARLIEST_PLAUSIBLE_DELIVERY = date(1990, 1, 1)
# A folder named for tomorrow is plausible where the merchant's day starts before ours.
FUTURE_SLACK_DAYS = 1


@dataclass(frozen=True)
class DateBounds:
    """Which delivery-folder dates a run reads: any plausible date from the optional floor
    on. ``today`` is the warehouse's (schedule time zone)."""

    today: date
    floor: date | None = None

    @property
    def latest(self) -> date:
        return self.today + timedelta(days=FUTURE_SLACK_DAYS)

    def problem(self, delivered: date) -> str | None:
        """Why a folder of this date is not read (None: it is)."""
        if delivered < EARLIEST_PLAUSIBLE_DELIVERY:
            return (
                f"delivery folder dated {delivered}, before {EARLIEST_PLAUSIBLE_DELIVERY}: not a "
                "plausible delivery date (rename the folder to the day the file was delivered)"
            )
        if delivered > self.latest:
            return (
                f"delivery folder dated {delivered} is in the future (today is {self.today}): "
                "rename the folder to the day the file was delivered"
            )
        if self.floor is not None and delivered < self.floor:
            return (
                f"delivery folder dated before CRM_LANDING_FLOOR {self.floor} "
                "(set it earlier, or unset it, to load it)"
            )
        return None

    def admits(self, delivered: date) -> bool:
        return self.problem(delivered) is None


def _newest_change(day_dir: Path) -> float:
    """When anything in the folder last changed (the folder's own time when it is empty,
    or when it cannot be listed: the run that reads it then reports why)."""
    try:
        entries = list(day_dir.iterdir())
    except OSError:
        return day_dir.stat().st_mtime
    newest = day_dir.stat().st_mtime if not entries else 0.0
    for entry in entries:
        try:
            newest = max(newest, entry.lstat().st_mtime)
        except FileNotFoundError:  # removed since the listing
            continue
    return newest


def _has_marker(day_dir: Path) -> bool:
    try:
        return (day_dir / DELIVERY_MARKER).exists()
    except OSError:  # a folder that cannot be searched: its own time says if it is quiet
        return False


def delivery_ready(day_dir: Path, quiet_seconds: float | None, now: float | None = None) -> bool:
    """Complete: a ``_SUCCESS`` marker, or no entry modified within ``quiet_seconds``
    (None: every folder counts as complete)."""
    if quiet_seconds is None or _has_marker(day_dir):
        return True
    now = time.time() if now is None else now
    return _newest_change(day_dir) <= now - quiet_seconds


@dataclass(frozen=True)
class WaitingFolder:
    """A delivery folder a run leaves for later: no marker, and changed too recently."""

    relative_path: str
    changed_seconds_ago: float
    quiet_seconds: float

    @property
    def reason(self) -> str:
        ago = max(self.changed_seconds_ago, 0)
        age = f"{ago:.0f} s" if ago < 120 else f"{ago / 60:.0f} min"
        return (
            f"changed {age} ago and no {DELIVERY_MARKER} marker; it is read once unchanged "
            f"for {self.quiet_seconds:.0f} s, or when {DELIVERY_MARKER} is added"
        )


def waiting_folders(
    landing_dir: Path,
    quiet_seconds: float | None,
    *,
    sources: set[str] | None = None,
    window: tuple[date, date] | None = None,
    bounds: DateBounds | None = None,
    now: float | None = None,
) -> list[WaitingFolder]:
    """Delivery folders (of ``sources``, dated in ``window`` and ``bounds``) that are not
    complete yet: what a run started now would skip."""
    if quiet_seconds is None:
        return []
    now = time.time() if now is None else now
    waiting = []
    for folder in delivery_folders(landing_dir, sources):
        delivered = folder_date(folder.name)
        if window is not None and not window[0] <= delivered <= window[1]:
            continue
        if bounds is not None and not bounds.admits(delivered):
            continue
        if delivery_ready(folder, quiet_seconds, now):
            continue
        waiting.append(
            WaitingFolder(
                _shown(f"{folder.parent.name}/{folder.name}"),
                now - _newest_change(folder),
                quiet_seconds,
            )
        )
    return waiting


def unknown_source_folders(landing_dir: Path, sources: set[str]) -> list[str]:
    """Folders under landing that no source reads (a typo, or an export shape with no
    contract): a run reports them instead of passing them by."""
    if not landing_dir.is_dir():
        return []
    return sorted(
        _shown(p.name)
        for p in landing_dir.iterdir()
        if p.is_dir() and not _is_ignored(p.name) and p.name not in sources
    )


def delivery_folders(
    landing_dir: Path, sources: set[str] | None = None, problems: list[LandingProblem] | None = None
) -> list[Path]:
    """Every ``<source>/<YYYY-MM-DD>`` folder under landing (of ``sources``), sorted. A
    source folder that cannot be listed is passed by and, given ``problems``, added there
    (a run's :func:`discover` reports it too)."""
    folders = []
    if not landing_dir.is_dir():
        return folders
    for source_dir in sorted(
        p
        for p in landing_dir.iterdir()
        if p.is_dir() and not _is_ignored(p.name) and (sources is None or p.name in sources)
    ):
        try:
            entries = list(source_dir.iterdir())
        except OSError as exc:
            if problems is not None:
                problems.append(unlistable_folder(_shown(source_dir.name), exc))
            continue
        folders += sorted(p for p in entries if p.is_dir() and folder_date(p.name) is not None)
    return folders


def unlistable_folder(relative_path: str, exc: OSError) -> LandingProblem:
    """A folder under landing whose entries cannot be listed (permissions, a broken mount)."""
    return LandingProblem(relative_path, f"cannot list the folder: {exc.strerror or exc}")


def discover(
    landing_dir: Path,
    source: str,
    *,
    quiet_seconds: float | None = None,
    now: float | None = None,
    window: tuple[date, date] | None = None,
    bounds: DateBounds | None = None,
    config_suffixes: tuple[str, ...] = (),
) -> tuple[list[LandingFile], list[LandingProblem]]:
    """Delivered files of one source in delivery order, plus anything that cannot be read.

    A missing source folder is an empty source (a merchant may not have that channel).
    Folders that are not complete yet (see :func:`delivery_ready`) are left for a later
    run: not read, not a problem (:func:`waiting_folders` lists them). ``window``
    (inclusive landing dates) keeps the folders of one partition range; a folder outside
    ``bounds`` could never be loaded by any run, so it is a problem, not a silent skip.
    Files named ``*<config_suffix>`` beside the delivery folders configure the source (a
    mapped source's mappings): not data, not a problem.
    """
    landing_root = landing_dir.resolve()
    source_dir = landing_dir / source
    files: list[LandingFile] = []
    problems: list[LandingProblem] = []
    if not source_dir.is_dir():
        return files, problems
    try:
        entries = sorted(source_dir.iterdir())
    except OSError as exc:
        return files, [unlistable_folder(_shown(source), exc)]
    for entry in entries:
        rel = _shown(f"{source}/{entry.name}")
        if _is_ignored(entry.name):
            continue
        if not entry.is_dir():
            if config_suffixes and entry.name.lower().endswith(config_suffixes):
                continue
            problems.append(LandingProblem(rel, "file is not inside a YYYY-MM-DD delivery folder"))
            continue
        delivered = folder_date(entry.name)
        if delivered is None:
            problems.append(LandingProblem(rel, "delivery folder name is not a YYYY-MM-DD date"))
            continue
        reason = bounds.problem(delivered) if bounds is not None else None
        if reason:
            problems.append(LandingProblem(rel, reason))
            continue
        if window is not None and not window[0] <= delivered <= window[1]:
            continue
        if not delivery_ready(entry, quiet_seconds, now):
            continue
        try:
            delivered_paths = sorted(entry.iterdir())
        except OSError as exc:
            problems.append(unlistable_folder(rel, exc))
            continue
        for path in delivered_paths:
            rel_file = _shown(f"{rel}/{path.name}")
            if _is_ignored(path.name):
                continue
            if rel_file != f"{rel}/{path.name}":
                problems.append(LandingProblem(rel_file, "file name is not UTF-8 (rename it)"))
                continue
            try:
                resolved = path.resolve()
            except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
                problems.append(LandingProblem(rel_file, f"cannot resolve the path: {exc}"))
                continue
            if not resolved.is_relative_to(landing_root):
                problems.append(
                    LandingProblem(rel_file, "symlink points outside the landing folder")
                )
                continue
            if path.is_symlink() and not resolved.exists():
                problems.append(LandingProblem(rel_file, "symlink points to nothing (dangling)"))
                continue
            if not resolved.is_file():
                problems.append(LandingProblem(rel_file, "not a regular file"))
                continue
            if config_suffixes and path.name.lower().endswith(config_suffixes):
                problems.append(
                    LandingProblem(
                        rel_file,
                        f"configuration file inside a delivery folder: move it to {source}/, "
                        "beside the delivery folders",
                    )
                )
                continue
            if not path.name.lower().endswith(SUPPORTED_SUFFIXES):
                problems.append(
                    LandingProblem(
                        rel_file, f"unsupported file type (expected {SUPPORTED_SUFFIXES})"
                    )
                )
                continue
            files.append(LandingFile(source, resolved, rel_file, delivered))
    return files, problems


def _open_bytes(file: LandingFile):
    return gzip.open(file.path, "rb") if file.is_gzip else open(file.path, "rb")


def sha256(file: LandingFile) -> str:
    """Content hash of the file as delivered (compressed bytes for .gz)."""
    digest = hashlib.sha256()
    try:
        with open(file.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise LandingError(
            f"{file.relative_path}: cannot read file: {exc.strerror or exc}"
        ) from exc
    return digest.hexdigest()


def detect_encoding(file: LandingFile) -> str:
    """'utf-8-sig', 'utf-8' or 'gb18030' (a superset of GBK/GB2312), from the first bytes.

    Chinese marketplace and CRM exports arrive as UTF-8 with BOM, plain UTF-8, or GBK
    (Excel on Chinese Windows); none declares it, so we look.
    """
    try:
        with _open_bytes(file) as fh:
            head = fh.read(ENCODING_PROBE_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise LandingError(f"{file.relative_path}: cannot read file: {exc}") from exc
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LandingError(f"{file.relative_path}: UTF-16 files are not supported; export as UTF-8")
    if b"\x00" in head:
        raise LandingError(f"{file.relative_path}: binary content (NUL bytes), not a text export")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut at the probe boundary is fine
        return "utf-8"
    except UnicodeDecodeError:
        pass
    gb_decoder = codecs.getincrementaldecoder("gb18030")()
    try:
        gb_decoder.decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise LandingError(
            f"{file.relative_path}: not UTF-8 and not GBK (invalid byte at offset {exc.start})"
        ) from exc


def transcode_to_utf8(file: LandingFile, encoding: str, target: Path) -> Path:
    """Write a UTF-8 copy (streamed) for DuckDB, whose CSV reader only reads UTF-8."""
    try:
        with (
            _open_bytes(file) as raw,
            codecs.getreader(encoding)(raw) as text,
            open(target, "w", encoding="utf-8", newline="") as out,
        ):
            for chunk in iter(lambda: text.read(1 << 20), ""):
                out.write(chunk)
    except UnicodeDecodeError as exc:
        raise LandingError(
            f"{file.relative_path}: mixed encodings: not valid {encoding} at byte {exc.start} "
            "of a later block"
        ) from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise LandingError(f"{file.relative_path}: cannot read file: {exc}") from exc
    return target
