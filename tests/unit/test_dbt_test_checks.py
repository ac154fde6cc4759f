"""The fold of a model's dbt tests into its one dbt_tests check: blocking and severity as
the tests' own checks had them, every test named, failing rows sampled."""

import dagster as dg
import pytest

from pipelines.defs.dbt.test_checks import (
    CHECK_NAME,
    ModelTest,
    describe_failures,
    summary_results,
    summary_spec,
)

ORDERS = dg.AssetKey(["orders"])
SEGMENTS = dg.AssetKey(["customer_segments"])
CUSTOMERS = dg.AssetKey(["customers"])
TESTS = {
    ORDERS: [
        ModelTest("test.p.unique_orders_order_id", "unique_orders_order_id", True, frozenset()),
        ModelTest(
            "test.p.relationships_orders_customer_id",
            "relationships_orders_customer_id",
            True,
            frozenset({CUSTOMERS, ORDERS}),
        ),
        ModelTest("test.p.orders_share_drift", "orders_share_drift", False, frozenset()),
    ],
    SEGMENTS: [ModelTest("test.p.segments_drift", "segments_drift", False, frozenset())],
}
SELECTED = [dg.AssetCheckKey(ORDERS, CHECK_NAME), dg.AssetCheckKey(SEGMENTS, CHECK_NAME)]


def results(**status: str) -> dict:
    """run_results.json with each named test's status (the others passed)."""
    every = [t for tests in TESTS.values() for t in tests]
    return {
        "results": [
            {
                "unique_id": t.unique_id,
                "status": status.get(t.name, "pass"),
                "failures": 0 if status.get(t.name, "pass") == "pass" else 2,
                "message": None if status.get(t.name, "pass") == "pass" else "Got 2 results",
                "compiled_code": f"select 1 as {t.name}",
            }
            for t in every
        ]
    }


def sample(sql: str) -> list[dict]:
    return [{"from": sql}]


def by_asset(run_results: dict, selected=SELECTED) -> dict[str, dg.AssetCheckResult]:
    return {
        r.asset_key.to_user_string(): r
        for r in summary_results(run_results, TESTS, selected, sample)
    }


def test_the_spec_blocks_when_one_test_has_severity_error_and_names_them_all():
    orders = summary_spec(ORDERS, TESTS[ORDERS])
    assert orders.key == dg.AssetCheckKey(ORDERS, "dbt_tests")
    assert orders.blocking
    assert sorted(orders.metadata["dbt tests"]) == [
        "orders_share_drift",
        "relationships_orders_customer_id",
        "unique_orders_order_id",
    ]
    # the relationship test also reads customers; the model itself is not a dependency
    assert [d.asset_key for d in orders.additional_deps] == [CUSTOMERS]
    assert not summary_spec(SEGMENTS, TESTS[SEGMENTS]).blocking


def test_every_test_passed():
    checks = by_asset(results())
    assert set(checks) == {"orders", "customer_segments"}
    assert checks["orders"].passed and checks["orders"].description == "3 dbt test(s) passed"
    assert checks["orders"].metadata["tests run"].value == 3
    assert checks["orders"].metadata["tests failed"].value == 0


@pytest.mark.parametrize(
    ("status", "severity"),
    [
        ({"unique_orders_order_id": "fail"}, dg.AssetCheckSeverity.ERROR),
        ({"unique_orders_order_id": "error"}, dg.AssetCheckSeverity.ERROR),
        ({"orders_share_drift": "skipped"}, dg.AssetCheckSeverity.WARN),
        ({"orders_share_drift": "warn"}, dg.AssetCheckSeverity.WARN),
        # a warn-severity test whose SQL failed did not stop the gate as its own check
        ({"orders_share_drift": "error"}, dg.AssetCheckSeverity.WARN),
        (
            {"orders_share_drift": "warn", "unique_orders_order_id": "fail"},
            dg.AssetCheckSeverity.ERROR,
        ),
    ],
)
def test_the_check_fails_with_the_severity_of_its_worst_test(status, severity):
    check = by_asset(results(**status))["orders"]
    assert not check.passed
    assert check.severity == severity
    assert check.metadata["tests failed"].value == len(status)
    failed = {f["test"]: f for f in check.metadata["failed"].value}
    assert set(failed) == set(status)
    for name, state in status.items():
        assert f"{name} ({state})" in check.description
        # a skipped test selected nothing: no sample; the others show their rows
        assert failed[name]["sample"] == (
            [] if state == "skipped" else [{"from": f"select 1 as {name}"}]
        )
    assert check.description.startswith(f"{len(status)} of 3 dbt test(s) did not pass")


def test_only_selected_checks_of_models_whose_tests_ran_get_a_result():
    assert set(by_asset(results(), [dg.AssetCheckKey(SEGMENTS, CHECK_NAME)])) == {
        "customer_segments"
    }
    ran_orders_only = {
        "results": [r for r in results()["results"] if "segments" not in r["unique_id"]]
    }
    assert set(by_asset(ran_orders_only)) == {"orders"}
    # dbt skipped every test of a model it could not build: no result, as for a step that
    # never ran (the gate reads it as not passed)
    assert set(by_asset(results(segments_drift="skipped"))) == {"orders"}
    # one of its error-severity tests did not run: not evaluated either, as that test's own
    # check was, though the others passed
    assert set(by_asset(results(relationships_orders_customer_id="skipped"))) == {
        "customer_segments"
    }


def test_the_step_failure_names_failed_nodes_with_sample_rows():
    text = describe_failures(
        results(unique_orders_order_id="fail", orders_share_drift="warn"), sample
    )
    assert text.splitlines() == [
        "dbt build failed: 1 node(s) failed or errored",
        "  fail: test.p.unique_orders_order_id: Got 2 results",
        "      e.g. {'from': 'select 1 as unique_orders_order_id'}",
    ]
