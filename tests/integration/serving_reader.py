"""A BI reader for the serving tests (concurrency, crash safety): opens the serving entry
point read-only in a loop until told to stop, checks every read sees one whole version,
writes a JSON summary.

    python serving_reader.py ENTRY STOP_FILE OUT_JSON duckdb|sqlalchemy [PAUSE_SECONDS]

PAUSE_SECONDS (default 0.05) is the pause between two reads: each read costs CPU that a
long test may rather leave to the run it watches. After each read the version it saw is
in OUT_JSON with the suffix .last, so a test can wait until a reader has seen a version.
"""

import json
import sys
import time
from pathlib import Path


def read_once_duckdb(entry: str) -> tuple[str, dict, dict]:
    import duckdb

    with duckdb.connect(entry, read_only=True) as con:
        return _read(lambda sql: con.execute(sql).fetchall())


def read_once_sqlalchemy(entry: str) -> tuple[str, dict, dict]:
    import sqlalchemy

    # The connection string docs/operations.md gives Superset and other SQLAlchemy tools.
    engine = sqlalchemy.create_engine(f"duckdb:///{entry}?access_mode=read_only")
    try:
        with engine.connect() as con:
            return _read(lambda sql: con.execute(sqlalchemy.text(sql)).fetchall())
    finally:
        engine.dispose()


def _read(query) -> tuple[str, dict, dict]:
    manifest = query("select version, mart, row_count from serving.manifest")
    versions = {v for v, _, _ in manifest}
    assert len(versions) == 1, f"manifest of several versions: {versions}"
    expected = {m: n for _, m, n in manifest}
    actual = {m: query(f'select count(*) from marts."{m}"')[0][0] for m in expected}
    return versions.pop(), expected, actual


def main() -> None:
    entry, stop, out, driver = sys.argv[1:5]
    pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.05
    read_once = read_once_duckdb if driver == "duckdb" else read_once_sqlalchemy
    reads, errors, mismatches, seen = 0, [], [], {}
    last, written = Path(out).with_suffix(".last"), Path(out).with_suffix(".tmp")
    while not Path(stop).exists():
        try:
            version, expected, actual = read_once(entry)
            reads += 1
            seen[version] = seen.get(version, 0) + 1
            written.write_text(version)
            written.replace(last)
            if actual != expected:
                mismatches.append({"version": version, "expected": expected, "actual": actual})
        except Exception as exc:  # every error counts: that is what the test measures
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(pause)
    Path(out).write_text(
        json.dumps({"reads": reads, "errors": errors, "mismatches": mismatches, "versions": seen})
    )


if __name__ == "__main__":
    main()
