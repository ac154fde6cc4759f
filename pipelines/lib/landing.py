"""Finding, hashing and decoding landing files. Pure helpers, no Dagster.

Landing layout: ``<landing>/<source>/<YYYY-MM-DD>/<file>``. Anything else under a source
folder is reported, never silently read: a file outside a date folder, a date folder with
a bad name, a symlink that leaves the landing tree.

A delivery folder is read only when it is complete: it holds a ``_SUCCESS`` marker (the
delivering system writes it last), or nothing in it has changed for a quiet period. So a
half-copied file is never read, whoever starts the run.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import time
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".parquet")
# Files still being written by the delivering system (or editor/OS droppings): not data.
IGNORED_PREFIXES = (".", "_", "~")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".filepart")

DELIVERY_MARKER = "_SUCCESS"

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


def _is_ignored(name: str) -> bool:
    return name.startswith(IGNORED_PREFIXES) or name.lower().endswith(IGNORED_SUFFIXES)


def _shown(relative_path: str) -> str:
    """A landing path as text that can be stored and printed. A name that is not UTF-8 (GBK
    bytes, e.g. unzipped from an archive made on Chinese Windows) reaches Python as lone
    surrogates, which DuckDB and Dagster cannot encode: its bad bytes show as \\xNN."""
    return relative_path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def delivery_ready(day_dir: Path, quiet_seconds: float | None, now: float | None = None) -> bool:
    """Complete: a ``_SUCCESS`` marker, or no entry modified within ``quiet_seconds``
    (None: every folder counts as complete)."""
    if quiet_seconds is None or (day_dir / DELIVERY_MARKER).exists():
        return True
    now = time.time() if now is None else now
    newest = max((p.lstat().st_mtime for p in day_dir.iterdir()), default=day_dir.stat().st_mtime)
    return newest <= now - quiet_seconds


def delivery_folders(landing_dir: Path) -> list[Path]:
    """Every ``<source>/<YYYY-MM-DD>`` folder under landing, sorted."""
    folders = []
    if not landing_dir.is_dir():
        return folders
    for source_dir in sorted(
        p for p in landing_dir.iterdir() if p.is_dir() and not _is_ignored(p.name)
    ):
        for day_dir in sorted(p for p in source_dir.iterdir() if p.is_dir()):
            try:
                date.fromisoformat(day_dir.name)
            except ValueError:
                continue
            folders.append(day_dir)
    return folders


def discover(
    landing_dir: Path,
    source: str,
    *,
    quiet_seconds: float | None = None,
    now: float | None = None,
    window: tuple[date, date] | None = None,
    earliest: date | None = None,
) -> tuple[list[LandingFile], list[LandingProblem]]:
    """Delivered files of one source in delivery order, plus anything that cannot be read.

    A missing source folder is an empty source (a merchant may not have that channel).
    Folders that are not complete yet (see :func:`delivery_ready`) are left for a later
    run: not read, not a problem. ``window`` (inclusive landing dates) keeps the folders of
    one partition range; a folder dated before ``earliest`` (the first partition) could
    never be loaded by any run, so it is a problem, not a silent skip.
    """
    landing_root = landing_dir.resolve()
    source_dir = landing_dir / source
    files: list[LandingFile] = []
    problems: list[LandingProblem] = []
    if not source_dir.is_dir():
        return files, problems
    for entry in sorted(source_dir.iterdir()):
        rel = _shown(f"{source}/{entry.name}")
        if _is_ignored(entry.name):
            continue
        if not entry.is_dir():
            problems.append(LandingProblem(rel, "file is not inside a YYYY-MM-DD delivery folder"))
            continue
        try:
            delivered = date.fromisoformat(entry.name)
        except ValueError:
            problems.append(LandingProblem(rel, "delivery folder name is not a YYYY-MM-DD date"))
            continue
        if earliest is not None and delivered < earliest:
            problems.append(
                LandingProblem(
                    rel,
                    f"delivery folder dated before the first partition {earliest} "
                    "(set CRM_PARTITIONS_START earlier to load it)",
                )
            )
            continue
        if window is not None and not window[0] <= delivered <= window[1]:
            continue
        if not delivery_ready(entry, quiet_seconds, now):
            continue
        for path in sorted(entry.iterdir()):
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
            if not resolved.is_file():
                problems.append(LandingProblem(rel_file, "not a regular file"))
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
    with open(file.path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
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
