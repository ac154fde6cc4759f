"""dbt data tests reach Dagster as one check per model, ``dbt_tests``, not one per test.

A night runs about 440 dbt tests on some 65 models. As one asset check each, Dagster wrote
three events per test (planned, output, evaluation): about 1,300 of the 1,500 events of
the dbt step, which cost the step seconds of event storage at every scale
(DECISIONLOG.md). The summary check keeps what a reader and the gate need: it is blocking
when any of the model's tests has severity error, it fails with severity error when one of
those failed, it is left unevaluated when one of those was skipped (as its own check was),
it warns when only warn-severity tests failed or were skipped, and its
description and metadata name every test that ran, every one that failed, and a few of the
rows each failure selected.

The results are read from run_results.json once dbt has exited, so the check of every
model appears at the end of the dbt step, and the failing rows can be sampled from the
warehouse (dbt holds its write lock while it runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt.asset_utils import default_asset_check_fn, get_asset_check_key_for_test

from pipelines.lib.observe import MASK, is_personal
from pipelines.lib.warehouse import connect

CHECK_NAME = "dbt_tests"
# How many failing tests the check's description details, and rows shown per failure.
DESCRIBED_FAILURES = 10
SAMPLE_ROWS = 5
# dbt statuses of a test result: pass, warn (a warn-severity test found rows), fail (an
# error-severity test found rows), error (the test's SQL failed), skipped (its model failed).
PASSED = "pass"
WARNED = "warn"
SKIPPED = "skipped"


@dataclass(frozen=True)
class ModelTest:
    unique_id: str
    name: str
    blocking: bool
    additional_deps: frozenset[dg.AssetKey]


def tests_by_asset(
    manifest: Mapping[str, Any], translator, project
) -> dict[dg.AssetKey, list[ModelTest]]:
    """Every dbt data test of the manifest under the asset it tests, as dagster-dbt attaches
    it (the generic test's model, a singular test's only parent, or its meta ref)."""
    found: dict[dg.AssetKey, list[ModelTest]] = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "test":
            continue
        key = get_asset_check_key_for_test(manifest, translator, unique_id, project)
        if key is None:
            continue
        spec = default_asset_check_fn(manifest, translator, key.asset_key, unique_id, project)
        if spec is None:  # asset checks disabled in the translator's settings
            continue
        found.setdefault(key.asset_key, []).append(
            ModelTest(
                unique_id,
                node["name"],
                spec.blocking,
                frozenset(dep.asset_key for dep in spec.additional_deps),
            )
        )
    return {key: sorted(tests, key=lambda t: t.name) for key, tests in found.items()}


def summary_spec(asset_key: dg.AssetKey, tests: list[ModelTest]) -> dg.AssetCheckSpec:
    blocking = any(t.blocking for t in tests)
    deps = set().union(*(t.additional_deps for t in tests)) - {asset_key}
    return dg.AssetCheckSpec(
        name=CHECK_NAME,
        asset=asset_key,
        description=(
            f"The {len(tests)} dbt data test(s) on {asset_key.to_user_string()} in one check: "
            + (
                "blocking, fails when an error-severity test fails, is not evaluated when one "
                "was skipped, warns when only warn-severity tests fail."
                if blocking
                else "every test has severity warn, so it only warns."
            )
        ),
        additional_deps=sorted(deps, key=lambda k: k.to_user_string()),
        blocking=blocking,
        metadata={"dbt tests": [t.name for t in tests]},
    )


def require_whole_selection(context: dg.AssetExecutionContext) -> None:
    """A model's dbt tests run with the model, so its ``dbt_tests`` check can be neither
    left out of a run that builds the model nor run without it (dagster-dbt would need one
    dbt test per check key to select them)."""
    selected_assets = context.selected_asset_keys
    selected_checks = context.selected_asset_check_keys
    defined = {spec.key for spec in context.assets_def.node_check_specs_by_output_name.values()}
    left_out = {k for k in defined if k.asset_key in selected_assets and k not in selected_checks}
    alone = {k for k in selected_checks if k.asset_key not in selected_assets}
    if left_out or alone:
        names = sorted(k.to_user_string() for k in left_out | alone)
        raise dg.Failure(
            description="dbt tests run with their model: select each of these models together "
            f"with its {CHECK_NAME} check, or neither: " + ", ".join(names)
        )


def is_test_result(raw_event: Mapping[str, Any]) -> bool:
    """dbt's result line of one data test (dagster-dbt would make it an asset check)."""
    unique_id = raw_event.get("data", {}).get("node_info", {}).get("unique_id", "")
    return raw_event.get("info", {}).get("name") == "LogTestResult" and unique_id.startswith(
        "test."
    )


def summary_results(
    run_results: Mapping[str, Any],
    tests: Mapping[dg.AssetKey, list[ModelTest]],
    selected: Iterable[dg.AssetCheckKey],
    sample: Callable[[str], list[dict]],
) -> Iterator[dg.AssetCheckResult]:
    """One result per selected ``dbt_tests`` check from dbt's run results. ``sample`` gives a
    few rows a failed test selected, from its compiled SQL."""
    by_id = {r["unique_id"]: r for r in run_results.get("results", [])}
    for key in sorted(selected, key=lambda k: k.asset_key.to_user_string()):
        if key.name != CHECK_NAME or key.asset_key not in tests:
            continue
        ran = [(t, by_id[t.unique_id]) for t in tests[key.asset_key] if t.unique_id in by_id]
        skipped = [t for t, r in ran if r.get("status") == SKIPPED]
        if len(skipped) == len(ran) or any(t.blocking for t in skipped):
            # dbt skips the tests of a node that failed upstream. An error-severity test that
            # did not run leaves the check "not evaluated", as its own check was before: the
            # gate reads that as not passed, and the run's summary counts it as not run.
            continue
        problems = [(t, r) for t, r in ran if r.get("status") != PASSED]
        # Severity as each test's own check had it: only an error-severity test that failed
        # or errored stops the gate (a warn-severity one only warns, whatever its status).
        stops_gate = any(t.blocking and r.get("status") != WARNED for t, r in problems)
        failures = []
        for test, result in problems[:DESCRIBED_FAILURES]:
            code = result.get("compiled_code")
            failures.append(
                {
                    "test": test.name,
                    "status": result.get("status"),
                    "failing_rows": result.get("failures"),
                    "message": (result.get("message") or "").strip(),
                    "sample": sample(code) if code and result.get("status") != SKIPPED else [],
                }
            )
        yield dg.AssetCheckResult(
            asset_key=key.asset_key,
            check_name=CHECK_NAME,
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR if stops_gate else dg.AssetCheckSeverity.WARN,
            description=_describe(len(ran), len(problems), failures),
            metadata={
                "tests run": len(ran),
                "tests failed": len(problems),
                "failed": dg.MetadataValue.json(failures),
                "passed": dg.MetadataValue.json(
                    [t.name for t, r in ran if r.get("status") == PASSED]
                ),
                "dagster_dbt/failed_row_count": sum(r.get("failures") or 0 for _, r in problems),
            },
        )


def _describe(ran: int, failed: int, failures: list[dict]) -> str:
    if not failed:
        return f"{ran} dbt test(s) passed"
    lines = [f"{failed} of {ran} dbt test(s) did not pass:"]
    for f in failures:
        lines.append(f"{f['test']} ({f['status']}): {f['message']}")
        lines += [f"    e.g. {row}" for row in f["sample"]]
    if failed > len(failures):
        lines.append(f"... and {failed - len(failures)} more (see the check's metadata)")
    return "\n".join(lines)


def describe_failures(run_results: Mapping[str, Any], sample: Callable[[str], list[dict]]) -> str:
    """The dbt step's failure text: the nodes that failed or errored, with a few of the rows
    each failing test selected (dagster-dbt's own error says only "exit code 1")."""
    failed = [r for r in run_results.get("results", []) if r.get("status") in ("fail", "error")]
    lines = [f"dbt build failed: {len(failed)} node(s) failed or errored"]
    for r in failed[:DESCRIBED_FAILURES]:
        unique_id = r.get("unique_id", "")
        lines.append(f"  {r.get('status')}: {unique_id}: {(r.get('message') or '').strip()}")
        code = r.get("compiled_code")
        if unique_id.startswith("test.") and code:
            lines += [f"      e.g. {row}" for row in sample(code)]
    return "\n".join(lines)


def failing_rows(settings, compiled_sql: str, limit: int = SAMPLE_ROWS) -> list[dict]:
    """A few of the rows a failed dbt test selected (the compiled test is a query), personal
    columns masked as in every preview."""
    try:
        with connect(settings, read_only=True) as con:
            cursor = con.execute(f"select * from ({compiled_sql}) as failing limit {limit}")
            names = [d[0] for d in cursor.description]
            return [
                {n: MASK if is_personal(n) else str(v) for n, v in zip(names, row, strict=True)}
                for row in cursor.fetchall()
            ]
    except duckdb.Error as exc:  # the sample is a courtesy; the failure stands without it
        return [{"sample_unavailable": str(exc).splitlines()[0]}]
