"""round_quotient (macros/portable/round_quotient.sql), compiled by dbt for DuckDB and run
by DuckDB, rounds half away from zero exactly, as Spark's DECIMAL division does: DuckDB's
own round(decimal / n, 2) goes through DOUBLE and loses the cent of 2.01 / 2."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from tests.conftest import dbt_in, macro_project

CASES = [
    ("2.01", 2),
    ("-2.01", 2),
    ("10.00", 3),
    ("-10.00", 3),
    ("0.05", 2),
    ("1747.05", 2),
    ("0.00", 7),
    ("999999.99", 1),
    ("5241.07", 3),
    ("-0.01", 2),
    ("1.00", -3),
    ("12.34", 4),
]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = macro_project(tmp_path_factory.mktemp("portable_macros"), "portable")
    query = "select i, {{ round_quotient('n', 'd') }} as q from cases"
    result = dbt_in(root, "compile", "--inline", query, "--quiet")
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


def test_round_quotient_is_exact_half_away_from_zero(compiled: str):
    con = duckdb.connect()
    con.execute("create table cases (i integer, n decimal(18, 2), d integer)")
    con.executemany(
        "insert into cases values (?, ?, ?)", [(i, Decimal(n), d) for i, (n, d) in enumerate(CASES)]
    )
    got = [
        q
        for (q,) in con.execute(
            f"select q from ({compiled.replace('from cases', 'from cases order by i')})"
        ).fetchall()
    ]
    expected = [
        (Decimal(n) / d).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for n, d in CASES
    ]
    assert got == expected
    # What the macro replaces, on the case the parity test found: a cent short.
    (naive,) = con.execute("select round(cast(2.01 as decimal(18, 2)) / 2, 2)").fetchone()
    assert naive == 1.0 and got[0] == Decimal("1.01")
