"""What every materialisation reports: the table's row count and a preview of its rows.

Row counts use Dagster's standard ``dagster/row_count`` key, so the UI shows them on the
asset graph and plots them over time. Previews are small markdown tables; columns that
may hold personal data are masked in them, because the Dagster event log is read by
everyone with UI access (SPEC.md, "Security and privacy").
"""

from __future__ import annotations

import re

import dagster as dg
import duckdb

from pipelines.lib.dbt_project_file import project_vars

PREVIEW_ROWS = 5
PREVIEW_CELL_CHARS = 40
MASK = "•••"


def _personal_column_pattern() -> re.Pattern:
    """dbt var personal_column_patterns: the one rule, also applied by dbt's own preview
    (macros/observability/report_table_figures.sql) before anything reaches a log. Not
    kept: the var may change under a long-lived process (re caches the compiled pattern)."""
    return re.compile("|".join(project_vars()["personal_column_patterns"]), re.IGNORECASE)


def is_personal(column: str) -> bool:
    return bool(_personal_column_pattern().search(column))


def _cell(value) -> str:
    text = "" if value is None else str(value)
    if len(text) > PREVIEW_CELL_CHARS:
        text = text[: PREVIEW_CELL_CHARS - 1] + "…"
    return text.replace("|", "\\|").replace("\n", " ")


def preview_markdown(columns: list[str], rows: list[tuple]) -> str:
    """A markdown table of the rows, personal columns masked."""
    masked = [is_personal(c) for c in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [
            MASK if hide and v is not None else _cell(v)
            for v, hide in zip(row, masked, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_figures(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    where: str = "",
    params: list | dict | None = None,
) -> dict:
    """``dagster/row_count`` of ``relation`` and a preview of its rows (those ``where``
    selects). ``relation`` is a quoted name from the project's manifest or contracts;
    values go in ``params``, never into the SQL text."""
    rows = con.execute(f"select count(*) from {relation}").fetchone()[0]
    cursor = con.execute(f"select * from {relation} {where} limit {PREVIEW_ROWS}", params or [])
    columns = [d[0] for d in cursor.description]
    return {
        "dagster/row_count": int(rows),
        "preview": dg.MetadataValue.md(preview_markdown(columns, cursor.fetchall())),
    }
