"""The project's generic tests run by dbt on DuckDB. The grain tests
(macros/testing/uniqueness.sql): dbt's `unique`, overridden to group key hashes first, and
`unique_columns` fail on exactly the duplicated keys, with dbt's semantics (unique skips a
null key; in a combination a null is a value), and pass on a table with none.
`not_null_columns` (macros/testing/nullness.sql) fails with one row per column holding
nulls, and passes when none does."""

from __future__ import annotations

import re

import duckdb
import pytest
import yaml

from tests.conftest import dbt_in, macro_project

# name: (columns, rows) of a throw-away model
MODELS = {
    "keys_duplicated": (
        "a, b, c",
        [
            ("'x'", 1, "'p'"),
            ("'x'", 2, "'p'"),
            ("'y'", 1, "null"),
            ("'x'", 1, "'q'"),
            ("null", 3, "null"),
            ("null", 3, "'r'"),
        ],
    ),
    "keys_unique": (
        "a, b, c",
        [("'x'", 1, "'p'"), ("'x'", 2, "'q'"), ("'y'", 1, "null"), ("null", 1, "'r'")],
    ),
}

TESTS = {
    "keys_duplicated": [
        # (x, 1) twice and (null, 3) twice
        {"unique_columns": {"arguments": {"columns": ["a", "b"]}}},
        {"unique": {"column_name": "c"}},  # 'p' twice; the two nulls are skipped
        {"unique": {"column_name": "a || '|' || cast(b as varchar)"}},  # x|1 twice
        # a and c hold 2 nulls each, b none
        {"not_null_columns": {"arguments": {"columns": ["a", "b", "c"]}}},
    ],
    "keys_unique": [
        {"unique_columns": {"arguments": {"columns": ["a", "b"]}}},
        {"unique": {"column_name": "c"}},
        {"not_null_columns": {"arguments": {"columns": ["b"]}}},
    ],
}


@pytest.fixture(scope="module")
def tested(tmp_path_factory: pytest.TempPathFactory):
    root = macro_project(tmp_path_factory.mktemp("generic_tests"), "testing", "portable")
    (root / "models").mkdir()
    for name, (columns, rows) in MODELS.items():
        values = ", ".join("(" + ", ".join(str(v) for v in row) + ")" for row in rows)
        (root / "models" / f"{name}.sql").write_text(
            f"select * from (values {values}) as t({columns})", encoding="utf-8"
        )
    schema = {"version": 2, "models": [{"name": n, "data_tests": t} for n, t in TESTS.items()]}
    (root / "models" / "schema.yml").write_text(yaml.safe_dump(schema), encoding="utf-8")
    result = dbt_in(root, "build", "--store-failures", "--quiet")
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()  # dbt-duckdb keeps the file open
    outcomes = {
        (r.node.attached_node.split(".")[-1], r.node.test_metadata.name, r.node.name): r
        for r in result.result.results
        if r.node.resource_type == "test"
    }
    return root, outcomes


def failures(root, outcome) -> list[tuple]:
    relation = outcome.node.relation_name
    with duckdb.connect(str(root / "macros.duckdb"), read_only=True) as con:
        return sorted(con.execute(f"select * from {relation}").fetchall(), key=str)


def of_grain(outcomes, model: str) -> dict:
    return {
        k: v for k, v in outcomes.items() if k[0] == model and k[1] in ("unique", "unique_columns")
    }


def test_duplicated_keys_fail_with_exactly_those_keys(tested):
    root, outcomes = tested
    found = of_grain(outcomes, "keys_duplicated")
    assert len(found) == 3
    by_test = {(k[1], k[2].split("keys_duplicated_")[-1]): v for k, v in found.items()}
    assert {k[0] for k in by_test} == {"unique", "unique_columns"}
    for (test, _), outcome in by_test.items():
        assert outcome.status == "fail", (test, outcome.message)
    columns = next(v for (t, _), v in by_test.items() if t == "unique_columns")
    assert failures(root, columns) == [("x", 1, 2), (None, 3, 2)]
    single = [v for (t, _), v in by_test.items() if t == "unique"]
    # dbt's own unique would find the same rows: the override is what groups the hashes
    assert all(re.search(r"in \(\s*select hash\(", o.node.compiled_code) for o in single)
    assert sorted(failures(root, o) for o in single) == [[("p", 2)], [("x|1", 2)]]


def test_unique_keys_pass(tested):
    _, outcomes = tested
    found = of_grain(outcomes, "keys_unique").values()
    assert len(found) == 2
    assert all(o.status == "pass" and o.failures == 0 for o in found)


def test_not_null_columns_names_each_column_with_nulls(tested):
    root, outcomes = tested
    (failed,) = [v for k, v in outcomes.items() if k[:2] == ("keys_duplicated", "not_null_columns")]
    assert failed.status == "fail" and failed.failures == 2
    assert failures(root, failed) == [("a", 2), ("c", 2)]
    (passed,) = [v for k, v in outcomes.items() if k[:2] == ("keys_unique", "not_null_columns")]
    assert passed.status == "pass" and passed.failures == 0
