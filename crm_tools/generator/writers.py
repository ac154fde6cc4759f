"""Encode rendered rows as the bytes merchants deliver: CSV (UTF-8, UTF-8 with BOM, GBK,
CRLF or LF, optionally gzip) and JSON Lines, with malformed rows planted as extra records.

A malformed row is a mangled copy of a real row, inserted right after it, so every real
entity is still delivered intact once. Kinds: ``columns`` (one field too many), ``date`` (an
impossible date in a date/timestamp column) and ``amount`` (a non-numeric value in a numeric
column); JSON Lines files get ``json`` (a truncated, unparsable line).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.lib.contracts import Contract

MALFORMED_KINDS = ("columns", "date", "amount")
_BAD_DATE = re.compile(r"^(\s*\d{4})([-/])\d{1,2}\2\d{1,2}")


@dataclass(frozen=True)
class Encoded:
    data: bytes
    data_rows: int  # records written, duplicates and malformed rows included
    malformed_rows: int
    malformed_kinds: tuple[str, ...] = ()


def _csv(df: pl.DataFrame, *, header: bool, line_terminator: str) -> str:
    return df.write_csv(None, include_header=header, line_terminator=line_terminator)


def _mangle(
    df: pl.DataFrame, contract: Contract | None, row: int, kind: str
) -> tuple[pl.DataFrame, str]:
    """A copy of ``df[row]`` broken in the way ``kind`` says (falls back to ``columns``)."""
    one = df.slice(row, 1)
    if contract is None or kind == "columns":
        return one, "columns"
    if kind == "date":
        cols = [c for c in contract.columns if c.type in ("date", "timestamp")]
    else:
        cols = [c for c in contract.columns if c.type in ("decimal", "integer")]
    cols.sort(key=lambda c: (not c.required, c.type != "decimal"))
    for col in cols:
        h = col.canonical_header
        if h not in one.columns:
            continue
        value = one[h][0]
        if value is None or value == "":
            continue
        if kind == "date":
            bad = _BAD_DATE.sub(lambda m: f"{m[1]}{m[2]}02{m[2]}30", value, count=1)
            bad = bad if bad != value else "0000-00-00"
        else:
            bad = "#VALUE!"
        return one.with_columns(pl.lit(bad, dtype=pl.String).alias(h)), kind
    return one, "columns"


def _plan(rng: np.random.Generator, n_rows: int, count: int, kind_offset: int):
    if n_rows == 0 or count == 0:
        return []
    rows = np.sort(rng.choice(n_rows, size=min(count, n_rows), replace=False))
    kinds = [MALFORMED_KINDS[(kind_offset + i) % len(MALFORMED_KINDS)] for i in range(len(rows))]
    return list(zip(rows.tolist(), kinds, strict=True))


def encode_csv(
    df: pl.DataFrame,
    *,
    contract: Contract | None = None,
    encoding: str = "utf-8",
    line_terminator: str = "\n",
    compress: bool = False,
    malformed: int = 0,
    kind_offset: int = 0,
    rng: np.random.Generator | None = None,
) -> Encoded:
    """CSV bytes of ``df`` (header = its column names) with ``malformed`` broken extra rows."""
    plan = _plan(rng, df.height, malformed, kind_offset) if rng is not None else []
    parts = [_csv(df.head(0), header=True, line_terminator=line_terminator)]
    done, kinds = 0, []
    for row, kind in plan:
        parts.append(
            _csv(df.slice(done, row + 1 - done), header=False, line_terminator=line_terminator)
        )
        done = row + 1
        bad, used = _mangle(df, contract, row, kind)
        line = _csv(bad, header=False, line_terminator=line_terminator)
        if used == "columns":
            line = line[: -len(line_terminator)] + ",x" + line_terminator
        parts.append(line)
        kinds.append(used)
    parts.append(_csv(df.slice(done), header=False, line_terminator=line_terminator))
    text = "".join(parts)
    if encoding == "utf-8-sig":
        data = b"\xef\xbb\xbf" + text.encode("utf-8")
    else:
        data = text.encode(encoding)
    if compress:
        data = gzip.compress(data, compresslevel=6, mtime=0)
    return Encoded(data, df.height + len(plan), len(plan), tuple(kinds))


def encode_jsonl(
    df: pl.DataFrame,
    *,
    malformed: int = 0,
    rng: np.random.Generator | None = None,
) -> Encoded:
    """JSON Lines (UTF-8) with ``malformed`` truncated, unparsable copies of real lines."""
    plan = _plan(rng, df.height, malformed, 0) if rng is not None else []
    parts, done = [], 0
    for row, _kind in plan:
        parts.append(df.slice(done, row + 1 - done).write_ndjson() if row + 1 > done else "")
        done = row + 1
        line = df.slice(row, 1).write_ndjson().rstrip("\n")
        parts.append(line[: max(len(line) // 2, 2)] + "\n")
    if done < df.height:
        parts.append(df.slice(done).write_ndjson())
    return Encoded(
        "".join(parts).encode("utf-8"), df.height + len(plan), len(plan), ("json",) * len(plan)
    )
