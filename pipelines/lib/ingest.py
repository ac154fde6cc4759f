"""Load landing files into append-only ``raw.<source>`` tables, contract-driven.

Per file: DuckDB's own CSV/JSON readers parse the file as text (no per-row Python, except
to number the rows of a CSV file that has empty lines), the contract maps headers to
columns and types them in one SQL projection, and every row ends either in
``raw.<source>`` or in ``raw.quarantine`` with its line, column, reason and original text.
``raw.loads`` is the content-hash manifest: a file whose bytes were loaded before is
skipped; one that cannot be read at all is recorded as rejected and reported.

The loaded rows can also (or instead) go to the portable raw layer, one Parquet file per
load under ``<raw_parquet_dir>/<source>/delivery_date=<date>/<load_id>.parquet`` (setting
``CRM_RAW_FORMAT``), which another engine (Spark) reads; ``raw.loads`` and
``raw.quarantine`` stay in DuckDB either way.

All SQL here is built from the contract (repository code) and DuckDB-quoted identifiers;
file paths and data values are always bound as parameters.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from pipelines.lib.contracts import Column, Contract
from pipelines.lib.landing import (
    LandingError,
    LandingFile,
    detect_encoding,
    sha256,
    transcode_to_utf8,
)

RAW_SCHEMA = "raw"

# Longest record (CSV) or line (JSON Lines) read; a field may be as long, so Python's csv
# module, which reads headers and finds empty lines, must accept it too.
MAX_LINE_BYTES = 20_000_000
csv.field_size_limit(MAX_LINE_BYTES)

LOADS_DDL = f"""
create table if not exists {RAW_SCHEMA}.loads (
    load_id varchar primary key,
    source varchar not null,
    file varchar not null,
    delivery_date date not null,
    sha256 varchar not null,          -- of the bytes (and of the mapping, for a mapped source)
    bytes bigint not null,
    encoding varchar,
    status varchar not null,          -- loaded | rejected | duplicate
    duplicate_of varchar,             -- load_id of the earlier identical file
    rows_in bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    error varchar,
    ignored_headers varchar,          -- delivered columns the contract does not know
    started_at timestamptz not null,
    finished_at timestamptz not null
)
"""

QUARANTINE_DDL = f"""
create table if not exists {RAW_SCHEMA}.quarantine (
    load_id varchar not null,
    source varchar not null,
    file varchar not null,
    line bigint,
    column_name varchar,
    reason varchar not null,
    original_text varchar,
    quarantined_at timestamptz not null
)
"""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def write_parquet(con: duckdb.DuckDBPyConnection, query: str, path: Path, params=None) -> None:
    """Write the rows of ``query`` to ``path`` as one Parquet file, atomically: under a
    temporary name in the same folder, then renamed, so a reader (another engine) never
    sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    con.execute(
        f"copy ({query}) to {quote_literal(str(temporary))} (format parquet, compression zstd)",
        params,
    )
    temporary.replace(path)


@dataclass
class LoadResult:
    load_id: str
    source: str
    file: str
    status: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    encoding: str | None = None
    error: str | None = None
    duplicate_of: str | None = None
    ignored_headers: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def ensure_raw_tables(
    con: duckdb.DuckDBPyConnection, contract: Contract, *, data_table: bool = True
) -> None:
    """Create the bookkeeping tables and, unless the rows go only to Parquet, the source's
    raw table."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    con.execute(LOADS_DDL)
    con.execute(QUARANTINE_DDL)
    if not data_table:
        return
    cols = ", ".join(f"{quote_ident(n)} {t}" for n, t in contract.raw_schema().items())
    con.execute(f"create table if not exists {RAW_SCHEMA}.{quote_ident(contract.source)} ({cols})")


# --- typed projection -------------------------------------------------------------------

_TRUE = ("yes", "y", "true", "t", "1", "是")
_FALSE = ("no", "n", "false", "f", "0", "否")
# Currency signs/suffixes and spaces that real exports put around amounts ("0元", "¥12.50").
_MONEY_NOISE = r"[¥￥$€£元\s]|RMB|CNY"
_THOUSANDS = r"^-?\d{1,3}(,\d{3})+(\.\d+)?$"


def _parse_expr(col: Column, v: str, timezone: str) -> str:
    """SQL turning the text value ``v`` into the contract type; NULL when it does not parse."""
    t = f"nullif(trim({v}), '')"
    if col.type == "text":
        return f"nullif({v}, '')"
    if col.type == "integer":
        # try_cast('2.5' as bigint) rounds to 3 in DuckDB: accept only whole numbers.
        return (
            f"case when regexp_matches({t}, '^[+-]?[0-9]+([.]0*)?$') "
            f"then try_cast(try_cast({t} as decimal(38, 4)) as bigint) end"
        )
    if col.type == "decimal":
        cleaned = f"regexp_replace({t}, {quote_literal(_MONEY_NOISE)}, '', 'g')"
        no_thousands = (
            f"case when regexp_matches({cleaned}, {quote_literal(_THOUSANDS)}) "
            f"then replace({cleaned}, ',', '') else {cleaned} end"
        )
        return f"try_cast({no_thousands} as {col.duckdb_type})"
    if col.type == "boolean":
        trues = ", ".join(quote_literal(x) for x in _TRUE)
        falses = ", ".join(quote_literal(x) for x in _FALSE)
        return (
            f"case when lower({t}) in ({trues}) then true "
            f"when lower({t}) in ({falses}) then false end"
        )
    parts = []
    for fmt in col.formats:
        parsed = f"try_strptime({t}, {quote_literal(fmt)})"
        if col.type == "timestamp":
            # Formats without %z are local times of the source's zone (contract timezone).
            has_offset = "%z" in fmt or "%Z" in fmt
            parts.append(parsed if has_offset else f"timezone({quote_literal(timezone)}, {parsed})")
        elif col.type == "date":
            parts.append(f"cast({parsed} as date)")
        else:  # time
            parts.append(f"cast({parsed} as time)")
    return f"coalesce({', '.join(parts)})" if len(parts) > 1 else parts[0]


def _match_headers(contract: Contract, delivered: list[str]) -> tuple[dict[str, str], list[str]]:
    """Contract column -> delivered header (trimmed, case-folded match), and unknown headers."""
    by_key = {}
    for h in delivered:
        by_key.setdefault(h.strip().casefold(), h)
    mapping: dict[str, str] = {}
    for col in contract.columns:
        for alias in col.headers:
            if alias.strip().casefold() in by_key:
                mapping[col.name] = by_key[alias.strip().casefold()]
                break
    used = set(mapping.values())
    return mapping, [h for h in delivered if h not in used]


def _literal(col: Column, value: str) -> str:
    return f"cast({quote_literal(value)} as {col.duckdb_type})"


def _typed_select(contract: Contract, mapping: dict[str, str], stage: str) -> str:
    """SELECT over the all-text stage table giving typed columns plus an ``_errors`` column."""
    selects, errors = [], []
    for col in contract.columns:
        if col.constant is not None:
            selects.append(f"{_literal(col, col.constant)} as {quote_ident(col.name)}")
            continue
        if col.name not in mapping:
            selects.append(f"cast(null as {col.duckdb_type}) as {quote_ident(col.name)}")
            continue
        header = mapping[col.name]
        v = f"s.{quote_ident(header)}"
        if col.null_values:
            # A text the export writes for "no value" (R's NA) reads as an empty field.
            nulls = ", ".join(quote_literal(n) for n in col.null_values)
            v = f"(case when trim({v}) in ({nulls}) then '' else {v} end)"
        label = quote_literal(f"column {col.name} ({header})")
        if col.value_map:
            # Delivered values translated by the mapping (case and spaces aside); a value it
            # does not list quarantines the row rather than guess its meaning.
            cases = " ".join(
                f"when {quote_literal(k)} then {quote_literal(m)}" for k, m in col.value_map
            )
            parsed = f"(case lower(trim({v})) {cases} end)"
            errors.append(
                f"case when nullif(trim({v}), '') is not null and ({parsed}) is null then "
                f"{label} || ': ' || left(trim({v}), 80) || ' is not a value listed in "
                f"{col.value_source}' end"
            )
        else:
            parsed = _parse_expr(col, v, contract.timezone)
            errors.append(
                f"case when nullif(trim({v}), '') is not null and ({parsed}) is null then "
                f"{label} || ': cannot parse ' || {quote_literal(col.type)} || ' from ' "
                f"|| left({v}, 80) end"
            )
        if col.default is not None:
            parsed = f"coalesce({parsed}, {_literal(col, col.default)})"
        selects.append(f"{parsed} as {quote_ident(col.name)}")
        if col.required:
            errors.append(
                f"case when nullif(trim({v}), '') is null then {label} || ': required value is empty' end"
            )
    error_expr = f"nullif(concat_ws('; ', {', '.join(errors)}), '')" if errors else "null"
    return (
        f"select {', '.join(selects)}, {error_expr} as _errors, s.rowid as _row from {stage} as s"
    )


# --- reading files into an all-text stage ------------------------------------------------


def _open(path: Path, mode: str, **text_options):
    """The file (landing or transcoded copy), decompressed when it is a .gz."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    return opener(path, mode, **text_options)


def _csv_records(path: Path) -> Iterator[list[str]]:
    """The CSV records of a (UTF-8) file as Python's csv module reads them: the same RFC 4180
    quoting as DuckDB's strict mode, and an empty line is an empty record. Undecodable bytes
    become U+FFFD: quotes, commas and line breaks are ASCII, so record bounds do not move."""
    with _open(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:
        yield from csv.reader(fh)


def _may_have_empty_lines(path: Path) -> bool:
    """A byte scan (no CSV parsing) for an empty line anywhere, the file start included."""
    tail = b"\n"
    with _open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            block = tail + chunk
            # Looking for \r is cheap; each two-byte pattern costs a pass: LF files need one.
            if b"\r" not in block:
                if b"\n\n" in block:
                    return True
            elif b"\n\n" in block or b"\n\r\n" in block or b"\r\r" in block:
                return True
            tail = block[-2:]
    return False


def _csv_layout(path: Path, name: str) -> tuple[list[str], int, list[int]]:
    """(header, its line number, the numbers of the empty lines), numbered as DuckDB numbers
    the lines of its rejected records: one per record, one per empty line, from 1.

    The header is the first record that is not empty. DuckDB skips empty lines but counts
    them, so the accepted rows after one must skip its number too; only a file that has one
    is parsed here in full (Python is slow; empty lines are rare).
    """
    records = enumerate(_csv_records(path), start=1)
    empty: list[int] = []
    try:
        for number, record in records:
            if record:
                if _may_have_empty_lines(path):
                    empty += [n for n, later in records if not later]
                return record, number, empty
            empty.append(number)
    except csv.Error as exc:
        raise LandingError(f"{name}: cannot parse: {exc}") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise LandingError(f"{name}: cannot read file: {exc}") from exc
    raise LandingError(f"{name}: no header row (the file holds only empty lines)")


def _stage_names(delivered: list[str]) -> list[str]:
    """Stage column names for delivered ones, as DuckDB's own reader names them: an empty
    name becomes ``column<i>``, a repeat gets ``_1``, ``_2``... DuckDB compares names
    case-insensitively, and a column named ``rowid`` (or ``_line``) would hide the stage's
    row id (its line), which carries the file order, so those count as repeats too."""
    taken = {"rowid", "_line"}
    names = []
    for i, name in enumerate(delivered):
        base = name or f"column{i}"
        candidate, n = base, 0
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate.casefold())
        names.append(candidate)
    return names


def _read_csv(
    con, path: Path, name: str, stage: str, rejects: str
) -> tuple[list[tuple[int, str, str]], list[int]]:
    """CSV -> temp table of text columns; returns rejected records (line, reason, text) and
    the lines that are not records (header, empty lines).

    The columns are the header's, given to DuckDB rather than sniffed: the sniffer gives up
    on a whole file when a quote in its sample never closes, where the same quote further
    down only costs its own record (UNQUOTED VALUE). An empty field reads as '' (nullstr is
    a byte no export holds): DuckDB drops NULL fields past the last column, so a row split by
    an unquoted comma whose trailing fields are empty would load with its values shifted
    instead of being rejected as TOO MANY COLUMNS.
    """
    header, header_line, empty = _csv_layout(path, name)
    columns = {column: "VARCHAR" for column in _stage_names(header)}
    con.execute(
        f"create temp table {stage} as select * from read_csv($path, header = true, "
        "skip = $skip, auto_detect = false, columns = $columns, delim = ',', quote = '\"', "
        "escape = '\"', strict_mode = true, nullstr = '\x01', "
        f"max_line_size = {MAX_LINE_BYTES}, store_rejects = true, "
        f"rejects_table = '{rejects}', rejects_scan = '{rejects}_scan')",
        {"path": str(path), "skip": header_line - 1, "columns": columns},
    )
    rows = con.execute(
        f"select line, string_agg(distinct error_type || coalesce(' ' || column_name, '') || ': ' "
        f"|| error_message, '; '), any_value(csv_line) from {rejects} group by line order by line"
    ).fetchall()
    return [(int(line), reason, text) for line, reason, text in rows], [header_line, *empty]


def _read_jsonl(con, path: Path, stage: str, contract: Contract) -> list[tuple[int, str, str]]:
    """JSON Lines -> temp table of text columns keyed by the delivered JSON keys."""
    lines = f"{stage}_lines"
    # One text column per physical line: no quote or delimiter handling, so a JSON line is
    # read exactly as written. \x01 never occurs in JSON text.
    con.execute(
        f"create temp table {lines} as select row_number() over () + 0 as line, column0 as text "
        "from read_csv($path, header = false, auto_detect = false, delim = '\x01', quote = '', "
        f"escape = '', columns = {{'column0': 'VARCHAR'}}, max_line_size = {MAX_LINE_BYTES})",
        {"path": str(path)},
    )
    bad = con.execute(
        f"select line, case when json_valid(text) then 'not a JSON object' else 'invalid JSON' end, "
        f"text from {lines} where nullif(trim(text), '') is not null "
        "and (not json_valid(text) or json_type(text) <> 'OBJECT') order by line"
    ).fetchall()
    keys = [
        k
        for (k,) in con.execute(
            f"select distinct unnest(json_keys(text)) as k from {lines} "
            "where json_valid(text) and json_type(text) = 'OBJECT' order by k"
        ).fetchall()
    ]
    wanted = {a.strip().casefold() for c in contract.columns for a in c.headers}
    known = [k for k in keys if k.strip().casefold() in wanted]
    # One list-valued json_extract_string parses each line once, not once per key (half
    # the time on a 44k-line file, same values).
    paths = ", ".join(quote_literal("$." + quote_ident(k)) for k in known)
    values = f"json_extract_string(text, [{paths}])" if known else "null"
    cols = ", ".join(f"v[{i}] as {quote_ident(k)}" for i, k in enumerate(known, start=1))
    con.execute(
        f"create temp table {stage} as select {cols or 'null as _no_known_keys'}, line as _line "
        f"from (select line, {values} as v from {lines} "
        "where json_valid(text) and json_type(text) = 'OBJECT') order by line"
    )
    con.execute(f"drop table {lines}")
    return [(int(line), reason, text) for line, reason, text in bad]


def _read_parquet(con, path: Path, stage: str) -> list[tuple[int, str, str]]:
    delivered = [
        c
        for (c, *_) in con.execute(
            "describe select * from read_parquet($path)", {"path": str(path)}
        ).fetchall()
    ]
    cols = ", ".join(
        f"{quote_ident(c)}::varchar as {quote_ident(n)}"
        for c, n in zip(delivered, _stage_names(delivered), strict=True)
    )
    con.execute(
        f"create temp table {stage} as select {cols} from read_parquet($path)", {"path": str(path)}
    )
    return []


# --- one file ----------------------------------------------------------------------------


def _size(file: LandingFile) -> int:
    """The file's size; 0 when it is gone (removed by its sender since it was found)."""
    try:
        return file.path.stat().st_size
    except OSError:
        return 0


def _record_load(
    con, result: LoadResult, file: LandingFile, digest: str, started: datetime
) -> None:
    con.execute(
        f"insert into {RAW_SCHEMA}.loads values "
        "($load_id, $source, $file, $delivery_date, $sha256, $bytes, $encoding, $status, "
        "$duplicate_of, $rows_in, $rows_loaded, $rows_quarantined, $error, $ignored, "
        "$started_at, now())",
        {
            "load_id": result.load_id,
            "source": result.source,
            "file": result.file,
            "delivery_date": file.delivery_date,
            "sha256": digest,
            "bytes": _size(file),
            "encoding": result.encoding,
            "status": result.status,
            "duplicate_of": result.duplicate_of,
            "rows_in": result.rows_in,
            "rows_loaded": result.rows_loaded,
            "rows_quarantined": result.rows_quarantined,
            "error": result.error,
            "ignored": ", ".join(result.ignored_headers) or None,
            "started_at": started,
        },
    )


def _previous(con, source: str, file: LandingFile, digest: str) -> tuple[str | None, str | None]:
    """(load_id of this path+content if already recorded, load_id of the same content loaded
    from any path). Rejected files are not 'recorded': they are retried every run."""
    same_path = con.execute(
        f"select load_id from {RAW_SCHEMA}.loads where source = $s and file = $f and sha256 = $h "
        "and status in ('loaded', 'duplicate') limit 1",
        {"s": source, "f": file.relative_path, "h": digest},
    ).fetchone()
    same_content = con.execute(
        f"select load_id from {RAW_SCHEMA}.loads where source = $s and sha256 = $h "
        "and status = 'loaded' order by started_at limit 1",
        {"s": source, "h": digest},
    ).fetchone()
    return (same_path[0] if same_path else None, same_content[0] if same_content else None)


# The portable raw layer, one file per load: <root>/<source>/delivery_date=<date>/<load_id>.parquet
# (dbt's Spark sources read the same layout: sources' meta portable_files in
# dbt_project/dbt_project.yml).
_PARQUET_LOADS = "delivery_date=*/*.parquet"


def parquet_load_path(root: Path, source: str, delivery_date: date, load_id: str) -> Path:
    """The file of one load in the portable raw layer."""
    return root / source / f"delivery_date={delivery_date:%Y-%m-%d}" / f"{load_id}.parquet"


def parquet_glob(root: Path, source: str) -> Path:
    """Every load file of one source in the portable raw layer."""
    return root / source / _PARQUET_LOADS


def _with_time_columns_as(contract: Contract, expression: str) -> str:
    """A projection of ``*`` with each TIME column of the contract replaced by
    ``expression`` ({column} stands for the quoted column). Spark has no TIME type, so the
    layer holds those columns as 'HH:MM:SS' text."""
    times = [quote_ident(c.name) for c in contract.columns if c.type == "time"]
    if not times:
        return "*"
    return "* replace ({})".format(
        ", ".join(f"{expression.format(column=t)} as {t}" for t in times)
    )


# A source no delivery has filled yet still has one file in the portable layer: its columns
# and no row, so that another engine (Spark) can read it as an empty table, as DuckDB
# reads an empty raw table (a merchant need not have every channel).
_EMPTY_LOAD_DATE = date(1, 1, 1)
_EMPTY_LOAD_ID = "no-rows"


def ensure_parquet_columns_file(
    con: duckdb.DuckDBPyConnection, contract: Contract, root: Path
) -> None:
    """Write the source's columns as a Parquet file with no row, when it has no file yet."""
    if any((root / contract.source).glob(_PARQUET_LOADS)):
        return
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = parquet_load_path(root, contract.source, _EMPTY_LOAD_DATE, _EMPTY_LOAD_ID)
    path.parent.mkdir(parents=True, exist_ok=True)
    # TIME columns as text, as every load file holds them (Spark has no TIME type)
    times = {c.name for c in contract.columns if c.type == "time"}
    columns = ", ".join(
        f"cast(null as {'VARCHAR' if name in times else kind}) as {quote_ident(name)}"
        for name, kind in contract.raw_schema().items()
    )
    write_parquet(con, f"select {columns} where false", path)


def ensure_raw_parquet_view(con: duckdb.DuckDBPyConnection, contract: Contract, root: Path) -> None:
    """When the rows go only to Parquet, raw.<source> is a view over the source's files, so
    the dbt sources, the ingest previews and the checks read it as they read the table.

    Until the first file lands it is an empty table of the contract's columns (a view over
    no file fails). A table that holds rows is never replaced: those loads would vanish
    from the models without a trace, so switching a populated warehouse to "parquet" is
    refused with the way out."""
    relation = f"{RAW_SCHEMA}.{quote_ident(contract.source)}"
    kind = con.execute(
        "select table_type from information_schema.tables where table_schema = $s and table_name = $t",
        {"s": RAW_SCHEMA, "t": contract.source},
    ).fetchone()
    table = bool(kind) and kind[0] == "BASE TABLE"
    if table:
        (rows,) = con.execute(f"select count(*) from {relation}").fetchone()
        if rows:
            raise LandingError(
                f"{RAW_SCHEMA}.{contract.source} holds {rows} rows loaded into DuckDB, but "
                "CRM_RAW_FORMAT=parquet "
                "would read only the Parquet files: set CRM_RAW_FORMAT=duckdb+parquet, or "
                "reload the landing files into a new warehouse"
            )
    if not any((root / contract.source).glob(_PARQUET_LOADS)):
        ensure_raw_tables(con, contract)
        return
    if table:
        con.execute(f"drop table {relation}")
    projection = _with_time_columns_as(contract, "cast({column} as time)")
    # union_by_name: files written before a contract gained a column read it as null.
    con.execute(
        f"create or replace view {relation} as select {projection} from read_parquet("
        f"{quote_literal(str(parquet_glob(root, contract.source)))}, "
        "hive_partitioning = false, union_by_name = true)"
    )


@dataclass(frozen=True)
class RawTargets:
    """Where a load's good rows go: the DuckDB table raw.<source>, and/or one Parquet file
    per load under ``parquet_dir`` (None: no Parquet)."""

    duckdb: bool = True
    parquet_dir: Path | None = None


def load_file(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    file: LandingFile,
    temp_dir: Path,
    targets: RawTargets = RawTargets(),
    content_salt: str | None = None,
) -> LoadResult:
    """Load one landing file in one transaction.

    Returns status 'loaded', 'duplicate' (identical bytes were loaded from another path),
    'skipped' (this path and content were handled by an earlier run: nothing recorded) or
    'rejected' (unreadable: ``error`` names the file and the cause). Never raises for bad
    content, so one bad file cannot stop the others of its source.

    ``content_salt`` is part of what the file means besides its bytes (a mapped source's
    mapping): with another salt the same bytes are a new load, which supersedes the old.
    """
    started = datetime.now(UTC)
    clock = time.perf_counter()
    unreadable = None
    try:
        digest = sha256(file)
    except LandingError as exc:
        # No content to name it by: the load is the path's, rejected until it can be read.
        digest, unreadable = "", str(exc)
    if content_salt:
        digest = hashlib.sha256(f"{digest}:{content_salt}".encode()).hexdigest()
    path_digest = hashlib.sha256(f"{file.relative_path}\0{digest}".encode()).hexdigest()
    load_id = f"{contract.source}-{file.delivery_date:%Y%m%d}-{path_digest[:12]}"
    result = LoadResult(load_id=load_id, source=contract.source, file=file.relative_path, status="")

    recorded, loaded_before = _previous(con, contract.source, file, digest)
    if recorded:
        result.status = "skipped"
        return result
    if unreadable:
        result.status = "rejected"
        result.error = unreadable
    elif loaded_before:
        result.status = "duplicate"
        result.duplicate_of = loaded_before
    else:
        # Parse into connection-local temp tables outside the transaction (DuckDB gives
        # transaction-local rows huge rowids, and rowids carry the file order here).
        try:
            _stage_file(con, contract, file, result, temp_dir)
            result.status = "loaded"
        except LandingError as exc:
            result.status = "rejected"
            result.error = str(exc)
    con.execute("begin transaction")
    try:
        # A file rejected by an earlier run is retried; its old verdict is replaced.
        con.execute(f"delete from {RAW_SCHEMA}.loads where load_id = $id", {"id": load_id})
        if result.status == "loaded":
            _publish_stage(con, contract, file, result, targets)
        result.seconds = time.perf_counter() - clock
        _record_load(con, result, file, digest, started)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        _drop_temp(con)
    return result


def _drop_temp(con) -> None:
    for (name,) in con.execute(
        "select table_name from duckdb_tables() where temporary and table_name like '\\_stage%' escape '\\'"
    ).fetchall():
        con.execute(f"drop table if exists temp.{quote_ident(name)}")


def _stage_file(con, contract: Contract, file: LandingFile, result: LoadResult, temp_dir: Path):
    """Parse and type the file into temp table ``_stage_typed`` (+ ``_stage_bad``)."""
    stage, rejects = "_stage", "_stage_rejects"
    _drop_temp(con)
    with tempfile.TemporaryDirectory(dir=temp_dir) as tmp:
        path = file.path
        if file.kind != "parquet":
            result.encoding = detect_encoding(file)
            if result.encoding == "gb18030":
                path = transcode_to_utf8(file, "gb18030", Path(tmp) / "utf8.csv")
        if file.path.stat().st_size == 0:
            raise LandingError(f"{file.relative_path}: empty file (0 bytes), no header")
        jsonl = file.kind == "jsonl" or contract.format == "jsonl"
        not_records: list[int] = []
        # Errors raised by DuckDB's readers are about the file's content; any other DuckDB
        # error below is a bug of ours and must fail the asset, not pass as a bad file.
        try:
            if file.kind == "parquet":
                bad = _read_parquet(con, path, stage)
            elif jsonl:
                bad = _read_jsonl(con, path, stage, contract)
            else:
                bad, not_records = _read_csv(con, path, file.relative_path, stage, rejects)
        except duckdb.Error as exc:
            first = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
            raise LandingError(f"{file.relative_path}: cannot parse: {first}") from exc

    delivered = [c for (c, *_) in con.execute(f"describe {stage}").fetchall() if c != "_line"]
    mapping, ignored = _match_headers(contract, delivered)
    result.ignored_headers = ignored
    # A mapping's header missing from the file is the mapping's fault or the export's:
    # say so first; a contract's required column missing is the export's.
    for problem, absent in (
        ("mapped header(s) not in the file", lambda c: c.header_required),
        ("missing required column(s)", lambda c: c.required),
    ):
        missing = [c for c in contract.columns if absent(c) and c.name not in mapping]
        if missing:
            names = ", ".join(f"{c.name} ({' / '.join(c.headers)})" for c in missing)
            raise LandingError(
                f"{file.relative_path}: {problem}: {names}; "
                f"delivered header: {', '.join(delivered) or '(none)'}"
            )

    _line_numbers(con, stage, [line for line, _, _ in bad] + not_records, jsonl=jsonl)
    typed = _typed_select(contract, mapping, stage)
    con.execute(
        f"create temp table _stage_typed as select t.*, l.line as _source_line "
        f"from ({typed}) as t join _stage_lines as l on l.idx = t._row"
    )
    con.execute("create temp table _stage_bad (line bigint, reason varchar, original_text varchar)")
    if bad:
        con.executemany("insert into _stage_bad values (?, ?, ?)", bad)


def _publish_stage(
    con, contract: Contract, file: LandingFile, result: LoadResult, targets: RawTargets
) -> None:
    """Append the staged rows to raw and quarantine (inside the caller's transaction)."""
    names = ", ".join(quote_ident(c) for c in contract.column_names)
    good_rows = (
        f"select {names}, $load_id as _load_id, $file as _source_file, "
        "$delivery as _delivery_date, _source_line, now() as _loaded_at "
        "from _stage_typed where _errors is null order by _source_line"
    )
    lineage = {
        "load_id": result.load_id,
        "file": file.relative_path,
        "delivery": file.delivery_date,
    }
    if targets.duckdb:
        con.execute(
            f"insert into {RAW_SCHEMA}.{quote_ident(contract.source)} "
            f"({names}, _load_id, _source_file, _delivery_date, _source_line, _loaded_at) "
            + good_rows,
            lineage,
        )
    if targets.parquet_dir is not None:
        _write_parquet_load(con, contract, file, result, targets.parquet_dir, good_rows, lineage)
    con.execute(
        f"insert into {RAW_SCHEMA}.quarantine "
        "select $load_id, $source, $file, t._source_line, null, t._errors, to_json(s), now() "
        "from _stage_typed as t join _stage as s on s.rowid = t._row where t._errors is not null",
        {"load_id": result.load_id, "source": contract.source, "file": file.relative_path},
    )
    con.execute(
        f"insert into {RAW_SCHEMA}.quarantine select $load_id, $source, $file, line, null, "
        "reason, original_text, now() from _stage_bad",
        {"load_id": result.load_id, "source": contract.source, "file": file.relative_path},
    )
    counts = con.execute(
        "select count(*) filter (where _errors is null), count(*) filter (where _errors is not null), "
        "(select count(*) from _stage_bad) from _stage_typed"
    ).fetchone()
    result.rows_loaded = int(counts[0])
    result.rows_quarantined = int(counts[1]) + int(counts[2])
    result.rows_in = result.rows_loaded + result.rows_quarantined


def _write_parquet_load(
    con, contract: Contract, file: LandingFile, result: LoadResult, root: Path, rows: str, params
) -> None:
    """Write the load's good rows as one Parquet file, atomically (temp name, then rename).

    Called inside the load's transaction, before the commit: a crash in between leaves a
    file whose load is not in raw.loads; the load is retried and its id, derived from path
    and content, names the same file, which the retry replaces. TIME columns are written as
    'HH:MM:SS' text because Spark has no TIME type (it refuses such a column)."""
    # Raw rows hold personal data: the layer is owner-only, as data/restricted/ is.
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = parquet_load_path(root, contract.source, file.delivery_date, result.load_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    projection = _with_time_columns_as(
        contract, "strftime(cast('2000-01-01' as date) + {column}, '%H:%M:%S')"
    )
    write_parquet(con, f"select {projection} from ({rows})", path, params)


def _line_numbers(con, stage: str, not_rows: list[int], *, jsonl: bool) -> None:
    """Map each stage row (by rowid) to its source line in temp table ``_stage_lines``.

    JSON Lines carry their physical line. For CSV, DuckDB numbers records and empty lines
    (from 1) and reports the numbers of the records it rejected; the accepted rows keep file
    order, so the n-th accepted row sits on the n-th number that is not the header, an empty
    line or a rejected record (``not_rows``).
    """
    if jsonl:
        con.execute(
            f"create temp table _stage_lines as select rowid as idx, _line as line from {stage}"
        )
        return
    n_rows = con.execute(f"select count(*) from {stage}").fetchone()[0]
    skipped = sorted(set(not_rows))
    con.execute(
        "create temp table _stage_lines as "
        "select row_number() over (order by line) - 1 as idx, line from "
        f"(select range + 1 as line from range({int(n_rows) + len(skipped)})) "
        "where line not in (select unnest($skip::bigint[]))",
        {"skip": skipped},
    )
