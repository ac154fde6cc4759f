"""Quality gates on real runs: a bad delivery stops publication at a named check, the
published exports stay byte-identical, and once the delivery is corrected a rerun publishes.

The module is one merchant's January, night after night, in file order (one xdist group):
a copy of the published XS warehouse with January 2026 generated into landing (not yet
ingested). Each fault test spoils January files, runs the real Dagster job, asserts where
it stopped, then re-delivers the clean files under the same names, so the next night
re-reads them; the last night publishes everything corrected. The raw-delivery faults
share one night (each stops at its own gate), as each run costs a minute or two.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest

from crm_tools.generator import generate
from pipelines.lib.exports import GATED_OUTPUTS, published_folders, read_manifest
from pipelines.lib.landing import DELIVERY_MARKER
from pipelines.lib.quality import load_suites as quality_suites
from pipelines.run import published, run_succeeded, run_warehouse_job
from pipelines.settings import Settings
from pipelines.summary import check_summary, summarise
from tests.conftest import XS_SEED, warehouse_environment

NEXT_MONTH_START = date(2026, 1, 1)
NEXT_MONTH_DAYS = 31
NEXT_DELIVERY = "2026-01-31"
PUBLISHED_AS_OF = "2025-12-31"
PLACEHOLDER_EMAIL = "noemail@example.com"


pytestmark = pytest.mark.xdist_group("quality_gates")


@pytest.fixture(scope="module")
def warehouse(xs_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory):
    """A private copy of the published XS warehouse (exports of 2025-12-31) plus January 2026
    in landing, the environment pointing at it; shared by the module's nights in order."""
    data = tmp_path_factory.mktemp("quality_gates") / "data"
    shutil.copytree(xs_warehouse.data_dir, data, symlinks=True)
    generate(
        data / "landing",
        data / "truth",
        scale="XS",
        seed=XS_SEED,
        start_date=NEXT_MONTH_START,
        days=NEXT_MONTH_DAYS,
    )
    with warehouse_environment(data) as settings:
        yield settings


# --- delivering faults ---------------------------------------------------------------


def delivery_file(settings: Settings, source: str) -> Path:
    folder = settings.landing_dir / source / NEXT_DELIVERY
    (path,) = sorted(p for p in folder.iterdir() if p.name != DELIVERY_MARKER)
    return path


def _decode(raw: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("undecodable test delivery")


def rewrite_csv(
    path: Path, transform: Callable[[list[str], list[list[str]]], list[list[str]]]
) -> None:
    """Rewrite a delivered CSV in place, keeping its encoding, BOM and compression."""
    raw = path.read_bytes()
    zipped = path.name.endswith(".gz")
    text, encoding = _decode(gzip.decompress(raw) if zipped else raw)
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(transform(header, rows))
    data = out.getvalue().encode(encoding)
    path.write_bytes(gzip.compress(data, mtime=0) if zipped else data)


def placeholder_burst(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    email = header.index("Email")
    for i, row in enumerate(rows):
        if row[email] and i % 2 == 0:  # half of the e-mails: well above the 10 % bound
            row[email] = PLACEHOLDER_EMAIL
    return rows


def duplicate_card(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    # The same card number twice with different contacts: the CRM exported two members.
    twin = list(rows[0])
    twin[header.index("姓名")] = "重复会员"
    twin[header.index("手机号")] = "139 0000 0000"
    return [*rows, twin]


def header_only(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    return []


def negative_unrefunded_order(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    col = {name: header.index(name) for name in ("Name", "Financial Status", "Refunded Amount")}
    target = next(
        r[col["Name"]]
        for r in rows
        if r[col["Financial Status"]] == "paid" and r[col["Refunded Amount"]] in ("", "0.00")
    )
    for row in rows:
        if row[col["Name"]] == target:
            for name in ("Subtotal", "Total", "Lineitem price"):
                value = row[header.index(name)]
                if value:
                    row[header.index(name)] = f"-{value}"
    return rows


def unpriced_currency(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    # XTS (ISO 4217's code for testing) is in neither fx_rates nor the ECB reference rates:
    # assert_every_order_converts fails in dbt.
    currency, name = header.index("Currency"), header.index("Name")
    target = rows[0][name]
    for row in rows:
        if row[name] == target and row[currency]:
            row[currency] = "XTS"
    return rows


# --- observing runs ------------------------------------------------------------------


def export_digests(settings: Settings) -> dict[str, str]:
    root = settings.exports_dir
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def failure_text(result) -> str:
    return "\n".join(
        e.event_specific_data.error.message for e in result.all_events if e.is_step_failure
    )


def failed_checks(result) -> set[str]:
    return {
        f"{e.event_specific_data.asset_key.to_user_string()}:{e.event_specific_data.check_name}"
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    }


def materialised(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.all_events if e.is_step_materialization}


def assert_stopped_at(result, gate: str, expectation: str, sample: str, before: dict, settings):
    assert not run_succeeded(result)
    assert not published(result)
    assert failed_checks(result) == {gate}
    message = failure_text(result)
    gate_check = gate.split(":")[1]
    assert gate_check in message and expectation in message and sample in message, message
    assert export_digests(settings) == before  # byte-identical, nothing added
    assert [p.name for p in published_folders(settings.exports_dir)] == [PUBLISHED_AS_OF]
    # the summary quotes the check's own words, not Dagster's exception class, and does
    # not take a refused publication's list of checks for unreadable landing files
    summary = summarise(settings, result)
    assert f"{gate_check}" in summary and "dagster._core" not in summary, summary
    assert "NOT READ" not in summary, summary


def assert_publishes(settings: Settings) -> None:
    result = run_warehouse_job(settings)
    assert run_succeeded(result), failure_text(result)
    summary = check_summary(result)
    assert sum(row["failed"] + row["not run"] for row in summary.values()) == 0
    folders = [p.name for p in published_folders(settings.exports_dir)]
    assert folders == [PUBLISHED_AS_OF, NEXT_DELIVERY]
    manifest = read_manifest(settings.exports_dir / NEXT_DELIVERY)
    assert set(manifest["outputs"]) == set(GATED_OUTPUTS)
    for entry in manifest["outputs"].values():
        for fmt in ("csv", "parquet"):
            path = settings.exports_dir / NEXT_DELIVERY / entry[fmt]["file"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry[fmt]["sha256"]


def multiplied_tenfold(path: Path) -> None:
    path.write_bytes(path.read_bytes() * 10)


def rewritten(transform) -> Callable[[Path], None]:
    return lambda path: rewrite_csv(path, transform)


RAW_FAULTS = {
    # fault: (source, how the file is spoiled, gate, expectation, text of a failing sample)
    "duplicate_customer_keys": (
        "loyalty_members",
        rewritten(duplicate_card),
        "raw/loyalty_members:ge_raw__loyalty_members",
        "expect_column_values_to_be_unique(card_no)",
        "_source_line",
    ),
    "placeholder_email_burst": (
        "shopify_orders",
        rewritten(placeholder_burst),
        "raw/shopify_orders:ge_raw__shopify_orders",
        "expect_column_values_to_not_match_regex_list(email)",
        PLACEHOLDER_EMAIL,
    ),
    "empty_day": (
        "tmall_orders",
        rewritten(header_only),
        "raw/tmall_orders:ge_raw__tmall_orders",
        "expect_table_row_count_to_be_between",
        "observed 0",
    ),
    "tenfold_row_count_jump": (
        "social_events",
        multiplied_tenfold,
        "raw/social_events:ge_raw__social_events",
        "expect_table_row_count_to_be_between",
        "observed",
    ),
}


def test_bad_raw_deliveries_stop_at_their_gates_even_for_the_exports_run_alone(warehouse):
    """One night, four spoiled files of four sources: each stops at its own gate (and only
    there), with its expectation and a failing sample in the run's failure; nothing after
    ingest runs and the exports stay byte-identical. Selecting only the export asset then
    skips every check in that run; the gate still reads the latest evaluations and
    refuses, naming the failing check. The merchant re-delivers the corrected files under
    the same names (published by the last night)."""
    import dagster as dg

    from pipelines.definitions import publish
    from pipelines.resources import WarehouseResource
    from pipelines.run import open_instance

    clean = {}
    for source, spoil, *_ in RAW_FAULTS.values():
        path = delivery_file(warehouse, source)
        clean[path] = path.read_bytes()
        spoil(path)
    before = export_digests(warehouse)

    result = run_warehouse_job(warehouse)

    assert not run_succeeded(result)
    assert not published(result)
    assert failed_checks(result) == {gate for _, _, gate, *_ in RAW_FAULTS.values()}
    failures = [e.event_specific_data.error.message for e in result.all_events if e.is_step_failure]
    for fault, (_, _, gate, expectation, sample) in RAW_FAULTS.items():
        check = gate.split(":")[1]
        (message,) = [m for m in failures if f"blocking check {check} failed" in m]
        assert expectation in message and sample in message, (fault, message)
    # The gates are on the raw tables: nothing after ingest ran.
    assert "orders" not in materialised(result)
    assert export_digests(warehouse) == before  # byte-identical, nothing added
    assert [p.name for p in published_folders(warehouse.exports_dir)] == [PUBLISHED_AS_OF]

    with open_instance(warehouse) as instance:
        alone = dg.materialize(
            [publish.segment_exports],
            instance=instance,
            resources={"warehouse": WarehouseResource()},
            raise_on_error=False,
        )
    assert not alone.success
    message = failure_text(alone)
    assert "raw/shopify_orders:ge_raw__shopify_orders failed" in message, message
    assert PLACEHOLDER_EMAIL in message
    assert export_digests(warehouse) == before

    for path, data in clean.items():
        path.write_bytes(data)


def test_negative_unrefunded_amount_stops_at_the_orders_gate(warehouse):
    """The night after: the raw gates pass on the re-delivered files, and a Shopify order
    with negative amounts and no refund stops at the orders mart's gate."""
    path = delivery_file(warehouse, "shopify_orders")
    clean = path.read_bytes()
    rewrite_csv(path, negative_unrefunded_order)
    before = export_digests(warehouse)

    result = run_warehouse_job(warehouse)

    assert_stopped_at(
        result,
        "orders:ge_marts__orders",
        "expect_column_values_to_be_between(net_amount)",
        "order_id",
        before,
        warehouse,
    )
    # The orders mart was written (and audited); publication is what the gate withheld.
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        negatives = con.execute(
            "select count(*) from marts.orders where net_amount < 0 and refunded_amount = 0"
        ).fetchone()[0]
    assert negatives == 1
    path.write_bytes(clean)


def test_failing_dbt_test_stops_the_models_after_it_and_the_python_assets(warehouse):
    """The dagster-dbt traps: a failing error-severity dbt test must stop the models that
    read the tested one (the CLV Python model among them), the Python assets after the dbt
    step (the report) and the exports. dbt has already written the model it tested, so
    the bad rows are in the warehouse: only the publish step is withheld
    (write-audit-publish)."""
    import dagster as dg

    path = delivery_file(warehouse, "shopify_orders")
    clean = path.read_bytes()
    rewrite_csv(path, unpriced_currency)
    before = export_digests(warehouse)

    result = run_warehouse_job(warehouse)

    assert not run_succeeded(result)
    gate = "assert_every_order_converts"
    assert failed_checks(result) == {"int_orders_converted:dbt_tests"}
    message = failure_text(result)
    assert gate in message and "Got 1 result" in message, message
    # the message names the currency, its orders and the way out
    assert "'currency': 'XTS', 'orders': '1'" in message and "deliver fx_rates" in message
    # the model's one dbt check says the same, as an error that stops the gate
    (check,) = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.description.startswith("1 of ") and f"{gate} (fail)" in check.description
    assert "'currency': 'XTS', 'orders': '1'" in check.description
    assert check.metadata["tests failed"].value == 1
    done = materialised(result)
    assert "int_orders_converted" in done  # written before it was tested
    assert not done & {
        "orders",
        "customer_clv",
        "prospecting_forecast",
        "customer_report",
        "segment_exports",
    }
    assert export_digests(warehouse) == before
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        unpriced = con.execute(
            "select count(*) from intermediate.int_orders_converted where fx_rate is null"
        ).fetchone()[0]
    assert unpriced == 1
    path.write_bytes(clean)


# Each spoiled file, delivered again under its name until its clean bytes were: Shopify's
# once per fault night (placeholder e-mails, a negative order, an unpriced currency).
SPOILED_LOADS = {
    "loyalty_members": 2,
    "shopify_orders": 4,
    "tmall_orders": 2,
    "social_events": 2,
}


def test_corrected_redeliveries_publish(warehouse):
    """After three refused nights, the corrected files re-delivered under the same names
    publish: every file of the delivery was last loaded with its current bytes, and the
    published marts hold none of the faults."""
    assert_publishes(warehouse)
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        loads = con.execute(
            "select source, file, sha256, count(*) over (partition by source, file) "
            "from raw.loads where delivery_date = $d and status = 'loaded' "
            "qualify row_number() over (partition by source, file order by started_at desc) = 1",
            {"d": date.fromisoformat(NEXT_DELIVERY)},
        ).fetchall()
        faults = con.execute(
            "select count(*) filter (where net_amount < 0 and refunded_amount = 0), "
            "count(*) filter (where currency = 'XTS') from marts.orders"
        ).fetchone()
    assert faults == (0, 0)
    spoiled = {}
    for source, file, sha256, times in loads:
        path = warehouse.landing_dir / file
        assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest(), file
        if times > 1:
            spoiled[source] = times
    assert spoiled == SPOILED_LOADS


def test_manifest_counts_and_checksums_match_the_published_files(xs_warehouse):
    (folder,) = published_folders(xs_warehouse.exports_dir)
    manifest = read_manifest(folder)
    assert manifest["as_of_date"] == folder.name
    with duckdb.connect(str(xs_warehouse.duckdb_path), read_only=True) as con:
        for table, entry in manifest["outputs"].items():
            assert entry["rows"] == con.execute(f"select count(*) from marts.{table}").fetchone()[0]
            for fmt in ("csv", "parquet"):
                path = folder / entry[fmt]["file"]
                assert hashlib.sha256(path.read_bytes()).hexdigest() == entry[fmt]["sha256"]
            back = con.execute(
                f"select count(*) from read_parquet('{folder / entry['parquet']['file']}')"
            )
            assert back.fetchone()[0] == entry["rows"]
    # every blocking check upstream (GE, dbt, accounting), as the gate read them
    from pipelines.definitions import publish
    from pipelines.defs.publish.assets import SEGMENT_EXPORTS

    gate = [
        f"{k.asset_key.to_user_string()}:{k.name}" for k in publish.gate.checks(SEGMENT_EXPORTS)
    ]
    assert manifest["gate"] == gate
    assert {"customer_segments:dbt_tests", "raw/shopify_orders:row_accounting"} <= set(gate)


def test_a_clean_xs_run_evaluates_and_passes_every_check(xs_warehouse):
    """No check skipped, muted or failing on clean data: every check the code location
    defines was evaluated in the XS run and passed (warnings included)."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    from pipelines.definitions import defs

    defined = set(defs.resolve_asset_graph().asset_check_keys)
    home = xs_warehouse.data_dir / "dagster"
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        (run,) = instance.get_runs()
        records = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    evaluated = {dg.AssetCheckKey(e.asset_key, e.check_name) for e in evaluations}
    assert evaluated == defined
    assert len([k for k in defined if k.name == "dbt_tests"]) > 60  # one per tested model
    assert [e.check_name for e in evaluations if not e.passed] == []
    ge_checks = {k.name for k in defined if k.name.startswith("ge_")}
    assert len(ge_checks) == len(quality_suites())
